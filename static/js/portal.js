/* The family portal's only script (no inline scripts).
   - A form marked data-submit-once is sent once: its button is disabled on submit, so a double tap
     never counts as two lookups.
   - The page answering a failed lookup sends nothing typed back (so it cannot tell a known reference
     from an unknown one); this script puts the reference the visitor typed back into the field,
     from the tab's own sessionStorage, and moves the focus to the error message. */
(function () {
  "use strict";
  var KEY = "portal-reference";

  function store(value) {
    try { if (value) { sessionStorage.setItem(KEY, value); } else { sessionStorage.removeItem(KEY); } } catch (e) { /* private mode */ }
  }

  function stored() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-submit-once]")) return;
    if (form.dataset.sent === "yes") { event.preventDefault(); return; }
    form.dataset.sent = "yes";
    if (form.elements.reference) store(form.elements.reference.value.trim().slice(0, 20));
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
    });
  });

  // Back/forward cache: a page restored from it must be usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
      });
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-lookup-done]")) { store(""); }
    var failed = document.querySelector("[data-focus-on-load]");
    if (!failed) return;
    var reference = document.querySelector("form[data-submit-once] input[name=reference]");
    if (reference && !reference.value) reference.value = stored();
    failed.focus();
  });
})();
