"""The CRM in the user's own language, in a real browser (issue 17), on the demo data.

`marketing-da` (profile language Danish; the browser asks for American English) walks the
worksheet: opens a segment from the segment list, adds contacts by a criterion, sees the lines.
`marketing-fi` (Finnish) opens the Log page of a demo segment. Both pages say their language in
`<html lang>` and show the users' words of locale/GLOSSARY.md ("målgruppe", "segmentti").

The words are not written here: each is the catalogue's translation of the English message
(Django's gettext under the language), and a word that the catalogue leaves English fails the
test, so it passes only with the catalogues compiled (`manage.py compilemessages`) and the
pages marked.

The screenshots worksheet-da.png and log-fi.png (test-artifacts/screenshots/, or CRM_SCREENSHOTS=DIR) at
1280×800 and their 390×844 variants (worksheet-da-390.png, log-fi-390.png).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import translation
from playwright.sync_api import expect

from crm.models import Language
from interactions.models import InteractionTemplate
from segments import services
from segments.demo import demo_seed, demo_segments
from segments.models import Segment, SegmentLine

pytestmark = pytest.mark.django_db(transaction=True)

# Where the screenshots go: CRM_SCREENSHOTS (e.g. docs/screenshots), else the run's artifacts.
SHOTS = os.environ.get("CRM_SCREENSHOTS") or str(Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots")
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}


@pytest.fixture
def demo(settings):
    """The demo users and demo data (800 contacts, the demo segments)."""
    settings.DEBUG = True  # create_demo_users refuses otherwise
    call_command("create_demo_users", stdout=io.StringIO())
    demo_seed(contacts=800, seed=1)
    demo_segments()


def translated(language: str, message: str, **values) -> str:
    """The catalogue's `language` text of the English `message` (placeholders filled in); fails
    when the catalogue leaves it English."""
    with translation.override(language):
        text = translation.gettext(message)
    english = message % values if values else message
    shown = text % values if values else text
    assert shown != english, (
        f"the {language} catalogue has no translation of {message!r}: are locale/{language} written and "
        "compiled (manage.py compilemessages)?"
    )
    return shown


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "marketing-demo")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^https?://[^/]+/$"))  # the start page


def shoot(page, name: str, *, full_page: bool = False) -> None:
    """Keep `name`.png at 1280×800 and `name`-390.png at 390×844 in SHOTS."""
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)
    page.set_viewport_size(NARROW)
    page.screenshot(path=str(Path(SHOTS) / f"{name}-390.png"), full_page=full_page)
    page.set_viewport_size(WIDE)


def test_a_danish_user_walks_the_worksheet_in_danish(page, demo):
    user = User.objects.get(username="marketing-da")
    segment = services.segment_create(
        user=user,
        values={
            "description": "Forårsarrangement – Aarhus",
            "interaction_template": InteractionTemplate.objects.get(code="INVITE"),
            "language": Language.objects.get(code="DA"),
        },
    )
    expected = services.add_candidates(segment=segment, query="city=Aarhus C").count()
    assert expected >= 3

    log_in(page, "marketing-da")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    page.click("nav.mainnav a[href='/segments/']")
    page.wait_for_url(re.compile(r".*/segments/$"))
    segments_word = translated("da", "Segments")
    assert "målgruppe" in segments_word.lower()  # the glossary's word
    expect(page.locator("h1")).to_contain_text(segments_word)
    page.click(f"a[href='{segment.get_absolute_url()}']:has-text('{segment.no}')")
    page.wait_for_url(re.compile(rf".*/segments/{segment.no}/$"))
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.locator(".crumbs")).to_contain_text(segments_word)
    select_contacts = translated("da", "Select contacts")
    assert "kontakter" in select_contacts.lower()  # the glossary's "vælge kontakter"
    expect(page.locator("#criteria-panel h2")).to_have_text(select_contacts)

    page.click("#criteria-panel details:has(input[name=city]) > summary")
    page.fill("#criteria-panel input[name=city]", "Aarhus C")
    expect(page.locator("#step-button")).to_contain_text(str(expected))  # the live preview's count
    with page.expect_navigation():
        page.click("#step-button")

    rows = page.locator("table.lines tbody tr")
    expect(rows).to_have_count(expected)
    assert SegmentLine.objects.filter(segment=segment).count() == expected
    assert not SegmentLine.objects.filter(segment=segment).exclude(contact__city="Aarhus C").exists()
    expect(page.locator("#segment-lines h2")).to_have_text(translated("da", "Lines"))
    expect(page.locator("#criteria-steps h2")).to_have_text(translated("da", "Criteria steps"))
    expect(page.locator("table.lines")).to_contain_text("Invitation til vores forårsarrangement")  # Danish subject
    shoot(page, "worksheet-da")


def test_a_finnish_user_opens_the_log_page_in_finnish(page, demo):
    segment = (
        Segment.objects.filter(owner__username="marketing-fi", interaction_template="THANKS")
        .select_related("owner")
        .get()
    )
    lines = SegmentLine.objects.filter(segment=segment).count()
    assert lines >= 1

    log_in(page, "marketing-fi")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    page.goto(segment.get_absolute_url())
    page.click(f".worksheet-head a[href='/segments/{segment.no}/log/']")
    page.wait_for_url(re.compile(rf".*/segments/{segment.no}/log/$"))

    expect(page.locator("html")).to_have_attribute("lang", "fi")
    segments_word = translated("fi", "Segments")
    assert "segmenti" in segments_word.lower()  # the glossary's word
    expect(page.locator(".crumbs")).to_contain_text(segments_word)
    expect(page.locator("h1")).to_have_text(
        translated("fi", "Log %(no)s · %(description)s?", no=segment.no, description=segment.description)
    )
    button = translated("fi", "Log %(no)s", no=segment.no)
    assert re.search(r"kirja|loki", button, re.IGNORECASE)  # the glossary's "Loki", "kirjata lokiin"
    expect(page.locator("form.stacked button[type=submit]")).to_have_text(button)
    expect(page.locator("form.stacked")).to_contain_text(translated("fi", "Back to the worksheet"))
    expect(page.locator("#drift-panel")).not_to_have_class(re.compile(r"\bloading\b"))  # the drift check is in
    shoot(page, "log-fi")
