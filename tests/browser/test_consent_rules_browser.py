"""Consent on the Log page in a real browser (CONTRACT "Consent per channel and unsubscribe"):
the lines whose contact withdrew consent for the line's channel are listed with "Remove these N
lines"; removing them comes back to the Log page, which then offers the Log.

Set CRM_SCREENSHOTS=DIR to keep a screenshot of the Log page listing the withdrawn lines and of
the page after removing them (1280×800).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.consent import contact_set_consent
from crm.permissions import COMMAND_LINE
from segments import services
from segments.models import SegmentLine
from tests.browser.test_logging_browser import messages_text, shot
from tests.conftest import make_user
from tests.factories import make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_log_page_lists_withdrawn_lines_and_removes_them(page, login):
    seller = make_salesperson("ANN", name="Ann Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller, email="info@acme.test")
    people = [
        make_person(acme, no=f"P10{i}", name=name, city="Delft", salesperson=seller, email=f"{i}@acme.test")
        for i, name in enumerate(["Dora Delft", "Dirk Delft", "Daan Delft", "Dewi Delft"])
    ]
    user = make_user("marketing", username="mia")
    segment = services.segment_create(
        user=user,
        values={
            "description": "Spring newsletter",
            "interaction_template": make_template("NEWS", correspondence_type=""),
            "correspondence_type": "email",
            "ignore_contact_correspondence_type": True,
        },
    )
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")
    for person in people[1:3]:
        contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "withdrawn"}, source="unsubscribed")
    login(user)

    page.goto(f"/segments/{segment.no}/log/?deliver=0")

    box = page.locator(".withdrawn-lines")
    expect(box).to_contain_text("2 lines whose contact withdrew consent")
    expect(box.locator("tbody tr")).to_have_count(2)
    expect(box).to_contain_text("P101 Dirk Delft")
    expect(page.locator(".problems")).to_contain_text("2 lines have a contact who withdrew consent")
    expect(page.locator(f"button:has-text('Log {segment.no}')")).to_have_count(0)
    shot(page, "log-withdrawn-lines")

    with page.expect_navigation():
        page.click("button:has-text('Remove these 2 lines')")

    page.wait_for_url(re.compile(rf".*/segments/{segment.no}/log/\?deliver=0$"))
    assert "Removed 2 lines whose contacts withdrew consent; Undo puts them back." in messages_text(page)
    expect(page.locator(".withdrawn-lines")).to_have_count(0)
    expect(page.locator(f"button:has-text('Log {segment.no}')")).to_be_visible()
    shot(page, "log-after-removing-withdrawn")
    assert sorted(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True)) == [
        "C100",
        "P100",
        "P103",
    ]
