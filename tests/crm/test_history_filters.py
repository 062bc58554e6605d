"""Interaction-history criteria of the QUERY language (CONTRACT.md, SPEC D16).

`campaign`, `interaction_template`, `interaction_date_after` and `interaction_date_before`
test the contact's own non-canceled interaction log entries, and the ones given must hold for
one and the same entry.
"""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from crm.filters import ContactFilterSet
from crm.permissions import COMMAND_LINE
from interactions import services as interaction_services
from interactions.models import InteractionLogEntry
from segments import services as segment_services
from segments.models import CriteriaStep, Segment, SegmentLine, StepAction
from segments.selectors import readable_filter
from tests.factories import make_campaign, make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db

JAN = datetime.date(2026, 1, 15)
MAR = datetime.date(2026, 3, 1)
JUN = datetime.date(2026, 6, 30)


def numbers(query: str) -> list[str]:
    filterset = ContactFilterSet(query)
    assert filterset.is_valid(), filterset.error_lines()
    return sorted(filterset.qs.values_list("no", flat=True))


def errors(query: str) -> list[str]:
    filterset = ContactFilterSet(query)
    assert not filterset.is_valid()
    with pytest.raises(ValidationError):
        filterset.qs  # noqa: B018 - an invalid criterion never selects "all contacts"
    return filterset.error_lines()


def entry(contact, template, date, *, campaign=None, canceled=False) -> InteractionLogEntry:
    return InteractionLogEntry(
        contact=contact,
        contact_company_id=contact.company_id or contact.pk,
        date=date,
        description="Letter",
        interaction_template=template,
        interaction_group_id=template.group_id,
        campaign=campaign,
        canceled=canceled,
    )


@pytest.fixture
def world():
    """Contacts with entries; `a` and `b` have entries that split the criteria between them."""
    spring, autumn = make_campaign(no="SPRING"), make_campaign(no="AUTUMN")
    letter, call = make_template("LETTER"), make_template("CALL")
    acme = make_company(no="C1", name="Acme")
    a = make_person(acme, no="A")
    b = make_person(acme, no="B")
    c = make_person(None, no="C")
    d = make_person(None, no="D")
    make_person(None, no="E")  # no history at all
    InteractionLogEntry.objects.bulk_create(
        [
            entry(a, letter, JAN, campaign=spring),  # A: spring letter in January,
            entry(a, call, JUN),  # and a call without campaign in June
            entry(b, letter, JUN, campaign=spring),  # B: spring letter in June, twice
            entry(b, letter, JUN, campaign=spring),
            entry(c, call, MAR, campaign=autumn),  # C: autumn call in March
            entry(d, letter, MAR, campaign=spring, canceled=True),  # D: canceled only
        ]
    )
    return {"spring": spring, "autumn": autumn, "letter": letter, "call": call, "acme": acme}


# --- each name alone -----------------------------------------------------------------------------


def test_campaign_selects_contacts_with_an_entry_in_it_and_repeats_are_ored(world):
    assert numbers("campaign=SPRING") == ["A", "B"]
    assert numbers("campaign=AUTUMN") == ["C"]
    assert numbers("campaign=SPRING&campaign=AUTUMN") == ["A", "B", "C"]


def test_interaction_template_selects_contacts_with_an_entry_of_it(world):
    assert numbers("interaction_template=CALL") == ["A", "C"]
    assert numbers("interaction_template=LETTER") == ["A", "B"]
    assert numbers("interaction_template=LETTER&interaction_template=CALL") == ["A", "B", "C"]


def test_date_bounds_are_inclusive(world):
    assert numbers("interaction_date_after=2026-03-01") == ["A", "B", "C"]
    assert numbers("interaction_date_after=2026-03-02") == ["A", "B"]
    assert numbers("interaction_date_before=2026-03-01") == ["A", "C"]
    assert numbers("interaction_date_before=2026-02-28") == ["A"]
    assert numbers("interaction_date_after=2026-03-01&interaction_date_before=2026-03-01") == ["C"]


def test_the_history_names_test_the_contacts_own_entries_only(world):
    # The persons of Acme have entries; the company itself has none.
    assert "C1" not in numbers("interaction_date_after=2000-01-01")
    assert numbers("company_no=C1&campaign=SPRING") == ["A", "B"]


# --- one entry satisfies all --------------------------------------------------------------------


def test_campaign_and_date_must_hold_for_the_same_entry(world):
    # A has a spring entry (January) and an entry in June, but no spring entry in June.
    assert numbers("campaign=SPRING&interaction_date_after=2026-06-01") == ["B"]
    assert numbers("campaign=SPRING&interaction_date_before=2026-01-31") == ["A"]


def test_template_and_campaign_must_hold_for_the_same_entry(world):
    # A's call has no campaign and its spring entry is a letter.
    assert numbers("campaign=SPRING&interaction_template=CALL") == []
    assert numbers("campaign=AUTUMN&interaction_template=CALL") == ["C"]


def test_all_four_names_together(world):
    query = (
        "campaign=SPRING&interaction_template=LETTER&interaction_date_after=2026-01-01"
        "&interaction_date_before=2026-01-31"
    )
    assert numbers(query) == ["A"]
    query = "campaign=SPRING&campaign=AUTUMN&interaction_template=CALL&interaction_date_after=2026-02-01"
    assert numbers(query) == ["C"]


def test_history_names_combine_with_the_other_criteria(world):
    assert numbers("type=person&campaign=SPRING&name=nomatch") == []
    assert numbers("no=A&no=C&interaction_template=CALL") == ["A", "C"]
    assert numbers("company_no=C1&interaction_template=CALL") == ["A"]


# --- canceled entries, duplicates -----------------------------------------------------------------


def test_canceled_entries_are_ignored(world):
    assert "D" not in numbers("campaign=SPRING")
    assert "D" not in numbers("interaction_date_after=2026-03-01&interaction_date_before=2026-03-01")
    InteractionLogEntry.objects.filter(contact__no="C").update(canceled=True)
    assert numbers("campaign=AUTUMN") == []
    InteractionLogEntry.objects.filter(contact__no="D").update(canceled=False)
    assert numbers("campaign=SPRING") == ["A", "B", "D"]


def test_an_entry_canceled_through_its_logged_segment_stops_matching():
    template = make_template("LETTER", campaign=make_campaign(no="SPRING"))
    salesperson = make_salesperson("ANN")
    person = make_person(None, no="P", salesperson=salesperson)
    segment = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Spring", "interaction_template": template}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="no=P")
    logged = segment_services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment
    assert numbers("campaign=SPRING&interaction_template=LETTER") == [person.no]

    interaction_services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[logged.pk], canceled=True)

    assert numbers("campaign=SPRING") == []


def test_a_contact_with_several_matching_entries_is_selected_once(world, django_assert_max_num_queries):
    filterset = ContactFilterSet("campaign=SPRING&interaction_template=LETTER")
    assert filterset.is_valid()
    with django_assert_max_num_queries(1):
        rows = list(filterset.qs.values_list("no", flat=True))
    assert sorted(rows) == ["A", "B"]  # B has two matching entries
    assert filterset.qs.count() == 2


def test_validation_and_selection_cost_a_constant_number_of_queries(world, django_assert_max_num_queries):
    query = (
        "campaign=SPRING&campaign=AUTUMN&interaction_template=LETTER&interaction_template=CALL"
        "&interaction_date_after=2026-01-01&interaction_date_before=2026-12-31"
    )
    with django_assert_max_num_queries(3):  # two code checks, one selection
        filterset = ContactFilterSet(query)
        assert filterset.is_valid()
        assert sorted(filterset.qs.values_list("no", flat=True)) == ["A", "B", "C"]


def test_a_single_interaction_counts_like_a_logged_one(world):
    salesperson = make_salesperson("ANN")
    e = make_person(None, no="E2", salesperson=salesperson)
    interaction_services.interaction_create(
        user=COMMAND_LINE,
        contact=e,
        interaction_template=world["call"],
        values={"date": datetime.date(2026, 8, 1), "campaign": world["autumn"]},
    )
    assert numbers("campaign=AUTUMN&interaction_date_after=2026-07-01") == ["E2"]


# --- bad values --------------------------------------------------------------------------------


def test_unknown_codes_are_errors_naming_every_value(world):
    assert errors("campaign=NOSUCH&campaign=SPRING&campaign=OTHER") == [
        'campaign: unknown campaign "NOSUCH"',
        'campaign: unknown campaign "OTHER"',
    ]
    assert errors("interaction_template=NOPE") == ['interaction_template: unknown interaction template "NOPE"']


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("interaction_date_after=2026-13-01", 'interaction_date_after: "2026-13-01" is not a date (use YYYY-MM-DD)'),
        ("interaction_date_before=01-02-2026", 'interaction_date_before: "01-02-2026" is not a date (use YYYY-MM-DD)'),
        ("interaction_date_after=2026-1-5", 'interaction_date_after: "2026-1-5" is not a date (use YYYY-MM-DD)'),
        ("interaction_date_after=yesterday", 'interaction_date_after: "yesterday" is not a date (use YYYY-MM-DD)'),
        (
            "interaction_date_after=2026-01-01&interaction_date_after=2026-02-01",
            "interaction_date_after: give one date, not 2",
        ),
        (
            "interaction_date_after=2026-06-01&interaction_date_before=2026-05-31",
            "interaction_date_before: 2026-05-31 is before interaction_date_after 2026-06-01,"
            " so no date is in the range",
        ),
    ],
)
def test_bad_dates_are_errors_quoting_the_value(world, query, message):
    assert errors(query) == [message]


def test_an_empty_value_is_no_criterion(world):
    assert numbers("campaign=&interaction_date_after=") == ["A", "B", "C", "C1", "D", "E"]


def test_canonical_query_keeps_the_history_names_in_filter_order(world):
    filterset = ContactFilterSet(
        "interaction_date_before=2026-12-31&campaign=SPRING&city=Delft&interaction_template=LETTER"
        "&campaign=AUTUMN&interaction_date_after=2026-01-01"
    )
    assert filterset.canonical_query() == (
        "city=Delft&campaign=SPRING&campaign=AUTUMN&interaction_template=LETTER"
        "&interaction_date_after=2026-01-01&interaction_date_before=2026-12-31"
    )


def test_readable_filter_shows_the_history_names_with_labels():
    text = readable_filter("campaign=SPRING&interaction_template=LETTER&interaction_date_after=2026-01-01")
    assert text == "Campaign: SPRING · Interaction template: LETTER · Interaction on or after: 2026-01-01"
    assert readable_filter("interaction_date_before=2026-12-31") == "Interaction on or before: 2026-12-31"


# --- segments ------------------------------------------------------------------------------------


def new_segment() -> Segment:
    return segment_services.segment_create(user=COMMAND_LINE, values={"description": "History"})


def line_numbers(segment) -> list[str]:
    return sorted(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True))


def test_an_add_step_with_a_history_filter(world):
    segment = new_segment()

    result = segment_services.segment_add_contacts(
        user=COMMAND_LINE, segment=segment, query="interaction_date_after=2026-06-01&campaign=SPRING"
    )

    assert result.added == 1
    assert line_numbers(segment) == ["B"]  # once, although B has two matching entries
    step = CriteriaStep.objects.get(segment=segment)
    assert step.filter == "campaign=SPRING&interaction_date_after=2026-06-01"
    assert segment_services.segment_count(segment=segment, action=StepAction.ADD, query="campaign=SPRING") == 1


def test_reduce_and_refine_with_history_filters(world):
    segment = new_segment()
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="type=person")
    assert line_numbers(segment) == ["A", "B", "C", "D", "E"]

    segment_services.segment_remove_contacts(
        user=COMMAND_LINE, segment=segment, action=StepAction.REDUCE, query="interaction_template=CALL"
    )
    assert line_numbers(segment) == ["B", "D", "E"]
    segment_services.segment_remove_contacts(
        user=COMMAND_LINE, segment=segment, action=StepAction.REFINE, query="campaign=SPRING"
    )
    assert line_numbers(segment) == ["B"]  # D's spring entry is canceled


def test_a_bad_history_value_writes_nothing(world):
    segment = new_segment()
    with pytest.raises(ValidationError) as excinfo:
        segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="campaign=NOSUCH")
    assert excinfo.value.messages == ['campaign: unknown campaign "NOSUCH"']
    assert not SegmentLine.objects.filter(segment=segment).exists()
    assert not CriteriaStep.objects.filter(segment=segment).exists()


def test_saved_criteria_with_history_filters_replay_on_current_history(world):
    source = new_segment()
    segment_services.segment_add_contacts(
        user=COMMAND_LINE, segment=source, query="campaign=SPRING&interaction_template=LETTER"
    )
    segment_services.segment_remove_contacts(
        user=COMMAND_LINE, segment=source, action=StepAction.REDUCE, query="interaction_date_before=2026-01-31"
    )
    assert line_numbers(source) == ["B"]
    segment_services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="SPRINGLATE")

    target = new_segment()
    segment_services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="SPRINGLATE")
    assert line_numbers(target) == ["B"]

    # The criteria are replayed on the history as it is now: C's entry joins the campaign.
    InteractionLogEntry.objects.filter(contact__no="C").update(campaign=world["spring"], interaction_template="LETTER")
    again = new_segment()
    segment_services.segment_reuse_criteria(user=COMMAND_LINE, segment=again, code="SPRINGLATE")
    assert line_numbers(again) == ["B", "C"]


def test_segment_count_command_takes_history_filters(world):
    segment = new_segment()
    out, err = StringIO(), StringIO()
    call_command("segment", "count", segment.no, "--filter", "campaign=SPRING", stdout=out, stderr=err)
    assert out.getvalue() == "2\n"

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "segment", "count", segment.no, "--filter", "interaction_date_after=2026-02-30", stdout=out, stderr=err
        )
    assert excinfo.value.returncode == 1
    assert 'interaction_date_after: "2026-02-30" is not a date (use YYYY-MM-DD)' in err.getvalue()


# --- pages ---------------------------------------------------------------------------------------


def test_contact_list_offers_the_history_criteria_with_date_boxes(world, viewer_client):
    response = viewer_client.get(reverse("crm:contact_list"))
    html = response.content.decode()
    assert "Interaction history" in html
    assert '<input type="date" name="interaction_date_after"' in html
    assert '<input type="date" name="interaction_date_before"' in html
    assert 'name="campaign"' in html and 'name="interaction_template"' in html


def test_contact_list_filters_by_history_and_keeps_the_values(world, viewer_client):
    response = viewer_client.get(
        reverse("crm:contact_list"), {"campaign": "SPRING", "interaction_date_after": "2026-06-01"}
    )
    assert response.status_code == 200
    assert [contact.no for contact in response.context["page_obj"].object_list] == ["B"]
    html = response.content.decode()
    assert 'value="2026-06-01"' in html
    labels = [chip["label"] for chip in response.context["active_filters"]]
    assert [str(label) for label in labels] == ["Campaign", "Interaction on or after"]


def test_contact_list_reports_a_bad_date(world, viewer_client):
    response = viewer_client.get(reverse("crm:contact_list"), {"interaction_date_before": "2026-02-30"})
    assert response.status_code == 400
    assert response.context["filter_errors"] == ['interaction_date_before: "2026-02-30" is not a date (use YYYY-MM-DD)']


def test_segment_criteria_panel_groups_the_history_criteria(world, marketing_client):
    segment = new_segment()
    response = marketing_client.get(reverse("segments:segment_detail", args=[segment.no]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Interaction history" in html
    assert 'type="date" name="interaction_date_after"' in html
