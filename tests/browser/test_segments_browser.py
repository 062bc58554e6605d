"""Segments in a real browser: build a segment with the live preview, edit a line, undo a step.

Set CRM_SCREENSHOTS=DIR to keep a screenshot of each page visited (1280×800) for a look at
the layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from segments import services
from segments.models import Segment, SegmentLine
from tests.conftest import make_user
from tests.factories import make_company, make_person, make_salesperson

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture
def contacts():
    seller = make_salesperson("ANN", name="Ann Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller)
    make_person(acme, no="P100", name="Dora Delft", city="Delft")
    make_person(acme, no="P101", name="Dirk Delft", city="Delft")
    make_company(no="C200", name="Bolt Berlin", city="Berlin")
    make_company(no="C300", name="Hidden Delft", city="Delft", exclude_from_segment=True)
    return acme


def messages_text(page) -> str:
    return page.locator(".messages").inner_text()


def test_build_a_segment_with_the_live_preview(page, login, contacts):
    login(make_user("marketing", username="mia"))
    page.click("nav.mainnav a:has-text('Segments')")
    page.click("a:has-text('New segment')")
    page.fill("input[name=description]", "Spring mailing")
    page.click("button:has-text('Create segment')")
    page.wait_for_url(re.compile(r".*/segments/SEG\d{5}/$"))
    assert "Created segment" in messages_text(page)
    preview = page.locator("#step-preview")
    # No criteria yet: every contact that may be added (the excluded one is not).
    expect(page.locator("#step-preview")).to_contain_text("This will add 4 contacts")

    page.click("#criteria-panel summary:has-text('Address')")
    page.fill("#criteria-panel input[name=city]", "Delft")
    expect(page.locator("#step-preview")).to_contain_text("This will add 3 contacts")
    assert "the segment then has 3 lines" in preview.inner_text()
    shot(page, "worksheet-preview")

    page.check("#criteria-panel input[name=ignore_exclusion]")
    expect(page.locator("#step-preview")).to_contain_text("This will add 4 contacts")
    page.uncheck("#criteria-panel input[name=ignore_exclusion]")
    expect(page.locator("#step-preview")).to_contain_text("This will add 3 contacts")

    expect(page.locator("#step-button")).to_have_text("Add 3 contacts")  # the step button says what it does
    with page.expect_navigation():
        page.click("#criteria-panel button:has-text('Add 3 contacts')")

    assert "Added 3 contacts; the segment has 3 lines (step 1)." in messages_text(page)
    rows = page.locator("table.lines tbody tr")
    assert rows.count() == 3
    assert "Dora Delft" in page.locator("#segment-lines").inner_text()
    assert "step 1: add" in rows.first.inner_text()
    assert "City: Delft" in page.locator("#criteria-steps").inner_text()
    shot(page, "worksheet-after-add")


def test_a_bad_filter_in_the_preview_is_explained_and_nothing_is_added(page, login, contacts):
    user = make_user("marketing", username="mo")
    segment = services.segment_create(user=user, values={"description": "Bad filter"})
    login(user)
    page.goto(segment.get_absolute_url())
    expect(page.locator("#step-preview")).to_contain_text("This will add")

    page.fill("#criteria-panel input[name=company_no]", "NOPE")
    expect(page.locator("#step-preview")).to_contain_text("not valid")
    assert 'company_no: unknown company "NOPE"' in page.locator("#step-preview").inner_text()

    page.click("#criteria-panel button:has-text('Add contacts')")
    page.wait_for_load_state()
    assert 'company_no: unknown company "NOPE"' in page.locator("#step-preview").inner_text()
    assert SegmentLine.objects.filter(segment=segment).count() == 0


def test_reduce_tab_previews_the_lines_it_would_remove(page, login, contacts):
    user = make_user("marketing", username="max")
    segment = services.segment_create(user=user, values={"description": "Tabs"})
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    login(user)
    page.goto(segment.get_absolute_url())

    page.click("#criteria-panel a.tab:has-text('Reduce')")
    page.wait_for_selector("#criteria-panel input[name=action][value=reduce]", state="attached")
    page.check("#criteria-panel input[name=type][value=person]")
    expect(page.locator("#step-preview")).to_contain_text("This will remove 2 lines")
    with page.expect_navigation():
        page.click("#criteria-panel button:has-text('Remove 2 lines')")

    assert "Removed 2 lines whose contact matches (reduce); the segment has 1 line (step 2)." in messages_text(page)


def test_edit_a_line_see_the_override_marked_then_reset_it(page, login, contacts):
    user = make_user("marketing", username="meg")
    segment = services.segment_create(user=user, values={"description": "Spring mailing"})
    services.segment_add_contacts(user=user, segment=segment, query="no=P100")
    line = SegmentLine.objects.get(segment=segment)
    login(user)
    page.goto(segment.get_absolute_url())
    row = page.locator(f"#line-{line.line_no}")

    row.locator("a:has-text('Edit')").click()
    page.wait_for_selector("tr.edit-row")
    shot(page, "line-edit-row")
    page.fill("tr.edit-row input[name=line-description]", "Dear Dora, a personal note")
    with page.expect_navigation():
        page.click("tr.edit-row button:has-text('Save line')")

    assert "set by hand: description" in messages_text(page)
    cell = page.locator(f"#line-{line.line_no} td.ovr")
    assert cell.count() == 1
    assert cell.inner_text().startswith("Dear Dora, a personal note")
    shot(page, "line-overridden")

    with page.expect_navigation():
        page.click(f"#line-{line.line_no} button:has-text('Reset')")

    assert f"Line {line.line_no} follows the header again (reset: description)." in messages_text(page)
    assert page.locator(f"#line-{line.line_no} td.ovr").count() == 0
    assert "Spring mailing" in page.locator(f"#line-{line.line_no}").inner_text()


def test_undo_a_step_after_confirming_restores_the_lines(page, login, contacts):
    user = make_user("marketing", username="una")
    segment = services.segment_create(user=user, values={"description": "Undo me"})
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    before = list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("line_no", "contact__no"))
    services.segment_remove_contacts(user=user, segment=segment, action="reduce", query="type=person")
    login(user)
    page.goto(segment.get_absolute_url())
    assert page.locator("table.lines tbody tr").count() == 1

    page.click("a:has-text('Undo last step')")
    summary = page.locator(".undo-summary").inner_text()
    assert "removes the 0 lines step 2 added" in summary
    assert "restores 2 lines" in summary
    shot(page, "undo-confirm")
    with page.expect_navigation():
        page.click("button:has-text('Undo step 2')")

    assert "restored 2 lines; the segment has 3 lines." in messages_text(page)
    assert page.locator("table.lines tbody tr").count() == 3
    after = list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("line_no", "contact__no"))
    assert after == before


def test_the_worksheet_works_without_javascript(browser, live_server, contacts):
    user = make_user("marketing", username="nojs")
    segment = services.segment_create(user=user, values={"description": "No script"})
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=live_server.url, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "pw-" + user.username)
        page.click("button[type=submit]")
        page.goto(segment.get_absolute_url())

        page.click("#criteria-panel summary:has-text('Address')")
        page.fill("#criteria-panel input[name=city]", "Berlin")
        page.click("#criteria-panel button:has-text('Count')")
        assert "This will add 1 contact" in page.locator("#step-preview").inner_text()
        page.click("#criteria-panel button:has-text('Add 1 contact')")
        assert "Added 1 contact; the segment has 1 line (step 1)." in page.locator(".messages").inner_text()

        page.click("a:has-text('Edit')")
        page.fill("input[name=line-subject]", "Hello Berlin")
        page.click("button:has-text('Save line')")
        assert "set by hand: subject" in page.locator(".messages").inner_text()
    finally:
        context.close()
    assert Segment.objects.get(pk=segment.pk).lines.get().subject == "Hello Berlin"
