"""Model invariants: name rule, salutation formulas, alternate-address dates, DB backstops."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef

from crm.models import (
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactIndustryGroup,
    ContactJobResponsibility,
    SalutationFormula,
    active_alt_address_id,
    split_person_name,
)
from crm.services import contact_fill_from_company, number_series_next
from tests.factories import (
    make_campaign,
    make_company,
    make_country,
    make_industry_group,
    make_job_responsibility,
    make_person,
    make_salesperson,
    make_salutation,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("Smith", ("", "", "Smith")),
        ("Ann Smith", ("Ann", "", "Smith")),
        ("Ann Marie Smith", ("Ann", "Marie", "Smith")),
        ("Jan Peter van Dijk", ("Jan Peter", "van", "Dijk")),
        ("  Ann   Smith ", ("Ann", "", "Smith")),
        ("", ("", "", "")),
    ],
)
def test_person_name_splits_last_token_surname_second_last_middle(name, parts):
    assert split_person_name(name) == parts


def test_typed_parts_rebuild_the_name_and_typed_name_splits():
    person = Contact(type="person", name="", first_name="Ann", middle_name="B.", surname="Lee")
    person.apply_name_rule(name_typed=False)
    assert person.name == "Ann B. Lee"

    person.name = "Bo Chen"
    person.apply_name_rule(name_typed=True)
    assert (person.first_name, person.middle_name, person.surname) == ("Bo", "", "Chen")


def test_company_name_is_never_split():
    company = Contact(type="company", name="Acme Holding BV")
    company.apply_name_rule(name_typed=True)
    assert company.surname == ""


@pytest.mark.parametrize(
    ("formula", "parts", "expected"),
    [
        ("Dear %first_name %surname", {"first_name": "Ann", "surname": "Lee"}, "Dear Ann Lee"),
        ("Dear %first_name %surname", {"surname": "Lee"}, "Dear Lee"),
        ("Dear %job_title %surname,", {"job_title": "", "surname": "Lee"}, "Dear Lee,"),
        ("Hi %first_name", {}, "Hi "),
        ("Dear %initials %middle_name %surname", {"initials": "A.", "surname": "Dijk"}, "Dear A. Dijk"),
        ("To %company_name", {"company_name": "Smith & <Sons>"}, "To Smith & <Sons>"),
    ],
)
def test_salutation_formula_replaces_named_placeholders_and_drops_empty_ones(formula, parts, expected):
    assert SalutationFormula(formula=formula).render(parts) == expected


def test_salutation_formula_with_unknown_placeholder_is_refused():
    formula = SalutationFormula(salutation=make_salutation(), type="formal", formula="Dear %1 %surname")
    with pytest.raises(ValidationError) as error:
        formula.full_clean()
    assert error.value.message_dict == {"formula": ["Unknown placeholder(s): %1."]}


def test_one_formula_per_salutation_language_and_type_also_without_language():
    salutation = make_salutation(formulas={(None, "formal"): "Dear %surname"})
    with pytest.raises(IntegrityError), transaction.atomic():
        SalutationFormula.objects.create(salutation=salutation, language=None, type="formal", formula="Hello")


def _address(contact, code):
    return ContactAltAddress.objects.create(contact=contact, code=code, address=f"{code} street", city="Utrecht")


def _range(contact, address, start: datetime.date, end: datetime.date | None) -> None:
    ContactAltAddressDateRange.objects.create(
        contact=contact, alt_address=address, starting_date=start, ending_date=end
    )


def test_active_alternate_address_is_the_covering_range_that_starts_latest():
    contact = make_company()
    summer = _address(contact, "SUMMER")
    office = _address(contact, "OFFICE")
    _range(contact, summer, datetime.date(2026, 6, 1), datetime.date(2026, 8, 31))
    _range(contact, office, datetime.date(2026, 7, 1), None)
    assert contact.active_alt_address(datetime.date(2026, 5, 31)) is None
    assert contact.active_alt_address(datetime.date(2026, 6, 15)) == summer
    assert contact.active_alt_address(datetime.date(2026, 7, 1)) == office  # overlap: latest start wins
    assert contact.active_alt_address(datetime.date(2027, 1, 1)) == office  # open-ended


def test_the_active_alternate_address_subquery_follows_the_same_rule_for_many_contacts_at_once():
    # given two contacts, one with overlapping ranges
    contact, other = make_company(), make_company()
    summer, office = _address(contact, "SUMMER"), _address(contact, "OFFICE")
    home = _address(other, "HOME")
    _range(contact, summer, datetime.date(2026, 6, 1), datetime.date(2026, 8, 31))
    _range(contact, office, datetime.date(2026, 7, 1), None)
    _range(other, home, datetime.date(2026, 1, 1), datetime.date(2026, 6, 30))
    for day, expected in (
        (datetime.date(2026, 5, 31), {contact.pk: None, other.pk: home.pk}),
        (datetime.date(2026, 6, 15), {contact.pk: summer.pk, other.pk: home.pk}),
        (datetime.date(2026, 7, 1), {contact.pk: office.pk, other.pk: None}),
    ):
        # when the rule runs as one subquery per contact row
        rows = Contact.objects.filter(pk__in=[contact.pk, other.pk]).annotate(
            active=active_alt_address_id(OuterRef("pk"), day)
        )
        # then it agrees with the rule for one contact
        assert dict(rows.values_list("pk", "active")) == expected
        assert getattr(contact.active_alt_address(day), "pk", None) == expected[contact.pk]


def test_date_range_start_after_end_is_refused_by_the_database():
    contact = make_company()
    address = _address(contact, "HOME")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactAltAddressDateRange.objects.create(
            contact=contact,
            alt_address=address,
            starting_date=datetime.date(2026, 2, 1),
            ending_date=datetime.date(2026, 1, 1),
        )


def test_date_range_must_use_an_address_of_the_same_contact():
    contact, other = make_company(), make_company()
    address = _address(other, "HOME")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactAltAddressDateRange.objects.create(
            contact=contact, alt_address=address, starting_date=datetime.date(2026, 1, 1)
        )
    with pytest.raises(ValidationError):
        ContactAltAddressDateRange(
            contact=contact, alt_address=address, starting_date=datetime.date(2026, 1, 1)
        ).clean()


def test_two_ranges_of_one_contact_cannot_start_on_the_same_day():
    contact = make_company()
    address = _address(contact, "HOME")
    ContactAltAddressDateRange.objects.create(
        contact=contact, alt_address=address, starting_date=datetime.date(2026, 1, 1)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactAltAddressDateRange.objects.create(
            contact=contact, alt_address=address, starting_date=datetime.date(2026, 1, 1)
        )


def test_a_persons_company_must_be_a_company_at_the_database_level():
    person = make_person()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(no="X1", name="Y", type="person", company=person)
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=make_person().pk).update(company=person)


def test_a_company_cannot_have_a_company():
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(no="X2", name="Y", type="company", company=make_company())


def test_a_company_with_persons_cannot_become_a_person():
    company = make_company()
    make_person(company=company)
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=company.pk).update(type="person")
    company.type = "person"
    with pytest.raises(ValidationError):
        company.clean()


def test_company_classifications_belong_to_companies_and_jobs_to_persons():
    person, company = make_person(), make_company()
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactIndustryGroup.objects.create(contact=person, industry_group=make_industry_group())
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactJobResponsibility.objects.create(contact=company, job_responsibility=make_job_responsibility())
    with pytest.raises(ValidationError):
        ContactIndustryGroup(contact=person, industry_group=make_industry_group()).clean()
    ContactIndustryGroup.objects.create(contact=company, industry_group=make_industry_group())
    ContactJobResponsibility.objects.create(contact=person, job_responsibility=make_job_responsibility())


def test_a_person_with_job_responsibilities_cannot_become_a_company():
    person = make_person()
    ContactJobResponsibility.objects.create(contact=person, job_responsibility=make_job_responsibility())
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=person.pk).update(type="company")


def test_contact_numbers_are_unique_and_not_blank():
    make_company(no="CT1")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_company(no="CT1")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_company(no="")


def test_campaign_start_must_not_be_after_end():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_campaign(starting_date=datetime.date(2026, 3, 1), ending_date=datetime.date(2026, 2, 1))


def test_number_series_gives_consecutive_formatted_numbers_without_reuse():
    first = number_series_next(code="CONTACT", count=3)
    second = number_series_next(code="CONTACT")
    assert first == ["CT000001", "CT000002", "CT000003"]
    assert second == ["CT000004"]
    assert number_series_next(code="SEGMENT") == ["SEG00001"]
    assert number_series_next(code="CAMPAIGN") == ["CP0001"]


def test_person_inherits_only_blank_fields_from_its_company():
    seller, other_seller = make_salesperson(), make_salesperson()
    country = make_country("NL")
    company = make_company(
        salesperson=seller, address="Main 1", city="Delft", post_code="2611 AA", country=country, phone="015 1"
    )
    person = Contact(type="person", name="A B", salesperson=other_seller)
    changed = contact_fill_from_company(contact=person, company=company)
    assert person.salesperson == other_seller  # kept as given
    assert (person.address, person.city, person.post_code, person.country) == ("Main 1", "Delft", "2611 AA", country)
    assert person.phone == "015 1"
    assert "salesperson_id" not in changed


def test_person_with_an_own_address_keeps_all_of_it():
    company = make_company(address="Main 1", city="Delft", post_code="2611 AA")
    person = Contact(type="person", name="A B", city="Leiden")
    contact_fill_from_company(contact=person, company=company)
    assert (person.address, person.city, person.post_code) == ("", "Leiden", "")


def test_control_characters_are_refused_but_newlines_allowed_in_address():
    contact = Contact(type="company", no="N1", name="Acme\x07", address="Line 1\nLine 2")
    with pytest.raises(ValidationError) as error:
        contact.clean()
    assert set(error.value.message_dict) == {"name"}
