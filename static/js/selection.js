// "Select all on this page" for lists with row checkboxes (the interaction log). Without
// JavaScript the box stays hidden and rows are ticked one by one. Served from 'self', as the
// Content Security Policy requires; works after htmx swaps the rows because it listens on
// the document.
(function () {
  function reveal() {
    document.querySelectorAll("input.select-all[hidden]").forEach(function (box) {
      box.hidden = false;
    });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input.select-all")) return;
    var form = box.closest("form");
    if (!form) return;
    form.querySelectorAll('input[type=checkbox][name="entry"]').forEach(function (row) {
      row.checked = box.checked;
    });
  });
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSettle", reveal);
  reveal();
})();
