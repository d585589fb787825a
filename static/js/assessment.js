/* The assessment and review pages: a form marked data-submit-once is sent once, however often its
   button is pressed (the server's one-time token is the real guard), and a refused form brings the
   error summary into view. No inline scripts; the running totals come from the server (htmx). */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) {
      return;
    }
    if (form.dataset.submitting === "yes") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "yes";
    // After the browser has read which button was pressed (a disabled button sends no value).
    window.setTimeout(function () {
      form.querySelectorAll("button").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  // Back from the next page (the browser's page cache): the form may be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      delete form.dataset.submitting;
      form.querySelectorAll("button").forEach(function (button) {
        button.disabled = false;
      });
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  });
})();
