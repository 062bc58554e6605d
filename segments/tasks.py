"""Background work of segments (django.tasks; the backend is settings.TASKS["default"],
chosen by DJANGO_TASKS_BACKEND: immediate by default, django-tasks-db for workers)."""

from __future__ import annotations

from django.tasks import task


@task
def merge_job_task(job_id: int) -> None:
    """Run merge job `job_id` (segments.merge.merge_job_run: claimed once, so a task delivered
    twice merges once; a failure is recorded on the job)."""
    from .merge import merge_job_run

    merge_job_run(job_id)


@task
def log_job_task(job_id: int) -> None:
    """Run log job `job_id` (segments.log_jobs.log_job_run: claimed once, so a task delivered
    twice logs once; the result or the failure is recorded on the job)."""
    from .log_jobs import log_job_run

    log_job_run(job_id)
