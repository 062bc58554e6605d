// The worksheet (templates/segments/segment_detail.html) by keyboard. Served from 'self', as
// the Content Security Policy requires. Without JavaScript the page still works: Enter in a
// criteria field submits the form with its first button (Count), panels open and close
// without being remembered, and a line is edited on a page of its own.
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  // Panels (<details data-panel>) stay as the user left them: each toggle is kept per user.
  document.addEventListener(
    "toggle",
    function (event) {
      var panel = event.target;
      if (!panel.matches || !panel.matches("details[data-panel]")) return;
      var state = panel.open ? "open" : "closed";
      if (panel.dataset.state === state) return; // the page opened it as it was kept
      panel.dataset.state = state;
      var holder = panel.closest("[data-panel-url]");
      if (!holder) return;
      var body = new URLSearchParams({ panel: panel.dataset.panel, state: state });
      fetch(holder.dataset.panelUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
        body: body,
      });
    },
    true
  );

  // The step button is off while its label says the step would do nothing (no criteria).
  function syncStepButton() {
    var label = document.getElementById("step-label");
    var button = label && label.closest("button");
    if (button) button.disabled = label.dataset.ready === "0";
  }

  function editControlOf(row) {
    return row && row.querySelector("a.line-edit");
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target.closest || event.defaultPrevented) return;
    if (event.key === "Enter" && !event.isComposing) {
      // Enter in a criteria field counts at once; only the step button runs the step.
      var criteria = target.closest("form.criteria-form");
      if (criteria && target.matches("input:not([type=submit]):not([type=button]), select") && window.htmx) {
        event.preventDefault();
        window.htmx.trigger(criteria, "count-now");
        return;
      }
      // Enter saves a line being edited, from any field (Ctrl+Enter in the personal text).
      var editor = target.closest("tr.edit-row form");
      if (editor && (target.matches("select, input") || (target.matches("textarea") && (event.ctrlKey || event.metaKey)))) {
        event.preventDefault();
        editor.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape") {
      var row = target.closest("tr.edit-row");
      var cancel = row && row.querySelector("a.line-cancel");
      if (cancel) {
        event.preventDefault();
        cancel.click();
      }
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    syncStepButton();
    var target = event.detail && event.detail.target;
    if (!target || !/^line-\d+$/.test(target.id || "")) return;
    var row = document.getElementById(target.id);
    if (!row) return;
    if (row.classList.contains("edit-row")) {
      // The editor opened: its first field takes the focus.
      var first = row.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    } else {
      // Cancelled: back on the row's Edit control.
      var edit = editControlOf(row);
      if (edit) edit.focus();
    }
  });

  // Back from saving or resetting a line (…#line-N): its Edit control has the focus.
  function focusLineOfHash() {
    var match = /^#line-\d+$/.exec(window.location.hash);
    var edit = match && editControlOf(document.getElementById(match[0].slice(1)));
    if (edit) edit.focus();
  }

  function ready() {
    syncStepButton();
    focusLineOfHash();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
  // The browser scrolls to the fragment once the page has loaded, which may take the focus back.
  window.addEventListener("load", focusLineOfHash);
})();
