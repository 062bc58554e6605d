"""Languages visible (issue 14 part 8): lines whose contact's language has no Word document are
merged from the default language's (R14: the segment has no row for that language, so the line
takes the default), and the Print letters page, the Log pre-flight and the line's letter preview
say so with counts ("2 lines in FI use the EN document"), as a notice that blocks nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from crm.models import Contact
from crm.permissions import COMMAND_LINE
from interactions.models import InteractionTemplate, InteractionTemplateLanguage
from segments import services
from segments.documents import language_fallback_counts
from segments.models import SegmentLine
from tests.factories import (
    attach_word_template,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_template,
)

pytestmark = pytest.mark.django_db

FALLBACK = "2 lines in FI use the EN document (no Word document for FI)."


def build(*, finnish_document: bool = False, finns: int = 2):
    """Template LETTER with English (default) and German Word documents, and a Finnish one only
    with `finnish_document`; a segment of an English company, `finns` Finnish persons and a German
    one, all hard copy."""
    english, german, finnish = make_language("EN"), make_language("DE"), make_language("FI")
    template = make_template("LETTER", language=english, correspondence_type="hard_copy")
    attach_word_template(template, "Hello {{ contact.name }}.")
    attach_word_template(template, "Hallo {{ contact.name }}.", language=german)
    if finnish_document:
        attach_word_template(template, "Hei {{ contact.name }}.", language=finnish)
    seller = make_salesperson("ANN")
    company = make_company(no="C1", name="Acme", language=english, salesperson=seller)
    for i in range(finns):
        make_person(company, no=f"F{i}", name=f"Finn {i}", language=finnish, salesperson=seller)
    make_person(company, no="G1", name="Greta", language=german, salesperson=seller)
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": "Letters", "interaction_template": template}
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="company_no=C1")
    return segment


def text_of(response) -> str:
    assert response.status_code == 200
    return unescape(re.sub(r"\s+", " ", strip_tags(response.content.decode())))


def line_no(segment, contact_no: str) -> int:
    return SegmentLine.objects.get(segment=segment, contact__no=contact_no).line_no


def print_page(client, segment) -> str:
    return text_of(client.get(reverse("segments:segment_merge", args=[segment.no])))


def log_page(client, segment) -> str:
    return text_of(client.get(reverse("segments:segment_log", args=[segment.no])))


def letter_page(client, segment, contact_no: str) -> str:
    return text_of(client.get(reverse("segments:line_letter", args=[segment.no, line_no(segment, contact_no)])))


def test_the_finnish_lines_take_the_english_document():
    segment = build()
    languages = dict(SegmentLine.objects.filter(segment=segment).values_list("contact__no", "language_id"))
    assert languages == {"C1": "EN", "F0": "EN", "F1": "EN", "G1": "DE"}


def test_print_page_says_how_many_lines_use_another_languages_document(marketing_client):
    segment = build()
    page = print_page(marketing_client, segment)
    assert FALLBACK in page
    assert "no Word document for DE" not in page
    assert "cannot be made yet" not in page  # a notice, not a problem


def test_log_preflight_says_so_without_blocking_the_log(marketing_client):
    segment = build()
    page = log_page(marketing_client, segment)
    assert FALLBACK in page
    assert "cannot be logged until" not in page
    assert services.log.segment_log_problems(segment=segment, deliver=True) == []


def test_log_preflight_says_nothing_of_it_without_delivery(marketing_client):
    segment = build()
    page = text_of(marketing_client.get(reverse("segments:segment_log", args=[segment.no]) + "?deliver=0"))
    assert "use the EN document" not in page


def test_letter_preview_of_a_finnish_line_says_it_uses_the_english_document(marketing_client):
    segment = build()
    assert "1 line in FI uses the EN document (no Word document for FI)." in letter_page(
        marketing_client, segment, "F0"
    )
    assert "document (no Word document" not in letter_page(marketing_client, segment, "G1")
    assert "document (no Word document" not in letter_page(marketing_client, segment, "C1")


def test_nothing_is_said_when_every_line_has_its_languages_document(marketing_client):
    segment = build(finnish_document=True)
    assert "no Word document for" not in print_page(marketing_client, segment)
    assert "no Word document for" not in log_page(marketing_client, segment)
    assert "no Word document for" not in letter_page(marketing_client, segment, "F0")


def test_counting_costs_the_same_queries_whatever_the_number_of_lines(marketing_client, django_assert_max_num_queries):
    segment = build(finns=2)
    with CaptureQueriesContext(connection) as print_few:
        print_page(marketing_client, segment)
    with CaptureQueriesContext(connection) as log_few:
        log_page(marketing_client, segment)
    company = Contact.objects.get(no="C1")
    for i in range(2, 30):
        make_person(company, no=f"F{i}", name=f"Finn {i}", language_id="FI", salesperson=company.salesperson)
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="company_no=C1")
    with django_assert_max_num_queries(len(print_few.captured_queries)):
        assert "30 lines in FI use the EN document" in print_page(marketing_client, segment)
    with django_assert_max_num_queries(len(log_few.captured_queries)):
        assert "30 lines in FI use the EN document" in log_page(marketing_client, segment)


def test_a_language_row_without_a_document_is_a_problem_not_a_fallback(marketing_client):
    """With a Finnish row (no document) the Finnish lines are in FI (R14) and have no letter:
    the existing problem names them; no other language's document is used."""
    finnish = make_language("FI")
    build(finns=0)  # the template and languages
    InteractionTemplateLanguage.objects.create(template_id="LETTER", language=finnish, description="Kirje")
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": "Letters", "interaction_template": InteractionTemplate.objects.get()}
    )
    for i in range(2):
        make_person(Contact.objects.get(no="C1"), no=f"F{i}", name=f"Finn {i}", language=finnish)
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="company_no=C1")
    page = print_page(marketing_client, segment)
    assert 'Interaction template "LETTER" has no Word document for language FI (2 lines)' in page
    assert "use the EN document" not in page


def test_a_line_on_another_template_is_counted_by_that_templates_documents():
    """A line that overrides the header's template (R15) falls back by its own template's rows:
    OTHER has a Finnish document, so its Finnish line uses it; the header's Finnish lines do not."""
    segment = build()
    other = make_template("OTHER", language_id="EN", correspondence_type="hard_copy")
    attach_word_template(other, "Hello {{ contact.name }}.")
    attach_word_template(other, "Hei {{ contact.name }}.", language=make_language("FI"))
    SegmentLine.objects.filter(segment=segment, contact__no="F0").update(interaction_template=other, language_id="FI")
    SegmentLine.objects.filter(segment=segment, contact__no="G1").update(interaction_template=other, language_id="EN")
    lines = SegmentLine.objects.filter(segment=segment)
    assert language_fallback_counts(segment, lines, {"LETTER", "OTHER"}) == [("DE", "EN", 1), ("FI", "EN", 1)]
