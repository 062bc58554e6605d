"""The contact criteria language (CONTRACT.md QUERY) through ContactFilterSet."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.filters import ContactFilterSet
from crm.models import (
    BusinessRelation,
    Contact,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
)
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


def numbers(query: str) -> list[str]:
    filterset = ContactFilterSet(query)
    assert filterset.is_valid(), filterset.error_lines()
    return sorted(filterset.qs.values_list("no", flat=True))


@pytest.fixture
def world():
    nl, de = make_country("NL"), make_country("DE")
    en, nl_lang = make_language("ENU"), make_language("NLD")
    north = make_territory("NORTH")
    seller, other = make_salesperson("ANN"), make_salesperson("BOB")
    retail, wholesale = make_industry_group("RETAIL"), make_industry_group("WHOLE")
    customer = BusinessRelation.objects.create(code="CUST", name="Customer")
    news = make_mailing_group("NEWS")
    buyer = make_job_responsibility("BUYER")

    acme = make_company(no="C1", name="Acme BV", city="Delft", post_code="2611", country=nl, salesperson=seller)
    bolt = make_company(no="C2", name="Bolt GmbH", city="Berlin", post_code="10115", country=de, territory=north)
    ann = make_person(acme, no="P1", name="Ann Acme", city="Delft", language=en, salesperson=seller)
    piet = make_person(acme, no="P2", name="Piet de Vries", city="Leiden", language=nl_lang, salesperson=other)
    solo = make_person(None, no="P3", name="Solo Person", city="Delft")
    bert = make_person(bolt, no="P4", name="Bert Bolt", city="Berlin")

    ContactIndustryGroup.objects.create(contact=acme, industry_group=retail)
    ContactIndustryGroup.objects.create(contact=acme, industry_group=wholesale)
    ContactIndustryGroup.objects.create(contact=bolt, industry_group=wholesale)
    ContactBusinessRelation.objects.create(contact=bolt, business_relation=customer)
    ContactMailingGroup.objects.create(contact=ann, mailing_group=news)
    ContactMailingGroup.objects.create(contact=bolt, mailing_group=news)
    ContactJobResponsibility.objects.create(contact=piet, job_responsibility=buyer)
    return {"acme": acme, "bolt": bolt, "ann": ann, "piet": piet, "solo": solo, "bert": bert}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["C1", "C2", "P1", "P2", "P3", "P4"]),
        ("no=P1", ["P1"]),
        ("no=P1&no=C2", ["C2", "P1"]),
        ("type=company", ["C1", "C2"]),
        ("type=person", ["P1", "P2", "P3", "P4"]),
        ("type=company&type=person", ["C1", "C2", "P1", "P2", "P3", "P4"]),
        ("name=acme", ["C1", "P1"]),
        ("name=ACME&name=bolt", ["C1", "C2", "P1", "P4"]),
        ("company_no=C1", ["C1", "P1", "P2"]),
        ("company_no=C1&company_no=C2", ["C1", "C2", "P1", "P2", "P4"]),
        ("city=Delft", ["C1", "P1", "P3"]),
        ("city=Delft&city=Berlin", ["C1", "C2", "P1", "P3", "P4"]),
        ("post_code=10115", ["C2"]),
        ("country=NL", ["C1"]),
        ("territory=NORTH", ["C2"]),
        ("language=ENU&language=NLD", ["P1", "P2"]),
        ("salesperson=ANN", ["C1", "P1"]),
        ("industry_group=RETAIL", ["C1", "P1", "P2"]),
        ("industry_group=WHOLE", ["C1", "C2", "P1", "P2", "P4"]),
        ("business_relation=CUST", ["C2", "P4"]),
        ("mailing_group=NEWS", ["C2", "P1"]),
        ("job_responsibility=BUYER", ["P2"]),
        ("city=Delft&type=person", ["P1", "P3"]),
        ("industry_group=WHOLE&city=Berlin", ["C2", "P4"]),
    ],
)
def test_query_names_select_the_contract_semantics(world, query, expected):
    assert numbers(query) == expected


def test_to_many_criteria_return_each_contact_once(world):
    filterset = ContactFilterSet("industry_group=RETAIL&industry_group=WHOLE")
    ids = list(filterset.qs.values_list("pk", flat=True))
    assert len(ids) == len(set(ids)) == filterset.qs.count() == 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fax=1", 'unknown filter name "fax"'),
        ("salesperson=NOSUCH", 'salesperson: unknown code "NOSUCH"'),
        ("industry_group=GONE", 'industry_group: unknown code "GONE"'),
        ("no=CT999", 'no: unknown contact "CT999"'),
        ("company_no=P1", 'company_no: unknown company "P1"'),
        ("type=robot", 'type: unknown type "robot" (use company or person)'),
        ("name=" + "x" * 101, "name: a value is longer than 100 characters"),
    ],
)
def test_unknown_names_and_bad_values_are_errors_never_all_contacts(world, query, message):
    filterset = ContactFilterSet(query)
    assert not filterset.is_valid()
    assert message in filterset.error_lines()
    with pytest.raises(ValidationError):
        filterset.qs  # noqa: B018


def test_a_deleted_code_in_saved_criteria_fails_instead_of_matching_everything(world):
    saved = ContactFilterSet("mailing_group=NEWS").canonical_query()
    ContactMailingGroup.objects.all().delete()
    world_group = saved.split("=")[1]
    from crm.models import MailingGroup

    MailingGroup.objects.filter(code=world_group).delete()
    replay = ContactFilterSet(saved)
    assert not replay.is_valid()
    assert replay.error_lines() == ['mailing_group: unknown code "NEWS"']


def test_canonical_query_keeps_names_in_filter_order_and_drops_blanks(world):
    filterset = ContactFilterSet("city=Delft&name=&no=P1&no=P3")
    assert filterset.canonical_query() == "no=P1&no=P3&city=Delft"


def test_page_keys_can_be_ignored_explicitly(world):
    assert ContactFilterSet("page=2&city=Delft", ignore=("page",)).is_valid()
    assert not ContactFilterSet("page=2&city=Delft").is_valid()


def test_selection_is_one_query_plus_one_per_code_list(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        filterset = ContactFilterSet("industry_group=WHOLE&salesperson=ANN&company_no=C1&city=Delft")
        assert filterset.is_valid()
        assert list(filterset.qs.values_list("no", flat=True)) == ["C1", "P1"]
    assert Contact.objects.count() == 6


def test_a_repeated_text_criterion_renders_one_box_per_value_and_round_trips(world):
    filterset = ContactFilterSet("city=Delft&city=Berlin")
    html = str(filterset.form["city"])
    assert html.count('name="city"') == 2
    assert 'value="Delft"' in html and 'value="Berlin"' in html
    assert html.count('id="id_city"') == 1
