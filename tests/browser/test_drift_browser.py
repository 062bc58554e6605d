"""The Log page's drift panel in a real browser (issue 15): it loads after the page shows (htmx),
names what changed since the lines were added, and Refresh applies it and comes back to the Log
page with its message and a panel that finds nothing.

Set CRM_SCREENSHOTS=DIR to keep screenshots of the pages (1280×800) for a look at the layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.models import Contact
from crm.permissions import COMMAND_LINE
from segments import services
from tests.conftest import make_user
from tests.factories import attach_word_template, make_company, make_salesperson, make_template
from tests.segments.test_drift import anonymise, exclude, move, withdraw

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")
NAMES = ["Aalbers Bouw", "Bakker Logistiek", "De Vries Installatie", "Jansen Drukwerk", "Mulder ICT", "Visser Advies"]


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_log_page_shows_what_changed_and_refresh_applies_it(page, login):
    user = make_user("marketing", username="mia")
    salesperson = make_salesperson("ANN")
    delft = [make_company(name=name, city="Delft", email=f"info{i}@example.test") for i, name in enumerate(NAMES)]
    newcomer = make_company(name="Zwart Schoonmaak", city="Rotterdam", email="info@zwart.test")
    template = make_template(correspondence_type="email")
    attach_word_template(template, "Dear customer,", "Spring is here.")
    segment = services.segment_create(
        user=COMMAND_LINE,
        values={"description": "Spring mailing Delft", "interaction_template": template, "salesperson": salesperson},
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=Delft")
    withdraw(delft[0])
    exclude(delft[1])
    anonymise(delft[2])
    move(delft[3], "Leiden")
    move(newcomer, "Delft")
    login(user)

    page.goto(f"/segments/{segment.no}/log/")

    panel = page.locator("#drift-panel")
    expect(panel).to_contain_text("1 line whose contact withdrew consent for the line's channel (blocks the Log)")
    expect(panel).to_contain_text(f"{delft[0].no} {NAMES[0]}")
    expect(panel).to_contain_text("1 line whose contact was set to “exclude from segment” since it was added")
    expect(panel).to_contain_text(f"Anonymised contact {delft[2].no}")
    expect(panel).to_contain_text("1 line whose contact no longer matches the criteria")
    expect(panel).to_contain_text(f"{newcomer.no} Zwart Schoonmaak")
    shot(page, "log-page-drift")

    panel.get_by_role("button", name="Refresh the worksheet").click()

    page.wait_for_url(re.compile(rf".*/segments/{segment.no}/log/$"))
    expect(page.locator(".messages, [role=status], body").first).to_contain_text(
        "Refresh: 4 lines removed, 1 added; Undo puts it back."
    )
    expect(page.locator("#drift-panel")).to_contain_text("and the lines match the criteria today")
    shot(page, "log-page-after-refresh")
    assert set(segment.lines.values_list("contact__no", flat=True)) == {
        delft[4].no,
        delft[5].no,
        Contact.objects.get(pk=newcomer.pk).no,
    }
