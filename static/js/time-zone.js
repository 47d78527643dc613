// Tells the site the signed-in customer's time zone, once per browser session, so
// marketing e-mail keeps their quiet hours (shop.views.report_time_zone).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.dataset.url;
  var flag = "returnwise-time-zone";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!url || !zone || sessionStorage.getItem(flag) === zone) {
      return;
    }
  } catch (error) {
    return;
  }
  var token = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (!token) {
    return;
  }
  fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": token.value },
    body: new URLSearchParams({ time_zone: zone }),
  }).then(function (response) {
    if (response.ok) {
      try {
        sessionStorage.setItem(flag, zone);
      } catch (error) {
        // private mode: it is sent again on the next page, which is harmless
      }
    }
  });
})();
