// ClosedLoop: the little JavaScript the pages need. No inline scripts (CSP forbids them).
(function () {
  "use strict";

  // Send the CSRF token with every htmx request.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body && document.body.dataset.csrf;
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  // Without EventSource, fall back to polling; the server answers 286 once the work is final.
  function enablePolling(root) {
    if ("EventSource" in window) { return; }
    root.querySelectorAll("[data-poll-url]").forEach(function (el) {
      var target = el.querySelector("[sse-swap]") || el;
      target.removeAttribute("sse-swap");
      el.removeAttribute("sse-connect");
      target.setAttribute("hx-get", el.dataset.pollUrl);
      target.setAttribute("hx-trigger", "every 2s");
      target.setAttribute("hx-swap", "innerHTML");
      if (window.htmx) { window.htmx.process(target); }
    });
  }

  // Irreversible actions ask first, in the app's own dialog: data-confirm holds the question, data-confirm-label
  // the button ("Delete key"). Reversible ones never ask: they offer Undo. The capture-phase listener stops the
  // submit before htmx sees it, and lets the confirmed resubmission through.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.confirm) { return; }
    if (form.dataset.confirmed === "true") { delete form.dataset.confirmed; return; }
    event.preventDefault();
    event.stopPropagation();
    askToConfirm(form, event.submitter);
  }, true);
  function askToConfirm(form, submitter) {
    var dialog = document.getElementById("confirm");
    if (!dialog || !dialog.showModal) {
      if (window.confirm(form.dataset.confirm)) { form.dataset.confirmed = "true"; form.requestSubmit(submitter); }
      return;
    }
    dialog.querySelector("#confirm-text").textContent = form.dataset.confirm;
    var ok = dialog.querySelector("[data-confirm-ok]");
    ok.textContent = form.dataset.confirmLabel || "Confirm";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue === "ok") { form.dataset.confirmed = "true"; form.requestSubmit(submitter); }
      else if (submitter) { submitter.focus(); }
    };
    dialog.showModal();
    dialog.querySelector("[data-confirm-cancel]").focus();
  }

  // htmx requests with hx-confirm ask in the same dialog; a select's form can word the question with the chosen
  // option (data-confirm-template, "{role}"). Cancelling puts the select back.
  document.addEventListener("htmx:confirm", function (event) {
    var el = event.detail.elt;
    if (!event.detail.question || !el) { return; }
    event.preventDefault();
    var select = el.querySelector ? el.querySelector("select") : null;
    var question = event.detail.question;
    if (el.dataset.confirmTemplate && select) {
      question = el.dataset.confirmTemplate.replace("{role}", select.options[select.selectedIndex].text);
    }
    var dialog = document.getElementById("confirm");
    function cancel() {
      if (select) { Array.prototype.forEach.call(select.options, function (o) { o.selected = o.defaultSelected; }); }
    }
    if (!dialog || !dialog.showModal) {
      if (window.confirm(question)) { event.detail.issueRequest(true); } else { cancel(); }
      return;
    }
    dialog.querySelector("#confirm-text").textContent = question;
    dialog.querySelector("[data-confirm-ok]").textContent = el.dataset.confirmLabel || "Confirm";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue === "ok") { event.detail.issueRequest(true); }
      else { cancel(); if (select) { select.focus(); } }
    };
    dialog.showModal();
    dialog.querySelector("[data-confirm-cancel]").focus();
  });

  // An inline select whose change the server refused goes back to the value it showed.
  document.addEventListener("htmx:responseError", function (event) {
    var el = event.detail.elt;
    var select = el && el.querySelector ? el.querySelector("select[data-reset-on-error]") : null;
    if (!select) { return; }
    Array.prototype.forEach.call(select.options, function (option) { option.selected = option.defaultSelected; });
  });

  // Forms loaded into #modal-body open as a modal dialog; Escape, × and Cancel close it.
  // (Swaps made by the SSE extension carry no target in their event detail.)
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = document.getElementById("modal");
    var target = event.detail && event.detail.target;
    if (!dialog || !target || target.id !== "modal-body") { return; }
    if (!dialog.open) { dialog.showModal(); }
    var first = dialog.querySelector("#modal-body input:not([type=hidden]), #modal-body select, #modal-body textarea");
    if (first) { first.focus(); }
  });
  document.addEventListener("click", function (event) {
    var closer = event.target.closest && event.target.closest("[data-close-modal]");
    var dialog = closer && closer.closest("dialog");
    if (!dialog) { return; }
    event.preventDefault();
    dialog.close();
  });
  document.addEventListener("close", function (event) {
    if (event.target.id === "modal") { document.getElementById("modal-body").innerHTML = ""; }
  }, true);

  // Live work: elements marked data-live-mirror follow the status of the live progress fragment
  // ([data-live-state]), so buttons switch from "Cancel" to "Re-run…" the moment the work ends.
  function mirrorLiveState() {
    var state = document.querySelector("[data-live-state]");
    if (!state) { return; }
    document.querySelectorAll("[data-live-mirror]").forEach(function (el) {
      el.dataset.status = state.dataset.status;
      el.dataset.cancelling = state.dataset.cancelling || "false";
      el.querySelectorAll("button[data-cancel]").forEach(function (button) {
        var cancelling = el.dataset.cancelling === "true";
        button.disabled = cancelling;
        button.textContent = cancelling ? "Cancelling…" : button.dataset.label;
      });
    });
  }
  ["htmx:sseMessage", "htmx:afterSettle"].forEach(function (name) {
    document.addEventListener(name, mirrorLiveState);
  });

  // Cancelling says so at once; the stream confirms it and then shows the end.
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector && event.target.querySelector("button[data-cancel]");
    if (!button) { return; }
    var mirror = button.closest("[data-live-mirror]");
    if (mirror) { mirror.dataset.cancelling = "true"; }
    button.textContent = "Cancelling…";
    window.setTimeout(function () { button.disabled = true; }, 0);  // after the form's data is collected
  });

  // ---------------------------------------------------------------- menus: <details data-menu>
  // One open at a time; Escape closes and gives focus back to its button; a click elsewhere closes.
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }
  // on the click that opens a menu (Enter and Space on its summary click too), not on the later "toggle" event:
  // that one comes a task later and would close a menu opened in between
  document.addEventListener("click", function (event) {
    if (!event.target.closest) { return; }
    var summary = event.target.closest("details[data-menu] > summary");
    if (summary) {
      if (!summary.parentElement.open) { closeMenus(summary.parentElement); }
      return;
    }
    if (!event.target.closest("details[data-menu]")) { closeMenus(null); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var menu = document.querySelector("details[data-menu][open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
      event.preventDefault();
      return;
    }
    if (document.body.classList.contains("nav-open")) { setNav(false); }
  });

  // ---------------------------------------------------------------- the sidebar as a drawer on a phone
  function setNav(open) {
    var toggle = document.querySelector(".nav-toggle");
    var backdrop = document.querySelector(".nav-backdrop");
    document.body.classList.toggle("nav-open", open);
    if (backdrop) { backdrop.hidden = !open; }
    if (toggle) { toggle.setAttribute("aria-expanded", open ? "true" : "false"); }
    if (open) {
      var first = document.querySelector("#sidebar .nav-close");
      if (first) { first.focus(); }
    } else if (toggle && document.activeElement && document.activeElement.closest("#sidebar")) {
      toggle.focus();
    }
  }
  document.addEventListener("click", function (event) {
    if (!event.target.closest) { return; }
    if (event.target.closest(".nav-toggle")) { setNav(true); }
    else if (event.target.closest("[data-nav-close]")) { setNav(false); }
  });

  // ---------------------------------------------------------------- toasts
  // Flashed messages arrive as [data-toast] in #toasts; htmx answers send {"toast": {"message", "kind"}} in
  // HX-Trigger. They leave after 6 s (10 s with an action such as Undo), not while hovered or focused; errors
  // ([data-sticky]) stay until dismissed.
  function scheduleToast(toast) {
    if (toast.dataset.scheduled || toast.hasAttribute("data-sticky")) { return; }
    toast.dataset.scheduled = "true";
    var wait = toast.querySelector("a, form") ? 10000 : 6000;
    function leave() {
      if (toast.matches(":hover") || toast.contains(document.activeElement)) {
        window.setTimeout(leave, 2000);
        return;
      }
      dismissToast(toast);
    }
    window.setTimeout(leave, wait);
  }
  function dismissToast(toast) {
    toast.setAttribute("data-leaving", "");
    window.setTimeout(function () { toast.remove(); }, 200);
  }
  function showToast(message, kind) {
    var region = document.getElementById("toasts");
    if (!region) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (kind || "success");
    toast.setAttribute("data-toast", "");
    var text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "icon-button toast-close";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    toast.appendChild(text);
    toast.appendChild(close);
    region.appendChild(toast);
    scheduleToast(toast);
  }
  document.body.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    if (detail.message) { showToast(detail.message, detail.kind); }
  });
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-toast-close]");
    if (close) { dismissToast(close.closest("[data-toast]")); }
  });

  // ---------------------------------------------------------------- tables that scroll sideways
  // A wrapper that really scrolls becomes a focusable, named region, so keyboard users can scroll it too.
  function markScrollers(root) {
    (root || document).querySelectorAll(".table-wrap, .matrix-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1 || wrap.scrollHeight > wrap.clientHeight + 1;
      if (scrolls) {
        var heading = wrap.closest("section, .card");
        heading = heading && heading.querySelector("h1, h2, h3");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() : "Table") + " (scrolls)");
      } else if (wrap.getAttribute("role") === "region") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  window.addEventListener("resize", function () { markScrollers(document); });

  // ---------------------------------------------------------------- toggletips: a button[data-tip] shows its text
  // on click, tap or Enter (not only on hover); Escape or a click elsewhere hides it.
  var openTip = null;
  function hideTip() {
    if (openTip) { openTip.tip.remove(); openTip.button.setAttribute("aria-expanded", "false"); openTip = null; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-tip]");
    var wasOpen = openTip && openTip.button === button;
    hideTip();
    if (!button || wasOpen) { return; }
    var tip = document.createElement("div");
    tip.className = "prov-tip";
    tip.setAttribute("role", "status");
    tip.textContent = button.dataset.tip;
    document.body.appendChild(tip);
    var box = button.getBoundingClientRect();
    var left = Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
    tip.style.left = Math.max(8, left) + "px";
    tip.style.top = (window.scrollY + box.bottom + 6) + "px";
    button.setAttribute("aria-expanded", "true");
    openTip = {button: button, tip: tip};
  });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { hideTip(); } });

  // ---------------------------------------------------------------- scope presets: button[data-preset] ticks the
  // checkboxes of its fieldset whose data-presets name it (and unticks the rest)
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-preset]");
    if (!button) { return; }
    var box = button.closest("fieldset") || document;
    var preset = button.dataset.preset;
    box.querySelectorAll("input[type=checkbox][data-presets]").forEach(function (input) {
      input.checked = preset !== "none" && input.dataset.presets.split(" ").indexOf(preset) >= 0;
    });
  });

  // ---------------------------------------------------------------- chart tooltips
  // A line chart's figure carries its values (data-chart); hovering, touching or the arrow keys on its plot pick a
  // day, which gets a guide line, a dot per series and a tooltip with every series' value.
  var SVG = "http://www.w3.org/2000/svg";
  function formatValue(value) {
    var size = Math.abs(value);
    var places = size >= 100 ? 1 : size >= 1 ? 2 : 3;
    if (size > 0 && size < 0.001) { return "< 0.001"; }
    return value.toLocaleString("en-US", {maximumFractionDigits: places});
  }
  function chartOf(figure) {
    if (!figure._chart) { figure._chart = JSON.parse(figure.dataset.chart); }
    return figure._chart;
  }
  function showDay(figure, index) {
    var chart = chartOf(figure);
    var g = chart.geometry;  // left, right, top, bottom, width, height (viewBox units)
    var days = chart.labels.length;
    if (!days) { return; }
    index = Math.max(0, Math.min(days - 1, index));
    figure._day = index;
    var svg = figure.querySelector("svg");
    // columns sit in the middle of their day's slot; line points at the slot edges
    var x = chart.columns ? g[0] + (g[1] - g[0]) * (index + 0.5) / days
      : g[0] + (g[1] - g[0]) * index / Math.max(days - 1, 1);
    var layer = svg.querySelector(".hover-layer");
    if (!layer) {
      layer = document.createElementNS(SVG, "g");
      layer.setAttribute("class", "hover-layer");
      svg.appendChild(layer);
    }
    while (layer.firstChild) { layer.removeChild(layer.firstChild); }
    var line = document.createElementNS(SVG, "line");
    line.setAttribute("class", "hover-line");
    line.setAttribute("x1", x); line.setAttribute("x2", x);
    line.setAttribute("y1", g[2]); line.setAttribute("y2", g[3]);
    layer.appendChild(line);
    var rows = "";
    chart.series.forEach(function (series) {
      var value = series.values[index];
      if (value === undefined || value === null) { return; }  // a study point the engine refused
      if (series.index >= 0) {
        var dot = document.createElementNS(SVG, "circle");
        dot.setAttribute("class", "hover-dot series-" + series.index);
        dot.setAttribute("cx", x);
        dot.setAttribute("cy", g[2] + (g[3] - g[2]) * (1 - value / chart.top));
        dot.setAttribute("r", 3.5);
        layer.appendChild(dot);
      }
      rows += "<tr><td>" + (series.index >= 0 ? '<span class="swatch series-' + series.index + '"></span> ' : "") +
        escapeHtml(series.name) + '</td><td class="num">' + formatValue(value) + " " + escapeHtml(chart.unit) + "</td></tr>";
    });
    var tip = figure.querySelector(".chart-tip");
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.setAttribute("role", "status");
      figure.appendChild(tip);
    }
    tip.innerHTML = "<strong>" + escapeHtml(chart.labels[index]) + "</strong><table>" + rows + "</table>";
    var plot = figure.querySelector(".chart-plot").getBoundingClientRect();
    var box = figure.getBoundingClientRect();
    var px = plot.left - box.left + plot.width * x / g[4];
    var left = px + 12;
    if (left + tip.offsetWidth > box.width) { left = Math.max(0, px - tip.offsetWidth - 12); }
    tip.style.left = left + "px";
    tip.style.top = (plot.top - box.top + 8) + "px";
  }
  function hideDay(figure) {
    var layer = figure.querySelector(".hover-layer");
    if (layer) { layer.remove(); }
    var tip = figure.querySelector(".chart-tip");
    if (tip) { tip.remove(); }
    figure._day = undefined;
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function dayAt(figure, clientX) {
    var chart = chartOf(figure);
    var g = chart.geometry;
    var plot = figure.querySelector(".chart-plot").getBoundingClientRect();
    var x = (clientX - plot.left) * g[4] / plot.width;
    if (chart.columns) { return Math.floor((x - g[0]) / (g[1] - g[0]) * chart.labels.length); }
    return Math.round((x - g[0]) / (g[1] - g[0]) * (chart.labels.length - 1));
  }
  document.addEventListener("pointermove", function (event) {
    var plot = event.target.closest && event.target.closest(".chart-plot");
    document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      if (!plot || figure !== plot.closest("figure")) {
        if (figure._day !== undefined && figure.querySelector(".chart-plot") !== document.activeElement) { hideDay(figure); }
      }
    });
    if (plot) { var figure = plot.closest("figure[data-chart]"); if (figure) { showDay(figure, dayAt(figure, event.clientX)); } }
  });
  document.addEventListener("keydown", function (event) {
    var plot = event.target.closest && event.target.closest(".chart-plot");
    var figure = plot && plot.closest("figure[data-chart]");
    if (!figure) { return; }
    var days = chartOf(figure).labels.length;
    var day = figure._day === undefined ? -1 : figure._day;
    var moves = {ArrowRight: day + 1, ArrowLeft: day - 1, Home: 0, End: days - 1, PageUp: day - 7, PageDown: day + 7};
    if (event.key === "Escape") { hideDay(figure); return; }
    if (!(event.key in moves)) { return; }
    event.preventDefault();
    showDay(figure, day < 0 && event.key === "ArrowLeft" ? days - 1 : moves[event.key]);
  });
  document.addEventListener("focusout", function (event) {
    var figure = event.target.closest && event.target.closest("figure[data-chart]");
    if (figure && event.target.classList.contains("chart-plot")) { hideDay(figure); }
  });

  // ---------------------------------------------------------------- copy buttons: data-copy="#input-id"
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.dataset.copy);
    if (!source) { return; }
    var text = source.value || source.textContent;
    function done() {
      var label = button.dataset.label || button.textContent;
      button.dataset.label = label;
      button.textContent = "Copied";
      showToast("Copied to the clipboard.", "success");
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { source.select(); document.execCommand("copy"); done(); });
    } else {
      source.select();
      document.execCommand("copy");
      done();
    }
  });


  // ---------------------------------------------------------------- comment threads
  // A thread ([data-comment-stream]) listens to its entity's channel; each message names a comment, and the page
  // fetches its own rendering of it (who may edit or delete differs per viewer), then puts it in place: an edit
  // replaces it, a new comment goes to the end of its parent's replies or of the thread. Forms being typed in stay.
  function placeComment(thread, message) {
    if (!window.htmx) { return; }
    var url = thread.dataset.commentUrl.replace("00000000-0000-0000-0000-000000000000", message.id);
    var existing = document.getElementById("comment-" + message.id);
    if (existing && message.action === "created") { return; }  // our own post, already placed
    if (existing && String(existing.dataset.version) === String(message.version) && message.action !== "deleted") { return; }
    if (existing && existing.querySelector(":scope > form.comment-form")) { return; }  // being edited here
    var container = message.parent_id ? document.getElementById("replies-" + message.parent_id)
                                      : thread.querySelector(".comments");
    if (!existing && !container) { return; }
    var depth = 0;
    for (var el = container; el && el !== thread; el = el.parentElement) {
      if (el.classList && el.classList.contains("replies")) { depth += 1; }
    }
    window.htmx.ajax("GET", url + "?depth=" + depth, existing ? {target: existing, swap: "outerHTML"}
                                                              : {target: container, swap: "beforeend"});
  }
  function watchThreads(root) {
    if (!("EventSource" in window)) { return; }
    root.querySelectorAll("[data-comment-stream]").forEach(function (thread) {
      if (thread.commentSource) { return; }
      var source = new EventSource(thread.dataset.commentStream);
      thread.commentSource = source;
      source.addEventListener("comment", function (event) { placeComment(thread, JSON.parse(event.data)); });
    });
  }
  function countComments(thread) {
    // a comment can arrive twice: the live event for your own post may land before your post's answer does
    var seen = {};
    thread.querySelectorAll("article.comment").forEach(function (article) {
      if (seen[article.id]) { article.remove(); } else { seen[article.id] = true; }
    });
    var count = thread.querySelectorAll("article.comment:not(.comment-deleted)").length;
    var badge = thread.querySelector("[data-comment-count]");
    if (badge) { badge.textContent = count; }
    var empty = thread.querySelector("[data-empty-thread]");
    if (empty) { empty.hidden = count > 0; }
  }
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-comment-stream]").forEach(countComments);
  });
  // a posted comment clears its box; Cancel on a reply box removes it
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form && form.hasAttribute && form.hasAttribute("data-reset-on-success")) {
      form.reset();
      form.querySelectorAll(".upload-list").forEach(function (list) { list.textContent = ""; });
    }
  });
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-remove-closest]");
    if (!cancel) { return; }
    var gone = cancel.closest(cancel.dataset.removeClosest);
    if (gone) { gone.remove(); }
  });


  // ---------------------------------------------------------------- header search (a combobox)
  // Typing fetches suggestions (htmx); arrow keys move through them, Enter opens the chosen one or, with none
  // chosen, the full results page; Escape closes; "/" anywhere outside a field jumps to the box.
  function searchParts() {
    var input = document.getElementById("header-q");
    return input ? {input: input, list: document.getElementById("search-suggest")} : null;
  }
  function searchOptions(parts) {
    return parts.list ? Array.prototype.slice.call(parts.list.querySelectorAll("[role=option]")) : [];
  }
  function chooseOption(parts, option) {
    searchOptions(parts).forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (option) {
      parts.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    } else {
      parts.input.removeAttribute("aria-activedescendant");
    }
  }
  function showSuggestions(parts, open) {
    if (!parts.list) { return; }
    parts.list.hidden = !open;
    parts.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { chooseOption(parts, null); }
  }
  document.addEventListener("keydown", function (event) {
    var parts = searchParts();
    if (!parts) { return; }
    var typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable=true]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      parts.input.focus();
      parts.input.select();
      return;
    }
    if (event.target !== parts.input) { return; }
    var options = searchOptions(parts);
    var current = options.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) { return; }
      event.preventDefault();
      showSuggestions(parts, true);
      var next = event.key === "ArrowDown" ? current + 1 : current - 1;
      if (next < 0) { next = options.length - 1; }
      if (next >= options.length) { next = 0; }
      chooseOption(parts, options[next]);
    } else if (event.key === "Enter" && current >= 0 && !parts.list.hidden) {
      event.preventDefault();
      window.location.assign(options[current].dataset.href);
    } else if (event.key === "Escape" && parts.list && !parts.list.hidden) {
      event.preventDefault();
      showSuggestions(parts, false);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var parts = searchParts();
    var target = event.detail && event.detail.target;
    if (!parts || !target || target.id !== "search-suggest") { return; }
    parts.list = document.getElementById("search-suggest");
    showSuggestions(parts, parts.input.value.trim() !== "" && document.activeElement === parts.input);
  });
  document.addEventListener("focusout", function (event) {
    var parts = searchParts();
    if (!parts || !event.target.closest || !event.target.closest("[data-header-search]")) { return; }
    window.setTimeout(function () {
      if (!document.activeElement || !document.activeElement.closest("[data-header-search]")) { showSuggestions(parts, false); }
    }, 150);
  });
  document.addEventListener("focusin", function (event) {
    var parts = searchParts();
    if (parts && event.target === parts.input && parts.input.value.trim() && parts.list && parts.list.querySelector("[role=listbox], .suggest-empty")) {
      showSuggestions(parts, true);
    }
  });


  // ---------------------------------------------------------------- file uploads ([data-uploader])
  // Each file: hash it (SHA-256, in the browser), presign, send it straight to the store with a progress bar,
  // complete (the server re-reads and checks it). On an entity the Files card then refreshes; in a comment form
  // the file becomes a chip and a hidden `attachments` field of the comment.
  var EXTENSION_TYPES = {md: "text/markdown", csv: "text/csv", txt: "text/plain", json: "application/json",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation"};
  function typeOf(file) {
    if (file.type) { return file.type; }
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    return EXTENSION_TYPES[ext] || "application/octet-stream";
  }
  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function csrf() { return (document.body && document.body.dataset.csrf) || ""; }
  function postJSON(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify(body)}).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var fields = (data.details && data.details.fields) || {};
            var first = Object.keys(fields)[0];
            throw new Error((first && fields[first][0]) || data.message || "The server refused it.");
          }
          return data;
        });
      });
  }
  function sendToStore(upload, file, bar) {
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      Object.keys(upload.fields).forEach(function (name) { form.append(name, upload.fields[name]); });
      form.append("file", file);
      var xhr = new XMLHttpRequest();
      xhr.open(upload.method || "POST", upload.url);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
      });
      xhr.onload = function () { xhr.status < 300 ? resolve() : reject(new Error("The store refused the upload (" + xhr.status + ").")); };
      xhr.onerror = function () { reject(new Error("The upload was interrupted.")); };
      xhr.send(form);
    });
  }
  function uploadOne(zone, file) {
    var list = zone.querySelector(".upload-list");
    var item = document.createElement("li");
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    var status = document.createElement("small");
    status.className = "muted";
    status.textContent = "Preparing…";
    item.append(name, bar, status);
    list.append(item);
    return file.arrayBuffer().then(function (buffer) {
      return crypto.subtle.digest("SHA-256", buffer);
    }).then(function (digest) {
      var body = {filename: file.name, mime_type: typeOf(file), size: file.size, checksum_sha256: hex(digest)};
      if (zone.dataset.entityType) { body.entity_type = zone.dataset.entityType; body.entity_id = zone.dataset.entityId; }
      status.textContent = "Uploading…";
      return postJSON(zone.dataset.presign, body);
    }).then(function (answer) {
      var sent = answer.upload ? sendToStore(answer.upload, file, bar) : Promise.resolve();
      return sent.then(function () {
        bar.value = 100;
        status.textContent = "Checking…";
        return postJSON(zone.dataset.complete.replace("00000000-0000-0000-0000-000000000000", answer.attachment.id), {});
      });
    }).then(function (attachment) {
      item.classList.add("upload-done");
      status.textContent = "Attached";
      if (zone.hasAttribute("data-for-comment")) {
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = "attachments"; hidden.value = attachment.id;
        item.append(hidden);
        var remove = document.createElement("button");
        remove.type = "button"; remove.className = "link-button"; remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + file.name);
        remove.addEventListener("click", function () { item.remove(); });
        item.append(remove);
      }
      return attachment;
    }).catch(function (error) {
      item.classList.add("upload-failed");
      bar.remove();
      status.textContent = error.message;
      status.setAttribute("role", "alert");
      throw error;
    });
  }
  function uploadAll(zone, files) {
    var jobs = Array.prototype.map.call(files, function (file) { return uploadOne(zone, file).catch(function () { return null; }); });
    Promise.all(jobs).then(function (done) {
      if (zone.dataset.refresh && window.htmx && done.some(Boolean)) {
        window.htmx.ajax("GET", zone.dataset.refresh, {target: zone.dataset.refreshTarget, swap: "outerHTML"});
      }
    });
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    var zone = input.closest && input.closest("[data-uploader]");
    if (!zone || input.type !== "file" || !input.files.length) { return; }
    uploadAll(zone, input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = event.target.closest && event.target.closest("[data-uploader]");
      if (!zone) { return; }
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-uploader]");
    if (zone && !zone.contains(event.relatedTarget)) { zone.classList.remove("dragging"); }
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-uploader]");
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) { return; }
    event.preventDefault();
    zone.classList.remove("dragging");
    uploadAll(zone, event.dataTransfer.files);
  });

  document.addEventListener("htmx:afterSettle", function (event) { markScrollers(event.target.parentNode || document); });
  document.addEventListener("DOMContentLoaded", function () {
    enablePolling(document);
    watchThreads(document);
    mirrorLiveState();
    markScrollers(document);
    document.querySelectorAll("#toasts [data-toast]").forEach(scheduleToast);
  });
})();

// a [data-print] button prints the page (the print stylesheet hides the app frame)
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
