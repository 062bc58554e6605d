"""What the background jobs of segments (merge jobs, log jobs) share: the task id a job
records when enqueued, and the healing of jobs whose worker stopped (a crm.hooks job healer).

A job model has `state` ("queued", "running", …), `task_id`, `created_at` and `heartbeat_at`.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model, Q

from crm.worker import job_lease, pending_task_ids


def stale_running(now: datetime.datetime) -> Q:
    """A running job without a sign of life for a job lease: its worker stopped."""
    return Q(state="running") & (Q(heartbeat_at__lt=now - job_lease()) | Q(heartbeat_at__isnull=True))


def job_enqueue(model: type[Model], task, pk: int) -> Any:
    """Enqueue `task(pk)` and record its id on the job; returns the task result."""
    result = task.enqueue(pk)
    model.objects.filter(pk=pk).update(task_id=str(result.id)[:64])
    return result


def jobs_heal(model: type[Model], task, now: datetime.datetime, reset: dict[str, Any] | None = None) -> int:
    """Start again the jobs of `model` whose worker stopped; returns how many. A running job
    without a sign of life for a lease goes back to queued (with `reset`) and a new task; a
    queued job older than a lease whose task is no longer in the queue gets a new task.
    Conditional UPDATEs: two workers healing at once restart a job once. Always through the
    queue, never inline in the healing worker's watch thread."""
    healed = 0
    for pk in model.objects.filter(stale_running(now)).values_list("pk", flat=True):
        with transaction.atomic():
            stale = model.objects.filter(stale_running(now), pk=pk)
            if stale.update(state="queued", heartbeat_at=None, **(reset or {})):
                job_enqueue(model, task, pk)
                healed += 1
    pending = pending_task_ids()
    if pending is None:
        return healed
    queued = model.objects.filter(state="queued", created_at__lt=now - job_lease())
    for pk, task_id in queued.exclude(task_id__in=pending).values_list("pk", "task_id"):
        with transaction.atomic():
            result = task.enqueue(pk)
            if queued.filter(pk=pk, task_id=task_id).update(task_id=str(result.id)[:64]):
                healed += 1
            else:  # another worker re-queued it first
                transaction.set_rollback(True)
    return healed
