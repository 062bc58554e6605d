"""Task workers that heal, stop gracefully and keep the house (RELIABILITY 21, 22).

`manage.py worker` runs django-tasks-db's worker loop (the one of `db_worker`) and adds a watch
thread to each worker process, which every CRM_WORKER_BEAT_SECONDS:

- writes the worker's heartbeat (`WorkerProcess.seen_at`);
- heals (`heal`): each app's job healer (crm.hooks.job_healers) re-queues the jobs whose worker
  stopped — a delivery whose lease passed, a merge job without a sign of life for a lease, a
  queued job whose task was lost — so any live worker takes them over, no click needed; the
  task rows left RUNNING by a worker whose heartbeat stopped are closed as failed (`WorkerLost`);
- once per CRM_HOUSEKEEPING_HOURS across all workers (a `Chore` row claimed by a conditional
  UPDATE), runs the housekeeping (crm.housekeeping).

A SIGTERM (or SIGINT) asks the running task to stop (`stop_requested`): a delivery or a merge
checks it between batches of work, hands what is left back to the queue, records its progress
and returns; the worker then exits. A Log (segments.log_jobs) is one transaction: it runs to its
end before the worker exits. A second signal exits at once (its job heals after a lease).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Model, Q
from django.tasks import TaskResultStatus
from django.utils import timezone
from django.utils.translation import ngettext
from django_tasks_db.management.commands.db_worker import Worker

from . import hooks
from .models import Chore, WorkerProcess

logger = logging.getLogger(__name__)

_STOP = threading.Event()


def stop_requested() -> bool:
    """Whether this process was asked to stop (SIGTERM to its worker): long jobs check it between
    batches and hand the rest of their work back to the queue."""
    return _STOP.is_set()


def request_stop() -> None:
    _STOP.set()


def job_lease() -> timedelta:
    """How long a job's worker may show no sign of life before another worker takes the job over
    (CRM_JOB_LEASE_SECONDS); also how long a silent worker counts as alive."""
    return timedelta(seconds=settings.CRM_JOB_LEASE_SECONDS)


class WorkerLost(Exception):
    """Recorded on a task row whose worker stopped while running it (its job was re-queued)."""


def _uses_database_tasks() -> bool:
    from django.tasks import task_backends
    from django_tasks_db.backend import DatabaseBackend

    return isinstance(task_backends["default"], DatabaseBackend)


def tasks_queued() -> bool:
    """Whether background work goes to a queue for `manage.py worker` (else it runs at once, in
    the process that starts it)."""
    return _uses_database_tasks()


def takeover_delay() -> str | None:
    """How long after its worker stopped a job is taken over by another worker, in words ("2
    minutes"), for the pages; None when no workers run (tasks run immediately in the process
    that started them), so nothing takes a job over by itself."""
    if not _uses_database_tasks():
        return None
    seconds = round(settings.CRM_JOB_LEASE_SECONDS + settings.CRM_WORKER_BEAT_SECONDS)
    if seconds < 120:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    minutes = -(-seconds // 60)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


def pending_task_ids() -> set[str] | None:
    """The ids of the tasks waiting or running in the database queue; None when tasks do not go
    through the database (then nobody can tell whether a task was lost)."""
    if not _uses_database_tasks():
        return None
    from django_tasks_db.models import DBTaskResult

    return {
        str(pk)
        for pk in DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        ).values_list("pk", flat=True)
    }


def job_enqueue(model: type[Model], task, pk: int, *, task_id: str = "task_id") -> Any:
    """Enqueue `task(pk)` and record its id on the job row (column `task_id`); returns the task
    result."""
    result = task.enqueue(pk)
    model.objects.filter(pk=pk).update(**{task_id: str(result.id)[:64]})
    return result


def jobs_heal(
    model: type[Model],
    task,
    now,
    *,
    stale: Q,
    reset: dict[str, Any],
    state: str = "state",
    task_id: str = "task_id",
    created_at: str = "created_at",
) -> int:
    """Start again the jobs of `model` whose worker stopped (what every app's job healer does;
    RELIABILITY 21); returns how many. A running job matching `stale` goes back to "queued"
    (with `reset`) and gets a new task; a queued job older than a lease whose task is no longer
    in the queue (lost between a commit and its enqueue) gets a new task. The job's columns are
    `state`, `task_id` and `created_at` unless named otherwise (a job kept on another row, as a
    delivery's PDF: its `pdf_state`, …). Conditional UPDATEs: two workers healing at once
    restart a job once. Always through the queue, never inline in the healing worker's watch
    thread."""
    healed = 0
    for pk in model.objects.filter(stale).values_list("pk", flat=True):
        with transaction.atomic():
            if model.objects.filter(stale, pk=pk).update(**{state: "queued"}, **reset):
                job_enqueue(model, task, pk, task_id=task_id)
                healed += 1
    pending = pending_task_ids()
    if pending is None:
        return healed
    queued = model.objects.filter(**{state: "queued", f"{created_at}__lt": now - job_lease()})
    for pk, queued_task in queued.exclude(**{f"{task_id}__in": pending}).values_list("pk", task_id):
        with transaction.atomic():
            result = task.enqueue(pk)
            if queued.filter(pk=pk, **{task_id: queued_task}).update(**{task_id: str(result.id)[:64]}):
                healed += 1
            else:  # another worker re-queued it first
                transaction.set_rollback(True)
    return healed


def close_orphaned_tasks(now=None) -> int:
    """Close the task rows left RUNNING by workers whose heartbeat stopped (killed, machine
    gone): each becomes FAILED with `WorkerLost`; then those workers' rows go. Tasks run by a
    worker that never beat (plain `db_worker`) are left alone: nobody can tell they stopped."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    with transaction.atomic():
        gone = set(WorkerProcess.objects.filter(seen_at__lt=now - job_lease()).values_list("pk", flat=True))
        if not gone:
            return 0
        running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list("pk", "worker_ids")
        orphans = [pk for pk, worker_ids in running if worker_ids and worker_ids[-1] in gone]
        closed = DBTaskResult.objects.filter(pk__in=orphans, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=(
                "WorkerLost: the worker running this task stopped without finishing it (no sign of life "
                f"for {settings.CRM_JOB_LEASE_SECONDS} s); its job was handed to another worker.\n"
            ),
        )
        WorkerProcess.objects.filter(pk__in=gone, seen_at__lt=now - job_lease()).delete()
    if closed:
        logger.warning("closed %d task(s) left running by stopped worker(s) %s", closed, ", ".join(sorted(gone)))
    return closed


def heal(now=None) -> dict[str, int]:
    """One round of healing (see the module docstring): jobs re-queued, orphaned task rows
    closed. Safe on many workers at once: every step is a conditional UPDATE."""
    now = now or timezone.now()
    requeued = sum(healer(now) for healer in hooks.job_healers)
    closed = close_orphaned_tasks(now) if _uses_database_tasks() else 0
    if requeued:
        logger.warning("re-queued %d job(s) whose worker stopped", requeued)
    return {"requeued": requeued, "closed": closed}


def housekeeping_due(now=None) -> bool:
    """Claim today's housekeeping for this worker: True for one worker per period."""
    now = now or timezone.now()
    Chore.objects.get_or_create(name="housekeeping")
    period = timedelta(hours=settings.CRM_HOUSEKEEPING_HOURS)
    due = Q(last_run_at__isnull=True) | Q(last_run_at__lte=now - period)
    return bool(Chore.objects.filter(due, name="housekeeping").update(last_run_at=now))


class Watch(threading.Thread):
    """The worker's watch thread: heartbeat, healing and the daily housekeeping, every `beat`
    seconds, on its own database connection (closed after each round)."""

    def __init__(self, worker_id: str, beat: float) -> None:
        super().__init__(name=f"watch-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.beat = beat
        self.stopped = threading.Event()

    def round(self) -> None:
        now = timezone.now()
        if not WorkerProcess.objects.filter(pk=self.worker_id).update(seen_at=now):
            WorkerProcess.objects.update_or_create(
                pk=self.worker_id,
                defaults={"seen_at": now},
                create_defaults={
                    "seen_at": now,
                    "started_at": now,
                    "hostname": socket.gethostname()[:255],
                    "pid": os.getpid(),
                },
            )
        heal(now)
        if housekeeping_due(now):
            from .housekeeping import housekeeping

            logger.info("housekeeping: %s", housekeeping(now))

    def run(self) -> None:
        while True:
            try:
                self.round()
            except Exception:  # the database may be away for a while: try again next round
                logger.exception("worker %s: heartbeat or healing failed", self.worker_id)
            finally:
                close_old_connections()
                connections.close_all()
            if self.stopped.wait(self.beat):
                return


class CrmWorker(Worker):
    """django-tasks-db's worker loop with a watch thread and a graceful stop."""

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        request_stop()
        super().shutdown(signum, frame)

    def run(self) -> None:
        watch = Watch(self.worker_id, settings.CRM_WORKER_BEAT_SECONDS)
        watch.start()
        try:
            super().run()
        finally:
            watch.stopped.set()
            watch.join(timeout=10)
            try:
                WorkerProcess.objects.filter(pk=self.worker_id).delete()
            except Exception:  # noqa: BLE001 - the row goes with the next healing anyway
                logger.warning("worker %s: could not remove its heartbeat row", self.worker_id)
            logger.info("worker %s stopped", self.worker_id)
