/* Shared by the staff pages (issue 4): no inline scripts.
   - A form's submit buttons are disabled once it is sent, so a double click sends it once (the
     server's one-time form token is the guarantee; this only spares the second request).
   - [data-print] buttons print the page (the receipt). */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get") || form.method.toLowerCase() === "get") return;
    // After the submission has been built, so the clicked button's name and value are still sent.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-disabled", "true");
      });
      form.setAttribute("aria-busy", "true");
    }, 0);
  });

  // Coming back with the browser's Back button shows the page as it was left: enable it again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[aria-busy=true]").forEach(function (form) {
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button[disabled], input[type=submit][disabled]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
      });
    });
  });

  // The intake form's possible duplicates (R-APP-10) are looked up again as the officer types: keep
  // the panel as it is while it lists the same applications, so a note being typed is not lost.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail;
    if (!detail || !detail.target || !detail.fragment || !detail.target.querySelector) return;
    var current = detail.target.querySelector("[data-duplicates-key]");
    var incoming = detail.fragment.querySelector ? detail.fragment.querySelector("[data-duplicates-key]") : null;
    if (current && incoming && current.getAttribute("data-duplicates-key") === incoming.getAttribute("data-duplicates-key")) {
      detail.shouldSwap = false;
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
