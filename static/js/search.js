// The contact look-up as a combobox (the navigation's search box, the worksheet's "Add one
// contact"): htmx fills the popup below an input marked data-combobox="<popup id>" with a
// listbox (crm/includes/search_listbox.html); this script moves through its options with the
// arrow keys, opens one (data-href: the contact card) or gives its no. to the input
// (data-value) with Enter or a click, and closes it with Escape. Without an active option Enter
// submits the form (the results page, or the worksheet's Add). No inline script (CSP).
(function () {
  if (window.crmSearch) return; // included by more than one template
  window.crmSearch = true;

  function popupOf(input) {
    return document.getElementById(input.dataset.combobox);
  }
  function options(input) {
    var popup = popupOf(input);
    return popup ? Array.prototype.slice.call(popup.querySelectorAll('[role="option"]')) : [];
  }
  function statusOf(input) {
    var form = input.closest("form");
    return form ? form.querySelector('[role="status"]') : null;
  }
  function setActive(input, option) {
    options(input).forEach(function (each) {
      var on = each === option;
      each.setAttribute("aria-selected", on ? "true" : "false");
      each.classList.toggle("active", on);
    });
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }
  function close(input) {
    var popup = popupOf(input);
    if (popup) popup.innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }
  function choose(input, option) {
    if (option.dataset.href) {
      window.location.assign(option.dataset.href);
      return;
    }
    if (option.dataset.value !== undefined) {
      // The sentence comes with the listbox, in the page's language (includes/search_status.html).
      var words = popupOf(input).querySelector(".search-status[data-chosen]");
      var chosen = words ? words.dataset.chosen.replace("%(contact)s", option.textContent.replace(/\s+/g, " ").trim()) : "";
      input.value = option.dataset.value;
      close(input);
      input.focus();
      var status = statusOf(input);
      if (status) status.textContent = chosen;
    }
  }

  // The htmx attributes are set here, not in the page: a page without this script (or htmx)
  // keeps a plain form, and pages that stop polling carry no hx-get of the search box.
  function wire() {
    document.querySelectorAll("input[data-combobox][data-search-url]:not([hx-get])").forEach(function (input) {
      input.setAttribute("hx-get", input.dataset.searchUrl);
      input.setAttribute("hx-trigger", "input changed delay:250ms, search");
      input.setAttribute("hx-target", "#" + input.dataset.combobox);
      input.setAttribute("hx-swap", "innerHTML");
      input.setAttribute("hx-sync", "this:replace");
      if (window.htmx) window.htmx.process(input);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
  document.addEventListener("htmx:afterSettle", wire);

  document.addEventListener("htmx:afterSwap", function (event) {
    var popup = event.detail.target;
    if (!popup || !popup.dataset || !popup.dataset.listboxFor) return;
    var input = document.getElementById(popup.dataset.listboxFor);
    if (!input) return;
    var found = options(input).length;
    var shown = popup.textContent.trim() !== "";
    input.setAttribute("aria-expanded", found ? "true" : "false");
    input.removeAttribute("aria-activedescendant");
    popup.classList.toggle("open", shown);
    var status = statusOf(input);
    if (status) {
      // What the server said: the number found (includes/search_status.html) or why none.
      var message = popup.querySelector(found ? ".search-status" : ".search-message");
      status.textContent = message ? message.textContent : "";
    }
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-combobox]")) return;
    var list = options(input);
    var current = list.indexOf(document.getElementById(input.getAttribute("aria-activedescendant") || ""));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!list.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = current < 0 ? (step > 0 ? 0 : list.length - 1) : (current + step + list.length) % list.length;
      setActive(input, list[next]);
    } else if (event.key === "Enter" && current >= 0) {
      event.preventDefault();
      choose(input, list[current]);
    } else if (event.key === "Escape") {
      if (input.getAttribute("aria-expanded") === "true" || (popupOf(input) && popupOf(input).textContent.trim())) {
        event.preventDefault();
        close(input);
        popupOf(input).classList.remove("open");
      }
    }
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest('[role="option"]');
    if (option) {
      var popup = option.closest("[data-listbox-for]");
      var input = popup && document.getElementById(popup.dataset.listboxFor);
      if (input) choose(input, option);
      return;
    }
    // A click elsewhere closes every open popup.
    document.querySelectorAll("[data-listbox-for].open").forEach(function (popup) {
      if (popup.closest("form").contains(event.target)) return;
      var input = document.getElementById(popup.dataset.listboxFor);
      popup.classList.remove("open");
      if (input) close(input);
    });
  });
})();
