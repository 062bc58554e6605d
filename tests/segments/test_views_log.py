"""Log a segment from its worksheet (segments.log_views): SPEC F4 with D7, D8; RELIABILITY 1, 2, 18.

The confirmation states the numbers or every pre-flight problem; the POST logs once and goes to
the logged segment; a replay, a double click or a concurrent log goes to the same logged segment
with "Segment … was already logged by … at …", never a 500 and never a second log.
"""

from __future__ import annotations

import re
import threading
import uuid
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from crm.permissions import COMMAND_LINE
from interactions.models import CampaignEntry, InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import Segment, SegmentLine
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db


def build(n_persons: int = 3, user=COMMAND_LINE, **header) -> Segment:
    """A segment ready to log: a company and `n_persons` persons with a salesperson, a template."""
    salesperson = make_salesperson("ANN")
    template = header.pop("interaction_template", None) or make_template(correspondence_type="")
    company = make_company(salesperson=salesperson, email="info@acme.test")
    for i in range(n_persons):
        make_person(company, salesperson=salesperson, email=f"p{i}@acme.test")
    segment = segment_services.segment_create(
        user=user, values={"description": "Spring mailing", "interaction_template": template, **header}
    )
    segment_services.segment_add_contacts(user=user, segment=segment, query=f"company_no={company.no}")
    return segment


def log_url(segment_or_no) -> str:
    no = segment_or_no if isinstance(segment_or_no, str) else segment_or_no.no
    return reverse("segments:segment_log", args=[no])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    return re.sub(r"\s+", " ", strip_tags(response.content.decode()))


def counts() -> tuple[int, int, int, int]:
    return (
        LoggedSegment.objects.count(),
        InteractionLogEntry.objects.count(),
        CampaignEntry.objects.count(),
        Segment.objects.count(),
    )


@pytest.fixture
def segment(marketing) -> Segment:
    return build(campaign=make_campaign())


# --- The confirmation (GET) ---------------------------------------------------------------------


def test_confirmation_states_what_the_log_creates(marketing_client, segment):
    response = marketing_client.get(log_url(segment))

    assert response.status_code == 200
    assert (
        f"Logging {segment.no} creates 4 interaction log entries and 1 campaign entry and removes the segment "
        "from the worksheet. This cannot be undone (a logged segment can be canceled)."
    ) in text_of(response)
    html = response.content.decode()
    assert f'name="segment_uuid" value="{segment.uuid}"' in html
    assert 'name="follow_up"' in html and "Create follow-up segment" in html
    assert re.search(r'<button type="submit" class="primary">Log ' + segment.no, html)
    assert counts()[0] == 0


def test_confirmation_lists_every_preflight_problem_and_offers_no_log(marketing_client, marketing):
    make_company(no="C1", name="No seller")  # no salesperson
    segment = segment_services.segment_create(user=marketing, values={"description": "Spring"})
    segment_services.segment_add_contacts(user=marketing, segment=segment, query="")
    segment_services.segment_update(user=marketing, segment=segment, values={"description": ""})

    response = marketing_client.get(log_url(segment))

    assert response.status_code == 200
    text = text_of(response)
    assert "cannot be logged until these 4 problems are fixed on the worksheet:" in text
    assert "The segment has no description." in text
    assert "has no description." in text.replace("The segment has no description.", "")
    assert "has no interaction template" in text
    assert "has no salesperson" in text
    assert "Logging" not in text
    assert "<button" not in response.content.decode().split("<main", 1)[1]  # no Log button
    assert 'name="follow_up"' not in response.content.decode()


def test_an_empty_segment_cannot_be_logged(marketing_client, marketing):
    segment = segment_services.segment_create(user=marketing, values={"description": "Empty"})

    response = marketing_client.get(log_url(segment))

    assert "The segment has no lines: add contacts before logging." in text_of(response)


def test_confirmation_is_a_constant_number_of_queries(marketing_client, marketing, django_assert_max_num_queries):
    small = build(n_persons=1)
    with CaptureQueriesContext(connection) as few:
        marketing_client.get(log_url(small))
    big = build(n_persons=29, campaign=make_campaign())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = marketing_client.get(log_url(big))
    assert "creates 30 interaction log entries and 1 campaign entry" in text_of(response)


def test_worksheet_offers_log_to_who_may_log(marketing_client, viewer_client, segment):
    assert log_url(segment) in marketing_client.get(segment.get_absolute_url()).content.decode()
    assert log_url(segment) not in viewer_client.get(segment.get_absolute_url()).content.decode()


def test_the_log_page_of_a_logged_segment_leads_to_it(marketing_client, marketing, segment):
    marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})
    logged = LoggedSegment.objects.get()

    response = marketing_client.get(log_url(segment))

    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert messages_of(response)[-1].startswith(f"Segment {segment.no} was already logged by {marketing.username} at ")


def test_unknown_segment_is_404(marketing_client, db):
    assert marketing_client.get(log_url("SEG99999")).status_code == 404
    assert marketing_client.post(log_url("SEG99999"), {"segment_uuid": str(uuid.uuid4())}).status_code == 404


# --- Logging (POST) -----------------------------------------------------------------------------


def test_log_creates_the_entries_and_goes_to_the_logged_segment(marketing_client, marketing, segment):
    response = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})

    logged = LoggedSegment.objects.get()
    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert messages_of(response) == [f"Logged {segment.no}: 4 interaction log entries, 1 campaign entry."]
    assert logged.user == marketing and logged.segment_no == segment.no
    assert InteractionLogEntry.objects.filter(logged_segment=logged).count() == 4
    assert not Segment.objects.filter(pk=segment.pk).exists()
    page = marketing_client.get(response["Location"])
    assert f"Logged {segment.no}: 4 interaction log entries, 1 campaign entry." in page.content.decode()


def test_log_with_follow_up_names_and_links_the_new_segment(marketing_client, segment):
    response = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid), "follow_up": "on"})

    follow_up = Segment.objects.get()
    assert follow_up.no != segment.no
    assert SegmentLine.objects.filter(segment=follow_up).count() == 4
    (message,) = messages_of(response)
    assert message == (
        f"Logged {segment.no}: 4 interaction log entries, 1 campaign entry. "
        f'Created follow-up segment <a href="{follow_up.get_absolute_url()}">{follow_up.no}</a> with 4 lines.'
    )
    page = marketing_client.get(response["Location"])
    assert f'<a href="{follow_up.get_absolute_url()}">{follow_up.no}</a>' in page.content.decode()


def test_second_post_goes_to_the_same_logged_segment_and_writes_nothing(marketing_client, marketing, segment):
    first = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})
    after_first = counts()

    second = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid), "follow_up": "on"})

    logged = LoggedSegment.objects.get()
    assert second.status_code == 302
    assert second["Location"] == first["Location"] == logged.get_absolute_url()
    message = messages_of(second)[-1]
    assert re.fullmatch(
        rf"Segment {segment.no} was already logged by {marketing.username} at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.",
        message,
    )
    assert counts() == after_first


def test_replay_finds_the_logged_segment_by_its_id_even_when_the_number_is_taken_again(marketing_client, segment):
    first = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})
    Segment.objects.create(no=segment.no, description="Same number, another segment")
    before = counts()

    again = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})

    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert f"Segment {segment.no} was already logged by" in messages_of(again)[-1]
    assert counts() == before


def test_replay_by_another_user_names_who_logged_it(segment, marketing):
    marketing_client = Client()
    marketing_client.force_login(marketing)
    marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})
    other = Client()
    other.force_login(make_user("marketing", username="otto"))

    response = other.post(log_url(segment), {"segment_uuid": str(segment.uuid)})

    assert response.status_code == 302
    assert response["Location"] == LoggedSegment.objects.get().get_absolute_url()
    assert f"was already logged by {marketing.username} at" in messages_of(response)[-1]


def test_preflight_problem_on_post_shows_the_problems_and_writes_nothing(marketing_client, marketing, segment):
    line = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    SegmentLine.objects.filter(pk=line.pk).update(salesperson=None)
    before = counts()

    response = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})

    assert response.status_code == 400
    assert f"Line {line.line_no} has no salesperson." in text_of(response)
    assert "cannot be logged until" in text_of(response)
    assert counts() == before


def test_post_without_the_segment_id_is_refused_and_writes_nothing(marketing_client, segment):
    before = counts()

    response = marketing_client.post(log_url(segment), {"follow_up": "on"})

    assert response.status_code == 400
    assert "did not say which segment to log" in text_of(response)
    assert counts() == before


def test_post_for_another_segment_of_the_same_number_is_refused(marketing_client, segment):
    before = counts()

    response = marketing_client.post(log_url(segment), {"segment_uuid": str(uuid.uuid4())})

    assert response.status_code == 400
    assert f"This page was opened for another segment {segment.no}" in text_of(response)
    assert f'value="{segment.uuid}"' in response.content.decode()
    assert counts() == before


def test_log_is_a_constant_number_of_queries(marketing_client, marketing, django_assert_max_num_queries):
    small = build(n_persons=1)
    with CaptureQueriesContext(connection) as few:
        marketing_client.post(log_url(small), {"segment_uuid": str(small.uuid)})
    big = build(n_persons=29, campaign=make_campaign())
    with django_assert_max_num_queries(len(few.captured_queries) + 2):  # + the campaign entry's rows
        response = marketing_client.post(log_url(big), {"segment_uuid": str(big.uuid)})
    assert messages_of(response)[-1] == f"Logged {big.no}: 30 interaction log entries, 1 campaign entry."


# --- Who may log --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, segment):
    path = log_url(segment)
    for response in (client.get(path), client.post(path, {"segment_uuid": str(segment.uuid)})):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={quote(path)}"
    assert LoggedSegment.objects.count() == 0


def test_viewer_may_not_log(viewer_client, segment):
    assert viewer_client.get(log_url(segment)).status_code == 403
    assert viewer_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)}).status_code == 403
    assert LoggedSegment.objects.count() == 0 and Segment.objects.filter(pk=segment.pk).exists()


def test_admin_may_log(admin_client_crm, segment):
    assert admin_client_crm.get(log_url(segment)).status_code == 200
    assert admin_client_crm.post(log_url(segment), {"segment_uuid": str(segment.uuid)}).status_code == 302
    assert LoggedSegment.objects.count() == 1


def test_log_post_without_csrf_token_is_refused(marketing, segment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketing)
    before = counts()

    response = client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})

    assert response.status_code == 403
    assert counts() == before


# --- Concurrent logs over HTTP (RELIABILITY 1) --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_posts_log_once_and_all_land_on_the_logged_segment():
    user = make_user("marketing", username="mia")
    segment = build(n_persons=49, campaign=make_campaign())
    assert SegmentLine.objects.filter(segment=segment).count() == 50
    clients = []
    for _ in range(8):
        client = Client()
        client.force_login(user)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    responses, errors = [], []

    def post(client):
        try:
            barrier.wait(timeout=30)
            responses.append(client.post(log_url(segment), {"segment_uuid": str(segment.uuid)}))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    logged = LoggedSegment.objects.get()
    assert [response.status_code for response in responses] == [302] * 8
    assert {response["Location"] for response in responses} == {logged.get_absolute_url()}
    texts = sorted(messages_of(response)[-1] for response in responses)
    assert sum(text.startswith(f"Logged {segment.no}: 50 interaction log entries") for text in texts) == 1
    assert sum(f"Segment {segment.no} was already logged by mia at " in text for text in texts) == 7
    assert InteractionLogEntry.objects.count() == 50
    assert CampaignEntry.objects.count() == 1
    assert not Segment.objects.filter(pk=segment.pk).exists()
