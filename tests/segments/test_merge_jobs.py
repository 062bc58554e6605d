"""Merge jobs (segments/merge.py merge_job_start / merge_job_run, segments/tasks.py): always
enqueued through django.tasks (run at once by the immediate backend, by a worker otherwise),
progress, a stored result file, and a failure that stores no file."""

from __future__ import annotations

import datetime
import io
import zipfile
from io import StringIO

import docx
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from crm.permissions import COMMAND_LINE
from interactions.models import Document
from segments import merge, services
from segments.models import MergeJob, MergeState, Segment, SegmentLine
from tests.factories import make_template
from tests.interactions.docx_builders import paragraph_texts
from tests.segments.merge_world import letter_texts, merge_world

pytestmark = pytest.mark.django_db

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def world():
    return merge_world()


def lines_of(world):
    return list(SegmentLine.objects.filter(segment=world.segment).select_related("contact").order_by("line_no"))


def expected_letters(world):
    return [letter_texts(line.contact, world.expected[line.contact.no]) for line in lines_of(world)]


def combined_texts(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


def test_with_immediate_tasks_a_merge_has_finished_on_return_with_the_combined_docx(world, marketing):
    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")

    assert job.state == MergeState.FINISHED and job.task_id != ""
    assert (job.total, job.done, job.error) == (4, 4, "")
    assert job.segment_no == world.segment.no and job.created_by == marketing and job.finished_at is not None
    document = job.document
    assert document.file_name == f"Segment {world.segment.no}.docx"
    data = document.read_bytes()
    assert document.size == len(data)
    assert combined_texts(data) == [text for letter in expected_letters(world) for text in letter]
    assert len(docx.Document(io.BytesIO(data)).sections) == 4


def test_a_zip_merge_stores_one_docx_per_line(world, marketing):
    job = merge.merge_job_start(user=marketing, segment=world.segment, output="zip")

    assert job.state == MergeState.FINISHED
    assert job.document.file_name == f"Segment {world.segment.no}.zip"
    assert job.document.content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(job.document.read_bytes()))
    assert [paragraph_texts(archive.read(name)) for name in archive.namelist()] == expected_letters(world)


@pytest.mark.django_db(transaction=True)  # the worker closes and reopens its connection
def test_on_the_database_backend_even_a_small_merge_waits_for_a_worker(world, marketing):
    """Background work never runs inside the web request in production (issue 12): a merge of
    four lines is queued like one of 30,000."""
    with override_settings(TASKS=DB_TASKS):
        job = merge.merge_job_start(user=marketing, segment=world.segment, output="zip")

        assert job.state == MergeState.QUEUED and job.task_id and job.document is None
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO(), stderr=StringIO())

    job.refresh_from_db()
    assert job.state == MergeState.FINISHED and job.done == 4
    assert len(zipfile.ZipFile(io.BytesIO(job.document.read_bytes())).namelist()) == 4


def test_progress_is_written_as_letters_are_made(world, marketing, monkeypatch):
    monkeypatch.setattr(merge, "PROGRESS_EVERY", 1)
    seen = []
    real = merge._job_progress

    def spy(job_id, done):
        real(job_id, done)
        seen.append(MergeJob.objects.values_list("state", "done").get(pk=job_id))

    monkeypatch.setattr(merge, "_job_progress", spy)

    merge.merge_job_start(user=marketing, segment=world.segment, output="docx")

    assert seen == [(MergeState.RUNNING, n) for n in (1, 2, 3, 4)]


def test_progress_never_touches_a_job_that_is_not_running(world, marketing):
    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    merge._job_progress(job.pk, 1)
    job.refresh_from_db()
    assert job.done == 4 and job.state == MergeState.FINISHED


def test_a_failure_marks_the_job_failed_and_stores_no_file(world, marketing, monkeypatch):
    documents = Document.objects.count()
    real = merge.line_context
    calls = []

    def failing(line, *args, **kwargs):
        calls.append(line)
        if len(calls) == 3:
            raise merge.MergeError("no formal salutation formula, on purpose")
        return real(line, *args, **kwargs)

    monkeypatch.setattr(merge, "line_context", failing)

    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")

    assert job.state == MergeState.FAILED and job.document is None and job.finished_at is not None
    assert job.error == f"line {calls[2].line_no}: no formal salutation formula, on purpose"
    assert Document.objects.count() == documents


def test_an_unexpected_error_is_recorded_too(world, marketing, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(merge, "combine_docx", broken)
    documents = Document.objects.count()

    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")

    assert job.state == MergeState.FAILED and job.error == "The merge failed: RuntimeError: disk full"
    assert Document.objects.count() == documents


def test_a_job_runs_once(world, marketing):
    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    documents = Document.objects.count()

    merge.merge_job_run(job.pk)

    assert Document.objects.count() == documents
    assert MergeJob.objects.get(pk=job.pk).document_id == job.document_id


def test_a_job_whose_segment_is_gone_fails(world, marketing, monkeypatch):
    with override_settings(TASKS=DB_TASKS):
        job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    no = world.segment.no
    Segment.objects.filter(pk=world.segment.pk).delete()

    merge.merge_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == MergeState.FAILED and job.segment_no == no
    assert job.error == f"Segment {no} no longer exists (it was logged or deleted)."


def test_a_job_whose_lines_are_gone_fails(world, marketing, monkeypatch):
    with override_settings(TASKS=DB_TASKS):
        job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    SegmentLine.objects.filter(segment=world.segment).delete()

    merge.merge_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == MergeState.FAILED and job.error == f"{world.segment.no} has no lines to merge."
    assert job.document is None


def test_starting_needs_the_mail_merge_permission(world, viewer):
    with pytest.raises(PermissionDenied):
        merge.merge_job_start(user=viewer, segment=world.segment, output="docx")
    assert not MergeJob.objects.exists()


def test_nothing_starts_when_a_line_has_no_word_document(world, marketing):
    line = lines_of(world)[0]
    services.segment_set_line(
        user=COMMAND_LINE,
        segment=world.segment,
        line_no=line.line_no,
        values={"interaction_template": make_template("NODOC")},
    )

    with pytest.raises(merge.MergeError, match='Interaction template "NODOC" has no Word document for language EN'):
        merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    assert not MergeJob.objects.exists()


def test_a_pdf_without_libreoffice_starts_nothing(world, marketing, monkeypatch, tmp_path):
    from interactions.pdf import PdfError
    from tests.pdf_tools import without_libreoffice

    without_libreoffice(monkeypatch, tmp_path)
    with pytest.raises(PdfError, match=r"Install LibreOffice \(Debian: apt-get install"):
        merge.merge_job_start(user=marketing, segment=world.segment, output="pdf")
    assert not MergeJob.objects.exists()


def test_a_bad_output_or_an_empty_segment_starts_nothing(world, marketing):
    with pytest.raises(merge.MergeError, match="unknown kind"):
        merge.merge_job_start(user=marketing, segment=world.segment, output="odt")
    empty = services.segment_create(user=COMMAND_LINE, values={"description": "Empty"})
    with pytest.raises(merge.MergeError, match="has no lines"):
        merge.merge_job_start(user=marketing, segment=empty, output="docx")
    assert not MergeJob.objects.exists()


# --- A worker that stopped: stalled jobs and restart ------------------------------------------


def stall(job: MergeJob, minutes: int = 5) -> None:
    """What a killed worker leaves: the job running, its last sign of life `minutes` ago."""
    MergeJob.objects.filter(pk=job.pk).update(
        state=MergeState.RUNNING,
        done=2,
        document=None,
        heartbeat_at=timezone.now() - datetime.timedelta(minutes=minutes),
    )
    job.refresh_from_db()


def test_a_running_job_without_a_sign_of_life_is_stalled_and_a_live_one_is_not(world):
    job = merge.merge_job_start(user=COMMAND_LINE, segment=world.segment, output="docx")
    assert job.heartbeat_at is not None and not merge.merge_job_stalled(job)

    stall(job, minutes=1)
    assert not merge.merge_job_stalled(job)
    stall(job, minutes=5)
    assert merge.merge_job_stalled(job)


def test_restart_of_a_stalled_job_makes_every_letter_again(world, marketing):
    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    stall(job)

    restarted = merge.merge_job_restart(user=marketing, job_id=job.pk)

    assert restarted.pk == job.pk and restarted.state == MergeState.FINISHED and restarted.done == 4
    assert combined_texts(restarted.document.read_bytes()) == [
        text for letter in expected_letters(world) for text in letter
    ]


def test_restart_is_refused_for_a_live_finished_or_forbidden_job(world, viewer):
    job = merge.merge_job_start(user=COMMAND_LINE, segment=world.segment, output="docx")

    with pytest.raises(merge.MergeError, match="not stalled"):
        merge.merge_job_restart(user=COMMAND_LINE, job_id=job.pk)  # finished
    stall(job, minutes=1)
    with pytest.raises(merge.MergeError, match="not stalled"):
        merge.merge_job_restart(user=COMMAND_LINE, job_id=job.pk)  # its worker is alive
    stall(job, minutes=5)
    with pytest.raises(PermissionDenied):
        merge.merge_job_restart(user=viewer, job_id=job.pk)
    job.refresh_from_db()
    assert job.state == MergeState.RUNNING and job.document_id is None


def test_the_job_page_offers_restart_for_a_stalled_job_and_the_post_restarts_it(world, marketing_client):
    from django.urls import reverse

    job = merge.merge_job_start(user=COMMAND_LINE, segment=world.segment, output="docx")
    stall(job)
    page = reverse("segments:merge_job", args=[job.pk])

    text = marketing_client.get(page).content.decode()
    assert "Stalled" in text and "Start the merge again" in text
    assert "by itself" not in text  # no workers (tasks run immediately)
    with override_settings(TASKS=DB_TASKS):
        healing = marketing_client.get(page).content.decode()
    assert "A running worker starts it again by itself within 3 minutes" in healing

    response = marketing_client.post(reverse("segments:merge_job_restart", args=[job.pk]))

    assert response.status_code == 302 and response["Location"] == page
    job.refresh_from_db()
    assert job.state == MergeState.FINISHED and job.document_id is not None
    assert "Start the merge again" not in marketing_client.get(page).content.decode()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_lines_are_read_in_whole_chunks_in_line_order(world, size):
    """A merge reads its lines a chunk at a time (no cursor left open across its progress
    writes): every line once, in line order, whatever the chunk size."""
    lines = merge.merge_lines(world.segment)

    assert [line.pk for line in merge._read_in_chunks(lines, size=size)] == [line.pk for line in lines_of(world)]
