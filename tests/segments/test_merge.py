"""Merge fields of a segment line (segments/merge.py): SPEC F7.2 with D10, D14."""

from __future__ import annotations

import datetime
import io

import docx
import pytest
from django.test import override_settings
from django.utils import translation

from crm.models import ContactAltAddress, ContactAltAddressDateRange
from crm.permissions import COMMAND_LINE
from interactions.sample_template import sample_letter_docx
from interactions.wordtemplates import render_docx
from segments import merge, services
from segments.models import SegmentLine
from tests.factories import (
    make_campaign,
    make_company,
    make_country,
    make_language,
    make_person,
    make_salesperson,
    make_salutation,
)
from tests.interactions.docx_builders import paragraph_texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    make_language("FR")
    salutation = make_salutation(
        "MS",
        {
            (None, "formal"): "Dear Ms %surname",
            (None, "informal"): "Dear %first_name",
            ("FR", "formal"): "Madame %surname",
            ("FR", "informal"): "Chère %first_name",
        },
    )
    seller = make_salesperson("ANN", name="Ann Seller", email="ann@us.test", phone="+31 1", job_title="Account Manager")
    acme = make_company(
        no="C1",
        name="Smith & <Sons>",
        address="Main 1",
        post_code="1000 AA",
        city="Delft",
        country=make_country("NL", name="Netherlands"),
    )
    anna = make_person(
        acme,
        no="P1",
        name="Anna de Vries",
        first_name="Anna",
        surname="de Vries",
        salutation=salutation,
        address="Main 1",
        post_code="1000 AA",
        city="Delft",
        email="anna@acme.test",
        phone="+31 2",
        job_title="Buyer",
    )
    segment = services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Spring mailing",
            "salesperson": seller,
            "campaign": make_campaign(no="CP9", description="Spring"),
            "date": datetime.date(2026, 6, 1),
        },
    )
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=anna)
    return segment, anna


def contexts(segment, **options):
    return [context for _line, context in merge.line_contexts(segment, **options)]


def test_a_line_merges_contact_salesperson_segment_line_campaign_and_our_company(world):
    segment, anna = world
    SegmentLine.objects.filter(segment=segment).update(personal_text="See you in Delft", subject="Spring")

    with override_settings(
        CRM_COMPANY={
            "name": "Us",
            "address": "Ring 5",
            "post_code": "1",
            "city": "Ams",
            "country": "NL",
            "phone": "0",
            "email": "us@us.test",
        }
    ):
        (context,) = contexts(segment)

    assert context["contact"]["no"] == "P1" and context["contact"]["company_name"] == "Smith & <Sons>"
    assert (context["contact"]["email"], context["contact"]["city"]) == ("anna@acme.test", "Delft")
    assert context["address_block"] == "Anna de Vries\nSmith & <Sons>\nMain 1\n1000 AA Delft"
    assert (context["salutation_formal"], context["salutation_informal"]) == ("Dear Ms de Vries", "Dear Anna")
    assert context["salesperson"] == {
        "code": "ANN",
        "name": "Ann Seller",
        "email": "ann@us.test",
        "phone": "+31 1",
        "job_title": "Account Manager",
    }
    assert context["segment"] == {"no": segment.no, "description": "Spring mailing"}
    assert context["line"]["personal_text"] == "See you in Delft" and context["line"]["date"] == datetime.date(
        2026, 6, 1
    )
    assert context["campaign"] == {"no": "CP9", "description": "Spring"}
    assert context["company"]["name"] == "Us"


def test_the_alternate_address_active_on_the_line_date_wins(world):
    segment, anna = world
    alt = ContactAltAddress.objects.create(
        contact=anna,
        code="HOLIDAY",
        company_name="Beach Hut",
        address="Dune 3",
        post_code="2000 BB",
        city="Zandvoort",
        email="anna@beach.test",
        phone="+31 9",
    )
    ContactAltAddressDateRange.objects.create(
        contact=anna, alt_address=alt, starting_date=datetime.date(2026, 5, 1), ending_date=datetime.date(2026, 7, 1)
    )
    line = SegmentLine.objects.get(segment=segment)
    services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, values={"date": datetime.date(2026, 6, 2)}
    )

    (context,) = contexts(segment)

    assert (context["contact"]["address"], context["contact"]["city"]) == ("Dune 3", "Zandvoort")
    assert (context["contact"]["email"], context["contact"]["phone"]) == ("anna@beach.test", "+31 9")
    assert context["address_block"] == "Anna de Vries\nBeach Hut\nDune 3\n2000 BB Zandvoort"


def test_salutations_use_the_lines_language(world):
    segment, anna = world
    line = SegmentLine.objects.get(segment=segment)
    services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, values={"language": make_language("FR")}
    )

    (context,) = contexts(segment)

    assert (context["salutation_formal"], context["salutation_informal"]) == ("Madame de Vries", "Chère Anna")


def test_a_missing_formula_names_the_contact_only_for_the_salutations_used(world):
    segment, anna = world
    line = SegmentLine.objects.get(segment=segment)
    services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, values={"language": make_language("DE")}
    )

    with pytest.raises(merge.MergeError, match="P1 Anna de Vries: no formal salutation formula .* language DE"):
        contexts(segment)
    anna.salutation = None
    anna.save()
    assert contexts(segment, salutation_types=())[0]["salutation_formal"] == ""


def test_merge_fields_are_a_constant_number_of_queries(world, django_assert_max_num_queries):
    segment, anna = world
    for _ in range(20):
        services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=anna, allow_existing=True)
    with django_assert_max_num_queries(2):
        assert len(contexts(segment)) == 21


def test_the_sample_letter_renders_a_line_with_its_values_escaped(world):
    segment, anna = world
    ((_line, context),) = list(merge.line_contexts(segment))

    letter = docx.Document(io.BytesIO(render_docx(sample_letter_docx(), context)))

    text = "\n".join(paragraph.text for paragraph in letter.paragraphs)
    assert "Dear Ms de Vries" in text
    assert "Smith & <Sons>" in text


def test_merged_letters_name_months_in_each_lines_language_not_the_users():
    """`segment merge`, the merge job and the preview all render through `segment_letters`."""
    from tests.interactions.test_delivery import build

    dated = ("{{ line.date|date('j F Y') }}", "{{ today|date('F') }}")
    segment, (company, person) = build(n_persons=1, paragraphs=dated, languages=("NOR", "FIN"))
    for contact, code in ((company, "NOR"), (person, "FIN")):
        SegmentLine.objects.filter(segment=segment, contact=contact).update(
            language_id=code, date=datetime.date(2026, 5, 17)
        )

    with translation.override("da"):  # the user merging reads Danish
        texts = {line.contact_id: paragraph_texts(letter)[0] for line, letter in merge.segment_letters(segment)}

    assert texts == {company.pk: "17 mai 2026", person.pk: "17 toukokuu 2026"}
