"""Background work of the interactions app (django.tasks; CONTRACT.md "Environment").

The backend is settings.TASKS["default"] (DJANGO_TASKS_BACKEND): the ImmediateBackend runs a
task inside `enqueue`; django-tasks-db's DatabaseBackend stores it for `manage.py db_worker`,
which may run on several machines against one PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.tasks import task


@task()
def delivery_task(delivery_id: int) -> dict[str, Any]:
    """Run delivery `delivery_id` (interactions.delivery.delivery_run): safe to run twice or
    on two workers at once, since the run claims its delivery first."""
    from .delivery import delivery_run

    return delivery_run(delivery_id)


@task()
def print_pdf_task(delivery_id: int) -> dict[str, Any]:
    """Make the PDF of delivery `delivery_id`'s print file (interactions.print_pdf.print_pdf_run:
    claimed first, so a task delivered twice converts once; a failure is recorded on the
    delivery)."""
    from .print_pdf import print_pdf_run

    return print_pdf_run(delivery_id)
