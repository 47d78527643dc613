// The live audience count on the campaign edit form: whenever an audience rule
// changes, post the form's current values (nothing is saved) to the count endpoint
// and show its answer. Without JavaScript the saved campaign's count is still shown.
(function () {
  "use strict";

  var box = document.querySelector("[data-campaign-audience]");
  var form = document.getElementById("w-editor-form");
  if (!box || !form) {
    return;
  }
  var label = box.querySelector("[data-campaign-audience-label]");
  var fields = [
    "kind",
    "trigger",
    "delay_days",
    "languages",
    "category",
    "ordered_within_days",
    "persona",
    "include_serial_returners",
  ];
  var timer = null;
  var latest = 0;

  function refresh() {
    var request = ++latest;
    fetch(box.dataset.countUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest" },
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        if (request !== latest) {
          return; // an answer to an older question
        }
        if (data.errors) {
          label.textContent = data.errors
            .map(function (error) {
              return error.message;
            })
            .join(" ");
        } else {
          label.textContent = data.label;
        }
      })
      .catch(function () {
        /* keep the last count */
      });
  }

  function schedule(event) {
    if (!event.target || fields.indexOf(event.target.name) === -1) {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }

  form.addEventListener("change", schedule);
  form.addEventListener("input", schedule);
  refresh();
})();
