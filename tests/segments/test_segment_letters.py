"""Letters of a segment (segments/merge.py: segment_letters, line_letter, merge_write): SPEC
D9, D10, R14, R67; RELIABILITY 15. Every produced document is opened with python-docx and
checked for each contact's text, salutation and address."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from lxml import etree

from crm.models import Contact, ContactMailingGroup
from crm.permissions import COMMAND_LINE
from interactions.models import Document
from segments import merge, services
from segments.documents import segment_line_document_set
from segments.models import SegmentLine
from tests.factories import attach_word_template, make_mailing_group, make_person, make_salutation, make_template
from tests.interactions.docx_builders import docx_bytes, member, paragraph_texts
from tests.segments.merge_world import FRENCH_URL, LOGO, PICTURE, letter_texts, merge_world

pytestmark = pytest.mark.django_db

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {
    "w": W,
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
}


@pytest.fixture
def world():
    return merge_world()


def lines_of(world) -> list[SegmentLine]:
    return list(SegmentLine.objects.filter(segment=world.segment).select_related("contact").order_by("line_no"))


def combined_letters(data: bytes) -> list[list[str]]:
    """The combined document's paragraphs, split into letters at the section breaks."""
    document = docx.Document(io.BytesIO(data))
    letters, current = [], []
    for paragraph in document.paragraphs:
        current.append(paragraph.text)
        if paragraph._p.find(f"{{{W}}}pPr/{{{W}}}sectPr") is not None:
            letters.append(current)
            current = []
    letters.append(current)
    return letters


def test_every_line_gets_its_letter_from_its_languages_document(world):
    letters = list(merge.segment_letters(world.segment))

    assert [line.contact.no for line, _ in letters] == [line.contact.no for line in lines_of(world)]
    assert len(letters) == 4
    for line, data in letters:
        expected = world.expected[line.contact.no]
        assert line.language_id == expected[2]
        assert paragraph_texts(data) == letter_texts(line.contact, expected), line.contact.no
        document = docx.Document(io.BytesIO(data))
        links = [rel.target_ref for rel in document.part.rels.values() if rel.is_external]
        assert links == ([FRENCH_URL] if expected[2] == "FR" else [])
    # markup in a value stays text
    mallory = next(data for line, data in letters if line.contact.no == "P3")
    xml = member(mallory, "word/document.xml").decode()
    assert "<script>" not in xml and "&lt;script&gt;" in xml
    assert "</w:r>INJECTED" not in xml and "X&lt;/w:t&gt;&lt;/w:r&gt;INJECTED" in xml


def test_the_alternate_address_active_on_the_line_date_is_the_letters(world):
    (line, data), *_ = merge.segment_letters(world.segment, SegmentLine.objects.filter(contact__no="P2"))
    assert "Pierre Dupont\nGîte\nRue 3\n69001 Lyon\nFrance" in paragraph_texts(data)
    assert "Delft" not in "".join(paragraph_texts(data))


def test_the_combined_docx_holds_every_letter_on_its_own_page(world):
    out = io.BytesIO()

    assert merge.merge_write(world.segment, "docx", out) == 4

    data = out.getvalue()
    document = docx.Document(io.BytesIO(data))
    lines = lines_of(world)
    assert len(document.sections) == len(lines)
    assert combined_letters(data) == [letter_texts(line.contact, world.expected[line.contact.no]) for line in lines]
    # Each letter keeps its own header: the English one with our company, the French logo.
    for section, line in zip(document.sections, lines, strict=True):
        header = section.header
        if line.language_id == "FR":
            assert [part.blob for part in header.part.related_parts.values()] == [LOGO]
        else:
            assert header.paragraphs[0].text == "Cronus Marketing Ltd."
    # The French letter's picture and hyperlink resolve in the combined package.
    root = etree.fromstring(member(data, "word/document.xml"))
    blips = root.xpath("//a:blip/@r:embed", namespaces=NS)
    assert [document.part.related_parts[rid].blob for rid in blips] == [PICTURE]
    links = root.xpath("//w:hyperlink/@r:id", namespaces=NS)
    assert [document.part.rels[rid].target_ref for rid in links] == [FRENCH_URL]


def test_the_zip_holds_one_safely_named_letter_per_line(world):
    services.segment_add_contact(
        user=COMMAND_LINE, segment=world.segment, contact=world.contacts["P1"], allow_existing=True
    )
    out = io.BytesIO()

    assert merge.merge_write(world.segment, "zip", out) == 5

    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    names = archive.namelist()
    assert sorted(names) == sorted(
        [
            "_script_alert(1)_script_.docx",
            "Smith & _Sons_.docx",
            "Smith & _Sons_ - Anna de Vries.docx",
            "Smith & _Sons_ - Pierre Dupont.docx",
            "Smith & _Sons_ - Anna de Vries (2).docx",
        ]
    )
    for name, line in zip(names, lines_of(world), strict=True):
        assert paragraph_texts(archive.read(name)) == letter_texts(line.contact, world.expected[line.contact.no])


def test_a_constant_number_of_queries_whatever_the_number_of_lines(world, django_assert_max_num_queries):
    for _ in range(15):
        for no in ("P2", "P1"):
            services.segment_add_contact(
                user=COMMAND_LINE, segment=world.segment, contact=world.contacts[no], allow_existing=True
            )

    with django_assert_max_num_queries(4):
        letters = list(merge.segment_letters(world.segment))
    assert len(letters) == 34


def test_a_line_without_a_word_document_names_its_template_and_language(world):
    other = make_template("NODOC")
    line = lines_of(world)[0]
    services.segment_set_line(
        user=COMMAND_LINE, segment=world.segment, line_no=line.line_no, values={"interaction_template": other}
    )

    with pytest.raises(merge.MergeError) as excinfo:
        merge.segment_letters(world.segment)

    assert excinfo.value.messages == [
        'Interaction template "NODOC" has no Word document for language EN (1 line): attach one on the template page.'
    ]


def test_only_the_salutations_a_document_uses_need_a_formula(world):
    informal_only = make_salutation("INF", {("EN", "informal"): "Hi %first_name"})
    tom = make_person(None, no="P9", name="Tom Hill", first_name="Tom", salutation=informal_only, language_id="EN")
    other = make_template("INFORMAL")
    attach_word_template(other, "{{ salutation_informal }}!", language=tom.language)
    services.segment_add_contact(user=COMMAND_LINE, segment=world.segment, contact=tom)
    line = SegmentLine.objects.get(segment=world.segment, contact=tom)
    services.segment_set_line(
        user=COMMAND_LINE, segment=world.segment, line_no=line.line_no, values={"interaction_template": other}
    )

    (only,) = merge.segment_letters(world.segment, SegmentLine.objects.filter(pk=line.pk))
    assert paragraph_texts(only[1]) == ["Hi Tom!"]
    # The segment's own document uses the formal salutation, which Tom lacks.
    services.segment_set_line(
        user=COMMAND_LINE, segment=world.segment, line_no=line.line_no, values={"interaction_template": world.template}
    )
    with pytest.raises(merge.MergeError, match=r"line \d+: P9 Tom Hill: no formal salutation formula"):
        list(merge.segment_letters(world.segment))


def test_a_lines_own_document_wins(world):
    line = lines_of(world)[1]
    segment_line_document_set(
        user=COMMAND_LINE,
        segment=world.segment,
        line_no=line.line_no,
        data=docx_bytes("Edited for {{ contact.name }}"),
        file_name="own.docx",
    )

    assert paragraph_texts(merge.line_letter(world.segment, line)) == [f"Edited for {line.contact.name}"]
    others = [data for other, data in merge.segment_letters(world.segment) if other.pk != line.pk]
    assert all("Edited" not in "".join(paragraph_texts(data)) for data in others)


def test_line_letter_is_that_lines_letter(world):
    for line in lines_of(world):
        assert paragraph_texts(merge.line_letter(world.segment, line)) == letter_texts(
            line.contact, world.expected[line.contact.no]
        )


def test_merging_writes_nothing(world, django_assert_max_num_queries):
    before = Document.objects.count()
    with django_assert_max_num_queries(4) as captured:
        merge.merge_write(world.segment, "docx", io.BytesIO())
    statements = [query["sql"].lstrip().upper() for query in captured.captured_queries]
    assert all(sql.startswith(("SELECT", "DECLARE")) for sql in statements), statements
    assert Document.objects.count() == before


def test_reliability_15_a_merge_over_a_selection_gives_one_letter_per_line(world):
    """A criterion across a to-many relation (a contact in both mailing groups) selects the
    contact once, and the merge makes one letter per line."""
    first, second = make_mailing_group("NEWS"), make_mailing_group("PRODUCT")
    for contact in world.contacts.values():
        ContactMailingGroup.objects.create(contact=contact, mailing_group=first)
        ContactMailingGroup.objects.create(contact=contact, mailing_group=second)
    segment = services.segment_create(
        user=COMMAND_LINE,
        values={"description": "Selection", "interaction_template": world.template, "date": world.segment.date},
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="mailing_group=NEWS&mailing_group=PRODUCT")

    lines = SegmentLine.objects.filter(segment=segment)
    ids = list(lines.values_list("contact_id", flat=True))
    assert lines.count() == len(set(ids)) == Contact.objects.count() == 4
    letters = list(merge.segment_letters(segment))
    assert len(letters) == 4 and sorted(line.pk for line, _ in letters) == sorted(lines.values_list("pk", flat=True))
    out = io.BytesIO()
    assert merge.merge_write(segment, "docx", out) == 4
    assert len(docx.Document(io.BytesIO(out.getvalue())).sections) == 4
