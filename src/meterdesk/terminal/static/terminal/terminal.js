// The office terminal's screen (docs/terminal.md): the on-screen keys, the charge as readings
// are typed, the countdown that ends an idle session, printing. A static file: the
// Content-Security-Policy allows no inline script. Without it the pages still work with a keyboard.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.dataset.idle, 10) || 90;
  var warnFor = Math.min(20, Math.floor(idle / 3));
  var pingUrl = body.dataset.ping;
  var startUrl = body.dataset.start;
  var PING_EVERY = 20000;
  var lastActive = Date.now();
  var lastPing = Date.now();
  var ending = false;

  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // --- the pad ---
  var pad = document.getElementById("pad");
  var fields = Array.prototype.slice.call(document.querySelectorAll("input[data-pad]"));
  var active = null;

  function activate(input) {
    if (active) active.classList.remove("active");
    active = input;
    active.classList.add("active");
    if (!pad) return;
    var layout = input.dataset.padNow || input.dataset.pad;
    pad.querySelectorAll("[data-layout]").forEach(function (keys) {
      keys.hidden = keys.dataset.layout !== layout;
    });
    var switchable = input.hasAttribute("data-letters");
    pad.querySelectorAll("[data-action=letters], [data-action=digits]").forEach(function (key) {
      key.hidden = !switchable;
    });
    var comma = pad.querySelector("[data-key=','][data-decimal]");
    if (comma) comma.disabled = !input.hasAttribute("data-decimal");
  }

  function type(text) {
    if (!active) return;
    var max = parseInt(active.getAttribute("maxlength"), 10) || 254;
    if (active.value.length + text.length <= max) active.value += text;
    active.dispatchEvent(new Event("input", { bubbles: true }));
  }

  if (pad && fields.length) {
    pad.hidden = false;
    fields.forEach(function (input) {
      input.setAttribute("inputmode", "none"); // no system keyboard over the pad
      input.addEventListener("focus", function () { activate(input); });
    });
    activate(document.activeElement && fields.indexOf(document.activeElement) >= 0 ? document.activeElement : fields[0]);
    // The keys do not take the focus from the field being typed into.
    pad.addEventListener("mousedown", function (event) { event.preventDefault(); });
    pad.addEventListener("click", function (event) {
      var key = event.target.closest("button");
      if (!key || !active) return;
      if (key.dataset.key) {
        type(key.dataset.key);
      } else if (key.dataset.action === "back") {
        active.value = active.value.slice(0, -1);
        active.dispatchEvent(new Event("input", { bubbles: true }));
      } else if (key.dataset.action === "clear") {
        active.value = "";
        active.dispatchEvent(new Event("input", { bubbles: true }));
      } else if (key.dataset.action === "letters" || key.dataset.action === "digits") {
        active.dataset.padNow = key.dataset.action === "letters" ? "email" : "numeric";
        activate(active);
      } else if (key.dataset.action === "next") {
        var next = fields[fields.indexOf(active) + 1];
        if (next && next.form === active.form) {
          next.focus();
          activate(next);
        } else if (active.form) {
          active.form.requestSubmit();
        }
      }
    });
  }

  // --- the charge as the values are typed ---
  var form = document.querySelector("form[data-preview]");
  if (form) {
    var box = form.querySelector(".preview");
    var timer = null;
    var asked = 0;
    var show = function (data) {
      form.querySelectorAll(".consumption").forEach(function (p) {
        var zone = parseInt(p.dataset.zone, 10) - 1;
        p.textContent = data.state === "ok" && data.consumption ? data.consumption[zone] || "" : "";
      });
      if (data.state === "incomplete") { box.hidden = true; return; }
      box.hidden = false;
      box.querySelector(".preview-total").textContent = data.state === "ok" ? data.total : "";
      var list = box.querySelector(".preview-messages");
      list.textContent = "";
      (data.messages || []).forEach(function (text) {
        var li = document.createElement("li");
        li.textContent = text;
        list.appendChild(li);
      });
    };
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var params = new URLSearchParams();
        form.querySelectorAll("input[data-pad]").forEach(function (input) { params.set(input.name, input.value); });
        var mine = ++asked;
        fetch(form.dataset.preview + "?" + params.toString(), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) { if (data && mine === asked) show(data); })
          .catch(function () {});
      }, 250);
    });
  }

  // --- printing ---
  var print = document.getElementById("print-button");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }

  // --- the countdown ---
  var warning = document.getElementById("idle-warning");
  var count = document.getElementById("idle-count");
  var finishForm = document.getElementById("finish-form");

  function leave() {
    if (ending) return;
    ending = true;
    if (finishForm) {
      finishForm.querySelector("input[name=end]").value = "timeout";
      finishForm.submit();
    } else {  // a page without the form (enrolment): nothing of a household on it
      location.replace(startUrl);
    }
  }

  function activity() {
    lastActive = Date.now();
    if (warning && !warning.hidden) warning.hidden = true;
    if (pingUrl && Date.now() - lastPing > PING_EVERY) {
      lastPing = Date.now();
      fetch(pingUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
        .then(function (r) { if (r.status === 410) location.replace(startUrl); })
        .catch(function () {});
    }
  }

  ["pointerdown", "keydown", "input"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (warning && !warning.hidden && event.target.id !== "idle-continue") return;
      activity();
    }, true);
  });
  if (warning) {
    document.getElementById("idle-continue").addEventListener("click", function () {
      warning.hidden = true;
      lastPing = 0;
      activity();
    });
  }

  // The start page in Russian with nothing typed has nothing to forget: no countdown there.
  function worthEnding() {
    if (pingUrl || document.documentElement.lang !== "ru") return true;
    return fields.some(function (input) { return input.value !== ""; });
  }

  setInterval(function () {
    var left = Math.ceil(idle - (Date.now() - lastActive) / 1000);
    if (!worthEnding()) { lastActive = Date.now(); return; }
    if (left <= 0) { leave(); return; }
    if (left <= warnFor && warning) {
      if (warning.hidden) {
        warning.hidden = false;
        document.getElementById("idle-continue").focus();
      }
      count.textContent = String(left);
    }
  }, 1000);

  // Back to a page kept in the browser's memory: ask the server again (it shows the start page
  // once the session has ended).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) location.reload();
  });
})();
