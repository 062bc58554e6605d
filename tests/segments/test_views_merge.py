"""Print letters from the worksheet (segments.merge_views): SPEC D9.

The "Print letters" page states the letters and their Word documents or why there are none; the
POST starts a merge job (finished at once when tasks run immediately, queued for a worker otherwise) and goes to the job
page, which polls while the job runs and then offers the download; the download is an attachment
that opens in python-docx with one letter per line. And who may do what.
"""

from __future__ import annotations

import io
import re
import zipfile
from html import unescape
from urllib.parse import quote

import docx
import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from crm.permissions import COMMAND_LINE
from interactions.models import Document
from interactions.ooxml import DOCX_CONTENT_TYPE
from segments import merge
from segments import services as segment_services
from segments.documents import segment_line_document_set
from segments.models import MergeJob, MergeState, Segment, SegmentLine
from segments.services import log as log_services
from tests.conftest import make_user
from tests.factories import attach_word_template, make_company, make_person, make_salesperson, make_template
from tests.interactions.docx_builders import docx_bytes

pytestmark = pytest.mark.django_db

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def build(n_persons: int = 3, *, word: bool = True, paragraphs=None) -> Segment:
    """A segment of a company "Acme" and `n_persons` persons; the template's Word document says
    "Dear <name>" and "Letter for <no>" (none with `word=False`)."""
    salesperson = make_salesperson("ANN")
    template = make_template(code="SPRING", correspondence_type="")
    if word:
        attach_word_template(template, *(paragraphs or ("Dear {{ contact.name }}", "Letter for {{ contact.no }}")))
    company = make_company(name="Acme", salesperson=salesperson)
    for i in range(n_persons):
        make_person(company, name=f"Pat Person{i}", salesperson=salesperson)
    segment = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Spring mailing", "interaction_template": template}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"company_no={company.no}")
    return segment


def merge_url(segment: Segment) -> str:
    return reverse("segments:segment_merge", args=[segment.no])


def job_url(job: MergeJob) -> str:
    return reverse("segments:merge_job", args=[job.pk])


def download_url(job: MergeJob) -> str:
    return reverse("segments:merge_job_download", args=[job.pk])


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", strip_tags(response.content.decode())))


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def state() -> tuple:
    return (
        sorted(map(repr, MergeJob.objects.values_list())),
        Document.objects.count(),
        sorted(map(repr, SegmentLine.objects.values_list())),
    )


def line_names(segment: Segment) -> list[str]:
    return list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("contact__name", flat=True))


def letters_in(data: bytes) -> list[str]:
    """The "Dear …" paragraphs of a combined .docx, in order."""
    document = docx.Document(io.BytesIO(data))
    return [p.text for p in document.paragraphs if p.text.startswith("Dear ")]


# --- The "Print letters" page ---------------------------------------------------------------------


def test_page_states_the_letters_and_their_word_document(marketing_client):
    segment = build(n_persons=3)

    response = marketing_client.get(merge_url(segment))

    assert response.status_code == 200
    text = text_of(response)
    assert "The merge makes 4 letters, one for each line of the worksheet, from this Word document" in text
    (row,) = response.context["plan"].documents
    assert (row.file_name, row.template, row.lines, row.own) == ("SPRING.docx", "SPRING", 4, False)
    html = response.content.decode()
    assert re.search(r'<input type="radio" name="output" value="docx"[^>]*checked', html)
    assert 'value="zip"' in html
    assert re.search(r'<button type="submit" class="primary">Make 4 letters</button>', html)


def test_lines_without_a_word_document_get_the_reason_and_no_button(marketing_client):
    segment = build(n_persons=2, word=False)

    response = marketing_client.get(merge_url(segment))

    text = text_of(response)
    assert "cannot be made until this problem is fixed:" in text
    assert 'Interaction template "SPRING" has no Word document for language (blank) (3 lines)' in text
    assert "<button" not in response.content.decode().split("<main", 1)[1]


def test_an_empty_segment_has_nothing_to_print(marketing_client):
    segment = segment_services.segment_create(user=COMMAND_LINE, values={"description": "Empty"})

    response = marketing_client.get(merge_url(segment))

    assert f"{segment.no} has no lines: add contacts first." in text_of(response)
    assert "<button" not in response.content.decode().split("<main", 1)[1]


def test_a_line_with_its_own_document_is_listed_as_such(marketing_client):
    segment = build(n_persons=1)
    second = SegmentLine.objects.filter(segment=segment).order_by("line_no")[1]
    segment_line_document_set(
        user=COMMAND_LINE,
        segment=segment,
        line_no=second.line_no,
        data=docx_bytes("Dear {{ contact.name }}, personally"),
        file_name="own.docx",
    )

    response = marketing_client.get(merge_url(segment))

    rows = {row.file_name: row for row in response.context["plan"].documents}
    assert rows["own.docx"].own and rows["own.docx"].lines == 1
    assert rows["SPRING.docx"].lines == 1
    assert "line's own" in text_of(response)


def test_page_is_a_constant_number_of_queries(marketing_client, django_assert_max_num_queries):
    small = build(n_persons=1)
    with CaptureQueriesContext(connection) as few:
        marketing_client.get(merge_url(small))
    expected = len(few.captured_queries)
    big = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Big", "interaction_template": small.interaction_template}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=big, query="")
    with django_assert_max_num_queries(expected):
        response = marketing_client.get(merge_url(big))
    assert response.context["plan"].letters == 2


def test_worksheet_offers_print_letters_to_who_may_merge(marketing_client, viewer_client):
    segment = build(n_persons=1)

    assert merge_url(segment) in marketing_client.get(segment.get_absolute_url()).content.decode()
    assert merge_url(segment) not in viewer_client.get(segment.get_absolute_url()).content.decode()


# --- Merging with tasks run immediately (make run) ------------------------------------------------


def test_combined_docx_is_made_at_once_with_one_letter_per_line(marketing_client):
    segment = build(n_persons=3)

    response = marketing_client.post(merge_url(segment), {"output": "docx"})

    job = MergeJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.state, job.total, job.done) == (MergeState.FINISHED, 4, 4)
    assert messages_of(response) == [f"Made 4 letters of {segment.no}: download the file below."]
    page = marketing_client.get(job_url(job))
    assert "Made 4 letters in one .docx, one letter per page." in text_of(page)
    assert "hx-trigger" not in page.content.decode()
    assert f'href="{download_url(job)}"' in page.content.decode()

    download = marketing_client.get(download_url(job))

    assert download.status_code == 200
    assert download["Content-Type"] == DOCX_CONTENT_TYPE
    assert download["Content-Disposition"] == f'attachment; filename="Segment {segment.no}.docx"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert letters_in(download.getvalue()) == [f"Dear {name}" for name in line_names(segment)]


def test_zip_has_one_docx_per_line(marketing_client):
    segment = build(n_persons=2)

    marketing_client.post(merge_url(segment), {"output": "zip"})
    download = marketing_client.get(download_url(MergeJob.objects.get()))

    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"] == f'attachment; filename="Segment {segment.no}.zip"'
    with zipfile.ZipFile(io.BytesIO(download.getvalue())) as archive:
        names = archive.namelist()
        letters = {name: letters_in(archive.read(name)) for name in names}
    assert sorted(names) == ["Acme - Pat Person0.docx", "Acme - Pat Person1.docx", "Acme.docx"]
    assert letters["Acme - Pat Person1.docx"] == ["Dear Pat Person1"]


def test_an_unknown_output_is_refused_and_nothing_is_written(marketing_client):
    segment = build(n_persons=1)
    before = state()

    response = marketing_client.post(merge_url(segment), {"output": "odt"})

    assert response.status_code == 400
    assert "Select a valid choice. odt is not one of the available choices." in text_of(response)
    assert state() == before


def test_a_merge_that_fails_shows_the_reason_and_no_download(marketing_client):
    segment = build(n_persons=1, paragraphs=("{{ salutation_formal }}", "Dear {{ contact.name }}"))

    response = marketing_client.post(merge_url(segment), {"output": "docx"})

    job = MergeJob.objects.get()
    assert job.state == MergeState.FAILED and job.document_id is None
    assert messages_of(response)[0].startswith(f"The merge of {segment.no} failed: line ")
    page = marketing_client.get(job_url(job))
    text = text_of(page)
    assert "The merge failed" in text and "No file was made" in text
    assert "no formal salutation formula" in text
    assert download_url(job) not in page.content.decode()
    assert marketing_client.get(download_url(job)).status_code == 404


def test_the_job_page_outlives_the_segment(marketing_client, marketing):
    segment = build(n_persons=1)
    marketing_client.post(merge_url(segment), {"output": "docx"})
    job = MergeJob.objects.get()
    log_services.segment_log(user=marketing, segment=segment)

    page = marketing_client.get(job_url(job))
    download = marketing_client.get(download_url(job))

    assert page.status_code == 200 and f"Letters of {segment.no}" in text_of(page)
    assert segment.get_absolute_url() not in page.content.decode()
    assert letters_in(download.getvalue()) == ["Dear Acme", "Dear Pat Person0"]


def test_unknown_jobs_are_404(marketing_client):
    assert marketing_client.get(reverse("segments:merge_job", args=[999999])).status_code == 404
    assert marketing_client.get(reverse("segments:merge_job_download", args=[999999])).status_code == 404


def test_a_logged_segment_leads_to_its_logged_segment(marketing_client, marketing):
    segment = build(n_persons=1)
    logged = log_services.segment_log(user=marketing, segment=segment).logged_segment

    response = marketing_client.get(merge_url(segment))

    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()


# --- Merging in the background --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_large_merge_is_queued_polled_and_then_downloaded(marketing_client, monkeypatch):
    segment = build(n_persons=3)
    with override_settings(TASKS=DATABASE_TASKS):
        response = marketing_client.post(merge_url(segment), {"output": "docx"})

        job = MergeJob.objects.get()
        assert job.state == MergeState.QUEUED and job.task_id
        assert response["Location"] == job_url(job)
        assert f"The merge of {segment.no} (4 letters) is queued" in messages_of(response)[0]
        page = marketing_client.get(job_url(job))
        html = page.content.decode()
        assert f'hx-get="{job_url(job)}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
        assert '<progress max="4" value="0"' in html
        assert "0 of 4 letters · 0%" in text_of(page) and "Waiting for a worker" in text_of(page)
        poll = marketing_client.get(job_url(job), headers={"HX-Request": "true"})
        assert poll.content.decode().lstrip().startswith('<div id="merge-progress"')
        assert "<html" not in poll.content.decode()

        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

        poll = marketing_client.get(job_url(job), headers={"HX-Request": "true"})
    html = poll.content.decode()
    assert "hx-trigger" not in html  # finished: the polling stops
    assert "Made 4 letters" in text_of(poll) and f'href="{download_url(job)}"' in html
    assert letters_in(marketing_client.get(download_url(job)).getvalue()) == [
        f"Dear {name}" for name in line_names(segment)
    ]


def test_a_running_job_shows_its_progress(marketing_client, marketing):
    segment = build(n_persons=1)
    job = MergeJob.objects.create(
        segment=segment,
        segment_no=segment.no,
        output="zip",
        state=MergeState.RUNNING,
        total=400,
        done=150,
        heartbeat_at=timezone.now(),
    )

    response = marketing_client.get(job_url(job))

    html = response.content.decode()
    assert '<progress max="400" value="150"' in html
    assert "150 of 400 letters · 37%" in text_of(response) and "Making the letters" in text_of(response)
    assert "hx-trigger" in html


# --- Who may do what -------------------------------------------------------------------------------


@pytest.fixture
def finished(marketing):
    segment = build(n_persons=1)
    merge.merge_job_start(user=marketing, segment=segment, output="docx")
    return segment, MergeJob.objects.get()


def test_anonymous_is_sent_to_login(client, finished):
    segment, job = finished
    for path in (merge_url(segment), job_url(job), download_url(job)):
        for response in (client.get(path), client.post(path, {"output": "docx"})):
            assert response.status_code == 302
            assert response["Location"] == f"{reverse('login')}?next={quote(path)}"


def test_viewer_reads_and_downloads_but_may_not_merge(viewer_client, finished):
    segment, job = finished
    before = state()

    page = viewer_client.get(merge_url(segment))

    assert page.status_code == 200
    assert "<button" not in page.content.decode().split("<main", 1)[1]
    assert "needs the permission to run the Word mail merge" in text_of(page)
    assert viewer_client.get(job_url(job)).status_code == 200
    assert viewer_client.get(download_url(job)).status_code == 200
    assert viewer_client.post(merge_url(segment), {"output": "docx"}).status_code == 403
    assert state() == before


@pytest.mark.parametrize("role", ["marketing", "admin"])
def test_marketing_and_admin_merge(role, finished):
    segment, _job = finished
    client = Client()
    client.force_login(make_user(role, username=f"{role}-2"))

    response = client.post(merge_url(segment), {"output": "zip"})

    assert response.status_code == 302
    assert MergeJob.objects.count() == 2


def test_gets_change_nothing(marketing_client, finished):
    segment, job = finished
    before = state()
    for path in (merge_url(segment), job_url(job), download_url(job)):
        assert marketing_client.get(path).status_code == 200
    assert state() == before


def test_post_without_csrf_token_is_refused(finished):
    segment, _job = finished
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    before = state()

    response = client.post(merge_url(segment), {"output": "docx"})

    assert response.status_code == 403
    assert state() == before


def test_a_user_without_any_role_is_refused(finished):
    segment, job = finished
    client = Client()
    client.force_login(make_user(None, username="nobody"))
    for path in (merge_url(segment), job_url(job), download_url(job)):
        assert client.get(path).status_code == 403
