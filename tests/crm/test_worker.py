"""Task workers in one process (crm.worker, crm.housekeeping): healing of jobs whose worker
stopped, closing of orphaned task rows, the graceful stop of a delivery and of a merge, the
daily housekeeping. The same with real worker processes killed and stopped is in
tests/test_workers.py (RELIABILITY 21, 22)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from crm import worker as crm_worker
from crm.housekeeping import housekeeping
from crm.models import Chore, WorkerProcess
from crm.permissions import COMMAND_LINE
from interactions.delivery import delivery_run, delivery_start
from interactions.models import Delivery, DeliveryItem, DeliveryItemStatus, DeliveryState
from segments import merge
from segments.models import MergeJob, MergeState
from tests.interactions import test_delivery as deliveries
from tests.interactions.smtp_server import running_smtp_server
from tests.segments.merge_world import merge_world

pytestmark = pytest.mark.django_db

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def _database_tasks():
    with override_settings(TASKS=DB_TASKS):
        yield


@pytest.fixture
def stop_flag():
    """The process-wide stop request, cleared again after the test."""
    yield crm_worker.request_stop
    crm_worker._STOP.clear()


def tasks_for(task_name: str, pk: int, status=TaskResultStatus.READY) -> int:
    return sum(
        1
        for row in DBTaskResult.objects.filter(status=status, task_path__endswith=task_name)
        if row.args_kwargs["args"] == [pk]
    )


def queued_delivery(n_persons: int, django_capture_on_commit_callbacks) -> Delivery:
    segment, _contacts = deliveries.build(n_persons=n_persons)
    logged = deliveries.log(segment)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.QUEUED and tasks_for("delivery_task", delivery.pk) == 1
    return delivery


def test_a_delivery_whose_lease_passed_is_requeued_once(django_capture_on_commit_callbacks):
    delivery = queued_delivery(2, django_capture_on_commit_callbacks)
    DBTaskResult.objects.all().delete()  # as if its task had run and its worker died
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.RUNNING, lease_until=now + timedelta(seconds=5))
    assert crm_worker.heal(now)["requeued"] == 0  # its worker still holds it

    Delivery.objects.filter(pk=delivery.pk).update(lease_until=now - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert crm_worker.heal(now)["requeued"] == 1
        assert crm_worker.heal(now)["requeued"] == 0  # a second worker healing finds nothing

    delivery.refresh_from_db()
    assert (delivery.state, delivery.lease_until) == (DeliveryState.QUEUED, None)
    assert tasks_for("delivery_task", delivery.pk) == 1
    assert str(DBTaskResult.objects.get().pk) == delivery.task_id


def test_a_queued_delivery_whose_task_was_lost_gets_a_new_one(django_capture_on_commit_callbacks):
    delivery = queued_delivery(2, django_capture_on_commit_callbacks)
    later = timezone.now() + crm_worker.job_lease() + timedelta(seconds=1)
    assert crm_worker.heal(later)["requeued"] == 0  # its task waits in the queue

    DBTaskResult.objects.all().delete()
    assert crm_worker.heal(timezone.now())["requeued"] == 0  # younger than a lease: its enqueue may be under way
    assert crm_worker.heal(later)["requeued"] == 1
    assert crm_worker.heal(later)["requeued"] == 0
    delivery.refresh_from_db()
    assert tasks_for("delivery_task", delivery.pk) == 1 and str(DBTaskResult.objects.get().pk) == delivery.task_id


def test_a_merge_job_without_a_sign_of_life_is_started_again_through_the_queue(marketing):
    world = merge_world()
    job = MergeJob.objects.create(segment=world.segment, segment_no=world.segment.no, output="docx", total=4)
    now = timezone.now()
    MergeJob.objects.filter(pk=job.pk).update(state=MergeState.RUNNING, done=2, heartbeat_at=now - timedelta(seconds=5))
    assert crm_worker.heal(now)["requeued"] == 0

    later = now + crm_worker.job_lease()
    assert crm_worker.heal(later)["requeued"] == 1
    assert crm_worker.heal(later)["requeued"] == 0
    job.refresh_from_db()
    assert (job.state, job.done, job.heartbeat_at) == (MergeState.QUEUED, 0, None)
    assert tasks_for("merge_job_task", job.pk) == 1 and str(DBTaskResult.objects.get().pk) == job.task_id

    # A queued job whose task is gone gets a new one, once it is older than a lease.
    DBTaskResult.objects.all().delete()
    MergeJob.objects.filter(pk=job.pk).update(created_at=now - crm_worker.job_lease() * 2)
    assert crm_worker.heal(later)["requeued"] == 1
    job.refresh_from_db()
    assert tasks_for("merge_job_task", job.pk) == 1 and str(DBTaskResult.objects.get().pk) == job.task_id


def running_task(worker_id: str) -> DBTaskResult:
    from segments.tasks import merge_job_task

    result = merge_job_task.enqueue(0)
    row = DBTaskResult.objects.get(pk=result.id)
    row.claim(worker_id)
    return row


def test_task_rows_left_running_by_a_stopped_worker_are_closed():
    now = timezone.now()
    WorkerProcess.objects.create(worker_id="gone", started_at=now, seen_at=now - crm_worker.job_lease() * 2)
    WorkerProcess.objects.create(worker_id="alive", started_at=now, seen_at=now)
    orphan, live, unknown = running_task("gone"), running_task("alive"), running_task("plain-db-worker")

    assert crm_worker.heal(now)["closed"] == 1

    orphan.refresh_from_db()
    assert orphan.status == TaskResultStatus.FAILED and orphan.finished_at == now
    assert orphan.exception_class_path == "crm.worker.WorkerLost"
    assert "stopped without finishing it" in orphan.traceback
    assert orphan.task_result.errors[0].exception_class is crm_worker.WorkerLost
    for row in (live, unknown):
        row.refresh_from_db()
        assert row.status == TaskResultStatus.RUNNING
    assert list(WorkerProcess.objects.values_list("pk", flat=True)) == ["alive"]
    assert crm_worker.heal(now)["closed"] == 0


def test_a_stopping_worker_finishes_its_batch_and_hands_the_delivery_back(
    stop_flag, django_capture_on_commit_callbacks
):
    delivery = queued_delivery(249, django_capture_on_commit_callbacks)  # 250 e-mails: three batches
    with running_smtp_server() as smtp, override_settings(MAILERS=smtp.mailers()):
        stop_flag()  # SIGTERM arrived while the first batch is sent
        summary = delivery_run(delivery.pk)

        assert summary == {
            "delivery": delivery.pk,
            "claimed": True,
            "finished": False,
            "handed_back": True,
            "items": {"sent": 100, "pending": 150},
        }
        delivery.refresh_from_db()
        assert (delivery.state, delivery.lease_until, delivery.sent) == (DeliveryState.QUEUED, None, 100)
        items = DeliveryItem.objects.filter(delivery=delivery)
        assert items.filter(status=DeliveryItemStatus.SENT).count() == smtp.count == 100
        assert items.filter(status=DeliveryItemStatus.PENDING).count() == 150
        assert not items.filter(status=DeliveryItemStatus.SENDING).exists()
        assert tasks_for("delivery_task", delivery.pk) == 2  # the first (run here by hand) and the new one
        assert delivery.task_id in {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)}

        crm_worker._STOP.clear()  # the next worker goes on with the pending items
        assert delivery_run(delivery.pk)["finished"] is True
        delivery.refresh_from_db()
        assert (delivery.state, delivery.sent, delivery.failed) == (DeliveryState.FINISHED, 250, 0)
        assert smtp.count == 250 and max(smtp.per_recipient().values()) == 1


def test_a_stopping_worker_hands_a_merge_back_and_keeps_no_partial_file(stop_flag, marketing, monkeypatch):
    world = merge_world()
    monkeypatch.setattr(merge, "PROGRESS_EVERY", 1)
    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")
    assert job.state == MergeState.QUEUED
    stop_flag()

    merge.merge_job_run(job.pk)

    job.refresh_from_db()
    assert (job.state, job.done, job.document) == (MergeState.QUEUED, 0, None)
    assert tasks_for("merge_job_task", job.pk) == 2 and job.task_id
    crm_worker._STOP.clear()
    merge.merge_job_run(job.pk)
    job.refresh_from_db()
    assert job.state == MergeState.FINISHED and job.done == 4 and job.document is not None


def test_the_watch_beats_heals_and_runs_the_housekeeping_once_a_period():
    watch = crm_worker.Watch("w1", beat=1)
    watch.round()
    row = WorkerProcess.objects.get()
    assert row.worker_id == "w1" and row.pid > 0 and row.seen_at == row.started_at
    first = Chore.objects.get(name="housekeeping").last_run_at
    assert first is not None

    watch.round()  # the heartbeat moves on; the housekeeping waits for its period
    row.refresh_from_db()
    assert row.seen_at > row.started_at
    assert Chore.objects.get(name="housekeeping").last_run_at == first
    later = timezone.now() + timedelta(hours=24)
    assert crm_worker.housekeeping_due(later) is True
    assert crm_worker.housekeeping_due(later) is False  # another worker, the same day


def test_housekeeping_removes_old_results_expired_sessions_and_gone_workers():
    now = timezone.now()
    old, recent, waiting = running_task("w"), running_task("w"), running_task("w")
    old.set_successful(None)
    recent.set_failed(RuntimeError("boom"))
    DBTaskResult.objects.filter(pk=old.pk).update(finished_at=now - timedelta(days=15))
    DBTaskResult.objects.filter(pk=waiting.pk).update(status=TaskResultStatus.READY)
    expired, live = SessionStore(), SessionStore()
    expired.create()
    live.create()
    Session.objects.filter(pk=expired.session_key).update(expire_date=now - timedelta(seconds=1))
    WorkerProcess.objects.create(worker_id="old", started_at=now, seen_at=now - timedelta(days=2))
    WorkerProcess.objects.create(worker_id="new", started_at=now, seen_at=now)
    stale = AccessAttempt.objects.create(username="a", ip_address="10.0.0.1", failures_since_start=3, user_agent="x")
    counting = AccessAttempt.objects.create(username="b", ip_address="10.0.0.1", failures_since_start=3, user_agent="y")
    AccessAttempt.objects.filter(pk=stale.pk).update(attempt_time=now - timedelta(minutes=16))
    old_login = AccessLog.objects.create(username="a", ip_address="10.0.0.1", user_agent="x")
    recent_login = AccessLog.objects.create(username="b", ip_address="10.0.0.1", user_agent="x")
    AccessLog.objects.filter(pk=old_login.pk).update(attempt_time=now - timedelta(days=91))

    out = StringIO()
    call_command("housekeeping", stdout=out)

    assert out.getvalue().splitlines()[:5] == [
        "task results: 1 removed",
        "expired sessions: 1 removed",
        "stopped workers: 1 removed",
        "expired log-in failures: 1 removed",
        "old log-in records: 1 removed",
    ]
    assert list(AccessAttempt.objects.values_list("pk", flat=True)) == [counting.pk]
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent_login.pk]
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert list(Session.objects.values_list("pk", flat=True)) == [live.session_key]
    assert list(WorkerProcess.objects.values_list("pk", flat=True)) == ["new"]
    assert housekeeping(now)["task results"] == 0  # nothing left to remove


def test_the_worker_refuses_to_reload():
    with pytest.raises(CommandError, match="--reload is not supported"):
        call_command("worker", "--reload", "--batch")
