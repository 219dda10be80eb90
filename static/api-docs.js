// The browsable API reference at /api/v1/docs: Swagger UI over our OpenAPI document (vendored, no CDN).
// "Try it out" runs as the signed-in person: the browser sends the session cookie, this adds the CSRF token.
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("api-docs");
    var token = document.body.dataset.csrf;
    window.SwaggerUIBundle({
      url: root.dataset.openapi,
      domNode: root,
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: false,
      requestInterceptor: function (request) {
        if (token) { request.headers["X-CSRF-Token"] = token; }
        return request;
      },
    });
  });
})();
