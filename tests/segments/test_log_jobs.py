"""A large Log runs as a task (issue 13; segments.log_jobs, segments.log_job_views): above
CRM_LOG_INLINE_LINES the Log page queues a log job and shows its page; a worker logs the segment
with the same one-transaction `segment_log`; the page then leads to the logged segment. One job
per segment, a second log refused, healing of a job whose worker stopped, the heartbeat thread.
"""

from __future__ import annotations

import datetime
import threading
import time
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from crm import hooks
from crm import worker as crm_worker
from interactions.models import Delivery, LoggedSegment
from segments import log_jobs
from segments import services as segment_services
from segments.models import LogJob, LogJobState, Segment
from segments.services import log as log_service
from tests.conftest import _client_for, make_user
from tests.interactions import test_delivery as deliveries
from tests.interactions.log_patch import after_entries
from tests.segments.test_views_log import build, counts, log_url, messages_of, text_of

pytestmark = pytest.mark.django_db

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
BIG = {"CRM_LOG_INLINE_LINES": 2}  # the segments below have 4 lines


@pytest.fixture
def database_tasks():
    with override_settings(TASKS=DB_TASKS, **BIG):
        yield


def job_url(job: LogJob) -> str:
    return reverse("segments:log_job", args=[job.pk])


def log_tasks(job: LogJob) -> int:
    return sum(
        1
        for row in DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path__endswith="log_job_task")
        if row.args_kwargs["args"] == [job.pk]
    )


def post_log(client, segment: Segment, **fields):
    return client.post(log_url(segment), {"segment_uuid": str(segment.uuid), **fields})


def queued_job(client, segment, django_capture_on_commit_callbacks, **fields) -> LogJob:
    with django_capture_on_commit_callbacks(execute=True):
        response = post_log(client, segment, **fields)
    job = LogJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    return job


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO(), stderr=StringIO())


# --- The Log page above the threshold -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the worker closes and reopens its connection
def test_a_big_log_is_queued_then_a_worker_logs_it_and_the_page_leads_to_the_logged_segment(
    marketing_client, marketing, database_tasks
):
    segment = build(n_persons=3)  # a company and 3 persons: 4 lines
    before = counts()

    response = post_log(marketing_client, segment, follow_up="on")

    job = LogJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.state, job.segment_id, job.segment_no, job.lines) == (LogJobState.QUEUED, segment.pk, segment.no, 4)
    assert job.follow_up and not job.deliver and job.created_by == marketing and job.task_id
    assert log_tasks(job) == 1 and counts() == before  # nothing logged in the request
    page = marketing_client.get(job_url(job))
    assert page.status_code == 200 and "Waiting for a worker to log 4 lines" in text_of(page)
    assert "hx-get" in page.content.decode()

    run_worker()

    job.refresh_from_db()
    logged = LoggedSegment.objects.get()
    assert (job.state, job.logged_segment, job.error) == (LogJobState.FINISHED, logged, "")
    assert job.segment_id is None and job.started_at and job.finished_at and job.heartbeat_at
    assert logged.no_of_interactions == 4 and logged.user == marketing
    assert not Segment.objects.filter(pk=segment.pk).exists()
    follow_up = job.follow_up_segment
    assert follow_up is not None and follow_up.lines.count() == 4

    done = marketing_client.get(job_url(job))
    assert done.status_code == 302 and done["Location"] == logged.get_absolute_url()
    assert messages_of(done) == [
        f"Logged {segment.no}: 4 interaction log entries, 0 campaign entries. Created follow-up segment "
        f'<a href="{follow_up.get_absolute_url()}">{follow_up.no}</a> with 4 lines.'
    ]
    polled = marketing_client.get(job_url(job), headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == logged.get_absolute_url()


def test_the_job_page_shows_a_running_log_with_its_start_and_elapsed_time(
    marketing_client, database_tasks, django_capture_on_commit_callbacks
):
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    started = timezone.now() - datetime.timedelta(seconds=65)
    LogJob.objects.filter(pk=job.pk).update(state=LogJobState.RUNNING, started_at=started, heartbeat_at=timezone.now())

    text = text_of(marketing_client.get(job_url(job)))
    partial = marketing_client.get(job_url(job), headers={"HX-Request": "true"}).content.decode()

    at = timezone.localtime(started).strftime("%H:%M:%S")
    assert f"Logging 4 lines, started at {at} (0:01:05 elapsed)" in text
    assert "<progress" in partial and 'id="log-progress"' in partial and "<h1" not in partial
    assert "value=" not in partial.split("<progress", 1)[1].split(">", 1)[0]  # indeterminate


def test_a_second_post_while_queued_goes_to_the_same_job_and_the_segment_is_logged_once(
    marketing_client, admin_client_crm, database_tasks, django_capture_on_commit_callbacks
):
    segment = build(n_persons=3)
    job = queued_job(marketing_client, segment, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        again = post_log(marketing_client, segment)
        other = post_log(admin_client_crm, segment)  # another user

    assert again["Location"] == other["Location"] == job_url(job)
    assert LogJob.objects.count() == 1 and log_tasks(job) == 1

    log_jobs.log_job_run(job.pk)
    log_jobs.log_job_run(job.pk)  # a task delivered twice runs once

    job.refresh_from_db()
    assert job.state == LogJobState.FINISHED and LoggedSegment.objects.count() == 1
    assert LoggedSegment.objects.get().no_of_interactions == 4


def test_the_database_allows_one_unfinished_job_per_segment(marketing, database_tasks):
    segment = build(n_persons=1)
    LogJob.objects.create(segment=segment, segment_no=segment.no, segment_uuid=segment.uuid)
    with pytest.raises(IntegrityError), transaction.atomic():
        LogJob.objects.create(segment=segment, segment_no=segment.no, segment_uuid=segment.uuid)
    LogJob.objects.update(state=LogJobState.FAILED)
    LogJob.objects.create(segment=segment, segment_no=segment.no, segment_uuid=segment.uuid)  # a new try


def test_a_job_whose_segment_was_logged_meanwhile_fails_with_who_logged_it(
    marketing_client, marketing, admin_user, database_tasks, django_capture_on_commit_callbacks
):
    segment = build(n_persons=3)
    job = queued_job(marketing_client, segment, django_capture_on_commit_callbacks)
    segment_services.segment_log(user=admin_user, segment=segment)
    logged = LoggedSegment.objects.get()
    before = counts()

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    when = timezone.localtime(logged.created_at).strftime("%Y-%m-%d %H:%M:%S")
    assert job.state == LogJobState.FAILED and job.logged_segment is None and job.finished_at
    assert job.error == f"Segment {segment.no} was already logged by {admin_user.username} at {when}."
    assert counts() == before
    page = marketing_client.get(job_url(job))
    assert page.status_code == 200 and job.error in text_of(page)
    assert "The Log failed" in text_of(page) and "hx-get" not in page.content.decode()


def test_a_job_of_a_segment_logged_while_it_waited_for_its_claim_fails_the_same_way(
    marketing_client, admin_user, database_tasks, django_capture_on_commit_callbacks
):
    """The job's segment row still there when the job was read, gone at the Log's claim."""
    segment = build(n_persons=3)
    job = queued_job(marketing_client, segment, django_capture_on_commit_callbacks)
    real = log_jobs.segment_log

    def logged_first(**kwargs):
        segment_services.segment_log(user=admin_user, segment=segment)
        return real(**kwargs)

    log_jobs.segment_log = logged_first
    try:
        log_jobs.log_job_run(job.pk)
    finally:
        log_jobs.segment_log = real

    job.refresh_from_db()
    assert job.state == LogJobState.FAILED and "was already logged by" in job.error
    assert LoggedSegment.objects.count() == 1


def test_a_preflight_problem_shows_on_the_log_page_and_queues_nothing(marketing_client, marketing, database_tasks):
    segment = build(n_persons=3)
    segment_services.segment_update(user=marketing, segment=segment, values={"description": ""})
    before = counts()

    response = post_log(marketing_client, segment)

    assert response.status_code == 400
    assert "cannot be logged until" in text_of(response) and "The segment has no description." in text_of(response)
    assert not LogJob.objects.exists() and not DBTaskResult.objects.exists() and counts() == before


def test_a_problem_that_appears_before_the_worker_runs_fails_the_job(
    marketing_client, marketing, database_tasks, django_capture_on_commit_callbacks
):
    segment = build(n_persons=3)
    job = queued_job(marketing_client, segment, django_capture_on_commit_callbacks)
    segment_services.segment_update(user=marketing, segment=segment, values={"description": ""})
    before = counts()

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == LogJobState.FAILED and job.error.startswith("The segment has no description.\n")
    assert counts() == before
    page = text_of(marketing_client.get(job_url(job)))
    assert "Fix it on the worksheet, then log it again" in page


def test_an_unexpected_error_is_recorded_and_the_job_never_stays_running(
    marketing_client, database_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    before = counts()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(log_service, "insert_select", broken)

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == LogJobState.FAILED and job.error == "The Log failed: RuntimeError: disk full"
    assert counts() == before


def test_a_job_whose_user_lost_the_permission_fails_and_logs_nothing(
    marketing_client, marketing, database_tasks, django_capture_on_commit_callbacks
):
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    marketing.groups.clear()
    before = counts()

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == LogJobState.FAILED
    assert job.error == "The Log was refused: segments.log_segment needed" and counts() == before


def test_at_or_below_the_threshold_the_request_logs_as_before(marketing_client, database_tasks):
    segment = build(n_persons=1)  # 2 lines, the threshold

    response = post_log(marketing_client, segment)

    logged = LoggedSegment.objects.get()
    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert not LogJob.objects.exists() and not DBTaskResult.objects.exists()


@pytest.mark.django_db(transaction=True)  # the job's task runs when its commit is done
@override_settings(**BIG)
def test_with_immediate_tasks_the_post_leads_straight_to_the_logged_segment(marketing_client):
    segment = build(n_persons=3)

    response = post_log(marketing_client, segment)

    logged = LoggedSegment.objects.get()
    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert messages_of(response) == [f"Logged {segment.no}: 4 interaction log entries, 0 campaign entries."]
    job = LogJob.objects.get()
    assert job.state == LogJobState.FINISHED and job.logged_segment == logged


def test_a_big_log_with_delivery_leads_to_its_delivery(
    marketing_client, database_tasks, django_capture_on_commit_callbacks
):
    segment, _contacts = deliveries.build(n_persons=3)
    job = queued_job(marketing_client, segment, django_capture_on_commit_callbacks, deliver="on")
    assert job.deliver

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    delivery = Delivery.objects.get()
    assert job.state == LogJobState.FINISHED and job.delivery == delivery and job.delivery_error == ""
    assert delivery.logged_segment == job.logged_segment
    done = marketing_client.get(job_url(job))
    assert done["Location"] == reverse("interactions:delivery_detail", args=[delivery.pk])
    assert messages_of(done)[0].startswith(f"Logged {segment.no}: 4 interaction log entries")


# --- Permissions --------------------------------------------------------------------------------


def test_logging_needs_the_log_permission_and_the_job_page_the_view_permission(
    marketing_client, viewer_client, client, database_tasks, django_capture_on_commit_callbacks
):
    segment = build(n_persons=3)

    assert post_log(viewer_client, segment).status_code == 403
    assert not LogJob.objects.exists() and not DBTaskResult.objects.exists()

    job = queued_job(marketing_client, segment, django_capture_on_commit_callbacks)
    assert viewer_client.get(job_url(job)).status_code == 200
    assert client.get(job_url(job)).status_code == 302  # to the log-in page
    assert _client_for(make_user(None)).get(job_url(job)).status_code == 403


def test_starting_a_job_needs_the_log_permission(viewer, marketing, database_tasks):
    segment = build(n_persons=3)
    with pytest.raises(PermissionDenied):
        log_jobs.log_job_start(user=viewer, segment=segment)
    assert not LogJob.objects.exists()


# --- Healing: a worker that stopped ---------------------------------------------------------------


def test_a_running_job_whose_worker_died_is_queued_again_and_a_lost_task_is_replaced(
    marketing_client, database_tasks, django_capture_on_commit_callbacks
):
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    now = timezone.now()
    DBTaskResult.objects.all().delete()  # its task ran; its worker died inside the Log (rolled back)
    LogJob.objects.filter(pk=job.pk).update(
        state=LogJobState.RUNNING, started_at=now, heartbeat_at=now - datetime.timedelta(seconds=5)
    )
    assert crm_worker.heal(now)["requeued"] == 0  # its heartbeat is fresh: the Log is running
    job.refresh_from_db()
    assert not log_jobs.log_job_stalled(job, now)

    later = now + crm_worker.job_lease()
    assert log_jobs.log_job_stalled(job, later)
    page = text_of(marketing_client.get(job_url(job)))
    assert "Stalled" not in page  # the page's clock is now
    assert crm_worker.heal(later)["requeued"] == 1
    assert crm_worker.heal(later)["requeued"] == 0  # a second worker healing finds nothing
    job.refresh_from_db()
    assert (job.state, job.heartbeat_at, job.started_at) == (LogJobState.QUEUED, None, None)
    assert log_tasks(job) == 1 and str(DBTaskResult.objects.get().pk) == job.task_id

    # A queued job whose task is gone gets a new one, once it is older than a lease.
    DBTaskResult.objects.all().delete()
    assert crm_worker.heal(now)["requeued"] == 0  # too young: its task may be on its way
    LogJob.objects.filter(pk=job.pk).update(created_at=now - crm_worker.job_lease() * 2)
    assert crm_worker.heal(later)["requeued"] == 1
    job.refresh_from_db()
    assert log_tasks(job) == 1 and str(DBTaskResult.objects.get().pk) == job.task_id

    log_jobs.log_job_run(job.pk)
    job.refresh_from_db()
    assert job.state == LogJobState.FINISHED and LoggedSegment.objects.get().no_of_interactions == 4


def test_the_job_page_says_a_stalled_job_is_taken_over(
    marketing_client, database_tasks, django_capture_on_commit_callbacks
):
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    LogJob.objects.filter(pk=job.pk).update(
        state=LogJobState.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )

    text = text_of(marketing_client.get(job_url(job)))

    assert "Stalled" in text and "its Log was rolled back: nothing was logged" in text
    assert "A running worker starts it again by itself within 3 minutes" in text


def test_log_jobs_heal_is_a_registered_job_healer():
    assert log_jobs.log_jobs_heal in hooks.job_healers


@pytest.fixture
def stop_flag():
    yield crm_worker.request_stop
    crm_worker._STOP.clear()


def test_a_stopping_worker_finishes_the_log(
    marketing_client, stop_flag, database_tasks, django_capture_on_commit_callbacks
):
    """A graceful stop (SIGTERM) does not interrupt the Log's one transaction."""
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    stop_flag()

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == LogJobState.FINISHED and LoggedSegment.objects.get().no_of_interactions == 4


# --- The heartbeat while the Log's transaction runs ------------------------------------------------


def slow_log(monkeypatch, seconds: float, seen: list) -> None:
    """The Log sleeps `seconds` inside its transaction, after its entries are inserted; `seen`
    gets the job's heartbeat as the Log's own connection reads it before and after."""

    def hook(_logged):
        seen.append(LogJob.objects.values_list("heartbeat_at", flat=True).get())
        time.sleep(seconds)
        seen.append(LogJob.objects.values_list("heartbeat_at", flat=True).get())

    monkeypatch.setattr(log_service, "insert_select", after_entries(hook))


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection
@override_settings(CRM_JOB_LEASE_SECONDS=0.4, TASKS=DB_TASKS, **BIG)  # a beat every 0.1 s
def test_the_heartbeat_stays_fresh_while_a_slow_log_runs(marketing_client, monkeypatch):
    segment = build(n_persons=3)
    post_log(marketing_client, segment)
    job = LogJob.objects.get()
    seen: list = []
    slow_log(monkeypatch, 0.8, seen)
    threads = threading.active_count()

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == LogJobState.FINISHED and LoggedSegment.objects.get().no_of_interactions == 4
    assert threading.active_count() == threads  # the heartbeat thread stopped with the Log
    if connection.vendor == "sqlite":
        # One writer at a time: the heartbeat waits for the Log's commit, as would any worker
        # healing it, so no one can take the job over meanwhile; it never breaks the Log.
        assert seen[0] == seen[1]
    else:
        assert seen[1] - seen[0] >= datetime.timedelta(seconds=0.5)  # beats seen inside the Log
        assert timezone.now() - seen[1] < crm_worker.job_lease()
    beat = job.heartbeat_at
    time.sleep(0.3)
    job.refresh_from_db()
    assert job.heartbeat_at == beat  # no more beats after the Log


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_on_its_own_connection_until_stopped(marketing):
    segment = build(n_persons=1)
    old = timezone.now() - datetime.timedelta(hours=1)
    job = LogJob.objects.create(
        segment=segment, segment_no=segment.no, segment_uuid=segment.uuid, state=LogJobState.RUNNING, heartbeat_at=old
    )

    with log_jobs._Heartbeat(job.pk, 0.05) as beat:
        time.sleep(0.3)
    job.refresh_from_db()

    assert not beat.is_alive() and job.heartbeat_at > old
    last = job.heartbeat_at
    time.sleep(0.15)
    job.refresh_from_db()
    assert job.heartbeat_at == last


def test_a_worker_that_died_after_the_logs_commit_leaves_a_job_that_only_finishes(
    marketing_client, database_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    """The job's logged segment commits with the Log: its next run does not log again (it would
    fail with "already logged") but finishes the job."""
    job = queued_job(marketing_client, build(n_persons=3), django_capture_on_commit_callbacks)
    with monkeypatch.context() as patch:
        patch.setattr(log_jobs, "_record", lambda *args, **kwargs: None)  # killed right after the commit
        log_jobs.log_job_run(job.pk)
    job.refresh_from_db()
    logged = LoggedSegment.objects.get()
    assert job.state == LogJobState.RUNNING and job.logged_segment == logged

    later = timezone.now() + crm_worker.job_lease() * 2
    assert crm_worker.heal(later)["requeued"] == 1
    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert (job.state, job.logged_segment, job.error) == (LogJobState.FINISHED, logged, "")
    assert LoggedSegment.objects.count() == 1


def test_the_log_page_says_when_a_big_log_will_run_in_the_background(marketing_client):
    segment = build(n_persons=3)  # 4 lines
    background = "logged in the background by a worker"

    with override_settings(TASKS=DB_TASKS, **BIG):
        big = text_of(marketing_client.get(log_url(segment)))
    with override_settings(TASKS=DB_TASKS, CRM_LOG_INLINE_LINES=4):
        small = text_of(marketing_client.get(log_url(segment)))
    with override_settings(**BIG):  # tasks run at once: the POST has logged it when it returns
        immediate = text_of(marketing_client.get(log_url(segment)))

    assert background in big
    assert background not in small and background not in immediate
