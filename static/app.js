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

  document.addEventListener("DOMContentLoaded", function () { enablePolling(document); });
})();
