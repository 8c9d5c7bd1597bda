// The inspector's visits on a poor connection. A visit's form is kept on the phone (localStorage)
// before it is sent, and taken off once the office has answered; one that could not be sent is
// sent again when the phone is back online (and every few seconds while any waits). The form's
// key makes a second send of the same visit store nothing. Without this script the form posts
// as usual.
(function () {
  "use strict";
  var STORE = "meterdesk.visits";
  var box = document.getElementById("outbox");
  var sending = false;

  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(STORE) || "[]");
    } catch (error) {
      return [];
    }
  }

  function save(entries) {
    window.localStorage.setItem(STORE, JSON.stringify(entries));
  }

  function put(entry) {
    var entries = load().filter(function (e) { return e.key !== entry.key; });
    entries.push(entry);
    try {
      save(entries);
    } catch (error) { // the photo does not fit in the phone's storage: keep the rest
      entry.photo = null;
      entry.photoDropped = true;
      entries[entries.length - 1] = entry;
      save(entries);
    }
  }

  function drop(key) {
    save(load().filter(function (e) { return e.key !== key; }));
  }

  function say(lines) {
    if (!box) return;
    box.textContent = "";
    var entries = load();
    if (entries.length) {
      var p = document.createElement("p");
      p.textContent = box.dataset.waiting;
      box.appendChild(p);
      var list = document.createElement("ul");
      entries.forEach(function (e) {
        var li = document.createElement("li");
        li.textContent = e.label;
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    (lines || []).forEach(function (text) {
      var p = document.createElement("p");
      p.textContent = text;
      box.appendChild(p);
    });
  }

  function blobOf(dataUrl) {
    var parts = dataUrl.split(",");
    var type = parts[0].replace(/^data:/, "").replace(/;base64$/, "");
    var bytes = window.atob(parts[1]);
    var array = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
    return new Blob([array], { type: type });
  }

  // Sends one visit: resolves with the office's answer ({ok, ...}), rejects when there is no
  // connection (the visit stays kept).
  function send(entry) {
    var body = new FormData();
    entry.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    if (entry.photo) body.append("photo", blobOf(entry.photo.data), entry.photo.name);
    var token = entry.fields.filter(function (p) { return p[0] === "csrfmiddlewaretoken"; })[0];
    return window.fetch(entry.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token ? token[1] : "" },
    }).then(function (response) {
      if (response.status >= 500) throw new Error("server " + response.status);
      return response.json().then(function (answer) {
        answer.status = response.status;
        return answer;
      });
    });
  }

  function resend() {
    var entries = load();
    if (sending || !entries.length || navigator.onLine === false) return;
    sending = true;
    var lines = [];
    var next = Promise.resolve();
    entries.forEach(function (entry) {
      next = next.then(function () {
        return send(entry).then(function (answer) {
          drop(entry.key); // stored, or refused for good: either way the office has answered
          lines.push(box ? box.dataset.sent + " " + entry.label + ": " + (answer.message || (answer.errors || []).join(" ")) : "");
        }, function () { /* still no connection: kept */ });
      });
    });
    next.then(function () {
      sending = false;
      say(lines);
    });
  }

  function collect(form, submitter) {
    var fields = [];
    var photo = null;
    var reading = Promise.resolve();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "submit") return;
      if (el.type === "file") {
        var file = el.files && el.files[0];
        if (!file) return;
        reading = new Promise(function (resolve) {
          var reader = new FileReader();
          reader.onload = function () {
            photo = { name: file.name, data: reader.result };
            resolve();
          };
          reader.onerror = function () { resolve(); };
          reader.readAsDataURL(file);
        });
        return;
      }
      fields.push([el.name, el.value]);
    });
    if (submitter && submitter.name) fields.push([submitter.name, submitter.value]);
    return reading.then(function () {
      var key = fields.filter(function (p) { return p[0] === "key"; })[0];
      return {
        key: key ? key[1] : String(Date.now()),
        url: form.action || window.location.href,
        label: form.dataset.label || "",
        fields: fields,
        photo: photo,
        at: new Date().toISOString(),
      };
    });
  }

  var form = document.querySelector("form[data-visit-outbox]");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var submitter = event.submitter;
      collect(form, submitter).then(function (entry) {
        put(entry);
        send(entry).then(function (answer) {
          drop(entry.key);
          if (answer.ok) {
            window.location.assign(answer.next);
            return;
          }
          // Refused (a value to correct): post the form itself, so the page shows where.
          if (submitter && submitter.name) {
            var hidden = document.createElement("input");
            hidden.type = "hidden";
            hidden.name = submitter.name;
            hidden.value = submitter.value;
            form.appendChild(hidden);
          }
          form.submit();
        }, function () {
          say([]); // no connection: kept on the phone, sent when it is back
        });
      });
    });
  }

  window.addEventListener("online", resend);
  window.setInterval(resend, 5000);
  say([]);
  resend();
})();
