"""Logged segments pages (interactions.views.logged_segments): SPEC F5, R50, R52; RELIABILITY 18.

Every page and action: what it shows or writes, the message with numbers, the error paths
(nothing written), constant query counts, and who may do it.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import strip_tags

from crm.permissions import COMMAND_LINE
from interactions import services
from interactions.models import CampaignEntry, InteractionComment, InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import Segment, SegmentLine
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db


def log_segment(n_persons: int = 3, *, user=COMMAND_LINE, campaigns: int = 1, description: str = "Spring mailing"):
    """Log a segment of a company and `n_persons` persons; lines spread over `campaigns` campaigns."""
    salesperson = make_salesperson("ANN")
    company = make_company(salesperson=salesperson)
    for _i in range(n_persons):
        make_person(company, salesperson=salesperson)
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={"description": description, "interaction_template": make_template(correspondence_type="")},
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"company_no={company.no}")
    lines = list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("pk", flat=True))
    for index in range(campaigns):
        campaign = make_campaign()
        SegmentLine.objects.filter(pk__in=lines[index::campaigns]).update(campaign=campaign)
    return segment_services.segment_log(user=user, segment=segment).logged_segment


def url(name: str, *args) -> str:
    return reverse(f"interactions:{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    return re.sub(r"\s+", " ", strip_tags(response.content.decode()))


def state() -> dict:
    """Every row of the interactions and segments logging tables (compares content, not counts)."""
    models = (LoggedSegment, CampaignEntry, InteractionLogEntry, InteractionComment, Segment, SegmentLine)
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in models}


@pytest.fixture
def logged(marketing) -> LoggedSegment:
    return log_segment(user=marketing)


def bulk_logged_segments(count: int, user) -> None:
    LoggedSegment.objects.bulk_create(
        LoggedSegment(
            segment_no=f"SEG9{index:04d}",
            source_uuid=uuid.uuid4(),
            description=f"Bulk {index}",
            user=user,
            no_of_interactions=1000 + index,
            no_of_campaign_entries=index % 3,
            canceled=index % 2 == 0,
        )
        for index in range(count)
    )


# --- List -----------------------------------------------------------------------------------------


def test_list_shows_the_columns_newest_first(marketing_client, marketing, logged):
    newer = log_segment(user=marketing, description="Autumn mailing", campaigns=2)
    LoggedSegment.objects.filter(pk=logged.pk).update(canceled=True)

    response = marketing_client.get(url("logged_segment_list"))

    assert response.status_code == 200
    rows = list(response.context["page_obj"].object_list)
    assert [row.pk for row in rows] == [newer.pk, logged.pk]
    html = response.content.decode()
    for header in (
        "Canceled",
        "Entry no.",
        "Created",
        "User",
        "Segment no.",
        "Description",
        "No. of interactions",
        "No. of campaign entries",
    ):
        assert f">{header}</th>" in html
    row = re.search(rf'<tr id="logged-segment-{newer.pk}".*?</tr>', html, re.S).group(0)
    cells = [strip_tags(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1:] == [
        "—",
        str(newer.pk),
        timezone.localtime(newer.created_at).strftime("%Y-%m-%d %H:%M"),
        marketing.username,
        newer.segment_no,
        "Autumn mailing",
        "4",
        "2",
    ]
    old_row = re.search(rf'<tr id="logged-segment-{logged.pk}".*?</tr>', html, re.S).group(0)
    assert "Canceled" in old_row


def test_list_shows_the_stored_counts_without_counting_entries(marketing_client, logged):
    LoggedSegment.objects.filter(pk=logged.pk).update(no_of_interactions=123456, no_of_campaign_entries=7)

    response = marketing_client.get(url("logged_segment_list"))

    row = re.search(rf'<tr id="logged-segment-{logged.pk}".*?</tr>', response.content.decode(), re.S).group(0)
    assert "123,456" in row and ">7</td>" in row


def test_list_is_paginated_by_50(marketing_client, marketing):
    bulk_logged_segments(51, marketing)

    first = marketing_client.get(url("logged_segment_list"))
    second = marketing_client.get(url("logged_segment_list"), {"page": 2})

    assert len(first.context["page_obj"].object_list) == 50
    assert "51 logged segments" in text_of(first)
    assert [row.segment_no for row in second.context["page_obj"].object_list] == ["SEG90000"]


def test_list_is_a_constant_number_of_queries(marketing_client, marketing, django_assert_max_num_queries):
    bulk_logged_segments(2, marketing)
    with CaptureQueriesContext(connection) as few:
        marketing_client.get(url("logged_segment_list"))
    others = [make_user("marketing", username=f"user{index}") for index in range(5)]
    for index, user in enumerate(others):
        bulk_logged_segments(6, user)
        LoggedSegment.objects.filter(user=user).update(segment_no=f"SEG8{index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = marketing_client.get(url("logged_segment_list"))
    assert len(response.context["page_obj"].object_list) == 32


def test_empty_list_says_how_to_log(viewer_client):
    assert "No logged segments yet." in text_of(viewer_client.get(url("logged_segment_list")))


def test_list_offers_selection_only_to_who_may_cancel(marketing_client, viewer_client, logged):
    assert 'name="id"' in marketing_client.get(url("logged_segment_list")).content.decode()
    viewer_page = viewer_client.get(url("logged_segment_list")).content.decode()
    assert 'name="id"' not in viewer_page and str(logged.segment_no) in viewer_page


# --- Detail ---------------------------------------------------------------------------------------


def test_detail_shows_facts_campaign_entries_and_the_first_entries(marketing_client, marketing, logged):
    response = marketing_client.get(url("logged_segment_detail", logged.pk))

    assert response.status_code == 200
    text = text_of(response)
    assert f"Logged segment {logged.pk} · {logged.segment_no} · Spring mailing" in text
    assert f"by {marketing.username}" in text
    (campaign_entry,) = CampaignEntry.objects.filter(logged_segment=logged)
    assert campaign_entry.campaign.no in text
    entries = InteractionLogEntry.objects.filter(logged_segment=logged).select_related("contact")
    assert [entry.pk for entry in response.context["first"].entries] == sorted(
        entries.values_list("pk", flat=True), key=lambda pk: entries.get(pk=pk).segment_line_id
    )
    for entry in entries:
        assert entry.contact.name in text
    assert not response.context["first"].has_more
    html = response.content.decode()
    assert url("logged_segment_cancel", logged.pk) in html
    assert url("logged_segment_follow_up", logged.pk) in html
    assert url("logged_segment_delete", logged.pk) not in html  # only once canceled


def test_detail_links_to_the_interaction_log_filtered_by_this_logged_segment(marketing_client, logged):
    response = marketing_client.get(url("logged_segment_detail", logged.pk))

    try:
        expected = f"{reverse('interactions:entry_list')}?logged_segment={logged.pk}"
    except NoReverseMatch:
        expected = None
    assert response.context["entries_url"] == expected
    if expected:
        assert f'href="{expected}"' in response.content.decode()
        assert marketing_client.get(expected).status_code == 200


def test_detail_shows_the_first_25_entries_of_a_big_logged_segment(marketing_client, marketing):
    big = log_segment(n_persons=29, user=marketing)

    response = marketing_client.get(url("logged_segment_detail", big.pk))

    first = response.context["first"]
    assert len(first.entries) == 25 and first.has_more
    assert "the first 25, in line order" in text_of(response)


def test_detail_is_a_constant_number_of_queries(marketing_client, marketing, django_assert_max_num_queries):
    small = log_segment(n_persons=1, user=marketing)
    with CaptureQueriesContext(connection) as few:
        marketing_client.get(url("logged_segment_detail", small.pk))
    big = log_segment(n_persons=29, user=marketing, campaigns=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = marketing_client.get(url("logged_segment_detail", big.pk))
    assert len(response.context["campaign_entries"]) == 3


def test_detail_of_an_unknown_logged_segment_is_404(marketing_client, db):
    assert marketing_client.get(url("logged_segment_detail", 999999)).status_code == 404


def test_viewer_sees_the_detail_without_actions(viewer_client, logged):
    response = viewer_client.get(url("logged_segment_detail", logged.pk))

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("logged_segment_cancel", "logged_segment_follow_up", "logged_segment_delete"):
        assert url(name, logged.pk) not in html


# --- Cancel / uncancel ------------------------------------------------------------------------------


def test_cancel_confirmation_states_the_numbers(marketing_client, logged):
    response = marketing_client.get(url("logged_segment_cancel", logged.pk))

    assert response.status_code == 200
    assert (
        f"Cancel logged segment {logged.pk}: 4 interaction log entries and 1 campaign entry become canceled."
        in text_of(response)
    )
    assert 'name="canceled" value="1"' in response.content.decode()
    assert not LoggedSegment.objects.get(pk=logged.pk).canceled


def test_cancel_cancels_the_logged_segment_and_every_entry(marketing_client, logged):
    response = marketing_client.post(url("logged_segment_cancel", logged.pk), {"canceled": "1"})

    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert messages_of(response) == [
        f"Canceled logged segment {logged.pk} ({logged.segment_no}): 4 interaction log entries and 1 campaign entry "
        "are now canceled."
    ]
    logged.refresh_from_db()
    assert logged.canceled and logged.canceled_at is not None
    assert set(InteractionLogEntry.objects.filter(logged_segment=logged).values_list("canceled", flat=True)) == {True}
    assert set(CampaignEntry.objects.filter(logged_segment=logged).values_list("canceled", flat=True)) == {True}
    page = marketing_client.get(response["Location"])
    assert "Uncancel…" in page.content.decode() and url("logged_segment_delete", logged.pk) in page.content.decode()


def test_sending_the_cancel_twice_does_not_toggle_it_back(marketing_client, logged):
    marketing_client.post(url("logged_segment_cancel", logged.pk), {"canceled": "1"})
    before = state()

    response = marketing_client.post(url("logged_segment_cancel", logged.pk), {"canceled": "1"})

    assert messages_of(response)[-1] == (
        f"Logged segment {logged.pk} ({logged.segment_no}) was already canceled; nothing changed."
    )
    assert state() == before
    assert LoggedSegment.objects.get(pk=logged.pk).canceled


def test_uncancel_confirms_and_restores_every_entry_also_ones_canceled_alone(marketing_client, marketing, logged):
    one = InteractionLogEntry.objects.filter(logged_segment=logged).order_by("pk").first()
    services.logged_segment_set_canceled(user=marketing, ids=[logged.pk], canceled=True)

    page = marketing_client.get(url("logged_segment_cancel", logged.pk))
    assert (
        f"Uncancel logged segment {logged.pk}: 4 interaction log entries and 1 campaign entry become uncanceled."
        in text_of(page)
    )
    assert 'name="canceled" value="0"' in page.content.decode()

    response = marketing_client.post(url("logged_segment_cancel", logged.pk), {"canceled": "0"})

    assert messages_of(response)[-1] == (
        f"Uncanceled logged segment {logged.pk} ({logged.segment_no}): 4 interaction log entries and 1 campaign "
        "entry are no longer canceled."
    )
    assert not InteractionLogEntry.objects.filter(logged_segment=logged, canceled=True).exists()
    one.refresh_from_db()
    assert not one.canceled
    assert LoggedSegment.objects.get(pk=logged.pk).no_of_interactions == 4


def test_cancel_overrides_entries_restored_one_by_one(marketing_client, marketing, logged):
    InteractionLogEntry.objects.filter(logged_segment=logged).update(canceled=False)
    first = InteractionLogEntry.objects.filter(logged_segment=logged).order_by("pk").first()
    services.interactions_set_canceled(user=marketing, entry_nos=[first.pk], canceled=True)

    marketing_client.post(url("logged_segment_cancel", logged.pk), {"canceled": "1"})

    assert InteractionLogEntry.objects.filter(logged_segment=logged, canceled=False).count() == 0


def test_cancel_without_a_state_changes_nothing(marketing_client, logged):
    before = state()

    response = marketing_client.post(url("logged_segment_cancel", logged.pk), {"canceled": "maybe"})

    assert response.status_code == 302
    assert "did not say what to do" in messages_of(response)[-1]
    assert state() == before


def test_cancel_of_an_unknown_logged_segment(marketing_client, db):
    assert marketing_client.get(url("logged_segment_cancel", 999999)).status_code == 404
    response = marketing_client.post(url("logged_segment_cancel", 999999), {"canceled": "1"})
    assert response.status_code == 302
    assert messages_of(response)[-1] == 'unknown logged segment "999999"'


# --- Multi-select (R52) ---------------------------------------------------------------------------


def test_selected_take_the_opposite_of_the_first_selected_ones_state(marketing_client, marketing, logged):
    other = log_segment(user=marketing, n_persons=1, campaigns=0)
    services.logged_segment_set_canceled(user=marketing, ids=[other.pk], canceled=True)
    ids = {"id": [str(logged.pk), str(other.pk)]}

    page = marketing_client.get(url("logged_segment_cancel_selected"), ids)

    assert page.status_code == 200
    assert "Cancel 2 logged segments: 6 interaction log entries and 1 campaign entry become canceled." in text_of(page)

    response = marketing_client.post(url("logged_segment_cancel_selected"), {**ids, "canceled": "1"})

    assert response["Location"] == url("logged_segment_list")
    assert messages_of(response)[-1] == (
        "Canceled 2 logged segments: 6 interaction log entries and 1 campaign entry are now canceled. (1 already were.)"
    )
    assert set(LoggedSegment.objects.values_list("canceled", flat=True)) == {True}
    assert not InteractionLogEntry.objects.filter(canceled=False).exists()


def test_selection_starting_with_a_canceled_one_uncancels_all(marketing_client, marketing, logged):
    other = log_segment(user=marketing, n_persons=1, campaigns=0)
    services.logged_segment_set_canceled(user=marketing, ids=[other.pk], canceled=True)
    ids = {"id": [str(other.pk), str(logged.pk)]}

    page = marketing_client.get(url("logged_segment_cancel_selected"), ids)

    assert "Uncancel 2 logged segments: 6 interaction log entries and 1 campaign entry become uncanceled." in text_of(
        page
    )
    marketing_client.post(url("logged_segment_cancel_selected"), {**ids, "canceled": "0"})
    assert set(LoggedSegment.objects.values_list("canceled", flat=True)) == {False}


def test_selection_errors(marketing_client, logged):
    before = state()
    nothing = marketing_client.get(url("logged_segment_cancel_selected"))
    assert nothing.status_code == 302 and "Select the logged segments" in messages_of(nothing)[-1]
    assert marketing_client.get(url("logged_segment_cancel_selected"), {"id": ["999999"]}).status_code == 404
    assert marketing_client.get(url("logged_segment_cancel_selected"), {"id": ["x"]}).status_code == 404
    assert (
        marketing_client.post(url("logged_segment_cancel_selected"), {"id": ["x"], "canceled": "1"}).status_code == 404
    )
    unknown = marketing_client.post(
        url("logged_segment_cancel_selected"), {"id": [str(logged.pk), "999999"], "canceled": "1"}
    )
    assert unknown.status_code == 302 and messages_of(unknown)[-1] == 'unknown logged segment "999999"'
    assert state() == before


def test_selection_confirmation_is_a_constant_number_of_queries(
    marketing_client, marketing, django_assert_max_num_queries
):
    bulk_logged_segments(32, marketing)
    pks = list(LoggedSegment.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as few:
        marketing_client.get(url("logged_segment_cancel_selected"), {"id": pks[:2]})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = marketing_client.get(url("logged_segment_cancel_selected"), {"id": pks[:30]})
    assert len(response.context["rows"]) == 30


# --- Follow-up --------------------------------------------------------------------------------------


def test_follow_up_confirms_then_creates_the_segment(marketing_client, marketing, logged):
    page = marketing_client.get(url("logged_segment_follow_up", logged.pk))
    assert page.status_code == 200
    assert f"A new segment “Follow-up on segment {logged.segment_no}” is created with 4 lines" in text_of(page)
    assert not Segment.objects.exists()

    response = marketing_client.post(url("logged_segment_follow_up", logged.pk))

    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == segment.get_absolute_url()
    assert segment.description == f"Follow-up on segment {logged.segment_no}"
    assert SegmentLine.objects.filter(segment=segment).count() == 4
    assert messages_of(response) == [
        f"Created follow-up segment {segment.no} from logged segment {logged.pk} ({logged.segment_no}) with 4 lines."
    ]


def test_follow_up_of_an_unknown_logged_segment_is_404(marketing_client, db):
    assert marketing_client.get(url("logged_segment_follow_up", 999999)).status_code == 404
    assert marketing_client.post(url("logged_segment_follow_up", 999999)).status_code == 404
    assert not Segment.objects.exists()


# --- Delete -----------------------------------------------------------------------------------------


def test_an_uncanceled_logged_segment_cannot_be_deleted(marketing_client, logged):
    page = marketing_client.get(url("logged_segment_delete", logged.pk))
    assert page.status_code == 200
    assert f"Logged segment {logged.pk} is not canceled, so it cannot be deleted." in text_of(page)
    assert 'type="submit" class="danger"' not in page.content.decode()
    before = state()

    response = marketing_client.post(url("logged_segment_delete", logged.pk))

    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert messages_of(response) == [f"Logged segment {logged.pk} is not canceled: cancel it first, then delete it."]
    assert state() == before


def test_delete_a_canceled_logged_segment_after_confirming(marketing_client, marketing, logged):
    services.logged_segment_set_canceled(user=marketing, ids=[logged.pk], canceled=True)
    entry = InteractionLogEntry.objects.filter(logged_segment=logged).first()
    services.interaction_comment_add(user=marketing, entry=entry, comment="Called back")

    page = marketing_client.get(url("logged_segment_delete", logged.pk))
    assert (
        f"Delete logged segment {logged.pk}: 4 interaction log entries (with 1 comment) and 1 campaign entry "
        "are deleted." in text_of(page)
    )

    response = marketing_client.post(url("logged_segment_delete", logged.pk))

    assert response.status_code == 302 and response["Location"] == url("logged_segment_list")
    assert messages_of(response) == [
        f"Deleted logged segment {logged.pk} ({logged.segment_no}) with 4 interaction log entries and 1 campaign entry."
    ]
    assert not LoggedSegment.objects.exists()
    assert not InteractionLogEntry.objects.exists() and not CampaignEntry.objects.exists()
    assert not InteractionComment.objects.exists()

    again = marketing_client.post(url("logged_segment_delete", logged.pk))
    assert again.status_code == 302 and again["Location"] == url("logged_segment_list")
    assert "does not exist (it may have been deleted already)" in messages_of(again)[-1]


def test_delete_page_of_an_unknown_logged_segment_is_404(marketing_client, db):
    assert marketing_client.get(url("logged_segment_delete", 999999)).status_code == 404


# --- Who may do what (RELIABILITY 18) -------------------------------------------------------------

GETS = [
    ("logged_segment_list", False, "interactions.view_loggedsegment"),
    ("logged_segment_detail", True, "interactions.view_loggedsegment"),
    ("logged_segment_cancel", True, "interactions.change_loggedsegment"),
    ("logged_segment_follow_up", True, "segments.add_segment"),
    ("logged_segment_delete", True, "interactions.delete_loggedsegment"),
]
POSTS = [
    ("logged_segment_cancel", True, {"canceled": "1"}),
    ("logged_segment_cancel_selected", False, {"canceled": "1"}),
    ("logged_segment_follow_up", True, {}),
    ("logged_segment_delete", True, {}),
]


def path_of(name: str, with_pk: bool, logged: LoggedSegment) -> str:
    return url(name, logged.pk) if with_pk else url(name)


@pytest.mark.parametrize(("name", "with_pk", "_perm"), GETS, ids=[g[0] for g in GETS])
def test_anonymous_is_sent_to_login(client, logged, name, with_pk, _perm):
    path = path_of(name, with_pk, logged)
    for response in (client.get(path), client.post(path, {"canceled": "1", "id": [logged.pk]})):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={quote(path)}"


@pytest.mark.parametrize(("name", "with_pk", "perm"), GETS, ids=[g[0] for g in GETS])
def test_viewer_reads_but_may_not_act(viewer_client, logged, name, with_pk, perm):
    response = viewer_client.get(path_of(name, with_pk, logged))
    assert response.status_code == (200 if perm == "interactions.view_loggedsegment" else 403)


@pytest.mark.parametrize(("name", "with_pk", "data"), POSTS, ids=[p[0] for p in POSTS])
def test_viewer_posts_are_refused_and_write_nothing(viewer_client, marketing, logged, name, with_pk, data):
    services.logged_segment_set_canceled(user=marketing, ids=[logged.pk], canceled=True)
    before = state()

    response = viewer_client.post(path_of(name, with_pk, logged), {**data, "id": [logged.pk]})

    assert response.status_code == 403
    assert state() == before


@pytest.mark.parametrize(("name", "with_pk", "_perm"), GETS, ids=[g[0] for g in GETS])
def test_marketing_opens_every_page(marketing_client, logged, name, with_pk, _perm):
    assert marketing_client.get(path_of(name, with_pk, logged)).status_code == 200


@pytest.mark.parametrize(("name", "with_pk", "data"), POSTS, ids=[p[0] for p in POSTS])
def test_marketing_actions_redirect(marketing_client, marketing, logged, name, with_pk, data):
    if name == "logged_segment_delete":
        services.logged_segment_set_canceled(user=marketing, ids=[logged.pk], canceled=True)
    response = marketing_client.post(path_of(name, with_pk, logged), {**data, "id": [logged.pk]})
    assert response.status_code == 302
    assert get_messages(response.wsgi_request)


@pytest.mark.parametrize(("name", "with_pk", "data"), POSTS, ids=[p[0] for p in POSTS])
def test_posts_without_csrf_token_are_refused(marketing, logged, name, with_pk, data):
    services.logged_segment_set_canceled(user=marketing, ids=[logged.pk], canceled=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    before = state()

    response = client.post(path_of(name, with_pk, logged), {**data, "id": [logged.pk]})

    assert response.status_code == 403
    assert state() == before


def test_a_user_without_any_role_is_refused(logged):
    client = Client()
    client.force_login(make_user(None, username="nobody"))
    assert client.get(url("logged_segment_list")).status_code == 403
    assert client.get(url("logged_segment_detail", logged.pk)).status_code == 403
