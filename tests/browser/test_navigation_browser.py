"""The header on a phone (390 px): the navigation sits behind a menu button (static/js/nav.js);
on a laptop, and without JavaScript, the navigation is simply there.

Set CRM_SCREENSHOTS=DIR to keep screenshots of the header (menu open and closed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("CRM_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_on_a_phone_the_menu_button_opens_and_closes_the_navigation(page, login):
    page.set_viewport_size(PHONE)
    login(make_user("marketing", username="mia"))
    button = page.get_by_role("button", name="Menu")
    segments = page.locator("nav.mainnav").get_by_role("link", name="Segments", exact=True)
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "main-nav")
    expect(segments).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "390-menu-closed")

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(segments).to_be_visible()
    shot(page, "390-menu-open")
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(segments).to_be_hidden()
    expect(button).to_be_focused()

    page.keyboard.press("Enter")  # the focused button opens it again
    expect(segments).to_be_visible()
    segments.click()
    page.wait_for_url("**/segments/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Segments")
    expect(segments).to_be_hidden()  # a new page starts with the menu closed


def test_on_a_laptop_the_navigation_shows_without_a_menu_button(page, login):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(make_user("marketing", username="mia"))
    expect(page.locator("nav.mainnav").get_by_role("link", name="Segments", exact=True)).to_be_visible()
    expect(page.locator(".menu-button")).to_be_hidden()
    shot(page, "1280-header")


def test_without_javascript_the_navigation_stays_open_on_a_phone(browser, live_server):
    client = Client()
    client.force_login(make_user("marketing", username="mia"))
    context = browser.new_context(viewport=PHONE, base_url=live_server.url, java_script_enabled=False)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.goto("/contacts/")
    expect(page.locator("nav.mainnav").get_by_role("link", name="Segments", exact=True)).to_be_visible()
    expect(page.locator(".menu-button")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "390-menu-without-javascript")
    context.close()
