"""contact_create / contact_update / contact_delete: one transaction each, rules checked, nothing half-written."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from crm.models import (
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    NumberSeries,
)
from crm.services import (
    contact_create,
    contact_delete,
    contact_update,
    integrity_error_message,
)
from tests.factories import (
    make_company,
    make_country,
    make_industry_group,
    make_job_responsibility,
    make_mailing_group,
    make_person,
    make_salesperson,
)

pytestmark = pytest.mark.django_db

D = datetime.date


def series_last_no() -> int:
    return NumberSeries.objects.get(code="CONTACT").last_no


def test_create_takes_the_next_number_of_the_contact_series(marketing):
    contact = contact_create(user=marketing, data={"type": "company", "name": "Acme"})

    assert contact.no == "CT000001"
    assert Contact.objects.get(pk=contact.pk).name == "Acme"
    assert series_last_no() == 1


def test_create_skips_series_numbers_already_taken_by_imported_contacts(marketing):
    make_company(no="CT000001")
    make_company(no="CT000002")

    contact = contact_create(user=marketing, data={"type": "company", "name": "Acme"})

    assert contact.no == "CT000003"


def test_create_keeps_a_typed_number_and_leaves_the_series_alone(marketing):
    contact = contact_create(user=marketing, data={"type": "company", "no": "ACME", "name": "Acme"})

    assert contact.no == "ACME"
    assert series_last_no() == 0


def test_create_refuses_a_typed_number_in_use_and_writes_nothing(marketing):
    make_company(no="ACME")

    with pytest.raises(ValidationError) as error:
        contact_create(user=marketing, data={"type": "company", "no": "ACME", "name": "Other"})

    assert "no" in error.value.error_dict
    assert Contact.objects.count() == 1


def test_create_without_the_number_series_is_a_clear_error(marketing):
    NumberSeries.objects.filter(code="CONTACT").delete()

    with pytest.raises(ValidationError) as error:
        contact_create(user=marketing, data={"type": "company", "name": "Acme"})

    assert "number series CONTACT is missing" in str(error.value)
    assert Contact.objects.count() == 0


def test_create_needs_the_add_permission(viewer):
    with pytest.raises(PermissionDenied):
        contact_create(user=viewer, data={"type": "company", "name": "Acme"})
    assert Contact.objects.count() == 0


def test_a_person_linked_to_a_company_inherits_only_its_blank_fields(marketing):
    nl = make_country("NL")
    company = make_company(
        salesperson=make_salesperson("JO"), phone="+31 20 1", address="Dam 1", city="Amsterdam", country=nl
    )
    own_seller = make_salesperson("ME")

    person = contact_create(
        user=marketing,
        data={"type": "person", "name": "Ann Lee", "surname": "Lee", "company": company, "salesperson": own_seller},
    )

    person.refresh_from_db()
    assert person.company_id == company.pk
    assert person.salesperson_id == "ME"  # kept: stored as given
    assert (person.phone, person.address, person.city, person.country_id) == ("+31 20 1", "Dam 1", "Amsterdam", "NL")


def test_create_writes_classifications_addresses_and_ranges_together(marketing):
    industry, mailing = make_industry_group("IT"), make_mailing_group("NEWS")

    company = contact_create(
        user=marketing,
        data={"type": "company", "name": "Acme"},
        industry_groups=[industry],
        mailing_groups=["NEWS", "NEWS"],
        alt_addresses=[{"code": "SUMMER", "address": "Beach 1", "city": "Nice", "country": make_country("FR")}],
        date_ranges=[{"alt_address_code": "SUMMER", "starting_date": D(2025, 6, 1), "ending_date": D(2025, 8, 31)}],
    )

    assert list(ContactIndustryGroup.objects.filter(contact=company).values_list("industry_group", flat=True)) == ["IT"]
    assert ContactMailingGroup.objects.filter(contact=company, mailing_group=mailing).count() == 1
    address = ContactAltAddress.objects.get(contact=company)
    assert (address.code, address.city, address.country_id) == ("SUMMER", "Nice", "FR")
    assert company.active_alt_address(D(2025, 7, 1)) == address


def test_company_classifications_on_a_person_are_refused_before_anything_is_written(marketing):
    make_industry_group("IT")

    with pytest.raises(ValidationError) as error:
        contact_create(user=marketing, data={"type": "person", "name": "Ann Lee"}, industry_groups=["IT"])

    assert "belong to companies only" in str(error.value)
    assert Contact.objects.count() == 0
    assert series_last_no() == 0


def test_job_responsibilities_on_a_company_are_refused(marketing):
    make_job_responsibility("BUY")

    with pytest.raises(ValidationError, match="belong to persons only"):
        contact_create(user=marketing, data={"type": "company", "name": "Acme"}, job_responsibilities=["BUY"])
    assert Contact.objects.count() == 0


def test_a_database_rule_violation_becomes_a_message_and_rolls_everything_back(marketing):
    # Two ranges starting on one day: only the database's unique constraint sees it here.
    ranges = [
        {"alt_address_code": "A", "starting_date": D(2025, 1, 1), "ending_date": None},
        {"alt_address_code": "A", "starting_date": D(2025, 1, 1), "ending_date": D(2025, 2, 1)},
    ]

    with pytest.raises(ValidationError) as error:
        contact_create(
            user=marketing,
            data={"type": "company", "name": "Acme"},
            alt_addresses=[{"code": "A", "city": "Paris"}],
            date_ranges=ranges,
        )

    assert error.value.messages == ["Two date ranges of this contact start on the same date."]
    assert Contact.objects.count() == 0
    assert ContactAltAddress.objects.count() == 0
    assert series_last_no() == 0


def test_a_range_naming_an_unknown_address_code_is_refused(marketing):
    with pytest.raises(ValidationError, match='unknown alternate address code "NOPE"'):
        contact_create(
            user=marketing,
            data={"type": "company", "name": "Acme"},
            date_ranges=[{"alt_address_code": "NOPE", "starting_date": D(2025, 1, 1)}],
        )
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("write", "message"),
    [
        ("industry_group_on_person", "Industry groups and business relations belong to companies only."),
        ("job_on_company", "Job responsibilities belong to persons only."),
        ("person_as_company", "A person's company must be a company contact."),
        ("range_of_other_contact", "A date range must use an alternate address of the same contact."),
        ("duplicate_no", "Another contact already has this no."),
    ],
)
def test_integrity_errors_of_the_database_rules_read_as_sentences(write, message):
    company, person = make_company(), make_person()
    other_address = ContactAltAddress.objects.create(contact=make_company(), code="X")
    writes = {
        "industry_group_on_person": lambda: ContactIndustryGroup.objects.create(
            contact=person, industry_group=make_industry_group()
        ),
        "job_on_company": lambda: ContactJobResponsibility.objects.create(
            contact=company, job_responsibility=make_job_responsibility()
        ),
        "person_as_company": lambda: Contact.objects.filter(pk=make_person().pk).update(company=person),
        "range_of_other_contact": lambda: ContactAltAddressDateRange.objects.create(
            contact=company, alt_address=other_address, starting_date=D(2025, 1, 1)
        ),
        "duplicate_no": lambda: Contact.objects.create(no=company.no, name="Copy", type="company"),
    }

    with pytest.raises(IntegrityError) as error, transaction.atomic():
        writes[write]()

    assert integrity_error_message(error.value) == message


def test_update_changes_fields_and_syncs_addresses_by_code(marketing):
    company = make_company(name="Old")
    keep = ContactAltAddress.objects.create(contact=company, code="KEEP", city="Old city")
    ContactAltAddress.objects.create(contact=company, code="DROP", city="Gone")
    ContactAltAddressDateRange.objects.create(contact=company, alt_address=keep, starting_date=D(2024, 1, 1))

    contact_update(
        user=marketing,
        contact=company,
        data={"name": "New"},
        alt_addresses=[{"code": "KEEP", "city": "New city"}, {"code": "ADD", "city": "Added"}],
        date_ranges=[{"alt_address_code": "ADD", "starting_date": D(2025, 1, 1), "ending_date": None}],
    )

    company.refresh_from_db()
    assert company.name == "New"
    addresses = dict(ContactAltAddress.objects.filter(contact=company).values_list("code", "city"))
    assert addresses == {"KEEP": "New city", "ADD": "Added"}
    assert ContactAltAddress.objects.get(code="KEEP").pk == keep.pk  # updated in place, not replaced
    ranges = list(
        ContactAltAddressDateRange.objects.filter(contact=company).values_list("alt_address__code", flat=True)
    )
    assert ranges == ["ADD"]


def test_update_leaves_what_it_is_not_given(marketing):
    company = make_company()
    ContactMailingGroup.objects.create(contact=company, mailing_group=make_mailing_group())
    ContactAltAddress.objects.create(contact=company, code="A")

    contact_update(user=marketing, contact=company, data={"city": "Oslo"})

    assert ContactMailingGroup.objects.filter(contact=company).count() == 1
    assert ContactAltAddress.objects.filter(contact=company).count() == 1


def test_update_refuses_a_type_change(marketing):
    company = make_company()

    with pytest.raises(ValidationError, match="keeps its type"):
        contact_update(user=marketing, contact=company, data={"type": "person"})

    assert Contact.objects.get(pk=company.pk).type == "company"


def test_update_refuses_a_number_change(marketing):
    company = make_company(no="ACME")

    with pytest.raises(ValidationError, match="keeps its no"):
        contact_update(user=marketing, contact=company, data={"no": "OTHER"})

    assert Contact.objects.filter(no="ACME").exists()


def test_update_refuses_when_someone_saved_in_between(marketing):
    company = make_company(name="Mine")
    seen = company.updated_at
    Contact.objects.get(pk=company.pk).save()  # another user's save moves updated_at

    with pytest.raises(ValidationError, match="Someone else saved this contact"):
        contact_update(user=marketing, contact=company, data={"name": "Overwritten"}, if_unchanged_since=seen)

    assert Contact.objects.get(pk=company.pk).name == "Mine"


def test_moving_a_person_to_another_company_fills_its_blank_fields_from_it(marketing):
    old = make_company(city="Old town")
    new = make_company(salesperson=make_salesperson("NEW"), phone="+1 555")
    person = make_person(company=old, city="Own town")

    contact_update(user=marketing, contact=person, data={"company": new})

    person.refresh_from_db()
    assert person.company_id == new.pk
    assert (person.salesperson_id, person.phone, person.city) == ("NEW", "+1 555", "Own town")


def test_update_needs_the_change_permission(viewer):
    company = make_company(name="Same")
    with pytest.raises(PermissionDenied):
        contact_update(user=viewer, contact=company, data={"name": "Changed"})
    assert Contact.objects.get(pk=company.pk).name == "Same"


def test_delete_removes_addresses_ranges_and_classifications(marketing):
    company = make_company()
    address = ContactAltAddress.objects.create(contact=company, code="A")
    ContactAltAddressDateRange.objects.create(contact=company, alt_address=address, starting_date=D(2025, 1, 1))
    ContactIndustryGroup.objects.create(contact=company, industry_group=make_industry_group())
    ContactMailingGroup.objects.create(contact=company, mailing_group=make_mailing_group())

    deletion = contact_delete(user=marketing, contact=company)

    assert (deletion.alt_addresses, deletion.date_ranges, deletion.classifications) == (1, 1, 2)
    assert not Contact.objects.filter(pk=company.pk).exists()
    assert ContactAltAddress.objects.count() == ContactIndustryGroup.objects.count() == 0


def test_delete_refuses_a_company_that_still_has_persons(marketing):
    company = make_company(no="CO1")
    make_person(company=company)
    make_person(company=company)

    with pytest.raises(ValidationError) as error:
        contact_delete(user=marketing, contact=company)

    assert error.value.messages == ["CO1 still has 2 persons. Delete them or link them to another company first."]
    assert Contact.objects.count() == 3


def test_delete_needs_the_delete_permission(viewer):
    company = make_company()
    with pytest.raises(PermissionDenied):
        contact_delete(user=viewer, contact=company)
    assert Contact.objects.filter(pk=company.pk).exists()
