"""A large Log started from the Log page runs as a task (issue 13), never inside the web request.

`log_job_start` checks the pre-flight (D7) as the page's Log does, then creates a `LogJob` and
enqueues `segments.tasks.log_job_task` once that commits; a second start for the same segment
(a double click, another user) finds the unfinished job instead (a partial unique constraint
is the database's backstop). `log_job_run`, the task's body, claims the job with a conditional
UPDATE (queued → running) and calls the same `segments.services.segment_log` as the page: one
transaction, a segment logged once (its claim refuses a second log: the job fails with
"Segment … was already logged by … at …"). The logged segment (and follow-up segment) is
written on the job inside the Log's transaction (segment_log's `then`), so the job's result
commits with the Log or not at all; then the job records the delivery it started (D8) and ends
finished, or failed with the reason: any exception is recorded.

The Log is one transaction, so nothing of its progress is visible to others until it commits;
the job page shows its phase. Its heartbeat is written at the claim and, while the Log runs,
every lease/4 by a thread on its own database connection (`_Heartbeat`): a Log of 400,000
lines may take longer than a lease. A worker killed mid-Log rolls the Log back with its
connection; its job's heartbeat stops and any live worker queues it again (`log_jobs_heal`,
registered as a crm.hooks job healer), as a queued job whose task was lost.

A graceful stop (SIGTERM, crm.worker.stop_requested) does not interrupt a Log: the transaction
runs to its end and the job is recorded, then the worker exits (a second signal kills it: the
Log rolls back and the job heals). On SQLite, one writer at a time: the heartbeat thread waits
for the Log's commit, and so does every other write, healing included, so no worker can take
the job over while its Log runs.
"""

from __future__ import annotations

import datetime
import logging
import threading

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.permissions import recorded_user, require
from crm.worker import job_lease

from .jobs import job_enqueue, jobs_heal
from .models import LOG_JOB_UNFINISHED, LogJob, LogJobState, Segment, SegmentLine
from .services import already_logged, segment_log
from .services.log import segment_log_check

logger = logging.getLogger(__name__)


def log_runs_as_job(segment: Segment) -> bool:
    """Whether the Log page's Log of `segment` runs as a task: more lines than
    CRM_LOG_INLINE_LINES (one count query)."""
    return SegmentLine.objects.filter(segment=segment).count() > settings.CRM_LOG_INLINE_LINES


def _unfinished(segment: Segment) -> LogJob | None:
    return LogJob.objects.filter(segment=segment, state__in=LOG_JOB_UNFINISHED).first()


def log_job_start(*, user, segment: Segment, follow_up: bool = False, deliver: bool = False) -> LogJob:
    """Start a Log of `segment` as a task and return its job (the unfinished one of the segment
    when there is one: one Log per segment).

    Needs segments.log_segment. The pre-flight runs first (LogPreflightError with every
    problem, nothing written); the Log's own pre-flight runs again inside its transaction. The
    task is enqueued after the job commits; with the immediate backend the job has finished
    (or failed) when this returns.
    """
    require(user, "segments.log_segment")
    segment_log_check(segment=segment, deliver=deliver)
    with transaction.atomic():
        job = _unfinished(segment)
        if job is None:
            try:
                with transaction.atomic():
                    job = LogJob.objects.create(
                        segment=segment,
                        segment_no=segment.no,
                        segment_uuid=segment.uuid,
                        lines=SegmentLine.objects.filter(segment=segment).count(),
                        follow_up=follow_up,
                        deliver=deliver,
                        created_by=recorded_user(user),
                    )
            except IntegrityError:  # another start got past the check first
                job = _unfinished(segment)
                if job is None:
                    raise
            else:
                pk = job.pk
                transaction.on_commit(lambda: _enqueue(pk))
    job.refresh_from_db()
    return job


def _enqueue(job_id: int) -> None:
    from .tasks import log_job_task

    job_enqueue(LogJob, log_job_task, job_id)


def log_job_stalled(job: LogJob, now: datetime.datetime | None = None) -> bool:
    """Whether the job is running without a sign of life for a job lease (its worker stopped;
    its Log rolled back): a worker will queue it again (log_jobs_heal)."""
    now = now or timezone.now()
    return job.state == LogJobState.RUNNING and (job.heartbeat_at is None or job.heartbeat_at < now - job_lease())


def log_jobs_heal(now: datetime.datetime) -> int:
    """Queue again the log jobs whose worker stopped (a crm.hooks job healer); returns how many
    (segments.jobs.jobs_heal: a running job without a heartbeat for a lease, a queued job
    whose task was lost). The Log of a stopped worker rolled back: it runs again from the start."""
    from .tasks import log_job_task

    return jobs_heal(LogJob, log_job_task, now, reset={"started_at": None})


class _Heartbeat(threading.Thread):
    """Writes the job's heartbeat every `interval` seconds on this thread's own database
    connection (Django's connections are per thread) until stopped; the Log's transaction on
    the task's connection does not hide it."""

    def __init__(self, job_id: int, interval: float) -> None:
        super().__init__(name=f"log-job-{job_id}-heartbeat", daemon=True)
        self.job_id = job_id
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    LogJob.objects.filter(pk=self.job_id, state=LogJobState.RUNNING).update(heartbeat_at=timezone.now())
                except Exception:  # the database may be away for a moment: beat again next time
                    logger.warning("log job %s: heartbeat failed", self.job_id, exc_info=True)
        finally:
            connections.close_all()

    def __enter__(self) -> _Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join()


def heartbeat_interval() -> float:
    return job_lease().total_seconds() / 4


def log_job_run(job_id: int) -> None:
    """Run a queued log job (the task's body).

    Claims the job (queued → running, its first heartbeat), so a task delivered twice logs
    once; then `segment_log` with the job's options and user, a heartbeat thread beating while
    it runs. The job's logged segment (and follow-up) is written inside the Log's transaction:
    a worker that dies after the commit leaves a job that knows its Log is done, and the next
    run only finishes it. With delivery and something to deliver, `delivery_start` follows the
    commit (a refusal is kept in `delivery_error`; the Log stands). The job ends finished, or
    failed with the reason (SegmentAlreadyLogged's "already logged by … at …", a pre-flight
    problem that appeared since the start, any exception).
    """
    now = timezone.now()
    if not LogJob.objects.filter(pk=job_id, state=LogJobState.QUEUED).update(
        state=LogJobState.RUNNING, started_at=now, heartbeat_at=now
    ):
        return
    job = LogJob.objects.select_related("created_by", "segment", "logged_segment").get(pk=job_id)
    delivery, delivery_error = None, ""
    try:
        with _Heartbeat(job_id, heartbeat_interval()):
            if job.logged_segment is None:
                segment_log(
                    user=_user_of(job),
                    segment=_segment_of(job),
                    follow_up=job.follow_up,
                    deliver=job.deliver,
                    then=lambda logged, follow_up: _logged(job, logged, follow_up),
                )
            if job.deliver and _waiting_for_delivery(job.logged_segment):
                delivery, delivery_error = _start_delivery(job, job.logged_segment)
    except Exception as exc:
        if job.logged_segment is not None:  # the Log stands: only the delivery did not start
            logger.exception("log job %s: the delivery after the Log did not start", job_id)
            delivery_error = f"{type(exc).__name__}: {exc}"
        else:
            _record(job_id, state=LogJobState.FAILED, error=_failure(job_id, exc))
            return
    _record(job_id, state=LogJobState.FINISHED, error="", delivery=delivery, delivery_error=delivery_error)


def _logged(job: LogJob, logged, follow_up: Segment | None) -> None:
    """Inside the Log's transaction: the job's result commits with the Log or not at all."""
    LogJob.objects.filter(pk=job.pk).update(logged_segment=logged, follow_up_segment=follow_up)
    job.logged_segment, job.follow_up_segment = logged, follow_up


def _waiting_for_delivery(logged) -> bool:
    from interactions.models import DeliveryStatus, InteractionLogEntry

    return InteractionLogEntry.objects.filter(
        logged_segment=logged, delivery_status=DeliveryStatus.IN_PROGRESS
    ).exists()


def _failure(job_id: int, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "\n".join(exc.messages)
    if isinstance(exc, PermissionDenied):
        return _("The Log was refused: %(reason)s") % {"reason": exc}
    logger.exception("log job %s failed", job_id)
    return _("The Log failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}


def _record(job_id: int, **values) -> None:
    """The job's end (a job no longer unfinished is left as it is)."""
    LogJob.objects.filter(pk=job_id, state__in=LOG_JOB_UNFINISHED).update(finished_at=timezone.now(), **values)


def _user_of(job: LogJob):
    if job.created_by is None:
        raise ValidationError(_("The user who started this Log no longer exists: start it again."), code="no_user")
    return job.created_by


def _segment_of(job: LogJob) -> Segment:
    """The job's segment; gone means logged (SegmentAlreadyLogged) or deleted."""
    if job.segment is not None:
        return job.segment
    logged = already_logged(job.segment_uuid)
    if logged is not None:
        raise logged
    raise ValidationError(_('segment "%(no)s" does not exist.'), code="segment_gone", params={"no": job.segment_no})


def _start_delivery(job: LogJob, logged_segment):
    """The delivery after the Log committed (D8), as the Log page starts it."""
    from interactions.delivery import delivery_start
    from interactions.models import DeliveryKind

    try:
        return delivery_start(user=job.created_by, logged_segment=logged_segment, kind=DeliveryKind.DELIVER), ""
    except (ValidationError, PermissionDenied) as error:
        reasons = error.messages if isinstance(error, ValidationError) else [str(error)]
        return None, "\n".join(reasons)
