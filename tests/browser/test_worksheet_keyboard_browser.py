"""The worksheet by keyboard alone, and its layout at 1280×900 and 390×844 (issue 16).

The keyboard walk sets a criterion, counts with Enter (the step does not run), runs the Add
step from its button (which states what it will do), edits a line in place (Enter saves,
Escape cancels, the focus comes back to the row's Edit control) and undoes the step through
its confirmation page: page.keyboard only, page.goto to open the worksheet. Then axe-core
(no serious or critical violation) and no horizontal overflow at both widths.

Set CRM_SCREENSHOTS=DIR to keep screenshots of the worksheet at both widths.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from crm.models import UserPreference
from segments import services
from segments.models import SegmentLine
from tests.conftest import make_user
from tests.factories import bulk_contacts, make_company, make_person, make_salesperson

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def contacts():
    seller = make_salesperson("ANN", name="Ann Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller)
    make_person(acme, no="P100", name="Dora Delft", city="Delft")
    make_person(acme, no="P101", name="Dirk Delft", city="Delft")
    make_company(no="C200", name="Bolt Berlin", city="Berlin")
    return acme


def open_as(browser, live_server, user, viewport):
    """A page logged in as `user` through its session cookie (no clicks on the login page)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def focused(page, script: str):
    return page.evaluate(f"(() => {{ const el = document.activeElement; return {script}; }})()")


def tab_to(page, condition: str, limit: int = 200) -> None:
    """Press Tab until the focused element meets `condition` (JavaScript on `el`): none when it does already."""
    if focused(page, f"!!el && ({condition})"):
        return
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, f"!!el && ({condition})"):
            return
    raise AssertionError(f"Tab never reached an element where {condition}")


def messages_text(page) -> str:
    return page.locator(".messages").inner_text()


def test_the_worksheet_by_keyboard_alone(browser, live_server, contacts):
    user = make_user("marketing", username="kim")
    segment = services.segment_create(user=user, values={"description": "Keyboard mailing"})
    context, page = open_as(browser, live_server, user, WIDTHS["1280"])
    try:
        page.goto(segment.get_absolute_url())

        # A criterion, and Enter counts: the step does not run.
        tab_to(page, "el.matches('#criteria-panel summary') && el.textContent.trim() === 'Address'")
        page.keyboard.press("Enter")
        tab_to(page, "el.name === 'city'")
        page.keyboard.type("Delft")
        page.keyboard.press("Enter")
        expect(page.locator("#step-preview")).to_contain_text("This will add 3 contacts")
        expect(page.locator("#step-button")).to_have_text("Add 3 contacts")
        assert focused(page, "el.name") == "city"
        assert SegmentLine.objects.filter(segment=segment).count() == 0

        # The step runs from its button.
        tab_to(page, "el.id === 'step-button'")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Added 3 contacts; the segment has 3 lines (step 1)." in messages_text(page)
        lines = list(SegmentLine.objects.filter(segment=segment).order_by("line_no"))
        line = lines[0]

        # Edit a line in place: its first field takes the focus, Tab moves on, Enter saves.
        tab_to(page, f"el.matches('#line-{line.line_no} a.line-edit')")
        page.keyboard.press("Enter")
        expect(page.locator(f"tr.edit-row#line-{line.line_no}")).to_be_visible()
        page.wait_for_function("() => document.activeElement.closest('tr.edit-row') !== null")
        tab_to(page, "el.name === 'line-description'", limit=20)
        page.keyboard.press("ControlOrMeta+A")
        page.keyboard.type("A personal note")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "set by hand: description" in messages_text(page)
        expect(page.locator(f"#line-{line.line_no} td.ovr")).to_have_text("A personal note")
        page.wait_for_function(f"() => document.activeElement.matches('#line-{line.line_no} a.line-edit')")

        # Escape cancels another edit: the row comes back unchanged, the focus on its Edit control.
        other = lines[1]
        tab_to(page, f"el.matches('#line-{other.line_no} a.line-edit')")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement.closest('tr.edit-row') !== null")
        tab_to(page, "el.name === 'line-description'", limit=20)
        page.keyboard.type(" not kept")
        page.keyboard.press("Escape")
        expect(page.locator("tr.edit-row")).to_have_count(0)
        page.wait_for_function(f"() => document.activeElement.matches('#line-{other.line_no} a.line-edit')")
        other.refresh_from_db()
        assert "not kept" not in other.description and not other.overridden_fields

        # Undo the step through its confirmation page.
        tab_to(page, "el.textContent.trim() === 'Undo last step…'")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator(".undo-summary")).to_contain_text("3 lines")
        tab_to(page, "el.textContent.trim() === 'Undo step 1'")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Undid step 1" in messages_text(page)
        assert SegmentLine.objects.filter(segment=segment).count() == 0
    finally:
        context.close()


def test_an_empty_reduce_is_not_the_default(browser, live_server, contacts):
    user = make_user("marketing", username="ray")
    segment = services.segment_create(user=user, values={"description": "Reduce"})
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    context, page = open_as(browser, live_server, user, WIDTHS["1280"])
    try:
        page.goto(segment.get_absolute_url() + "?panel=reduce")
        button = page.locator("#step-button")
        expect(button).to_have_text("Set criteria to reduce")
        expect(button).to_be_disabled()
        page.locator("#criteria-panel input[name=type][value=person]").check()
        expect(button).to_have_text("Remove 2 lines")
        expect(button).to_be_enabled()
        page.goto(segment.get_absolute_url() + "?panel=refine")
        page.locator("#criteria-panel input[name=type][value=person]").check()
        expect(button).to_have_text("Keep 2 lines, remove 1")
    finally:
        context.close()


def test_panels_stay_as_the_user_left_them(browser, live_server, contacts):
    user = make_user("marketing", username="pam")
    segment = services.segment_create(user=user, values={"description": "Panels"})
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    context, page = open_as(browser, live_server, user, WIDTHS["1280"])
    try:
        page.goto(segment.get_absolute_url())
        steps = page.locator("#criteria-steps")
        expect(steps).not_to_have_attribute("open", "")
        expect(steps.locator("summary")).to_contain_text("City: Delft")  # the last step, panel closed
        steps.locator("summary").focus()
        with page.expect_response(lambda response: "worksheet-panels" in response.url):
            page.keyboard.press("Enter")
        assert UserPreference.objects.get(user=user, key="worksheet.steps").value == "open"
        page.reload()
        expect(page.locator("#criteria-steps")).to_have_attribute("open", "")
    finally:
        context.close()


@pytest.fixture
def busy_worksheet(contacts):
    """A worksheet of a few hundred lines, one line with long text set by hand."""
    user = make_user("marketing", username="wes")
    bulk_contacts(300)
    segment = services.segment_create(user=user, values={"description": "Autumn mailing to every customer"})
    services.segment_add_contacts(user=user, segment=segment, query="")
    line = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    services.segment_set_line(
        user=user,
        segment=segment,
        line_no=line.line_no,
        values={
            "description": "A longer description set by hand on this line, so that it wraps in its cell",
            "subject": "Hello Dora",
        },
        reset=[],
    )
    return user, segment, line


@pytest.mark.parametrize("width", ["1280", "390"])
def test_the_worksheet_fits_and_passes_axe(browser, live_server, busy_worksheet, width):
    from axe_playwright_python.sync_playwright import Axe

    user, segment, line = busy_worksheet
    context, page = open_as(browser, live_server, user, WIDTHS[width])
    try:
        page.goto(segment.get_absolute_url())
        expect(page.locator("#word-documents")).to_be_attached()
        viewport = WIDTHS[width]["width"]
        # Nothing inside the page's main part is wider than the window (the lines scroll inside their card).
        assert page.evaluate("document.querySelector('main').scrollWidth") <= viewport
        if width == "1280":
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport
            card = page.locator("#segment-lines").bounding_box()
            remove = page.locator(f"#line-{line.line_no} a:has-text('Remove')").bounding_box()
            assert remove["x"] + remove["width"] <= card["x"] + card["width"]  # never clipped, after an override
            grid = page.locator(".lines-scroll")
            assert grid.evaluate("box => box.scrollWidth <= box.clientWidth")  # no sideways scroll at 1280
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SHOTS) / f"worksheet-{width}.png"))
            page.screenshot(path=str(Path(SHOTS) / f"worksheet-{width}-full.png"), full_page=True)
            page.locator("#segment-lines").screenshot(path=str(Path(SHOTS) / f"worksheet-{width}-lines.png"))
            page.locator(f"#line-{line.line_no} a.line-edit").press("Enter")
            page.locator("tr.edit-row").screenshot(path=str(Path(SHOTS) / f"worksheet-{width}-line-editor.png"))
            page.keyboard.press("Escape")
            expect(page.locator("tr.edit-row")).to_have_count(0)
        results = Axe().run(page)
        serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]
    finally:
        context.close()
