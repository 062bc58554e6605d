"""Our own deployment checks (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

IMMEDIATE_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"


@register("crm", deploy=True)
def check_tasks_backend(app_configs, **kwargs):
    """crm.W001: without DEBUG, merges and deliveries should go to a queue, not run in the request."""
    if settings.DEBUG:
        return []
    backend = settings.TASKS.get("default", {}).get("BACKEND", IMMEDIATE_BACKEND)
    if backend != IMMEDIATE_BACKEND:
        return []
    return [
        Warning(
            "Background work would run inside web requests: TASKS['default'] is the ImmediateBackend.",
            hint="Set DJANGO_TASKS_BACKEND=django_tasks_db.DatabaseBackend and run workers.",
            id="crm.W001",
        )
    ]
