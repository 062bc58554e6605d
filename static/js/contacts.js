// The contact list's selection (templates/crm/contact_list.html): "tick every contact on this
// page", the count of ticked rows, and the bulk buttons, which stay off while nothing is ticked.
// Without JavaScript the rows are ticked one by one and the server refuses an empty selection.
// Served from 'self' (CSP); listens on the document, so it works after htmx swaps the results.
(function () {
  function update(form) {
    if (!form) return;
    var all = form.querySelector('input[name="selection"][value="all"]');
    var rows = form.querySelectorAll("input.row-select");
    var ticked = form.querySelectorAll("input.row-select:checked").length;
    var page = form.querySelector("input.select-page");
    if (page && !all) {
      page.hidden = false;
      page.checked = rows.length > 0 && ticked === rows.length;
      page.indeterminate = ticked > 0 && ticked < rows.length;
    }
    var count = form.querySelector("[data-selected-count]");
    if (count) {
      // No words here: "none" is what the page wrote in its language before any box was ticked,
      // and a number is grouped as in the page's language (<html lang>).
      if (count.dataset.none === undefined) count.dataset.none = count.textContent;
      count.textContent = ticked ? ticked.toLocaleString(document.documentElement.lang || undefined) : count.dataset.none;
    }
    form.querySelectorAll("button.bulk-action").forEach(function (button) {
      button.disabled = !all && ticked === 0;
    });
    form.classList.toggle("has-selection", Boolean(all) || ticked > 0);
  }
  function init() {
    document.querySelectorAll("form.bulk-form").forEach(update);
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches) return;
    var form = box.closest("form.bulk-form");
    if (!form) return;
    if (box.matches("input.select-page")) {
      form.querySelectorAll("input.row-select:not(:disabled)").forEach(function (row) {
        row.checked = box.checked;
      });
    }
    if (box.matches("input.select-page, input.row-select")) update(form);
  });
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
  init();
})();
