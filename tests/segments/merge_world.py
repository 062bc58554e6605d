"""A segment to merge, shared by the merge tests: one template with a Word document per
language (English: header and plain paragraphs; French: a picture, a hyperlink and a header
logo), a company and persons in both languages, one of them with an alternate address active
on the line date, and a contact whose name is markup."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field

import docx
from docx.shared import Cm

from crm.models import Contact, ContactAltAddress, ContactAltAddressDateRange
from crm.permissions import COMMAND_LINE
from interactions.documents import interaction_template_attach
from interactions.models import InteractionTemplate
from segments import services
from segments.models import Segment
from tests.factories import (
    attach_word_template,
    make_company,
    make_country,
    make_language,
    make_person,
    make_salesperson,
    make_salutation,
    make_template,
)
from tests.interactions.docx_builders import with_hyperlink
from tests.interactions.test_letters import png

LINE_DATE = datetime.date(2026, 6, 1)
FRENCH_URL = "https://example.com/fr"
LOGO = png(3, 3, b"\x00\x00\xff")
PICTURE = png(4, 4, b"\x00\x80\x00")


def french_document() -> bytes:
    """The French Word template: fields, a picture, a hyperlink and a logo in the header."""
    document = docx.Document()
    document.sections[0].header.paragraphs[0].add_run().add_picture(io.BytesIO(LOGO), width=Cm(1))
    for text in ("{{ salutation_formal }},", "{{ address_block }}", "Contact {{ contact.no }}: {{ contact.name }}"):
        document.add_paragraph(text)
    document.add_paragraph("Lettre en français")
    document.add_picture(io.BytesIO(PICTURE), width=Cm(1))
    out = io.BytesIO()
    document.save(out)
    return with_hyperlink(out.getvalue(), FRENCH_URL, "notre site")


ENGLISH_PARAGRAPHS = (
    "{{ salutation_formal }},",
    "{{ address_block }}",
    "Contact {{ contact.no }}: {{ contact.name }}",
    "Personal: {{ line.personal_text }}",
)


@dataclass
class World:
    segment: Segment
    template: InteractionTemplate
    contacts: dict[str, Contact]
    # contact no → (salutation, address block, language)
    expected: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def merge_world() -> World:
    en, fr = make_language("EN"), make_language("FR")
    netherlands, france = make_country("NL", name="Netherlands"), make_country("FR", name="France")
    person_salutation = make_salutation(
        "MS",
        {
            ("EN", "formal"): "Dear Ms %surname",
            ("EN", "informal"): "Dear %first_name",
            ("FR", "formal"): "Madame %surname",
            ("FR", "informal"): "Chère %first_name",
        },
    )
    firm = make_salutation(
        "FIRM",
        {
            ("EN", "formal"): "Dear Sir or Madam",
            ("EN", "informal"): "Hello",
            ("FR", "formal"): "Madame, Monsieur",
            ("FR", "informal"): "Bonjour",
        },
    )
    template = make_template("LETTER", language=en, correspondence_type="")
    attach_word_template(template, *ENGLISH_PARAGRAPHS, header="{{ company.name }}")
    interaction_template_attach(
        user=COMMAND_LINE, template=template, language=fr, data=french_document(), file_name="lettre.docx"
    )
    acme = make_company(
        no="C1",
        name="Smith & <Sons>",
        address="Main 1",
        post_code="1000 AA",
        city="Delft",
        country=netherlands,
        salutation=firm,
        language=en,
    )
    common = {"address": "Main 1", "post_code": "1000 AA", "city": "Delft", "country": netherlands}
    anna = make_person(
        acme,
        no="P1",
        name="Anna de Vries",
        first_name="Anna",
        surname="de Vries",
        salutation=person_salutation,
        language=en,
        **common,
    )
    pierre = make_person(
        acme,
        no="P2",
        name="Pierre Dupont",
        first_name="Pierre",
        surname="Dupont",
        salutation=person_salutation,
        language=fr,
        **common,
    )
    mallory = make_person(
        None,
        no="P3",
        name="<script>alert(1)</script>",
        first_name="Mal",
        surname="X</w:t></w:r>INJECTED",
        salutation=person_salutation,
        language=en,
        address="Side 2 & Co",
        post_code="2000",
        city="Leiden",
    )
    holiday = ContactAltAddress.objects.create(
        contact=pierre,
        code="HOLIDAY",
        company_name="Gîte",
        address="Rue 3",
        post_code="69001",
        city="Lyon",
        country=france,
    )
    ContactAltAddressDateRange.objects.create(
        contact=pierre,
        alt_address=holiday,
        starting_date=LINE_DATE - datetime.timedelta(days=10),
        ending_date=LINE_DATE + datetime.timedelta(days=10),
    )
    segment = services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Spring mailing",
            "interaction_template": template,
            "salesperson": make_salesperson("ANN", name="Ann Seller"),
            "date": LINE_DATE,
        },
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    world = World(segment, template, {c.no: c for c in (acme, anna, pierre, mallory)})
    world.expected = {
        "C1": ("Dear Sir or Madam", "Smith & <Sons>\nMain 1\n1000 AA Delft\nNetherlands", "EN"),
        "P1": ("Dear Ms de Vries", "Anna de Vries\nSmith & <Sons>\nMain 1\n1000 AA Delft\nNetherlands", "EN"),
        "P2": ("Madame Dupont", "Pierre Dupont\nGîte\nRue 3\n69001 Lyon\nFrance", "FR"),
        "P3": ("Dear Ms X</w:t></w:r>INJECTED", "<script>alert(1)</script>\nSide 2 & Co\n2000 Leiden", "EN"),
    }
    return world


def letter_texts(contact: Contact, expected: tuple[str, str, str]) -> list[str]:
    """The paragraphs a contact's letter shows (address block lines joined by line breaks)."""
    salutation, block, language = expected
    texts = [f"{salutation},", block, f"Contact {contact.no}: {contact.name}"]
    return [*texts, "Lettre en français", "", "notre site"] if language == "FR" else [*texts, "Personal: "]
