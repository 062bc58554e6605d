// Searchable checkbox lists (crm.filters.ChecklistSelectMultiple): the search box above a list
// of code boxes hides the codes whose label does not contain what was typed. Without JavaScript
// the box stays hidden and the list scrolls. Served from 'self' (CSP: no inline script); listens
// on the document, so lists swapped in by htmx work too.
(function () {
  function reveal(root) {
    (root || document).querySelectorAll("[data-checklist] .checklist-search[hidden]").forEach(function (box) {
      box.hidden = false;
    });
  }
  function narrow(search) {
    var list = search.closest("[data-checklist]");
    if (!list) return;
    var term = search.value.trim().toLowerCase();
    var shown = 0;
    list.querySelectorAll(".checklist-option").forEach(function (option) {
      var match = !term || option.textContent.toLowerCase().indexOf(term) !== -1;
      option.hidden = !match;
      if (match) shown += 1;
    });
    var none = list.querySelector(".checklist-none");
    if (none) none.hidden = shown !== 0;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches(".checklist-search")) narrow(event.target);
  });
  // Enter in the search box must not submit the criteria form (or run a step).
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches(".checklist-search")) {
      event.preventDefault();
    }
  });
  document.addEventListener("DOMContentLoaded", function () { reveal(); });
  document.addEventListener("htmx:afterSettle", function () { reveal(); });
  reveal();
})();
