"""Logging in a real browser: confirm the log with its numbers, land on the logged segment, cancel
it after a confirmation; and a segment with problems is not offered the Log button.

Set CRM_SCREENSHOTS=DIR to keep a screenshot of the log confirmation and of the logged segment
(1280×800) for a look at the layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from interactions.models import InteractionLogEntry, LoggedSegment
from segments import services
from segments.models import Segment
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def messages_text(page) -> str:
    return page.locator(".messages").inner_text()


@pytest.fixture
def acme():
    seller = make_salesperson("ANN", name="Ann Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller)
    make_person(acme, no="P100", name="Dora Delft", city="Delft", salesperson=seller)
    make_person(acme, no="P101", name="Dirk Delft", city="Delft", salesperson=seller)
    return acme


def test_log_a_segment_then_cancel_the_logged_segment(page, login, acme):
    user = make_user("marketing", username="mia")
    segment = services.segment_create(
        user=user,
        values={
            "description": "Spring mailing",
            "interaction_template": make_template("LETTER", correspondence_type=""),
            "campaign": make_campaign(no="CP0001", description="Spring"),
        },
    )
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    login(user)
    page.goto(segment.get_absolute_url())
    shot(page, "worksheet-log-button")

    page.click(".worksheet-head a:has-text('Log…')")
    page.wait_for_url(re.compile(rf".*/segments/{segment.no}/log/$"))
    summary = page.locator(".log-summary")
    expect(summary).to_contain_text(
        f"Logging {segment.no} creates 3 interaction log entries and 1 campaign entry and removes the segment "
        "from the worksheet. This cannot be undone (a logged segment can be canceled)."
    )
    expect(page.locator("label:has-text('Create follow-up segment') input[type=checkbox]")).not_to_be_checked()
    shot(page, "log-confirm")

    with page.expect_navigation():
        page.click(f"button:has-text('Log {segment.no}')")

    logged = LoggedSegment.objects.get()
    page.wait_for_url(re.compile(rf".*/logged-segments/{logged.pk}/$"))
    assert f"Logged {segment.no}: 3 interaction log entries, 1 campaign entry." in messages_text(page)
    expect(page.locator("h1")).to_contain_text(f"Logged segment {logged.pk} · {segment.no} · Spring mailing")
    assert page.locator("#interaction-entries tbody tr").count() == 3
    assert "Dora Delft" in page.locator("#interaction-entries").inner_text()
    assert "CP0001" in page.locator("#campaign-entries").inner_text()
    assert not Segment.objects.filter(pk=segment.pk).exists()
    shot(page, "logged-segment")

    # Back to the (gone) segment's log page: the browser lands on the logged segment again.
    page.go_back()
    page.wait_for_url(re.compile(rf".*/logged-segments/{logged.pk}/$"))
    assert f"Segment {segment.no} was already logged by mia at" in messages_text(page)
    assert LoggedSegment.objects.count() == 1

    page.click("a:has-text('Cancel…')")
    expect(page.locator(".confirm-summary")).to_contain_text(
        f"Cancel logged segment {logged.pk}: 3 interaction log entries and 1 campaign entry become canceled."
    )
    shot(page, "logged-segment-cancel-confirm")
    with page.expect_navigation():
        page.click(f"button:has-text('Cancel logged segment {logged.pk}')")

    assert (
        f"Canceled logged segment {logged.pk} ({segment.no}): 3 interaction log entries and 1 campaign entry "
        "are now canceled." in messages_text(page)
    )
    expect(page.locator(".toolbar .badge.canceled")).to_have_text("Canceled")
    expect(page.locator("a:has-text('Uncancel…')")).to_be_visible()
    assert not InteractionLogEntry.objects.filter(canceled=False).exists()

    page.click("nav.mainnav a:has-text('Logged Segments')")
    row = page.locator(f"#logged-segment-{logged.pk}")
    expect(row).to_contain_text("Canceled")
    expect(row).to_contain_text(segment.no)
    shot(page, "logged-segment-list")


def test_a_segment_with_problems_lists_them_and_cannot_be_logged(page, login, acme):
    user = make_user("marketing", username="max")
    segment = services.segment_create(user=user, values={"description": "No template"})
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    login(user)
    page.goto(segment.get_absolute_url())

    page.click(".worksheet-head a:has-text('Log…')")

    problems = page.locator(".preflight")
    expect(problems).to_contain_text(f"{segment.no} cannot be logged until")
    expect(problems).to_contain_text("3 lines have no interaction template")
    expect(page.locator(f"button:has-text('Log {segment.no}')")).to_have_count(0)
    expect(page.locator("a.button:has-text('Back to the worksheet')")).to_be_visible()
    shot(page, "log-confirm-problems")
    assert not LoggedSegment.objects.exists()
