"""Which Word document a segment line is merged from (segments/documents.py; SPEC R14, R66, R67)."""

from __future__ import annotations

from collections import Counter

import pytest

from crm.permissions import COMMAND_LINE
from interactions.models import Document, InteractionLogEntry
from interactions.wordtemplates import WordTemplateInvalid
from segments import documents, services
from segments.models import SegmentLanguage, SegmentLine
from segments.services import log as log_services
from tests.factories import (
    attach_word_template,
    make_company,
    make_language,
    make_salesperson,
    make_template,
)
from tests.interactions.docx_builders import docx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """A template with an English (default) and a French Word document, and a segment of an
    English, a French and a German company (German: no row, so the header's language)."""
    english, french, german = make_language("EN"), make_language("FR"), make_language("DE")
    template = make_template(language=english, correspondence_type="")
    en_doc = attach_word_template(template, "Dear {{ contact.name }}", language=english)
    fr_doc = attach_word_template(template, "Cher {{ contact.name }}", language=french)
    salesperson = make_salesperson()
    contacts = {
        code: make_company(language=language, salesperson=salesperson)
        for code, language in (("EN", english), ("FR", french), ("DE", german))
    }
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": "Letters", "interaction_template": template}
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    return {
        "template": template,
        "segment": segment,
        "contacts": contacts,
        "docs": {"EN": en_doc, "FR": fr_doc},
        "languages": {"EN": english, "FR": french, "DE": german},
    }


def documents_by_contact(segment) -> dict[int, int | None]:
    return dict(documents.with_word_document(segment).values_list("contact_id", "word_document_id"))


def test_each_line_uses_the_document_of_its_language(world):
    by_contact = documents_by_contact(world["segment"])

    contacts, docs = world["contacts"], world["docs"]
    assert by_contact[contacts["EN"].pk] == docs["EN"].pk
    assert by_contact[contacts["FR"].pk] == docs["FR"].pk
    assert by_contact[contacts["DE"].pk] == docs["EN"].pk  # no German row: the header's language (R14)


def test_the_segment_keeps_its_copy_when_the_template_gets_a_new_document(world):
    attach_word_template(world["template"], "A new letter", language=world["languages"]["EN"])

    assert documents_by_contact(world["segment"])[world["contacts"]["EN"].pk] == world["docs"]["EN"].pk
    assert Document.objects.filter(pk=world["docs"]["EN"].pk).exists()  # still used by the segment


def test_replacing_the_segment_copy_changes_this_segment_only(world):
    segment, english = world["segment"], world["languages"]["EN"]

    new = documents.segment_language_document_set(
        user=COMMAND_LINE,
        segment=segment,
        language=english,
        data=docx_bytes("Hi {{ contact.name }}"),
        file_name="mine.docx",
    )

    assert SegmentLanguage.objects.get(segment=segment, language=english).document_id == new.pk
    assert world["template"].languages.get(language=english).document_id == world["docs"]["EN"].pk
    assert documents_by_contact(segment)[world["contacts"]["EN"].pk] == new.pk


def test_an_invalid_replacement_is_refused_and_nothing_is_written(world):
    segment, english = world["segment"], world["languages"]["EN"]
    before = Document.objects.count()

    with pytest.raises(WordTemplateInvalid, match="unknown field"):
        documents.segment_language_document_set(
            user=COMMAND_LINE,
            segment=segment,
            language=english,
            data=docx_bytes("{{ contact.fist_name }}"),
            file_name="x",
        )

    assert Document.objects.count() == before
    assert SegmentLanguage.objects.get(segment=segment, language=english).document_id == world["docs"]["EN"].pk


def test_a_line_with_its_own_document_uses_it_and_removing_it_goes_back(world):
    segment = world["segment"]
    line = SegmentLine.objects.get(segment=segment, contact=world["contacts"]["FR"])

    own = documents.segment_line_document_set(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line.line_no,
        data=docx_bytes("Personal letter"),
        file_name="own.docx",
    )
    assert documents_by_contact(segment)[line.contact_id] == own.pk

    documents.segment_line_document_set(user=COMMAND_LINE, segment=segment, line_no=line.line_no, data=None)
    assert documents_by_contact(segment)[line.contact_id] == world["docs"]["FR"].pk
    assert not Document.objects.filter(pk=own.pk).exists()  # nothing else used it


def test_a_replaced_segment_copy_is_deleted_but_the_templates_document_is_kept(world):
    segment, english = world["segment"], world["languages"]["EN"]
    first = documents.segment_language_document_set(
        user=COMMAND_LINE, segment=segment, language=english, data=docx_bytes("One"), file_name="one.docx"
    )

    documents.segment_language_document_set(
        user=COMMAND_LINE, segment=segment, language=english, data=docx_bytes("Two"), file_name="two.docx"
    )

    assert not Document.objects.filter(pk=first.pk).exists()
    assert Document.objects.filter(pk=world["docs"]["EN"].pk).exists()  # the template's own


def test_a_line_with_another_template_uses_that_templates_document(world):
    segment = world["segment"]
    other = make_template(language=world["languages"]["FR"], correspondence_type="")
    other_doc = attach_word_template(other, "Autre", language=world["languages"]["FR"])
    line = SegmentLine.objects.get(segment=segment, contact=world["contacts"]["FR"])

    services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, values={"interaction_template": other}
    )

    assert documents_by_contact(segment)[line.contact_id] == other_doc.pk


def test_lines_without_a_document_are_named_by_template_and_language(world):
    segment = world["segment"]
    bare = make_template(correspondence_type="")
    line = SegmentLine.objects.get(segment=segment, contact=world["contacts"]["DE"])
    services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, values={"interaction_template": bare}
    )

    problems = documents.missing_word_document_problems(segment)

    assert len(problems) == 1
    assert f'"{bare.code}" has no Word document' in problems[0] and "(1 line)" in problems[0]


def test_undo_brings_back_a_removed_line_with_its_own_document(world):
    segment = world["segment"]
    line = SegmentLine.objects.get(segment=segment, contact=world["contacts"]["FR"])
    own = documents.segment_line_document_set(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line.line_no,
        data=docx_bytes("Personal letter"),
        file_name="own.docx",
    )
    services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=line.line_no)

    services.segment_undo(user=COMMAND_LINE, segment=segment)

    assert SegmentLine.objects.get(segment=segment, line_no=line.line_no).document_id == own.pk


def test_the_log_keeps_each_entrys_document_and_makes_it_read_only(world):
    segment = world["segment"]

    with_docs = documents_by_contact(segment)
    logged = log_services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment

    entries = dict(
        InteractionLogEntry.objects.filter(logged_segment=logged).values_list("contact_id", "word_template_id")
    )
    assert entries == with_docs
    assert set(Document.objects.filter(pk__in=entries.values()).values_list("read_only", flat=True)) == {True}


def test_resolution_is_one_query_whatever_the_number_of_lines(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert len(documents_by_contact(world["segment"])) == 3


@pytest.fixture
def blank_world():
    """A template without a language: its Word document on the row without a language, and an
    English row; a segment of a company without a language and an English one."""
    english = make_language("EN")
    template = make_template(correspondence_type="")
    blank_doc = attach_word_template(template, "Hello {{ contact.name }}")
    en_doc = attach_word_template(template, "Dear {{ contact.name }}", language=english)
    salesperson = make_salesperson()
    contacts = {
        "blank": make_company(language=None, salesperson=salesperson),
        "EN": make_company(language=english, salesperson=salesperson),
    }
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": "Letters", "interaction_template": template}
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    return {"segment": segment, "contacts": contacts, "english": english, "docs": {"blank": blank_doc, "EN": en_doc}}


def test_a_line_without_a_language_uses_the_row_without_a_language(blank_world):
    segment, contacts, docs = blank_world["segment"], blank_world["contacts"], blank_world["docs"]
    assert SegmentLine.objects.get(segment=segment, contact=contacts["blank"]).language_id is None

    by_contact = documents_by_contact(segment)

    assert by_contact[contacts["blank"].pk] == docs["blank"].pk
    assert by_contact[contacts["EN"].pk] == docs["EN"].pk


def test_a_line_without_a_language_of_another_template_uses_that_templates_row_without_a_language(blank_world):
    segment, contacts, english = blank_world["segment"], blank_world["contacts"], blank_world["english"]
    other = make_template(correspondence_type="")
    other_blank = attach_word_template(other, "Other hello")
    other_en = attach_word_template(other, "Other dear", language=english)
    for contact in contacts.values():
        line = SegmentLine.objects.get(segment=segment, contact=contact)
        values = {"interaction_template": other, "language": contact.language}
        services.segment_set_line(user=COMMAND_LINE, segment=segment, line_no=line.line_no, values=values)

    by_contact = documents_by_contact(segment)

    assert by_contact[contacts["blank"].pk] == other_blank.pk
    assert by_contact[contacts["EN"].pk] == other_en.pk


def test_a_line_of_the_headers_template_without_a_segment_row_for_its_language_has_no_document(blank_world):
    """The segment's rows decide for the header's template, even where the template has a row."""
    segment, contacts = blank_world["segment"], blank_world["contacts"]
    SegmentLanguage.objects.filter(segment=segment, language__isnull=True).delete()

    by_contact = documents_by_contact(segment)

    assert by_contact[contacts["blank"].pk] is None
    assert by_contact[contacts["EN"].pk] == blank_world["docs"]["EN"].pk
    problems = documents.missing_word_document_problems(segment)
    assert len(problems) == 1 and "language (blank)" in problems[0] and "(1 line)" in problems[0]


def test_the_segment_copy_of_a_language_is_used_only_for_lines_of_the_headers_template(blank_world):
    segment, contacts, english = blank_world["segment"], blank_world["contacts"], blank_world["english"]
    mine = documents.segment_language_document_set(
        user=COMMAND_LINE, segment=segment, language=None, data=docx_bytes("Mine"), file_name="mine.docx"
    )
    other = make_template(correspondence_type="")
    other_blank = attach_word_template(other, "Other hello")
    attach_word_template(other, "Other dear", language=english)
    line = SegmentLine.objects.get(segment=segment, contact=contacts["blank"])
    assert documents_by_contact(segment)[contacts["blank"].pk] == mine.pk

    values = {"interaction_template": other, "language": None}
    services.segment_set_line(user=COMMAND_LINE, segment=segment, line_no=line.line_no, values=values)

    assert documents_by_contact(segment)[contacts["blank"].pk] == other_blank.pk


def test_the_counting_pass_gives_each_line_the_document_the_join_gives(blank_world):
    """word_document_groups (the pages' counts) and with_word_document (the merge, the log) agree:
    own documents, the segment's copies, another template's rows, lines without a language and
    without a document."""
    segment, contacts, english = blank_world["segment"], blank_world["contacts"], blank_world["english"]
    more = {key: make_company(language=contact.language) for key, contact in contacts.items()}
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    other = make_template(correspondence_type="")
    attach_word_template(other, "Other dear", language=english)  # no row without a language
    for contact in more.values():
        line = SegmentLine.objects.filter(segment=segment, contact=contact).get()
        values = {"interaction_template": other, "language": contact.language}
        services.segment_set_line(user=COMMAND_LINE, segment=segment, line_no=line.line_no, values=values)
    own_line = SegmentLine.objects.filter(segment=segment, contact=contacts["EN"]).order_by("line_no").first()
    documents.segment_line_document_set(
        user=COMMAND_LINE, segment=segment, line_no=own_line.line_no, data=docx_bytes("Mine"), file_name="own.docx"
    )
    lines = SegmentLine.objects.filter(segment=segment)

    joined = Counter(documents.with_word_document(segment).values_list("word_document_id", flat=True))
    counted = Counter()
    for group in documents.word_document_groups(segment, lines):
        counted[group["word_document_id"]] += group["lines"]

    assert counted == joined
    assert None in joined and len(joined) == 4  # the blank row, own, the other template's EN row, none
