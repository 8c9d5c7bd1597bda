// The reading form's preview: as the household types, the consumption of each zone and the
// month's charge, from the page's preview address (core.readings.reading_check on the server, no
// writes). Without this script the form works the same; the figures then come after "Submit".
// A file, not an inline script: the Content-Security-Policy allows scripts from this site only.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview]");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var fields = Array.prototype.slice.call(form.querySelectorAll("input[name^='t']"));
  var box = form.querySelector(".preview");
  var total = box.querySelector(".preview-total");
  var list = box.querySelector(".preview-messages");
  var timer = null;
  var asked = 0;

  function zoneLine(zone) {
    return form.querySelector(".consumption[data-zone='" + zone + "']");
  }

  function clear() {
    fields.forEach(function (field, i) {
      zoneLine(i + 1).textContent = "";
    });
    total.textContent = "";
    list.textContent = "";
    box.hidden = true;
  }

  function show(answer) {
    clear();
    if (answer.state === "incomplete") {
      return;
    }
    (answer.consumption || []).forEach(function (text, i) {
      var line = zoneLine(i + 1);
      if (line) {
        line.textContent = text;
      }
    });
    total.textContent = answer.total || "";
    (answer.messages || []).forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    box.classList.toggle("error", answer.state === "error");
    box.hidden = false;
  }

  function ask() {
    var query = new URLSearchParams();
    fields.forEach(function (field) {
      query.append(field.name, field.value);
    });
    var mine = ++asked;
    fetch(form.getAttribute("data-preview") + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        // Only the answer to the latest values counts: an earlier, slower one is dropped.
        if (answer && mine === asked) {
          show(answer);
        }
      })
      .catch(function () {
        if (mine === asked) {
          clear();
        }
      });
  }

  fields.forEach(function (field) {
    field.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 350);
    });
  });
  if (fields.every(function (field) { return field.value !== ""; })) {
    ask();
  }
})();
