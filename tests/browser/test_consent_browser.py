"""Consent in a real browser: the card's Consent panel with its history, and the edit page that
asks for the source of a change.

With CRM_SHOTS_DIR set, the pages are also saved there as screenshots (for review)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from crm.consent import contact_set_consent, withdraw_by_unsubscribe_link
from crm.models import Contact
from interactions.models import LoggedSegment
from tests.conftest import make_user
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page, name: str) -> None:
    folder = os.environ.get("CRM_SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


@pytest.fixture
def dora():
    acme = make_company(no="C100", name="Acme Delft", city="Delft")
    person = make_person(
        acme, no="P100", name="Dora Delft", first_name="Dora", surname="Delft", email="dora@acme.example"
    )
    clerk = make_user("marketing", username="mary", first_name="Mary", last_name="Marketing")
    contact_set_consent(
        actor=clerk, contact=person, states={"email": "granted", "phone": "granted"}, source="phone call"
    )
    logged = LoggedSegment.objects.create(
        segment_no="SEG00012", source_uuid=uuid.uuid4(), description="Spring newsletter"
    )
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=logged.pk)
    return person, logged


def test_the_card_shows_consent_and_the_edit_page_asks_for_the_source_of_a_change(page, login, dora):
    person, logged = dora
    login(make_user("marketing", username="mia"))

    page.goto(f"/contacts/{person.pk}/")
    panel = page.locator("section#consent")
    text = " ".join(panel.inner_text().split())
    assert re.search(
        rf"E-mail withdrawn \d{{4}}-\d\d-\d\d \(unsubscribe link from logged segment {logged.pk} · SEG00012\)", text
    )
    assert re.search(r"Phone granted \d{4}-\d\d-\d\d by Mary Marketing \(phone call\)", text)
    assert "Postal unknown never recorded" in text
    page.click("summary:has-text('Consent history')")
    assert panel.locator("table tbody tr").count() == 3
    shot(page, "contact-card-consent.png")

    page.click("a.button:has-text('Edit')")
    page.select_option("select[name=postal_consent]", "withdrawn")
    page.click("button:has-text('Save')")
    error = page.locator("#consent .has-error .error")
    assert "Say where the change of postal consent comes from" in error.inner_text()
    assert Contact.objects.get(pk=person.pk).postal_consent == "unknown"
    page.locator("#consent").scroll_into_view_if_needed()
    shot(page, "contact-edit-source-error.png")

    page.fill("input[name=consent_source]", "written request")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(rf".*/contacts/{person.pk}/$"))
    assert re.search(
        r"Postal withdrawn \d{4}-\d\d-\d\d by mia \(written request\)",
        " ".join(page.locator("section#consent").inner_text().split()),
    )
    assert Contact.objects.get(pk=person.pk).postal_consent == "withdrawn"
