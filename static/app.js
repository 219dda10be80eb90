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

  // Destructive forms ask first (data-confirm holds the question).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

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

  document.addEventListener("DOMContentLoaded", function () { enablePolling(document); mirrorLiveState(); });
})();
