// The SBP payment page: ask for the payment's state every few seconds, and go to its result page
// once the bank has answered (the customer pays on the phone; this page may be on a computer).
(function () {
  "use strict";
  var box = document.querySelector("[data-poll]");
  if (!box || !window.fetch) {
    return;
  }
  var stateUrl = box.getAttribute("data-poll");
  var doneUrl = box.getAttribute("data-done");
  var started = Date.now();
  var LIMIT_MS = 60 * 60 * 1000; // an SBP payment expires within the hour

  function later(ms) {
    if (Date.now() - started < LIMIT_MS) {
      window.setTimeout(check, ms);
    }
  }

  function check() {
    window
      .fetch(stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && data.final) {
          window.location.assign(doneUrl);
        } else {
          later(3000);
        }
      })
      .catch(function () {
        later(6000);
      });
  }

  later(3000);
})();
