"""Housekeeping (`manage.py housekeeping`, run daily by the workers, crm.worker): what piles up
and is no longer needed goes, in a few set-based DELETEs.

- finished task results (django-tasks-db rows) older than CRM_TASK_RESULTS_KEEP_DAYS;
- expired sessions;
- heartbeat rows of workers gone for a day;
- log-in failures past their cool-off (they no longer count) and records of successful log-ins
  older than CRM_LOGIN_LOG_KEEP_DAYS (django-axes);
- whatever the other apps register (crm.hooks.housekeepers).
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.tasks import TaskResultStatus
from django.utils import timezone

from . import hooks
from .models import WorkerProcess


def task_results_prune(now) -> int:
    from django_tasks_db.models import DBTaskResult

    cutoff = now - timedelta(days=settings.CRM_TASK_RESULTS_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.filter(
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED], finished_at__lt=cutoff
    ).delete()
    return deleted


def sessions_prune(now) -> int:
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        deleted, _ = Session.objects.filter(expire_date__lt=now).delete()
        return deleted
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()  # other engines cannot count
    return 0


def workers_prune(now) -> int:
    deleted, _ = WorkerProcess.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
    return deleted


def login_attempts_prune(now) -> int:
    from axes.models import AccessAttempt

    deleted, _ = AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()
    return deleted


def login_records_prune(now) -> int:
    from axes.models import AccessLog

    deleted, _ = AccessLog.objects.filter(
        attempt_time__lt=now - timedelta(days=settings.CRM_LOGIN_LOG_KEEP_DAYS)
    ).delete()
    return deleted


def housekeeping(now=None) -> dict[str, int]:
    """Remove what is no longer needed; returns how many rows (or files) each step removed."""
    now = now or timezone.now()
    done = {
        "task results": task_results_prune(now),
        "expired sessions": sessions_prune(now),
        "stopped workers": workers_prune(now),
        "expired log-in failures": login_attempts_prune(now),
        "old log-in records": login_records_prune(now),
    }
    for name, housekeeper in hooks.housekeepers:
        done[name] = housekeeper(now)
    return done
