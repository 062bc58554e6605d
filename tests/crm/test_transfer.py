"""crm.transfer: contact CSV import/export and the reference-data import (CONTRACT.md, RELIABILITY 16/17)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import importing, transfer
from crm.models import (
    BusinessRelation,
    Contact,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    NumberSeries,
    Salutation,
)
from crm.permissions import COMMAND_LINE
from crm.transfer import (
    COLUMNS,
    ImportFailed,
    contacts_export_csv,
    contacts_export_json,
    contacts_import_csv,
    csv_escape,
    csv_unescape,
)
from tests.conftest import make_user
from tests.factories import (
    make_company,
    make_country,
    make_industry_group,
    make_job_responsibility,
    make_language,
    make_mailing_group,
    make_person,
    make_salesperson,
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


def test_the_import_itself_has_no_size_limit_the_upload_page_has(ref, settings):
    # Issue 11: CRM_CSV_MAX_BYTES is the upload page's limit (tests/crm/test_transfer_views.py);
    # the service, which batch jobs call, takes a file of any size.
    settings.CRM_CSV_MAX_BYTES = 100
    data = b"no,type,name\n" + b"".join(b"C%d,company,Acme %d\n" % (n, n) for n in range(10))

    result = contacts_import_csv(user=COMMAND_LINE, data=data)

    assert len(data) > 100 and result.created == 10


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
def test_100000_rows_import_in_one_run(ref):
    """Speed is measured by `manage.py bench --import` beside its floor, never by a timed test."""
    result = contacts_import_csv(user=COMMAND_LINE, data=rows_file(100_000))

    assert result.created == 100_001
    assert ContactJobResponsibility.objects.count() == 90_000


# --- streaming: a file read in pieces, checked and written in chunks (issue 11) -------------------


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 rows and reads of 16 bytes, so a small file crosses many of each."""
    monkeypatch.setattr(transfer, "CHUNK_ROWS", 3)
    monkeypatch.setattr(transfer, "READ_BYTES", 16)


def test_a_person_finds_a_company_listed_chunks_later_and_takes_its_values(ref, small_chunks):
    persons = [f"P{n},person,C2,Person {n},," for n in range(8)]

    result = run(
        "no,type,company_no,name,city,salesperson", *persons, "C1,company,,Acme,Delft,", "C2,company,,Bolt,Ede,SP1"
    )

    assert result.created == 10
    person = Contact.objects.get(no="P0")
    assert (person.company.no, person.city, person.salesperson_id) == ("C2", "Ede", "SP1")
    assert Contact.objects.filter(company__no="C2").count() == 8


def test_problems_of_every_chunk_and_pass_are_listed_by_line_and_nothing_is_written(ref, small_chunks):
    make_company(no="C0", name="Existing")
    rows = [f"C{n},company,,Company {n},c{n}@x.com,NL" for n in range(1, 8)]
    rows[5] = "C6,company,,Company 6,c6@x.com,XX"  # line 8, checked in the second chunk of companies
    before = state()

    errors = failure(
        "no,type,company_no,name,email,country",
        "P1,person,C7,Ann Smith,bad,",  # line 2, checked in the pass after the companies
        *rows,
        ",person,NOSUCH,Bo Chen,,",
        "C1,company,,Again,,",
    )

    assert errors == [
        "line 2: email: Enter a valid email address.",
        'line 8: country: unknown code "XX"',
        'line 10: company_no: unknown company "NOSUCH"',
        'line 11: no: "C1" appears more than once (first on line 3)',
    ]
    assert state() == before


def test_rows_with_a_blank_no_are_numbered_in_file_order_whatever_their_type(ref, small_chunks):
    result = run("no,type,company_no,name", ",person,C1,Ann Smith", "C1,company,,Acme", ",company,,Bolt")

    assert result.numbers == ["CT000001", "C1", "CT000002"]
    assert Contact.objects.get(no="CT000001").type == "person"
    assert Contact.objects.get(no="CT000002").name == "Bolt"


def test_a_file_read_in_pieces_keeps_multibyte_characters_crlf_and_quoted_newlines(ref, small_chunks):
    data = (
        "\ufeffno;type;name;address;city\r\n"
        'C1;company;Zoë & Co;"Straße 1\r\nHaus ß";Köln\r\n'
        "C2;company;Ærø Øst;;Århus\r\n"
        "C3;company;Ünal;;Zürich\r\n"
    ).encode()

    contacts_import_csv(user=COMMAND_LINE, data=data)

    assert list(Contact.objects.order_by("no").values_list("name", "address", "city")) == [
        ("Zoë & Co", "Straße 1\r\nHaus ß", "Köln"),
        ("Ærø Øst", "", "Århus"),
        ("Ünal", "", "Zürich"),
    ]


def test_a_bad_byte_in_a_later_piece_names_its_line(ref, small_chunks):
    data = "no,type,name\nC1,company,Acme\nC2,company,Bolt\nC3,company,Caf\xe9\n".encode("cp1252")

    errors = failure(data=data)

    assert len(errors) == 1 and errors[0].startswith("line 4: the file is not valid UTF-8 (byte 0xE9)")
    assert not Contact.objects.exists()


def test_the_file_is_read_in_pieces_never_whole(ref, monkeypatch):
    monkeypatch.setattr(transfer, "READ_BYTES", 256)
    reads = []

    class Recording(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    data = rows_file(200)
    contacts_import_csv(user=COMMAND_LINE, file=Recording(data))

    assert len(data) > 20 * 256 and reads and all(0 < size <= 256 for size in reads)


def statements(func) -> int:
    """The queries `func` runs, but PostgreSQL's ANALYZE (once each time the table doubles)."""
    with CaptureQueriesContext(connection) as captured:
        func()
    return sum(1 for query in captured if not query["sql"].startswith("ANALYZE"))


def test_queries_grow_with_the_chunks_not_the_rows(ref, monkeypatch):
    monkeypatch.setattr(transfer, "CHUNK_ROWS", 50)
    # 100 companies and 900 persons: 2 chunks of companies, 18 of persons.
    per_chunks = statements(lambda: contacts_import_csv(user=COMMAND_LINE, data=rows_file(1000)))
    monkeypatch.setattr(transfer, "CHUNK_ROWS", 100)

    # Twice the rows in chunks twice the size: the same number of chunks, the same queries.
    assert statements(lambda: contacts_import_csv(user=COMMAND_LINE, data=rows_file(2000, start=5000))) == per_chunks


def test_a_file_with_more_problems_than_the_log_keeps_lists_the_first_and_counts_all(ref, monkeypatch):
    monkeypatch.setattr(importing, "MAX_PROBLEMS", 3)
    rows = [f"C{n},company,Company {n},bad{n}" for n in range(5)]

    with pytest.raises(ImportFailed) as info:
        run("no,type,name,email", *rows)

    assert info.value.count == 5
    assert info.value.errors == [
        "line 2: email: Enter a valid email address.",
        "line 3: email: Enter a valid email address.",
        "line 4: email: Enter a valid email address.",
        "… and 2 more problems (the first 3 are listed)",
    ]
