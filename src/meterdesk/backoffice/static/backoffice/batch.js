// The stack of slips: Enter in a field moves to the next one; on the last value it stores the
// slip (the form's own submit). Without this script the form works the same, with Tab.
(function () {
  var form = document.querySelector("form[data-enter-moves]");
  if (!form) return;
  var order = ["id_account", "id_serial", "id_t1", "id_t2", "id_t3"];
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.target.tagName !== "INPUT") return;
    var at = order.indexOf(event.target.id);
    if (at < 0 || at === order.length - 1) return; // the last field, or another: submit
    event.preventDefault();
    document.getElementById(order[at + 1]).focus();
  });
})();
