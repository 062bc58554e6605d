// The menu button of the header (templates/base.html): on a narrow screen the main navigation
// sits behind it (static/css/responsive.css hides the navigation while the button says
// aria-expanded="false"). Without this script the button stays hidden and the navigation open.
(function () {
  "use strict";

  function setUp() {
    var button = document.querySelector(".topbar .menu-button");
    if (!button) return;
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    var header = button.closest(".topbar");
    if (!nav || !header) return;

    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      header.classList.toggle("menu-open", open);
    }

    button.hidden = false;
    header.classList.add("has-menu-button");
    setOpen(false);
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    // Escape closes the open menu and gives the focus back to its button.
    header.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
