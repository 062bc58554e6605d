"""The interaction log pages (SPEC F6, F8): list, entry, comments, single interaction,
statistics, the actions on a selection, and the contact card's interactions."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.permissions import COMMAND_LINE
from interactions import services
from interactions.models import InteractionComment, InteractionLogEntry
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_person, make_salesperson, make_template
from tests.interactions.entry_builders import bulk_entries, logged_company, single

pytestmark = pytest.mark.django_db

LIST = reverse("interactions:entry_list")
CREATE = reverse("interactions:entry_create")
STATISTICS = reverse("interactions:statistics")
CANCEL = reverse("interactions:entry_set_canceled")
EVALUATE = reverse("interactions:entry_evaluate")
DELETE = reverse("interactions:entry_delete_canceled")


def text(response) -> str:
    return response.content.decode()


def detail_url(entry) -> str:
    return reverse("interactions:entry_detail", args=[entry.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def entry_nos(queryset=None) -> list[int]:
    return list((queryset or InteractionLogEntry.objects.all()).order_by("pk").values_list("pk", flat=True))


@pytest.fixture
def logged():
    """A logged segment of a company and two persons (3 entries) with campaign CPSPRING."""
    campaign = make_campaign(no="CPSPRING", description="Spring campaign")
    template = make_template("LETTER", description="Spring letter", correspondence_type="")
    result, contacts = logged_company(2, template=template, campaign=campaign, no="C100", name="Acme Delft")
    return result, contacts


# --- The list -------------------------------------------------------------------------------------


def test_list_shows_entries_newest_first_with_their_count(viewer_client, logged):
    result, contacts = logged

    response = viewer_client.get(LIST)

    assert response.status_code == 200
    page = text(response)
    assert "<strong>3</strong> entries" in page
    rows = response.context["page_obj"].object_list
    assert [e.pk for e in rows] == sorted(entry_nos(), reverse=True)
    assert "Acme Delft" in page and "LETTER" in page and "CPSPRING" in page


def test_list_filters_by_contact_and_shows_the_filter_as_a_chip(viewer_client, logged):
    result, (company, person, _other) = logged

    response = viewer_client.get(LIST, {"contact": person.no})

    assert response.status_code == 200
    assert [e.contact_id for e in response.context["page_obj"].object_list] == [person.pk]
    assert "<strong>1</strong> entry match the filter" in text(response)
    assert f"<strong>Contact no.:</strong> {person.no}" in text(response)


def test_canceled_entries_are_shown_and_marked_by_default(viewer_client, logged):
    first = entry_nos()[0]
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[first], canceled=True)

    page = text(viewer_client.get(LIST))

    assert "<strong>3</strong> entries" in page
    assert page.count('class="canceled"') == 1
    assert '<span class="badge canceled">Canceled</span>' in page
    assert re.search(r'<input type="radio" name="canceled" value=""[^>]* checked>\s*All', page)
    assert "<strong>2</strong> entries" in text(viewer_client.get(LIST, {"canceled": "no"}))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"contact": "NOPE"}, "contact: unknown contact &quot;NOPE&quot;"),
        ({"interaction_template": "NOPE"}, "interaction_template: unknown interaction template &quot;NOPE&quot;"),
        ({"campaign": "CP404"}, "campaign: unknown campaign &quot;CP404&quot;"),
        ({"logged_segment": "abc"}, "logged_segment: &quot;abc&quot; is not a number"),
        ({"date_after": "2026-13-45"}, "date_after: not a date &quot;2026-13-45&quot; (use YYYY-MM-DD)"),
        ({"evaluation": "great"}, "evaluation: unknown value &quot;great&quot;"),
        ({"canceled": "maybe"}, "canceled: unknown value &quot;maybe&quot; (use all, no or yes)"),
        ({"colour": "red"}, "unknown filter name &quot;colour&quot;"),
    ],
)
def test_a_bad_filter_value_is_a_clear_400_without_rows(viewer_client, logged, query, message):
    response = viewer_client.get(LIST, query)

    assert response.status_code == 400
    page = text(response)
    assert "The filter is not valid, so no entries are shown." in page
    assert message in page
    assert "page_obj" not in response.context


def test_htmx_filter_request_gets_only_the_results_and_a_clean_url(viewer_client, logged):
    result, (company, *_persons) = logged

    response = viewer_client.get(
        LIST, {"company": company.no, "contact": ""}, headers={"HX-Request": "true", "HX-Target": "entry-results"}
    )

    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<section id="entry-results"')
    assert "<aside" not in page
    assert response["HX-Push-Url"] == f"{LIST}?company={company.no}"


def test_list_query_count_is_the_same_for_2_and_30_entries(viewer_client, django_assert_max_num_queries):
    template = make_template("CALL")
    salesperson = make_salesperson("ANN")
    company = make_company(salesperson=salesperson)
    person = make_person(company, salesperson=salesperson)
    campaign = make_campaign()
    bulk_entries(2, contact=person, template=template, campaign=campaign)
    single(person, template, description="With a comment")
    services.interaction_comment_add(user=COMMAND_LINE, entry=InteractionLogEntry.objects.first(), comment="Hi")

    with django_assert_max_num_queries(8) as few:
        response = viewer_client.get(LIST, {"company": company.no})
    assert response.status_code == 200
    bulk_entries(27, contact=person, template=template, campaign=campaign)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer_client.get(LIST, {"company": company.no})
    assert response.context["page_obj"].paginator.count == 30


def test_list_is_paginated_by_50_and_a_page_past_the_end_shows_the_last(viewer_client):
    template = make_template()
    contact = make_company()
    bulk_entries(120, contact=contact, template=template)

    first = viewer_client.get(LIST)
    last = viewer_client.get(LIST, {"page": "99"})

    assert len(first.context["page_obj"].object_list) == 50
    assert "Page 1 of 3" in text(first)
    assert last.context["page_obj"].number == 3 and len(last.context["page_obj"].object_list) == 20


def test_viewer_sees_no_action_buttons_and_marketing_does(viewer_client, marketing_client, logged):
    viewer_page = text(viewer_client.get(LIST))
    marketing_page = text(marketing_client.get(LIST))

    assert "Cancel or restore…" not in viewer_page and "Record interaction" not in viewer_page
    assert "Cancel or restore…" in marketing_page and "Delete canceled…" in marketing_page
    assert "Record interaction" in marketing_page


def test_nav_shows_the_interaction_log(viewer_client):
    page = text(viewer_client.get(LIST))
    assert f'<a href="{LIST}" aria-current="page">Interaction Log</a>' in page


@pytest.mark.parametrize(("role", "status"), [("nobody", 403), ("viewer", 200), ("marketing", 200), ("admin", 200)])
def test_list_detail_and_statistics_need_the_view_permission(logged, role, status):
    client = Client()
    client.force_login(make_user(None if role == "nobody" else role))
    entry = InteractionLogEntry.objects.first()

    for url in (LIST, detail_url(entry), STATISTICS):
        assert client.get(url).status_code == status, url


def test_anonymous_users_are_sent_to_the_login_page(client, logged):
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_record_interaction_link_is_pre_filled_from_a_single_contact_filter(marketing_client, logged):
    result, (company, person, _other) = logged

    page = text(marketing_client.get(LIST, {"contact": person.no, "campaign": "CPSPRING"}))

    assert f'href="{CREATE}?contact={person.no}&amp;campaign=CPSPRING">Record interaction</a>' in page


# --- Cancel or restore (R57) -------------------------------------------------------------------------------


def test_cancel_asks_for_confirmation_with_the_numbers_then_cancels(marketing_client, logged):
    first, second, third = entry_nos()

    confirm = marketing_client.post(CANCEL, {"entry": [third, second], "next": LIST})

    assert confirm.status_code == 200
    page = text(confirm)
    assert "Cancel 2 interaction log entries?" in page
    assert f"The first selected entry, <strong>{third}</strong>, is not canceled" in page
    assert not InteractionLogEntry.objects.filter(canceled=True).exists()

    done = marketing_client.post(
        CANCEL, {"entry": [third, second], "canceled": "yes", "confirm": "yes", "next": LIST}, follow=True
    )

    assert done.redirect_chain[-1][0] == LIST
    assert sorted(InteractionLogEntry.objects.filter(canceled=True).values_list("pk", flat=True)) == [second, third]
    assert "Canceled 2 interaction log entries: they stay in the log, marked" in text(done)
    assert text(done).count('class="canceled"') == 2


def test_the_new_state_is_the_opposite_of_the_first_selected_entry(marketing_client, logged):
    first, second, third = entry_nos()
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[second], canceled=True)

    confirm = marketing_client.post(CANCEL, {"entry": [second, third]})
    assert "Restore 2 interaction log entries?" in text(confirm)
    assert "1 is not canceled already and stays so" in text(confirm)

    marketing_client.post(CANCEL, {"entry": [second, third], "canceled": "no", "confirm": "yes"})
    assert not InteractionLogEntry.objects.filter(canceled=True).exists()

    confirm = marketing_client.post(CANCEL, {"entry": [third, second]})
    assert "Cancel 2 interaction log entries?" in text(confirm)


def test_restoring_an_entry_of_a_canceled_logged_segment_is_refused_with_the_reason(marketing_client, logged):
    result, _contacts = logged
    services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[result.logged_segment.pk], canceled=True)
    first = entry_nos()[0]

    response = marketing_client.post(CANCEL, {"entry": [first], "canceled": "no", "confirm": "yes"})

    assert response.status_code == 400
    page = text(response)
    assert "Restoring was refused" in page
    assert (
        f"entry {first}: its logged segment {result.logged_segment.pk} is canceled; restore the logged segment instead."
        in page
    )
    assert InteractionLogEntry.objects.get(pk=first).canceled


def test_cancel_without_a_selection_says_so(marketing_client, logged):
    response = marketing_client.post(CANCEL, {"next": LIST}, follow=True)

    assert "No interaction log entries selected." in text(response)
    assert response.redirect_chain[-1][0] == LIST


def test_cancel_with_an_unknown_or_malformed_entry_no_is_refused(marketing_client, logged):
    response = marketing_client.post(CANCEL, {"entry": ["abc", "999999"]}, follow=True)

    page = text(response)
    assert "entry no.: &quot;abc&quot; is not a number" in page
    assert "unknown interaction log entry &quot;999999&quot;" in page


def test_an_outside_next_address_is_ignored(marketing_client, logged):
    response = marketing_client.post(CANCEL, {"next": "https://evil.example/"})
    assert response["Location"] == LIST


# --- Evaluate (R58) --------------------------------------------------------------------------------------------


def test_evaluate_sets_the_chosen_value_on_the_selected_entries(marketing_client, logged):
    first, second, third = entry_nos()

    response = marketing_client.post(
        EVALUATE, {"entry": [first, third], "evaluation": "positive", "next": LIST}, follow=True
    )

    assert "Evaluated 2 interaction log entries as positive." in text(response)
    evaluations = dict(InteractionLogEntry.objects.values_list("pk", "evaluation"))
    assert evaluations == {first: "positive", second: "", third: "positive"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"evaluation": ""}, "Choose an evaluation for the selected entries."),
        ({"evaluation": "superb"}, "unknown evaluation &quot;superb&quot;"),
        ({"evaluation": "neutral", "entry": []}, "No interaction log entries selected."),
    ],
)
def test_evaluate_with_bad_input_changes_nothing_and_says_why(marketing_client, logged, data, message):
    data = {"entry": entry_nos()[:1], **data}

    response = marketing_client.post(EVALUATE, data, follow=True)

    assert message in text(response)
    assert not InteractionLogEntry.objects.exclude(evaluation="").exists()


# --- Delete canceled (R63) ----------------------------------------------------------------------------------------


def test_delete_canceled_among_the_selection_confirms_the_count_then_deletes_only_canceled(marketing_client, logged):
    first, second, third = entry_nos()
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[first, second], canceled=True)
    services.interaction_comment_add(user=COMMAND_LINE, entry=InteractionLogEntry.objects.get(pk=first), comment="Gone")

    confirm = marketing_client.post(DELETE, {"entry": [first, third]})

    page = text(confirm)
    assert "Among the <strong>2</strong> selected entries" in page
    assert "This deletes <strong>1</strong> canceled entry" in page and "with their 1 comment" in page
    assert "The 1 entry that is not canceled stays." in page
    assert InteractionLogEntry.objects.count() == 3

    done = marketing_client.post(DELETE, {"entry": [first, third], "confirm": "yes", "next": LIST}, follow=True)

    assert entry_nos() == [second, third]
    assert not InteractionComment.objects.exists()
    assert "Deleted 1 interaction log entry with their comments. 1 interaction log entry that are not canceled" in (
        text(done)
    )


def test_delete_canceled_without_a_selection_works_on_the_filter(marketing_client, logged):
    result, (company, person, other) = logged
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=entry_nos(), canceled=True)

    confirm = marketing_client.post(DELETE, {"query": f"contact={person.no}&page=2"})

    page = text(confirm)
    assert "Among the <strong>1</strong> entry matching the filter" in page
    assert f"<strong>Contact no.:</strong> {person.no}" in page

    marketing_client.post(DELETE, {"query": f"contact={person.no}", "confirm": "yes"})

    assert set(InteractionLogEntry.objects.values_list("contact_id", flat=True)) == {company.pk, other.pk}


def test_delete_canceled_with_nothing_canceled_offers_no_button(marketing_client, logged):
    response = marketing_client.post(DELETE, {"entry": entry_nos(), "confirm": "yes"})

    page = text(response)
    assert "Nothing to delete: only canceled entries can be deleted." in page
    assert "Delete 0" not in page
    assert InteractionLogEntry.objects.count() == 3


def test_delete_canceled_with_a_bad_filter_is_refused(marketing_client, logged):
    response = marketing_client.post(DELETE, {"query": "salesperson=NOPE", "confirm": "yes"}, follow=True)

    assert "salesperson: unknown salesperson &quot;NOPE&quot;" in text(response)
    assert InteractionLogEntry.objects.count() == 3


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (CANCEL, {"canceled": "yes", "confirm": "yes"}),
        (EVALUATE, {"evaluation": "positive"}),
        (DELETE, {"confirm": "yes"}),
    ],
)
def test_viewer_cannot_act_on_entries(viewer_client, logged, url, data):
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=entry_nos()[:1], canceled=True)
    before = list(InteractionLogEntry.objects.values_list("pk", "canceled", "evaluation").order_by("pk"))

    response = viewer_client.post(url, {"entry": entry_nos(), **data})

    assert response.status_code == 403
    assert list(InteractionLogEntry.objects.values_list("pk", "canceled", "evaluation").order_by("pk")) == before


@pytest.mark.parametrize("url", [CANCEL, EVALUATE, DELETE])
def test_actions_refuse_get(marketing_client, url):
    assert marketing_client.get(url).status_code == 405


# --- One entry --------------------------------------------------------------------------------------------------


def test_entry_page_shows_every_group_of_fields_and_its_comments(viewer_client, logged):
    result, (company, person, _other) = logged
    entry = InteractionLogEntry.objects.get(contact=person)
    services.interaction_comment_add(user=COMMAND_LINE, entry=entry, comment="Called back on Monday")

    response = viewer_client.get(detail_url(entry))

    page = text(response)
    assert response.status_code == 200
    for heading in ("Interaction", "Contact", "Cost and people", "Campaign and segment", "Delivery", "Comments"):
        assert f"<h2>{heading}</h2>" in page
    assert "Spring letter" in page and person.no in page and "Acme Delft" in page
    assert "CPSPRING – Spring campaign" in page and entry.segment_no in page
    assert "Called back on Monday" in page
    assert "Add comment" not in page  # a viewer cannot comment


def test_entry_page_actions_follow_the_state_and_the_permissions(viewer_client, marketing_client, logged):
    result, _contacts = logged
    entry = InteractionLogEntry.objects.first()
    page = text(marketing_client.get(detail_url(entry)))
    assert "Cancel entry…" in page and "Delete…" not in page and "Add comment" in page
    assert f'href="{reverse("interactions:logged_segment_detail", args=[result.logged_segment.pk])}"' in page

    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[entry.pk], canceled=True)
    page = text(marketing_client.get(detail_url(entry)))
    assert "Restore…" in page and "Delete…" in page
    assert "This entry is canceled: it stays in the log but counts in no statistic." in page
    assert "Restore…" not in text(viewer_client.get(detail_url(entry)))


def test_entry_page_of_an_unknown_entry_is_404(viewer_client):
    assert viewer_client.get(reverse("interactions:entry_detail", args=[987654])).status_code == 404


def test_entry_page_query_count_is_constant(viewer_client, logged, django_assert_max_num_queries):
    entry = InteractionLogEntry.objects.first()
    for i in range(5):
        services.interaction_comment_add(user=make_user("marketing", username=f"u{i}"), entry=entry, comment=f"c{i}")

    with django_assert_max_num_queries(7):
        assert viewer_client.get(detail_url(entry)).status_code == 200


def test_add_a_comment(marketing_client, marketing, logged):
    entry = InteractionLogEntry.objects.first()

    response = marketing_client.post(
        reverse("interactions:entry_comment_add", args=[entry.pk]), {"comment": "  Wants a visit  "}, follow=True
    )

    assert response.redirect_chain[-1][0] == detail_url(entry) + "#comments"
    assert f"Comment added to entry {entry.pk}." in text(response)
    comment = InteractionComment.objects.get(entry=entry)
    assert (comment.comment, comment.created_by) == ("Wants a visit", marketing)


def test_an_empty_comment_is_shown_as_an_error_and_nothing_is_written(marketing_client, logged):
    entry = InteractionLogEntry.objects.first()

    response = marketing_client.post(reverse("interactions:entry_comment_add", args=[entry.pk]), {"comment": "   "})

    assert response.status_code == 400
    assert "Write a comment first." in text(response)
    assert not InteractionComment.objects.exists()


def test_a_viewer_cannot_comment(viewer_client, logged):
    entry = InteractionLogEntry.objects.first()
    response = viewer_client.post(reverse("interactions:entry_comment_add", args=[entry.pk]), {"comment": "x"})
    assert response.status_code == 403
    assert not InteractionComment.objects.exists()


# --- A single interaction (F8 with D13) -----------------------------------------------------------------------------


@pytest.fixture
def contact():
    salesperson = make_salesperson("ANN", name="Ann Seller")
    make_salesperson("BOB", name="Bob Seller")
    make_template("CALL", description="Phone call", unit_cost=Decimal("2.50"), unit_duration=Decimal("10"))
    make_campaign(no="CPAUT", description="Autumn")
    return make_company(no="C200", name="Bolt Berlin", salesperson=salesperson)


def test_the_form_is_pre_filled_from_the_contact(marketing_client, contact):
    response = marketing_client.get(CREATE, {"contact": "C200"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form["contact"].value() == "C200"
    assert form["salesperson"].value() == "ANN"
    assert form["date"].value() == timezone.localdate()
    assert "Record an interaction with C200 · Bolt Berlin" in text(response)


def test_record_an_interaction_with_the_template_defaults(marketing_client, marketing, contact):
    response = marketing_client.post(CREATE, {"contact": "C200", "interaction_template": "CALL", "date": "2026-03-02"})

    entry = InteractionLogEntry.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(entry)
    assert (entry.description, entry.cost, entry.duration) == ("Phone call", Decimal("2.50"), Decimal("10"))
    assert (entry.salesperson_id, entry.date, entry.user) == ("ANN", datetime.date(2026, 3, 2), marketing)
    assert entry.logged_segment_id is None and entry.delivery_status == ""
    page = text(Client.get(marketing_client, response["Location"]))
    assert f"Recorded interaction {entry.pk} with C200 Bolt Berlin: Phone call." in page


def test_record_an_interaction_with_every_field_given(marketing_client, contact):
    marketing_client.post(
        CREATE,
        {
            "contact": "C200",
            "interaction_template": "CALL",
            "description": "Asked for a quote",
            "date": "2026-04-01",
            "salesperson": "BOB",
            "correspondence_type": "none",
            "cost": "0",
            "duration": "25",
            "evaluation": "very_positive",
            "campaign": "CPAUT",
        },
    )

    entry = InteractionLogEntry.objects.select_related("campaign").get()
    assert (entry.description, entry.salesperson_id, entry.correspondence_type) == ("Asked for a quote", "BOB", "")
    assert (entry.cost, entry.duration, entry.evaluation) == (Decimal("0"), Decimal("25"), "very_positive")
    assert entry.campaign.no == "CPAUT" and entry.campaign_entry is not None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"contact": "NOPE"}, "contact", 'unknown contact "NOPE"'),
        ({"contact": ""}, "contact", "Give the number of the contact."),
        ({"interaction_template": ""}, "interaction_template", "Choose an interaction template."),
        ({"cost": "-1"}, "cost", "Ensure this value is greater than or equal to 0."),
        ({"date": "2026-02-30"}, "date", "Use a date (YYYY-MM-DD)."),
        ({"salesperson": "ZED"}, "salesperson", "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_on_its_field_and_nothing_is_recorded(marketing_client, contact, data, field, message):
    values = {"contact": "C200", "interaction_template": "CALL", "date": "2026-03-02", **data}

    response = marketing_client.post(CREATE, values)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert "Nothing was recorded." in text(response)
    assert not InteractionLogEntry.objects.exists()


def test_a_contact_without_salesperson_needs_one_on_the_salesperson_field(marketing_client, contact):
    make_company(no="C300", name="Nobody's")

    response = marketing_client.post(CREATE, {"contact": "C300", "interaction_template": "CALL", "date": "2026-03-02"})

    assert response.status_code == 400
    assert response.context["form"].errors["salesperson"] == ["required (the contact C300 has none; give one)."]
    assert not InteractionLogEntry.objects.exists()


def test_a_viewer_cannot_record_interactions(viewer_client, contact):
    assert viewer_client.get(CREATE).status_code == 403
    response = viewer_client.post(CREATE, {"contact": "C200", "interaction_template": "CALL", "date": "2026-03-02"})
    assert response.status_code == 403
    assert not InteractionLogEntry.objects.exists()


# --- Statistics ---------------------------------------------------------------------------------------------------


def test_statistics_tables_count_cost_and_duration_without_canceled_entries(viewer_client, logged):
    result, (company, person, other) = logged
    canceled = InteractionLogEntry.objects.get(contact=other)
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[canceled.pk], canceled=True)

    response = viewer_client.get(STATISTICS)

    assert response.status_code == 200
    totals = response.context["totals"]
    assert (totals.count, totals.cost, totals.duration) == (2, Decimal("3.00"), Decimal("10.00"))
    tables = {table["by"]: table["rows"] for table in response.context["tables"]}
    assert [(r.key, r.count) for r in tables["template"]] == [("LETTER", 2)]
    assert [(r.key, r.count) for r in tables["campaign"]] == [("CPSPRING", 2)]
    assert len(tables["group"]) == 1 and tables["group"][0].count == 2
    page = text(response)
    assert '<svg class="chart"' in page and "<rect " in page
    assert f"{LIST}?interaction_template=LETTER&amp;canceled=no" in page


def test_statistics_take_the_log_criteria(viewer_client, logged):
    result, (company, person, other) = logged

    response = viewer_client.get(STATISTICS, {"contact": person.no})

    assert response.context["totals"].count == 1
    assert f"{LIST}?contact={person.no}&amp;interaction_template=LETTER&amp;canceled=no" in text(response)


def test_statistics_chart_by_campaign(viewer_client, logged):
    response = viewer_client.get(STATISTICS, {"chart": "campaign"})

    assert response.status_code == 200
    assert [s.label for s in response.context["monthly"].series] == ["CPSPRING"]
    assert "Interactions per month by campaign" in text(response)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"chart": "pie"}, "chart: unknown value &quot;pie&quot; (use template or campaign)"),
        ({"salesperson": "NOPE"}, "salesperson: unknown salesperson &quot;NOPE&quot;"),
        ({"date_after": "2026-05-01", "date_before": "2026-04-01"}, "date_before: is before the date from"),
    ],
)
def test_statistics_with_a_bad_criterion_is_a_clear_400(viewer_client, logged, query, message):
    response = viewer_client.get(STATISTICS, query)

    assert response.status_code == 400
    assert message in text(response)
    assert "totals" not in response.context


def test_statistics_htmx_request_gets_only_the_results(viewer_client, logged):
    response = viewer_client.get(
        STATISTICS, {"chart": "campaign"}, headers={"HX-Request": "true", "HX-Target": "statistics"}
    )

    page = text(response)
    assert page.lstrip().startswith('<section id="statistics"') and "<aside" not in page
    assert "Interactions per month by campaign" in page


def test_statistics_query_count_is_constant(viewer_client, django_assert_max_num_queries):
    salesperson = make_salesperson("ANN")
    for i in range(6):
        template = make_template(f"T{i}")
        bulk_entries(3, contact=make_company(salesperson=salesperson), template=template, campaign=make_campaign())

    # 11, and the unsubscribe rate's GROUP BY and the names of its logged segments
    with django_assert_max_num_queries(13):
        response = viewer_client.get(STATISTICS, {"chart": "campaign"})
    assert response.context["totals"].count == 18


def test_pages_have_no_inline_script_or_style(viewer_client, logged):
    entry = InteractionLogEntry.objects.first()
    for url in (LIST, STATISTICS, detail_url(entry)):
        page = text(viewer_client.get(url))
        assert " style=" not in page and "<style" not in page, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url


# --- The contact card ---------------------------------------------------------------------------------------------


def test_contact_card_lists_the_latest_entries_with_statistics_and_links(marketing_client, logged):
    result, (company, person, other) = logged
    services.interactions_set_canceled(
        user=COMMAND_LINE, entry_nos=[InteractionLogEntry.objects.get(contact=other).pk], canceled=True
    )

    page = text(marketing_client.get(reverse("crm:contact_detail", args=[company.pk])))

    assert "<h2>Interactions</h2>" in page
    assert "2 interactions · cost 3.00 · 10 min." in page
    assert page.count('class="canceled"') == 1  # the canceled one is listed, marked
    assert f'href="{LIST}?company={company.no}">Show all in the interaction log' in page
    assert f'href="{CREATE}?contact={company.no}">Record interaction' in page


def test_person_card_shows_its_own_entries_and_viewer_gets_no_record_button(viewer_client, logged):
    result, (company, person, other) = logged

    response = viewer_client.get(reverse("crm:contact_detail", args=[person.pk]))

    page = text(response)
    assert [e.contact_id for e in response.context["interactions"].latest] == [person.pk]
    assert f'href="{LIST}?contact={person.no}">Show all' in page
    assert "Record interaction" not in page


def test_contact_card_query_count_is_the_same_for_2_and_30_entries(viewer_client, django_assert_max_num_queries):
    template = make_template()
    company = make_company(salesperson=make_salesperson("ANN"))
    person = make_person(company)
    bulk_entries(2, contact=person, template=template, campaign=make_campaign())
    url = reverse("crm:contact_detail", args=[company.pk])

    with django_assert_max_num_queries(20) as few:
        viewer_client.get(url)
    bulk_entries(28, contact=person, template=template, campaign=make_campaign())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer_client.get(url)
    assert len(response.context["interactions"].latest) == 10
    assert response.context["interactions"].totals.count == 30


# --- CSRF -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_url",
    [
        lambda entry: CANCEL,
        lambda entry: EVALUATE,
        lambda entry: DELETE,
        lambda entry: CREATE,
        lambda entry: reverse("interactions:entry_comment_add", args=[entry.pk]),
    ],
    ids=["cancel", "evaluate", "delete", "create", "comment"],
)
def test_state_changing_post_without_csrf_token_is_refused(logged, make_url):
    entry = InteractionLogEntry.objects.first()
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[entry.pk], canceled=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    data = {
        "entry": [entry.pk],
        "confirm": "yes",
        "canceled": "no",
        "evaluation": "positive",
        "comment": "x",
        "contact": entry.contact.no,
        "interaction_template": entry.interaction_template_id,
        "date": "2026-01-01",
    }
    before = list(InteractionLogEntry.objects.values_list().order_by("pk"))

    response = client.post(make_url(entry), data)

    assert response.status_code == 403
    assert list(InteractionLogEntry.objects.values_list().order_by("pk")) == before
    assert not InteractionComment.objects.exists()
