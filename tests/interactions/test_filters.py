"""InteractionLogEntryFilterSet: the criteria of the interaction log (SPEC F6), strict like the contact criteria."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from crm.permissions import COMMAND_LINE
from interactions import services
from interactions.filters import InteractionLogEntryFilterSet
from interactions.models import DeliveryStatus, InteractionLogEntry
from tests.factories import (
    make_campaign,
    make_company,
    make_interaction_group,
    make_person,
    make_salesperson,
    make_template,
)
from tests.interactions.entry_builders import logged_company, single

pytestmark = pytest.mark.django_db


def matching(query) -> set[int]:
    filterset = InteractionLogEntryFilterSet(query)
    assert filterset.is_valid(), filterset.error_lines()
    return set(filterset.qs.values_list("pk", flat=True))


def errors(query) -> list[str]:
    filterset = InteractionLogEntryFilterSet(query)
    assert not filterset.is_valid()
    return filterset.error_lines()


@pytest.fixture
def world():
    """Two logged companies (a company and two persons each) and two single interactions."""
    ann, bob = make_salesperson("ANN"), make_salesperson("BOB")
    letters, calls = make_interaction_group("LETTERS"), make_interaction_group("CALLS")
    letter = make_template("LETTER", group=letters, correspondence_type="")
    call = make_template("CALL", group=calls, correspondence_type="")
    spring = make_campaign(no="CPSPRING")
    first, first_contacts = logged_company(2, template=letter, campaign=spring, salesperson=ann, no="A100")
    second, second_contacts = logged_company(2, template=letter, salesperson=bob, no="B100")
    loner = make_person(None, no="P900", salesperson=bob)
    phone = single(loner, call, date=datetime.date(2025, 1, 15), evaluation="positive", correspondence_type="email")
    visit = single(first_contacts[1], call, date=datetime.date(2025, 2, 1))
    return {
        "first": first,
        "second": second,
        "a": first_contacts,
        "b": second_contacts,
        "loner": loner,
        "phone": phone,
        "visit": visit,
    }


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_no_criteria_selects_every_entry_canceled_or_not(world):
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[world["phone"].pk], canceled=True)
    assert matching({}) == ids(InteractionLogEntry.objects.all())
    assert len(matching({})) == 8


def test_contact_selects_the_contacts_own_entries(world):
    person = world["a"][1]
    assert matching({"contact": person.no}) == ids(InteractionLogEntry.objects.filter(contact=person))
    assert len(matching({"contact": person.no})) == 2


def test_repeated_contacts_are_ored(world):
    assert matching({"contact": [world["loner"].no, world["a"][0].no]}) == ids(
        InteractionLogEntry.objects.filter(contact__in=[world["loner"], world["a"][0]])
    )


def test_company_selects_the_company_and_its_persons(world):
    company = world["a"][0]
    assert matching({"company": company.no}) == ids(InteractionLogEntry.objects.filter(contact__in=world["a"]))
    assert len(matching({"company": company.no})) == 4


def test_a_person_is_not_a_company(world):
    assert errors({"company": world["loner"].no}) == [f'company: unknown company "{world["loner"].no}"']


def test_template_group_campaign_and_salesperson(world):
    phone, visit = world["phone"].pk, world["visit"].pk
    assert matching({"interaction_template": "CALL"}) == {phone, visit}
    assert matching({"interaction_group": "CALLS"}) == {phone, visit}
    assert matching({"campaign": "CPSPRING"}) == ids(world["first"].logged_segment.interactions.all())
    assert matching({"salesperson": "BOB"}) == ids(world["second"].logged_segment.interactions.all()) | {phone}
    assert matching({"interaction_template": "CALL", "salesperson": "ANN"}) == {visit}


def test_segment_no_and_logged_segment(world):
    first = world["first"].logged_segment
    expected = ids(first.interactions.all())
    assert matching({"segment_no": first.segment_no}) == expected
    assert matching({"logged_segment": str(first.pk)}) == expected
    assert matching({"logged_segment": f" {first.pk} "}) == expected


def test_date_range_is_inclusive(world):
    phone, visit = world["phone"].pk, world["visit"].pk
    assert matching({"date_after": "2025-01-15", "date_before": "2025-02-01"}) == {phone, visit}
    assert matching({"date_after": "2025-01-16", "date_before": "2025-02-01"}) == {visit}
    assert matching({"date_before": "2025-01-15"}) == {phone}


def test_evaluation_correspondence_type_and_delivery_status_with_none_for_blank(world):
    phone = world["phone"].pk
    everything = ids(InteractionLogEntry.objects.all())
    assert matching({"evaluation": "positive"}) == {phone}
    assert matching({"evaluation": "none"}) == everything - {phone}
    assert matching({"evaluation": ["positive", "none"]}) == everything
    assert matching({"correspondence_type": "email"}) == {phone}
    assert matching({"correspondence_type": "none"}) == everything - {phone}
    InteractionLogEntry.objects.filter(pk=phone).update(delivery_status=DeliveryStatus.ERROR)
    assert matching({"delivery_status": "error"}) == {phone}
    assert matching({"delivery_status": "none"}) == everything - {phone}


def test_canceled_all_no_yes(world):
    phone = world["phone"].pk
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[phone], canceled=True)
    everything = ids(InteractionLogEntry.objects.all())
    assert matching({"canceled": "all"}) == everything
    assert matching({"canceled": ""}) == everything
    assert matching({"canceled": "yes"}) == {phone}
    assert matching({"canceled": "no"}) == everything - {phone}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"contact": "NOPE"}, ['contact: unknown contact "NOPE"']),
        ({"contact": ["Z2", "Z1"]}, ['contact: unknown contact "Z1"', 'contact: unknown contact "Z2"']),
        ({"company": "NOPE"}, ['company: unknown company "NOPE"']),
        ({"interaction_template": "NOPE"}, ['interaction_template: unknown interaction template "NOPE"']),
        ({"interaction_group": "NOPE"}, ['interaction_group: unknown interaction group "NOPE"']),
        ({"campaign": "CP404"}, ['campaign: unknown campaign "CP404"']),
        ({"salesperson": "ZED"}, ['salesperson: unknown salesperson "ZED"']),
        ({"logged_segment": "abc"}, ['logged_segment: "abc" is not a number']),
        ({"logged_segment": "424242"}, ['logged_segment: unknown logged segment "424242"']),
        ({"date_after": "2025-02-30"}, ['date_after: not a date "2025-02-30" (use YYYY-MM-DD)']),
        ({"date_before": "yesterday"}, ['date_before: not a date "yesterday" (use YYYY-MM-DD)']),
        ({"date_after": ["2025-01-01", "2025-02-01"]}, ["date_after: give one date, not 2"]),
        (
            {"date_after": "2025-03-01", "date_before": "2025-02-01"},
            ["date_before: is before the date from (2025-03-01)"],
        ),
        (
            {"evaluation": "great"},
            ['evaluation: unknown value "great" (use negative, neutral, none, positive, very_negative, very_positive)'],
        ),
        ({"canceled": "maybe"}, ['canceled: unknown value "maybe" (use all, no or yes)']),
        ({"correspondence_type": "fax"}, ['correspondence_type: unknown value "fax" (use email, hard_copy, none)']),
        (
            {"delivery_status": "lost"},
            ['delivery_status: unknown value "lost" (use error, in_progress, none, sent, skipped)'],
        ),
        ({"colour": "red"}, ['unknown filter name "colour"']),
    ],
)
def test_bad_values_are_named_clearly(world, query, expected):
    assert errors(query) == expected


def test_an_invalid_filter_never_means_every_entry(world):
    filterset = InteractionLogEntryFilterSet({"salesperson": "ZED"})
    with pytest.raises(ValidationError) as raised:
        filterset.qs  # noqa: B018
    assert raised.value.messages == ['salesperson: unknown salesperson "ZED"']


def test_ignored_page_names_are_not_unknown(world):
    assert InteractionLogEntryFilterSet({"page": "2"}, ignore=("page",)).is_valid()
    assert not InteractionLogEntryFilterSet({"page": "2"}).is_valid()


def test_validating_costs_at_most_one_query_per_criterion(world, django_assert_max_num_queries):
    query = {
        "contact": world["a"][1].no,
        "company": world["a"][0].no,
        "interaction_template": "LETTER",
        "interaction_group": "LETTERS",
        "campaign": "CPSPRING",
        "salesperson": "ANN",
        "logged_segment": str(world["first"].logged_segment.pk),
        "evaluation": "none",
        "date_after": "2000-01-01",
    }
    with django_assert_max_num_queries(7):
        filterset = InteractionLogEntryFilterSet(query)
        assert filterset.is_valid()
    with django_assert_max_num_queries(1):
        assert len(list(filterset.qs)) == 1


def test_single_value_is_given_only_for_exactly_one_value(world):
    filterset = InteractionLogEntryFilterSet({"contact": ["A", ""], "campaign": ["X", "Y"]})
    assert filterset.single_value("contact") == "A"
    assert filterset.single_value("campaign") is None
    assert filterset.single_value("salesperson") is None


def test_the_filter_form_keeps_the_company_filter_to_companies(world):
    company = make_company(no="C777")
    person = make_person(company, no="P777")
    assert not InteractionLogEntryFilterSet({"company": person.no}).is_valid()
    assert InteractionLogEntryFilterSet({"company": company.no}).is_valid()


def test_a_date_must_be_written_yyyy_mm_dd_not_another_iso_form(db):
    from interactions.filters import InteractionLogEntryFilterSet
    from interactions.models import InteractionLogEntry

    for value in ("20250101", "2025-W01-1"):
        filterset = InteractionLogEntryFilterSet({"date_after": value}, queryset=InteractionLogEntry.objects.all())
        assert not filterset.is_valid(), value
