"""What the background jobs of segments (merge jobs, log jobs) share: a running job is stale
when its heartbeat is older than a job lease. Enqueueing and healing are crm.worker's
(`job_enqueue`, `jobs_heal`), shared with interactions' deliveries.

A job model has `state` ("queued", "running", …), `task_id`, `created_at` and `heartbeat_at`.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Model, Q

from crm.worker import job_enqueue, job_lease
from crm.worker import jobs_heal as _jobs_heal

__all__ = ["job_enqueue", "jobs_heal", "stale_running"]


def stale_running(now: datetime.datetime) -> Q:
    """A running job without a sign of life for a job lease: its worker stopped."""
    return Q(state="running") & (Q(heartbeat_at__lt=now - job_lease()) | Q(heartbeat_at__isnull=True))


def jobs_heal(model: type[Model], task, now: datetime.datetime, reset: dict[str, Any] | None = None) -> int:
    """crm.worker.jobs_heal for a heartbeat job: a stale one goes back to queued without its
    heartbeat (and with `reset`)."""
    return _jobs_heal(model, task, now, stale=stale_running(now), reset={"heartbeat_at": None, **(reset or {})})
