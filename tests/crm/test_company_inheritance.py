"""A company's edit reaches the persons that follow it (SPEC F1.1 "Inheritance").

A person follows a field group of its company when its value equals the company's old value;
a person with a value of its own keeps it. The address is one group. One UPDATE per changed
group, in the company update's transaction, whatever the number of persons.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.models import Contact
from crm.permissions import COMMAND_LINE
from crm.services import company_inherited_values, company_propagate_inherited, contact_update
from tests.factories import make_company, make_country, make_language, make_person, make_salesperson, make_territory

pytestmark = pytest.mark.django_db

ADDRESS = {"address": "Dam 1", "address_2": "Floor 2", "post_code": "1012 JS", "city": "Amsterdam", "county": "NH"}


def inherited(contact: Contact) -> dict:
    contact.refresh_from_db()
    return company_inherited_values(contact)


@pytest.fixture
def company():
    return make_company(
        no="CO1",
        salesperson=make_salesperson("OLD"),
        territory=make_territory("NORTH"),
        language=make_language("NLD"),
        phone="+31 20 1",
        correspondence_type="hard_copy",
        country=make_country("NL"),
        **ADDRESS,
    )


def follower_of(company: Contact, **own) -> Contact:
    """A person of `company` with the company's inherited values, except `own` (attnames)."""
    return make_person(company=company, **{**company_inherited_values(company), **own})


NEW_VALUES = {
    "salesperson": "NEW",
    "territory": "SOUTH",
    "language": "DEU",
    "phone": "+49 30 2",
    "correspondence_type": "email",
    "address": "Hauptstr. 5",
    "address_2": "",
    "post_code": "10115",
    "city": "Berlin",
    "county": "",
    "country": "DE",
}


def new_reference_data() -> dict:
    make_salesperson("NEW")
    make_territory("SOUTH")
    make_language("DEU")
    make_country("DE")
    return {
        key if key not in {"salesperson", "territory", "language", "country"} else f"{key}_id": value
        for key, value in NEW_VALUES.items()
    }


def test_persons_whose_values_equal_the_company_old_values_follow_its_edit(marketing, company):
    follower = follower_of(company)
    own = follower_of(
        company,
        salesperson_id=make_salesperson("MINE").pk,
        territory_id=make_territory("WEST").pk,
        language_id=make_language("FRA").pk,
        phone="+33 1",
        correspondence_type="email",
        city="Paris",
    )
    cleared = follower_of(company, salesperson_id=None, phone="")
    private = make_person(**company_inherited_values(company))
    other_company = make_company(**company_inherited_values(company))
    elsewhere = follower_of(other_company)
    untouched = {c.pk: inherited(c) for c in (own, private, other_company, elsewhere)}
    data = new_reference_data()

    contact_update(user=marketing, contact=company, data=data)

    assert inherited(follower) == data
    assert {c.pk: inherited(c) for c in (own, private, other_company, elsewhere)} == untouched
    cleared_values = inherited(cleared)
    assert (cleared_values["salesperson_id"], cleared_values["phone"]) == (None, "")  # cleared on purpose: stays
    assert cleared_values["territory_id"] == "SOUTH" and cleared_values["city"] == "Berlin"


def test_a_person_with_an_address_of_its_own_keeps_all_of_it(marketing, company):
    other_post_code = follower_of(company, post_code="1000 AA")
    same_address = follower_of(company)

    contact_update(user=marketing, contact=company, data={"city": "Rotterdam", "post_code": "3011 AA"})

    other_post_code.refresh_from_db()
    same_address.refresh_from_db()
    assert (other_post_code.post_code, other_post_code.city, other_post_code.address) == (
        "1000 AA",
        "Amsterdam",
        "Dam 1",
    )
    assert (same_address.post_code, same_address.city, same_address.address) == ("3011 AA", "Rotterdam", "Dam 1")


def test_a_blank_company_value_given_for_the_first_time_reaches_the_persons_that_left_it_blank(marketing):
    company = make_company()
    blank = make_person(company=company)
    own = make_person(company=company, phone="+44 1")

    contact_update(user=marketing, contact=company, data={"phone": "+31 10 9", "salesperson": make_salesperson("SP")})

    blank.refresh_from_db()
    own.refresh_from_db()
    assert (blank.phone, blank.salesperson_id) == ("+31 10 9", "SP")
    assert (own.phone, own.salesperson_id) == ("+44 1", "SP")


def test_an_edit_that_changes_no_inherited_field_leaves_the_persons_alone(marketing, company):
    follower = follower_of(company)
    before = Contact.objects.get(pk=follower.pk).updated_at

    contact_update(user=marketing, contact=company, data={"name": "Renamed", "email": "info@acme.test"})

    assert Contact.objects.get(pk=follower.pk).updated_at == before


def test_a_person_that_followed_gets_a_new_updated_at_so_its_open_edit_page_is_stale(marketing, company):
    follower = follower_of(company)
    seen = Contact.objects.get(pk=follower.pk).updated_at

    contact_update(user=marketing, contact=company, data={"phone": "+31 20 9"})

    with pytest.raises(ValidationError, match="Someone else saved this contact"):
        contact_update(user=marketing, contact=follower, data={"job_title": "CEO"}, if_unchanged_since=seen)
    assert Contact.objects.get(pk=follower.pk).phone == "+31 20 9"


def test_the_persons_change_in_the_company_update_transaction(marketing, company):
    follower = follower_of(company)

    with pytest.raises(ValidationError, match="unknown alternate address"):
        contact_update(
            user=marketing,
            contact=company,
            data={"city": "Utrecht"},
            date_ranges=[{"alt_address_code": "NOPE", "starting_date": datetime.date(2025, 1, 1)}],
        )

    assert Contact.objects.get(pk=company.pk).city == "Amsterdam"
    assert Contact.objects.get(pk=follower.pk).city == "Amsterdam"


@pytest.mark.parametrize("persons", [1, 60])
def test_the_queries_of_a_company_edit_do_not_grow_with_its_persons(
    marketing, company, persons, django_assert_max_num_queries
):
    for _ in range(persons):
        follower_of(company)
    data = new_reference_data()
    company.refresh_from_db()

    # 26 for the edit itself (permissions, lock, checks, save); the persons add one read of
    # the company's new values and one UPDATE per changed group (6)
    with django_assert_max_num_queries(40):
        contact_update(user=marketing, contact=company, data=data)

    assert Contact.objects.filter(company=company, city="Berlin", salesperson="NEW").count() == persons


def test_many_companies_are_propagated_with_one_statement_per_group(company, django_assert_num_queries):
    """The import's call: many companies, each with its own old values."""
    others = [make_company(city=f"City {i}", salesperson=make_salesperson(f"S{i}")) for i in range(5)]
    companies = [company, *others]
    followers = {c.pk: [follower_of(c) for _ in range(3)] for c in companies}
    own = follower_of(others[0], city="Own city")
    old_values = {c.pk: company_inherited_values(c) for c in companies}
    for c in companies:
        Contact.objects.filter(pk=c.pk).update(city=f"{c.city} new", salesperson=make_salesperson("NEW"))
    moved_cities = {c.pk: f"{c.city} new" for c in companies}

    with django_assert_num_queries(3):  # the companies' new values, the city, the salesperson
        written = company_propagate_inherited(old_values=old_values)

    assert written == {"salesperson_id": 19, "address": 18}  # `own` keeps its city only
    for pk, persons in followers.items():
        for person in persons:
            person.refresh_from_db()
            assert (person.city, person.salesperson_id) == (moved_cities[pk], "NEW")
    own.refresh_from_db()
    assert (own.city, own.salesperson_id) == ("Own city", "NEW")


def test_the_edit_page_moves_the_persons_that_follow_the_company(marketing_client, company):
    follower = follower_of(company)
    own = follower_of(company, salesperson_id=make_salesperson("MINE").pk)
    make_salesperson("NEW")
    data = {
        "version": Contact.objects.get(pk=company.pk).updated_at.isoformat(),
        "name": company.name,
        "salesperson": "NEW",
        "city": "Haarlem",
        "address": "Dam 1",
        "address_2": "Floor 2",
        "post_code": "1012 JS",
        "county": "NH",
        "country": "NL",
        "territory": "NORTH",
        "language": "NLD",
        "phone": "+31 20 1",
        "correspondence_type": "hard_copy",
    }
    for prefix in ("alt", "range"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}

    response = marketing_client.post(reverse("crm:contact_update", args=[company.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    follower.refresh_from_db()
    own.refresh_from_db()
    assert (follower.salesperson_id, follower.city) == ("NEW", "Haarlem")
    assert (own.salesperson_id, own.city) == ("MINE", "Haarlem")


def test_an_import_that_changes_a_company_moves_the_persons_that_follow_it(company):
    from crm.transfer import contacts_import_csv

    not_in_file = follower_of(company)
    own = follower_of(company, city="Paris")
    round_trip = follower_of(company)
    make_salesperson("NEW")
    data = (
        "no,type,name,city,salesperson\n"
        f"CO1,company,{company.name},Rotterdam,NEW\n"
        f"{round_trip.no},person,{round_trip.name},Amsterdam,OLD\n"  # as exported before the change
    ).encode()

    contacts_import_csv(user=COMMAND_LINE, data=data)

    values = {c.no: (c.city, c.salesperson_id) for c in Contact.objects.filter(company=company)}
    assert values == {
        not_in_file.no: ("Rotterdam", "NEW"),
        own.no: ("Paris", "NEW"),
        round_trip.no: ("Rotterdam", "NEW"),
    }
