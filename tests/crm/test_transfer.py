"""crm.transfer: contact CSV import/export and the reference-data import (CONTRACT.md, RELIABILITY 16/17)."""

from __future__ import annotations

import csv
import io
import json
import time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import (
    BusinessRelation,
    Campaign,
    Contact,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    Country,
    Language,
    NumberSeries,
    Salesperson,
    Salutation,
    SalutationFormula,
)
from crm.permissions import COMMAND_LINE
from crm.transfer import (
    COLUMNS,
    ImportFailed,
    SetupImportFailed,
    contacts_export_csv,
    contacts_export_json,
    contacts_import_csv,
    csv_escape,
    csv_unescape,
    setup_import,
)
from interactions.models import InteractionGroup, InteractionTemplate, InteractionTemplateLanguage
from tests.conftest import make_user
from tests.factories import (
    make_company,
    make_country,
    make_industry_group,
    make_interaction_group,
    make_job_responsibility,
    make_language,
    make_mailing_group,
    make_person,
    make_salesperson,
    make_template,
    make_territory,
)

pytestmark = pytest.mark.django_db


def csv_data(*lines: str, newline: str = "\n") -> bytes:
    return newline.join(lines).encode() + b"\n"


def run(*lines: str, user=COMMAND_LINE, **kwargs):
    return contacts_import_csv(data=csv_data(*lines), user=user, **kwargs)


def failure(*lines: str, data: bytes | None = None, **kwargs) -> list[str]:
    with pytest.raises(ImportFailed) as info:
        contacts_import_csv(data=data if data is not None else csv_data(*lines), user=COMMAND_LINE, **kwargs)
    return info.value.errors


def state() -> dict:
    """Everything an import may write, as values, to prove that nothing was."""
    return {
        "contacts": sorted(map(repr, Contact.objects.values_list())),
        "links": [
            sorted(map(repr, model.objects.values_list("contact_id", field)))
            for model, field in (
                (ContactIndustryGroup, "industry_group"),
                (ContactBusinessRelation, "business_relation"),
                (ContactMailingGroup, "mailing_group"),
                (ContactJobResponsibility, "job_responsibility"),
            )
        ],
        "series": NumberSeries.objects.get(code="CONTACT").last_no,
    }


@pytest.fixture
def ref(db):
    """Reference data the rows below name."""
    return {
        "country": make_country("NL"),
        "territory": make_territory("WEST"),
        "language": make_language("NLD"),
        "salesperson": make_salesperson("SP1"),
        "salesperson2": make_salesperson("SP2"),
        "industry": make_industry_group("IT"),
        "industry2": make_industry_group("RETAIL"),
        "relation": BusinessRelation.objects.create(code="CUST", name="Customer"),
        "mailing": make_mailing_group("NEWS"),
        "mailing2": make_mailing_group("XMAS"),
        "job": make_job_responsibility("CEO"),
        "salutation": Salutation.objects.create(code="FORMAL", name="Formal"),
    }


def codes(contact: Contact, model, field: str) -> list[str]:
    return sorted(model.objects.filter(contact=contact).values_list(f"{field}_id", flat=True))


# --- creating and updating -----------------------------------------------------------------


def test_import_creates_companies_and_persons_whose_company_comes_later_in_the_file(ref):
    result = run(
        "no,type,company_no,name,email,city,country,salesperson,industry_groups,mailing_groups,job_responsibilities",
        "P1,person,C1,Ann Smith,ann@acme.example,,,,,NEWS;XMAS,CEO",
        "C1,company,,Acme,info@acme.example,Utrecht,NL,SP1,IT,NEWS,",
    )

    assert (result.created, result.updated) == (2, 0)
    assert result.numbers == ["P1", "C1"]
    company = Contact.objects.get(no="C1")
    person = Contact.objects.get(no="P1")
    assert person.company == company and company.company_id is None
    assert (person.first_name, person.surname) == ("Ann", "Smith")
    assert codes(company, ContactIndustryGroup, "industry_group") == ["IT"]
    assert codes(person, ContactMailingGroup, "mailing_group") == ["NEWS", "XMAS"]
    assert codes(person, ContactJobResponsibility, "job_responsibility") == ["CEO"]


def test_header_columns_may_come_in_any_order_with_spaces_and_capitals(ref):
    run(" City ,NAME,Type,no", "Utrecht,Acme,company,C1")

    assert Contact.objects.get(no="C1").city == "Utrecht"


def test_update_by_no_changes_only_the_columns_of_the_file(ref):
    company = make_company(no="C1", name="Acme", city="Utrecht", phone="123")

    result = run("no,type,city", "C1,company,Amsterdam")

    company.refresh_from_db()
    assert (result.created, result.updated) == (0, 1)
    assert (company.name, company.city, company.phone) == ("Acme", "Amsterdam", "123")


def test_importing_the_same_file_twice_leaves_the_contacts_unchanged(ref):
    lines = (
        "no,type,company_no,name,email,mailing_groups,job_responsibilities",
        "C1,company,,Acme,info@acme.example,NEWS,",
        "P1,person,C1,Ann Smith,ann@acme.example,XMAS,CEO",
    )
    run(*lines)
    before = state()

    result = run(*lines)

    assert (result.created, result.updated) == (0, 2)
    assert Contact.objects.count() == 2
    assert state() == before  # not even updated_at moved: unchanged rows are not written


def test_a_blank_no_takes_the_next_contact_number_skipping_numbers_in_use(ref):
    make_company(no="CT000001")

    result = run("no,type,name", ",company,Acme", "CT000003,company,Typed", ",company,Bolt", ",company,Cobalt")

    assert result.numbers == ["CT000002", "CT000003", "CT000004", "CT000005"]
    assert Contact.objects.get(no="CT000002").name == "Acme"
    assert Contact.objects.get(no="CT000005").name == "Cobalt"


def test_numbering_jumps_past_a_long_run_of_typed_numbers(ref):
    Contact.objects.bulk_create(
        [Contact(no=f"CT{n:06d}", name=f"Old {n}", type="company") for n in range(1, 3001)], batch_size=1000
    )

    result = run("no,type,name", ",company,New")

    assert result.numbers == ["CT003001"]


def test_a_blank_no_imported_again_creates_another_contact(ref):
    run("no,type,name", ",company,Acme")
    run("no,type,name", ",company,Acme")

    assert sorted(Contact.objects.values_list("no", flat=True)) == ["CT000001", "CT000002"]


def test_classifications_in_a_row_replace_that_kind_and_a_blank_cell_clears_it(ref):
    company = make_company(no="C1", name="Acme")
    ContactIndustryGroup.objects.create(contact=company, industry_group=ref["industry"])
    ContactMailingGroup.objects.create(contact=company, mailing_group=ref["mailing"])
    ContactBusinessRelation.objects.create(contact=company, business_relation=ref["relation"])

    run("no,type,industry_groups,mailing_groups", "C1,company,RETAIL; IT ;RETAIL,")

    assert codes(company, ContactIndustryGroup, "industry_group") == ["IT", "RETAIL"]
    assert codes(company, ContactMailingGroup, "mailing_group") == []
    # A column left out of the file leaves that kind alone.
    assert codes(company, ContactBusinessRelation, "business_relation") == ["CUST"]


def test_a_person_takes_blank_values_from_its_company_and_keeps_its_own(ref):
    run(
        "no,type,company_no,name,address,city,country,salesperson,language,phone,correspondence_type",
        "C1,company,,Acme,Main St 1,Utrecht,NL,SP1,NLD,030-123,email",
        "P1,person,C1,Ann Smith,,,,,,,",
        "P2,person,C1,Bo Chen,Side St 2,Delft,,SP2,,,hard_copy",
    )

    ann = Contact.objects.get(no="P1")
    bo = Contact.objects.get(no="P2")
    assert (ann.address, ann.city, ann.country_id, ann.salesperson_id, ann.language_id, ann.phone) == (
        "Main St 1",
        "Utrecht",
        "NL",
        "SP1",
        "NLD",
        "030-123",
    )
    assert ann.correspondence_type == "email"
    # Values given are stored as given; the address moves only as a whole block.
    assert (bo.address, bo.city, bo.country_id, bo.salesperson_id, bo.correspondence_type) == (
        "Side St 2",
        "Delft",
        None,
        "SP2",
        "hard_copy",
    )
    assert bo.language_id == "NLD"


def test_an_updated_person_inherits_from_its_existing_company_when_company_no_is_not_a_column(ref):
    company = make_company(no="C1", name="Acme", salesperson=ref["salesperson"])
    person = make_person(company=company, no="P1")

    run("no,type,salesperson", "P1,person,")

    person.refresh_from_db()
    assert person.company_id == company.pk and person.salesperson_id == "SP1"


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("name", "Ann Marie Smith", ("Ann Marie Smith", "Ann", "Marie", "Smith")),
        ("first_name,surname", "Ann,Smith", ("Ann Smith", "Ann", "", "Smith")),
        ("name,first_name,surname", "Dr. A. Smith,Ann,Smith", ("Dr. A. Smith", "Ann", "", "Smith")),
    ],
    ids=["name-splits", "parts-build-the-name", "both-stored-as-given"],
)
def test_the_name_rule_for_persons(ref, header, row, expected):
    run(f"no,type,{header}", f"P1,person,{row}")

    person = Contact.objects.get(no="P1")
    assert (person.name, person.first_name, person.middle_name, person.surname) == expected


def test_a_company_name_is_never_split(ref):
    run("no,type,name", "C1,company,Acme Holding BV")

    assert Contact.objects.get(no="C1").surname == ""


def test_address_may_hold_a_newline_in_a_quoted_cell(ref):
    run("no,type,name,address,address_2", 'C1,company,Acme,"Main St 1\nBuilding B","Floor 2\r\nRoom 3"')

    company = Contact.objects.get(no="C1")
    assert company.address == "Main St 1\nBuilding B"
    assert company.address_2 == "Floor 2\r\nRoom 3"


def test_upper_and_lower_case_copies_of_one_email_are_both_fine(ref):
    run("no,type,name,email", "P1,person,Ann Smith,ANN@x.com", "P2,person,Bo Chen,ann@x.com")

    assert sorted(Contact.objects.values_list("email", flat=True)) == ["ANN@x.com", "ann@x.com"]


def test_exclude_from_segment_and_correspondence_type_read_case_insensitively(ref):
    run(
        "no,type,name,exclude_from_segment,correspondence_type",
        "C1,company,A,TRUE,Hard_Copy",
        "C2,company,B,false,",
        "C3,company,C,,email",
    )

    values = dict(Contact.objects.values_list("no", "exclude_from_segment"))
    assert values == {"C1": True, "C2": False, "C3": False}
    assert Contact.objects.get(no="C1").correspondence_type == "hard_copy"
    assert Contact.objects.get(no="C2").correspondence_type == ""


def test_all_empty_lines_are_skipped_and_line_numbers_still_count_them(ref):
    errors = failure("no,type,name", "", "C1,company,Acme", ",,", "C2,company,")

    assert errors == ["line 5: name: required"]


def test_a_company_may_name_itself_as_its_company(ref):
    run("no,type,company_no,name", "C1,company,C1,Acme")

    assert Contact.objects.get(no="C1").company_id is None


# --- bad input: one line per problem, nothing written ------------------------------------


BAD_ROWS = [
    ("no,type,name,email", "C1,company,Acme,not-an-email", "line 2: email: Enter a valid email address."),
    ("no,type,name,salesperson", "C1,company,Acme,NOSUCH", 'line 2: salesperson: unknown code "NOSUCH"'),
    ("no,type,name,country", "C1,company,Acme,XX", 'line 2: country: unknown code "XX"'),
    ("no,type,name,territory", "C1,company,Acme,XX", 'line 2: territory: unknown code "XX"'),
    ("no,type,name,language", "C1,company,Acme,XX", 'line 2: language: unknown code "XX"'),
    ("no,type,name,salutation", "C1,company,Acme,XX", 'line 2: salutation: unknown code "XX"'),
    ("no,type,name", "C1,firm,Acme", 'line 2: type: unknown type "firm" (use company or person)'),
    ("no,type,name", "C1,,Acme", "line 2: type: required (company or person)"),
    ("no,type,name", "C1,company,", "line 2: name: required"),
    ("no,type,name", "P1,person,", "line 2: name: required (the name, or first_name and surname)"),
    ("no,type,name,phone", "C1,company,Acme,call me", "line 2: phone: A phone number may hold digits"),
    (
        "no,type,name,correspondence_type",
        "C1,company,Acme,fax",
        'line 2: correspondence_type: unknown value "fax" (use hard_copy, email or leave it blank)',
    ),
    (
        "no,type,name,exclude_from_segment",
        "C1,company,Acme,yes",
        'line 2: exclude_from_segment: not a yes/no value "yes" (use true or false)',
    ),
    ("no,type,name,mailing_groups", "C1,company,Acme,NEWS;NOPE", 'line 2: mailing_groups: unknown code "NOPE"'),
    (
        "no,type,name,industry_groups",
        "P1,person,Ann Smith,IT",
        "line 2: industry_groups: industry groups belong to companies only (this row is a person)",
    ),
    (
        "no,type,name,business_relations",
        "P1,person,Ann Smith,CUST",
        "line 2: business_relations: business relations belong to companies only (this row is a person)",
    ),
    (
        "no,type,name,job_responsibilities",
        "C1,company,Acme,CEO",
        "line 2: job_responsibilities: job responsibilities belong to persons only (this row is a company)",
    ),
    ("no,type,company_no,name", "P1,person,NOSUCH,Ann Smith", 'line 2: company_no: unknown company "NOSUCH"'),
    (
        "no,type,company_no,name",
        "C1,company,C2,Acme",
        'line 2: company_no: "C2": a company\'s company_no is blank or its own no.',
    ),
    ("no,type,name", "C1,company,Acme\x07", "line 2: name: control characters are not allowed"),
    (
        "no,type,name,city",
        'C1,company,Acme,"Utrecht\nNorth"',
        "line 2: city: control characters are not allowed (a line break is allowed in address and address_2 only)",
    ),
    ("no,type,name", f"{'N' * 21},company,Acme", "line 2: no: longer than 20 characters (21)"),
    ("no,type,name", f"C1,company,{'x' * 101}", "line 2: name: longer than 100 characters (101)"),
    ("no,type,name,job_title", f"P1,person,Ann Smith,{'x' * 31}", "line 2: job_title: longer than 30 characters"),
    ("no,type,name", "P1,person,Ann " + "x" * 31, "line 2: surname: longer than 30 characters when split"),
    ("no,type,name", "C1,company,Acme,extra", "line 2: 4 cells, but the header has 3 columns"),
]


@pytest.mark.parametrize(("header", "row", "expected"), BAD_ROWS, ids=[b[2][8:60] for b in BAD_ROWS])
def test_a_bad_row_is_reported_by_line_and_field_and_nothing_is_written(ref, header, row, expected):
    make_company(no="C0", name="Existing")
    before = state()

    errors = failure(header, row)

    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert state() == before


def test_every_problem_of_the_file_is_reported_sorted_by_line(ref):
    errors = failure(
        "no,type,company_no,name,email,salesperson",
        "P1,person,C9,Ann Smith,bad,NOSUCH",
        "C9,company,,Acme,,",
        "C9,company,,Again,,",
    )

    assert errors == [
        "line 2: email: Enter a valid email address.",
        'line 2: salesperson: unknown code "NOSUCH"',
        'line 4: no: "C9" appears more than once (first on line 3)',
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("no,type,fax", "C1,company,1"), ['line 1: unknown column "fax"']),
        (("no,type,name,name", "C1,company,A,B"), ['line 1: duplicate column "name"']),
        (("no,name", "C1,Acme"), ['line 1: missing column "type"']),
        (("",), ["the file is empty: expected a header line naming the columns"]),
    ],
    ids=["unknown-column", "duplicate-column", "missing-type", "empty"],
)
def test_header_problems(ref, lines, expected):
    assert failure(*lines) == expected


def test_empty_columns_without_a_name_are_ignored_but_may_not_hold_values(ref):
    run("no,type,name,,", "C1,company,Acme,,")
    assert Contact.objects.get(no="C1").name == "Acme"

    assert failure("no,type,name,", "C2,company,Bolt,oops") == [
        "line 2: a value in a column without a name in the header"
    ]


def test_a_multi_line_record_is_reported_by_the_line_it_starts_on(ref):
    errors = failure(
        "no,type,name,address,email",
        'C1,company,Acme,"Main St 1\nBuilding B\nFloor 3",ok@x.com',
        "C2,company,Bolt,,bad@",
        'C3,company,Cobalt,"A\nB",bad',
    )

    assert errors == ["line 5: email: Enter a valid email address.", "line 6: email: Enter a valid email address."]


def test_a_person_whose_company_no_names_a_person_is_refused(ref):
    make_person(no="P0")

    errors = failure(
        "no,type,company_no,name",
        "P1,person,P0,Ann Smith",
        "P2,person,P3,Bo Chen",
        "P3,person,,Cy Dee",
    )

    assert errors == [
        'line 2: company_no: "P0" is not a company',
        'line 3: company_no: "P3" is not a company',
    ]


def test_an_import_does_not_change_the_type_of_a_contact(ref):
    make_company(no="C1", name="Acme")

    errors = failure("no,type,name", "C1,person,Ann Smith")

    assert errors == [
        'line 2: type: "C1" is a company; an import does not change the type of a contact '
        "(change it on the contact page)"
    ]


def test_a_malformed_email_on_row_999_of_1000_imports_nothing(ref):
    rows = [f"C{n:04d},company,Company {n},c{n}@x.com" for n in range(1, 1001)]
    rows[998] = "C0999,company,Company 999,c999@@x.com"

    errors = failure("no,type,name,email", *rows)

    assert errors == ["line 1000: email: Enter a valid email address."]
    assert Contact.objects.count() == 0
    assert NumberSeries.objects.get(code="CONTACT").last_no == 0


def test_a_200k_character_field_is_a_length_error_that_does_not_quote_the_value(ref):
    huge = "A" * 200_000

    errors = failure("no,type,name", f"C1,company,{huge}")

    assert errors == ["line 2: name: longer than 100 characters (200000)"]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(ref, settings):
    settings.CRM_CSV_MAX_BYTES = 100

    errors = failure(data=b"no,type,name\n" + b"C1,company,Acme\n" * 10)

    assert errors == ["the file is 173 bytes; the limit is 100 bytes"]


def test_non_utf8_bytes_name_the_line_and_suggest_saving_as_utf8(ref):
    data = "no,type,name\nC1,company,Acme\nC2,company,Caf\xe9 Noir\n".encode("cp1252")

    errors = failure(data=data)

    assert len(errors) == 1
    assert errors[0].startswith("line 3: the file is not valid UTF-8 (byte 0xE9); save it as UTF-8")


def test_cp1252_is_read_when_chosen(ref):
    data = "no,type,name\nC2,company,Café Noir – Ærø\n".encode("cp1252")

    contacts_import_csv(user=COMMAND_LINE, data=data, encoding="cp1252")

    assert Contact.objects.get(no="C2").name == "Café Noir – Ærø"


def test_an_unknown_encoding_is_a_clear_error(ref):
    assert failure(data=b"no,type,name\n", encoding="klingon") == ['unknown encoding "klingon"']


def test_utf8_with_bom_and_semicolons_as_excel_writes_them(ref):
    data = "\ufeffno;type;name;city\r\nC1;company;Zoë & Co;Köln\r\n".encode()

    contacts_import_csv(user=COMMAND_LINE, data=data)

    company = Contact.objects.get(no="C1")
    assert (company.name, company.city) == ("Zoë & Co", "Köln")


def test_the_fixture_file_with_bom_semicolons_and_quoted_newlines_imports(ref):
    from pathlib import Path

    data = (Path(__file__).parent.parent / "fixtures" / "transfer" / "contacts_excel.csv").read_bytes()

    result = contacts_import_csv(user=COMMAND_LINE, data=data)

    assert (result.created, result.updated) == (3, 0)
    person = Contact.objects.get(no="P1")
    assert person.company.no == "C1" and person.address == "Hoofdstraat 1\nGebouw B"
    assert person.name == "Anna de Vries"


def test_a_user_without_the_import_permission_is_refused(ref):
    viewer = make_user("viewer")

    with pytest.raises(PermissionDenied):
        run("no,type,name", "C1,company,Acme", user=viewer)
    assert run("no,type,name", "C1,company,Acme", user=make_user("marketing")).created == 1


def test_dry_run_reports_and_writes_nothing(ref):
    before = state()

    result = run("no,type,name", ",company,Acme", "C2,company,Bolt", dry_run=True)

    assert (result.created, result.updated) == (2, 0)
    assert state() == before


def test_a_missing_number_series_is_a_clear_error(ref):
    NumberSeries.objects.filter(code="CONTACT").delete()

    errors = failure("no,type,name", "C1,company,Acme", ",company,Bolt")

    assert errors == [
        "the number series CONTACT is missing, so rows with a blank no cannot be numbered (lines 3): "
        "give them a no, or ask an admin to set the series up"
    ]
    assert not Contact.objects.exists()


# --- formula injection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+2", "'=1+2"),
        ("+31 20 555", "'+31 20 555"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=1+2", "''=1+2"),
        ("'t Hooft", "'t Hooft"),
        ("Acme", "Acme"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_csv_escape_and_unescape_are_inverse(value, escaped):
    assert csv_escape(value) == escaped
    assert csv_unescape(escaped) == value


def test_the_import_removes_exactly_one_leading_apostrophe_where_the_export_puts_it(ref):
    run(
        "no,type,name,city,phone",
        "C1,company,'=HYPERLINK(\"x\"),'t Hooft,'+31 20 555",
        "C2,company,''=1+2,'@home,",
    )

    one = Contact.objects.get(no="C1")
    two = Contact.objects.get(no="C2")
    assert (one.name, one.city, one.phone) == ('=HYPERLINK("x")', "'t Hooft", "+31 20 555")
    assert (two.name, two.city) == ("'=1+2", "@home")


# --- export ----------------------------------------------------------------------------------


def export_csv(**kwargs) -> list[dict[str, str]]:
    out = io.StringIO()
    contacts_export_csv(out=out, **kwargs)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_export_csv_has_the_import_columns_and_neutralises_formulas(ref):
    company = make_company(no="C1", name="=cmd|' /C calc'!A0", city="+Utrecht", phone="-12", email="@x@y.com")
    make_person(company=company, no="P1", name="Ann Smith", job_title="\tBoss", address="\rStreet")
    make_company(no="C2", name="'=already", city="'t Hooft", address="Plain 1")
    ContactMailingGroup.objects.create(contact=company, mailing_group=ref["mailing2"])
    ContactMailingGroup.objects.create(contact=company, mailing_group=ref["mailing"])

    out = io.StringIO()
    contacts_export_csv(out=out)
    header = next(csv.reader(io.StringIO(out.getvalue())))
    rows = export_csv()

    assert header == list(COLUMNS)
    assert [row["no"] for row in rows] == ["C1", "C2", "P1"]
    c1, c2, p1 = rows
    assert (c1["name"], c1["city"], c1["phone"], c1["email"]) == (
        "'=cmd|' /C calc'!A0",
        "'+Utrecht",
        "'-12",
        "'@x@y.com",
    )
    assert (p1["job_title"], p1["address"]) == ("'\tBoss", "'\rStreet")
    assert (c2["name"], c2["city"], c2["address"]) == ("''=already", "'t Hooft", "Plain 1")
    assert c1["company_no"] == "C1" and p1["company_no"] == "C1" and c2["company_no"] == "C2"
    assert c1["mailing_groups"] == "NEWS;XMAS"
    assert c1["exclude_from_segment"] == "false" and c1["country"] == ""


def test_an_export_imports_back_unchanged(ref):
    run(
        "no,type,company_no,name,first_name,middle_name,surname,address,city,country,territory,language,"
        "salutation,email,phone,correspondence_type,exclude_from_segment,salesperson,industry_groups,"
        "business_relations,mailing_groups,job_responsibilities",
        'C1,company,,=Acme,,,,"Main 1\nB",+Utrecht,NL,WEST,NLD,FORMAL,a@x.com,+31 20,email,true,SP1,'
        "IT;RETAIL,CUST,NEWS,",
        "P1,person,C1,'t Hooft,Gerard,,'t Hooft,,-Delft,,,,,,,hard_copy,false,SP2,,,XMAS,CEO",
        "P2,person,,Private Person,,,,,,,,,,,,,,,,,,",
    )
    before = state()
    first = io.StringIO()
    contacts_export_csv(out=first)

    result = contacts_import_csv(user=COMMAND_LINE, data=first.getvalue().encode())

    second = io.StringIO()
    contacts_export_csv(out=second)
    assert result.updated == 3
    assert state() == before
    assert second.getvalue() == first.getvalue()
    assert Contact.objects.get(no="C1").name == "=Acme"


def test_export_json_uses_null_for_blank_codes_and_never_prefixes(ref):
    company = make_company(no="C1", name="=Acme", country=ref["country"], correspondence_type="email")
    make_person(company=company, no="P1", name="Ann Smith", exclude_from_segment=True)
    ContactIndustryGroup.objects.create(contact=company, industry_group=ref["industry"])
    out = io.StringIO()

    count = contacts_export_json(out=out)

    data = json.loads(out.getvalue())
    assert count == 2
    assert [list(item) for item in data] == [list(COLUMNS)] * 2
    c1, p1 = data
    assert c1["name"] == "=Acme" and c1["country"] == "NL" and c1["territory"] is None
    assert c1["company_no"] == "C1" and c1["correspondence_type"] == "email"
    assert c1["industry_groups"] == ["IT"] and c1["mailing_groups"] == []
    assert p1["correspondence_type"] is None and p1["exclude_from_segment"] is True and p1["salesperson"] is None


def test_export_json_of_no_contacts_is_an_empty_array(ref):
    out = io.StringIO()
    contacts_export_json(out=out)
    assert json.loads(out.getvalue()) == []


def test_export_takes_a_queryset(ref):
    make_company(no="C1", city="Utrecht")
    make_company(no="C2", city="Delft")

    rows = export_csv(queryset=Contact.objects.filter(city="Delft"))

    assert [row["no"] for row in rows] == ["C2"]


# --- set-based: query counts and volume ------------------------------------------------------


def rows_file(count: int, start: int = 0) -> bytes:
    lines = ["no,type,company_no,name,email,country,salesperson,industry_groups,mailing_groups,job_responsibilities"]
    companies = max(count // 10, 1)
    for n in range(start, start + companies):
        lines.append(f"C{n:06d},company,,Company {n},c{n}@x.com,NL,SP1,IT,NEWS,")
    for n in range(start, start + count - companies):
        lines.append(f"P{n:06d},person,C{start + n % companies:06d},Ann Person{n},,,,,XMAS,CEO")
    lines.append(",company,,Numbered,,,,,,")
    return "\n".join(lines).encode()


def count_queries(func) -> int:
    with CaptureQueriesContext(connection) as captured:
        func()
    return len(captured)


def test_the_import_runs_a_fixed_number_of_queries_whatever_the_row_count(ref, django_assert_max_num_queries):
    small = count_queries(lambda: contacts_import_csv(user=COMMAND_LINE, data=rows_file(50)))
    with django_assert_max_num_queries(small):
        contacts_import_csv(user=COMMAND_LINE, data=rows_file(500, start=1000))
    # Updating is as cheap: the same 500 rows again, each changed.
    changed = rows_file(500, start=1000).replace(b"Ann Person", b"Ann Human")
    with django_assert_max_num_queries(small + 8):
        result = contacts_import_csv(user=COMMAND_LINE, data=changed)
    assert result.updated == 500
    assert small <= 40


def test_the_export_runs_a_fixed_number_of_queries_whatever_the_row_count(ref, django_assert_max_num_queries):
    contacts_import_csv(user=COMMAND_LINE, data=rows_file(50))
    small = count_queries(lambda: contacts_export_csv(out=io.StringIO()))
    contacts_import_csv(user=COMMAND_LINE, data=rows_file(500, start=1000))
    with django_assert_max_num_queries(small):
        contacts_export_csv(out=io.StringIO())
    with django_assert_max_num_queries(small):
        contacts_export_json(out=io.StringIO())


@pytest.mark.slow
def test_100000_rows_import_well_under_a_minute(ref):
    data = rows_file(100_000)

    started = time.monotonic()
    result = contacts_import_csv(user=COMMAND_LINE, data=data)
    elapsed = time.monotonic() - started

    assert result.created == 100_001
    assert ContactJobResponsibility.objects.count() == 90_000
    assert elapsed < 60, f"{elapsed:.1f} s"


# --- set-up import ---------------------------------------------------------------------------

SETUP = {
    # Templates first: references resolve whatever the order of the keys.
    "interaction_templates": [
        {
            "code": "LETTER",
            "group": "LETTERS",
            "description": "Spring letter",
            "unit_cost": "12.50",
            "unit_duration": 5,
            "information_flow": "outbound",
            "initiated_by": "us",
            "correspondence_type": "hard_copy",
            "ignore_contact_correspondence_type": True,
            "language": "NLD",
            "campaign": "CP0001",
            "campaign_target": True,
            "campaign_response": False,
        },
        {"code": "CALL", "group": "CALLS", "description": "Phone call", "unit_cost": 0.5, "correspondence_type": None},
    ],
    "campaigns": [
        {
            "no": "CP0001",
            "description": "Spring",
            "starting_date": "2026-03-01",
            "ending_date": "2026-05-31",
            "salesperson": "SP9",
        }
    ],
    "countries": [{"code": "NL", "name": "Netherlands"}, {"code": "BE", "name": "Belgium"}],
    "languages": [{"code": "NLD", "name": "Dutch"}, {"code": "ENU", "name": "English"}],
    "territories": [{"code": "WEST", "name": "West"}],
    "industry_groups": [{"code": "IT", "name": "IT"}],
    "business_relations": [{"code": "CUST", "name": "Customer"}],
    "mailing_groups": [{"code": "NEWS", "name": "Newsletter"}],
    "job_responsibilities": [{"code": "CEO", "name": "Chief executive"}],
    "salespeople": [{"code": "SP9", "name": "Sam Seller", "email": "sam@example.com"}],
    "salutations": [
        {
            "code": "FORMAL",
            "description": "Formal",
            "formulas": [
                {"language": "NLD", "type": "formal", "formula": "Geachte %first_name %surname"},
                {"language": None, "type": "informal", "formula": "Hi %first_name"},
            ],
        }
    ],
    "interaction_groups": [{"code": "LETTERS", "description": "Letters"}, {"code": "CALLS", "description": "Calls"}],
}


def setup_state() -> dict:
    models = (
        Country,
        Language,
        Salesperson,
        Salutation,
        SalutationFormula,
        InteractionGroup,
        InteractionTemplate,
        InteractionTemplateLanguage,
        Campaign,
    )
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in models}


def setup_failure(data) -> list[str]:
    with pytest.raises(SetupImportFailed) as info:
        setup_import(user=COMMAND_LINE, data=data)
    return info.value.errors


def test_setup_import_writes_every_section_and_resolves_references_in_any_order(db):
    counts = setup_import(user=COMMAND_LINE, data=SETUP)

    assert counts["countries"] == 2 and counts["interaction_templates"] == 2 and counts["salutations"] == 1
    letter = InteractionTemplate.objects.get(code="LETTER")
    assert letter.group_id == "LETTERS" and letter.campaign.no == "CP0001" and letter.language_id == "NLD"
    assert (letter.unit_cost, letter.unit_duration) == (Decimal("12.50"), Decimal("5.00"))
    assert (letter.information_flow, letter.initiated_by, letter.correspondence_type) == ("outbound", "us", "hard_copy")
    assert letter.ignore_contact_correspondence_type and letter.campaign_target and not letter.campaign_response
    call = InteractionTemplate.objects.get(code="CALL")
    assert call.correspondence_type == "" and call.unit_cost == Decimal("0.50") and call.campaign_id is None
    row = InteractionTemplateLanguage.objects.get(template=letter)
    assert (row.language_id, row.description) == ("NLD", "Spring letter")
    assert not InteractionTemplateLanguage.objects.filter(template=call).exists()
    campaign = Campaign.objects.get(no="CP0001")
    assert str(campaign.starting_date) == "2026-03-01" and campaign.salesperson_id == "SP9"
    assert Salesperson.objects.get(code="SP9").email == "sam@example.com"
    formulas = {(f.language_id, f.type): f.formula for f in SalutationFormula.objects.all()}
    assert formulas == {("NLD", "formal"): "Geachte %first_name %surname", (None, "informal"): "Hi %first_name"}


def test_setup_import_is_idempotent(db):
    setup_import(user=COMMAND_LINE, data=SETUP)
    before = setup_state()

    counts = setup_import(user=COMMAND_LINE, data=SETUP)

    assert setup_state() == before  # updated_at included: nothing was rewritten
    assert counts["languages"] == 2


def test_setup_import_upserts_by_code_and_keeps_what_the_file_does_not_mention(db):
    setup_import(user=COMMAND_LINE, data=SETUP)
    make_country("DE")
    campaign_updated = Campaign.objects.get(no="CP0001").updated_at

    setup_import(
        user=COMMAND_LINE,
        data={
            "countries": [{"code": "NL", "name": "Nederland"}],
            "interaction_templates": [{"code": "LETTER", "campaign": None, "language": "ENU"}],
            "salutations": [
                {"code": "FORMAL", "formulas": [{"language": "NLD", "type": "formal", "formula": "Beste"}]}
            ],
        },
    )

    assert dict(Country.objects.values_list("code", "name")) == {"BE": "Belgium", "DE": "Country", "NL": "Nederland"}
    letter = InteractionTemplate.objects.get(code="LETTER")
    assert letter.campaign_id is None and letter.description == "Spring letter" and letter.unit_cost == Decimal("12.5")
    assert sorted(InteractionTemplateLanguage.objects.filter(template=letter).values_list("language", flat=True)) == [
        "ENU",
        "NLD",
    ]
    assert SalutationFormula.objects.get(language="NLD").formula == "Beste"
    assert SalutationFormula.objects.count() == 2
    assert Campaign.objects.get(no="CP0001").updated_at == campaign_updated


def test_setup_import_keeps_an_existing_template_language_row(db):
    group = make_interaction_group("G1")
    template = make_template("T1", group=group)
    make_language("NLD")
    InteractionTemplateLanguage.objects.create(template=template, language_id="NLD", description="Eigen", subject="S")

    setup_import(user=COMMAND_LINE, data={"interaction_templates": [{"code": "T1", "language": "NLD"}]})

    row = InteractionTemplateLanguage.objects.get(template=template)
    assert (row.description, row.subject) == ("Eigen", "S")


BAD_SETUP = [
    (
        {"interaction_templates": [{"code": "T", "group": "XX", "description": "D"}]},
        'interaction_templates[0].group: unknown code "XX"',
    ),
    ({"interaction_templates": [{"code": "T", "description": "D"}]}, "interaction_templates[0].group: required"),
    ({"interaction_templates": [{"code": "T", "group": "G1"}]}, "interaction_templates[0].description: required"),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "campaign": "CP9"}]},
        'interaction_templates[0].campaign: unknown campaign "CP9"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "language": "XX"}]},
        'interaction_templates[0].language: unknown code "XX"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_cost": "12,50"}]},
        'interaction_templates[0].unit_cost: not a number "12,50"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_cost": -1}]},
        "interaction_templates[0].unit_cost: must be a number of 0 or more",
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_duration": "1.234"}]},
        "interaction_templates[0].unit_duration: at most 2 decimal places",
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_cost": True}]},
        "interaction_templates[0].unit_cost: expected a number or a decimal string",
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "information_flow": "sideways"}]},
        'interaction_templates[0].information_flow: unknown value "sideways" (use outbound or inbound or null)',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "initiated_by": "nobody"}]},
        'interaction_templates[0].initiated_by: unknown value "nobody"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "correspondence_type": "fax"}]},
        'interaction_templates[0].correspondence_type: unknown value "fax"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "campaign_target": "yes"}]},
        'interaction_templates[0].campaign_target: expected true or false, not "yes"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "colour": "red"}]},
        'interaction_templates[0]: unknown field "colour"',
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"type": "formal", "formula": "Dear %firstname"}]}]},
        "salutations[0].formulas[0].formula: unknown placeholder(s) %firstname (use %first_name %middle_name",
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"type": "polite", "formula": "Dear"}]}]},
        'salutations[0].formulas[0].type: unknown value "polite" (use formal or informal)',
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"formula": "Dear"}]}]},
        "salutations[0].formulas[0].type: required (formal or informal)",
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"language": "XX", "type": "formal", "formula": "Dear"}]}]},
        'salutations[0].formulas[0].language: unknown code "XX"',
    ),
    (
        {
            "salutations": [
                {
                    "code": "S",
                    "formulas": [{"type": "formal", "formula": "Dear"}, {"type": "formal", "formula": "Hello"}],
                }
            ]
        },
        "salutations[0].formulas[1]: a second formal formula for language blank (first at index 0)",
    ),
    (
        {"campaigns": [{"no": "CP1", "description": "D", "starting_date": "2026-05-01", "ending_date": "2026-04-01"}]},
        "campaigns[0].ending_date: 2026-04-01 is before the starting date 2026-05-01",
    ),
    (
        {"campaigns": [{"no": "CP1", "description": "D", "starting_date": "01-05-2026"}]},
        'campaigns[0].starting_date: not a date "01-05-2026" (use YYYY-MM-DD)',
    ),
    (
        {"campaigns": [{"no": "CP1", "description": "D", "salesperson": "NOSUCH"}]},
        'campaigns[0].salesperson: unknown code "NOSUCH"',
    ),
    ({"campaigns": [{"description": "D"}]}, "campaigns[0].no: required"),
    ({"countries": [{"code": "N L", "name": "x"}]}, 'countries[0].code: "N L": Use letters, digits'),
    ({"countries": [{"code": "TOOLONGCODE1", "name": "x"}]}, "countries[0].code: longer than 10 characters (12)"),
    ({"countries": [{"name": "x"}]}, "countries[0].code: required"),
    ({"countries": [{"code": "NL", "name": 5}]}, "countries[0].name: expected a string"),
    (
        {"countries": [{"code": "NL"}, {"code": "NL"}]},
        'countries[1].code: "NL" appears more than once (first at index 0)',
    ),
    ({"countries": ["NL"]}, "countries[0]: expected an object"),
    ({"countries": {"code": "NL"}}, "countries: expected a list"),
    ({"salespeople": [{"code": "S1", "email": "nope"}]}, "salespeople[0].email: Enter a valid email address."),
    ({"currencies": []}, 'unknown section "currencies"'),
]


@pytest.mark.parametrize(("data", "expected"), BAD_SETUP, ids=[b[1][:50] for b in BAD_SETUP])
def test_setup_import_refuses_bad_input_by_path_and_writes_nothing(db, data, expected):
    make_interaction_group("G1")
    before = setup_state()

    errors = setup_failure({"countries": [{"code": "OK", "name": "Fine"}], **data})

    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert setup_state() == before


def test_setup_import_reports_every_problem_and_refuses_a_non_object(db):
    errors = setup_failure(
        {"countries": [{"code": ""}], "interaction_templates": [{"code": "T", "group": "XX", "description": "D"}]}
    )
    assert errors == ["countries[0].code: required", 'interaction_templates[0].group: unknown code "XX"']
    assert setup_failure([1, 2]) == ["expected a JSON object whose keys are sections (countries, languages, …)"]


def test_setup_import_dry_run_writes_nothing(db):
    before = setup_state()

    counts = setup_import(user=COMMAND_LINE, data=SETUP, dry_run=True)

    assert counts["countries"] == 2
    assert setup_state() == before


def test_setup_import_runs_a_fixed_number_of_queries(db, django_assert_max_num_queries):
    big = json.loads(json.dumps(SETUP))
    big["countries"] = [{"code": f"C{n}", "name": f"Country {n}"} for n in range(300)]
    big["interaction_templates"] += [
        {"code": f"T{n}", "group": "CALLS", "description": f"T {n}", "language": "ENU"} for n in range(300)
    ]
    small = count_queries(lambda: setup_import(user=COMMAND_LINE, data=SETUP))
    with django_assert_max_num_queries(small + 2):
        setup_import(user=COMMAND_LINE, data=big)
