"""The public unsubscribe page in a real browser: a fresh browser context (no cookies, no
login) opens an e-mail's link, sees the question and one button, clicks it and is unsubscribed;
the page's Content-Security-Policy holds (no violation reported) and it sets no cookie.

With CRM_SHOTS=<folder> the two pages are also saved there as screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm.models import ConsentState, Contact
from interactions.unsubscribe import make_token
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page, name: str) -> None:
    folder = os.environ.get("CRM_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_the_page_asks_then_the_button_unsubscribes_without_cookies_or_csp_violations(page, settings):
    settings.CRM_COMPANY = {**settings.CRM_COMPANY, "name": "Nordlys Marketing ApS"}
    contact = make_person(make_company(name="Acme"), email="anna.devries@example.com")
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None,
    )

    page.goto(f"/u/{make_token(contact_id=contact.pk, logged_segment_id=12)}/")

    assert page.locator("h1").inner_text() == "Unsubscribe a***@example.com from our e-mails?"
    assert page.locator("button").count() == 1 and page.locator("a").count() == 0
    shot(page, "unsubscribe-question")
    assert Contact.objects.get(pk=contact.pk).email_consent == ConsentState.UNKNOWN  # the visit changed nothing

    page.click("button:has-text('Unsubscribe')")
    page.locator("h1", has_text="You are unsubscribed").wait_for()

    shot(page, "unsubscribe-done")
    assert Contact.objects.get(pk=contact.pk).email_consent == ConsentState.WITHDRAWN
    assert page.context.cookies() == []
    assert not problems, problems
