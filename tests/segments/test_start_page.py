"""The start page ("/", segments/start_views.py): the user's open segments, what they started that
is still running, and what they logged lately; each section only with its permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from crm.permissions import COMMAND_LINE
from interactions.models import Delivery, DeliveryState, LoggedSegment
from segments import services
from segments.models import JobState, LogJob, MergeJob, MergeOutput, Segment
from tests.conftest import make_user
from tests.factories import make_company

pytestmark = pytest.mark.django_db


def own_segment(user, description: str, contacts: int) -> Segment:
    segment = services.segment_create(user=user, values={"description": description})
    for _ in range(contacts):
        make_company(city=description)
    services.segment_add_contacts(user=user, segment=segment, query=f"city={description}")
    return segment


def test_the_start_page_shows_the_users_work_with_counts_and_progress(marketing, django_assert_max_num_queries):
    mine = own_segment(marketing, "Spring", 3)
    other = own_segment(make_user("marketing", username="otto"), "Autumn", 1)
    MergeJob.objects.create(
        segment=mine,
        segment_no=mine.no,
        output=MergeOutput.PDF,
        state=JobState.RUNNING,
        total=40,
        done=10,
        created_by=marketing,
    )
    MergeJob.objects.create(
        segment=mine,
        segment_no=mine.no,
        output=MergeOutput.PDF,
        state=JobState.FINISHED,
        total=9,
        done=9,
        created_by=marketing,
    )
    LogJob.objects.create(
        segment=mine, segment_no=mine.no, segment_uuid=mine.uuid, state=JobState.QUEUED, lines=3, created_by=marketing
    )
    logged = LoggedSegment.objects.create(
        segment_no="SEG09", source_uuid=other.uuid, description="Winter letters", user=marketing, no_of_interactions=12
    )
    Delivery.objects.create(
        logged_segment=logged, state=DeliveryState.RUNNING, total=12, sent=4, printed=2, created_by=marketing
    )
    client = Client()
    client.force_login(marketing)

    with django_assert_max_num_queries(12):
        page = client.get("/")

    text = " ".join(page.content.decode().split())
    assert page.status_code == 200
    assert f"{mine.no} · Spring" in text and "3 lines" in text
    assert "Autumn" not in text  # another user's segment
    assert "Mail merge of segment" in text and "10 of 40 letters" in text
    assert "9 of 9 letters" not in text  # a finished job is not in progress
    assert f"Log of segment {mine.no}" in text and reverse("segments:log_job", args=[LogJob.objects.get().pk]) in text
    assert f"Delivery {Delivery.objects.get().pk} of logged segment SEG09" in text and "6 of 12" in text
    assert '<progress max="12" value="6"' in text
    assert "SEG09 · Winter letters" in text and "12 interactions" in text
    assert 'nav class="mainnav"' in text


def test_empty_sections_say_what_to_do_next(marketing_client):
    text = " ".join(marketing_client.get("/").content.decode().split())
    assert "You have no open segments." in text and ">Create a segment</a> to choose the contacts" in text
    assert "Nothing of yours is running." in text
    assert "You have not logged a segment yet." in text


def test_each_section_needs_its_permission():
    user = make_user(None, username="reader")
    user.user_permissions.add(Permission.objects.get(codename="view_contact", content_type__app_label="crm"))
    client = Client()
    client.force_login(user)
    page = client.get("/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Your open segments" not in text and "In progress" not in text and "Recently logged" not in text
    assert "Where to begin" in text


def test_logging_in_lands_on_the_start_page_and_anonymous_users_go_to_log_in():
    make_user("viewer", username="vera")
    client = Client()
    assert client.get("/")["Location"].startswith(reverse("login"))
    answer = client.post(reverse("login"), {"username": "vera", "password": "pw-vera"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert "Welcome, vera" in client.get("/").content.decode()


def test_a_segment_made_by_the_command_line_belongs_to_no_one_and_is_not_shown(marketing_client):
    services.segment_create(user=COMMAND_LINE, values={"description": "Batch"})
    assert "Batch" not in marketing_client.get("/").content.decode()
