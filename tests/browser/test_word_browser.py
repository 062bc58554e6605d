"""Word templates and letters in a real browser: an admin uploads a Word template on the
template page and sees it listed; a marketing user opens a line's letter from the worksheet
(whose "Word documents" panel loads by htmx) and sees the contact's name and salutation.

Set CRM_SCREENSHOTS=DIR to keep a screenshot of the template page and of the letter preview
(1280×800) for a look at the layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from interactions.models import InteractionTemplateLanguage
from interactions.sample_template import sample_letter_docx
from segments import services
from segments.models import SegmentLine
from tests.conftest import make_user
from tests.factories import (
    attach_word_template,
    make_campaign,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_salutation,
    make_template,
)

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_upload_a_word_template_on_the_template_page(page, login):
    template = make_template("SPRING", description="Spring letter", language=make_language("ENU", name="English"))
    make_language("DEU", name="German")
    InteractionTemplateLanguage.objects.create(template=template, language_id="ENU", description="Spring letter")
    InteractionTemplateLanguage.objects.create(template=template, language_id="DEU", description="Frühling")
    admin = make_user("admin", username="ada")
    login(admin)

    page.click("nav.mainnav a:has-text('Interaction Templates')")
    page.click("a:has-text('SPRING')")
    page.wait_for_url(re.compile(r".*/interaction-templates/SPRING/$"))
    row = page.locator("#language-DEU")
    expect(row).to_contain_text("No Word template")

    row.locator("input[type=file]").set_input_files(
        files=[{"name": "Spring letter DE.docx", "mimeType": DOCX, "buffer": sample_letter_docx()}]
    )
    with page.expect_navigation():
        row.locator("button:has-text('Attach')").click()

    expect(page.locator(".messages")).to_contain_text("Stored “Spring letter DE.docx”", use_inner_text=True)
    expect(page.locator("#language-DEU")).to_contain_text("Spring letter DE.docx")
    expect(page.locator("#language-DEU a[download]")).to_have_text("Spring letter DE.docx")
    expect(page.locator("#merge-fields")).to_contain_text("{{ contact.name }}")
    assert InteractionTemplateLanguage.objects.get(template=template, language_id="DEU").document is not None

    bad = b"PK\x03\x04 not a word document"
    row = page.locator("#language-ENU")
    row.locator("input[type=file]").set_input_files(files=[{"name": "bad.docx", "mimeType": DOCX, "buffer": bad}])
    with page.expect_navigation():
        row.locator("button:has-text('Attach')").click()
    expect(page.locator("#language-ENU .errorbox")).to_contain_text("The document was not stored.")
    shot(page, "template-page")


def test_preview_a_lines_letter_from_the_worksheet(page, login):
    english = make_language("EN")
    salutation = make_salutation("MS", {("EN", "formal"): "Dear Ms %surname", ("EN", "informal"): "Dear %first_name"})
    template = make_template("LETTER", description="Spring letter", language=english, correspondence_type="")
    attach_word_template(
        template,
        "{{ salutation_formal }},",
        "Thank you for your interest in {{ campaign.description }}, {{ contact.first_name }}.",
        "{{ line.personal_text }}",
        "Kind regards,",
        "{{ salesperson.name }}",
    )
    seller = make_salesperson("ANN", name="Ann Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller, language=english)
    make_person(
        acme,
        no="P100",
        name="Dora de Vries",
        first_name="Dora",
        surname="de Vries",
        salutation=salutation,
        language=english,
        salesperson=seller,
    )
    user = make_user("marketing", username="mia")
    segment = services.segment_create(
        user=user,
        values={
            "description": "Spring mailing",
            "interaction_template": template,
            "campaign": make_campaign(no="CP0001", description="the spring fair"),
        },
    )
    services.segment_add_contacts(user=user, segment=segment, query="no=P100")
    line = SegmentLine.objects.get(segment=segment)
    SegmentLine.objects.filter(pk=line.pk).update(personal_text="It was good to meet you in Delft.")
    login(user)

    page.goto(segment.get_absolute_url())
    expect(page.locator("#word-documents")).to_contain_text("LETTER.docx")  # the panel loaded by htmx
    shot(page, "worksheet-word-documents")
    page.click(f"#line-{line.line_no} a:has-text('Letter')")
    page.wait_for_url(re.compile(rf".*/segments/{segment.no}/lines/{line.line_no}/letter/$"))

    preview = page.locator(".letter-preview")
    expect(preview).to_contain_text("Dear Ms de Vries,")
    expect(preview).to_contain_text("Thank you for your interest in the spring fair, Dora.")
    expect(preview).to_contain_text("It was good to meet you in Delft.")
    expect(page.locator("h1")).to_contain_text("Dora de Vries")
    with page.expect_download() as download_info:
        page.click("a:has-text('Download .docx')")
    assert download_info.value.suggested_filename == "Acme Delft - Dora de Vries.docx"
    shot(page, "letter-preview")
