"""The page of a Log that runs as a task (issue 13; segments.log_jobs).

The Log page starts a log job when the segment has more lines than CRM_LOG_INLINE_LINES and
sends the user here. While the job is queued or running the page shows its phase (waiting for
a worker, or logging N lines since HH:MM:SS) with an indeterminate progress bar: the Log is one
transaction, so nothing of it shows before it commits. htmx polls the `progress` partial every
second. A finished job leads to the logged segment (or to the delivery it started) with the
message of the Log page's own Log; a failed one shows the reason and the way back to the
worksheet. Reading needs segments.view_segment.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from crm.worker import takeover_delay
from interactions.models import LoggedSegment
from interactions.views.logged_segments import campaign_entries_text, entries_text

from .log_jobs import log_job_stalled
from .models import LogJob, LogJobState, Segment
from .views import SegmentPermissionMixin, lines_text

JOB_PAGE = "segments/log_job.html"


def logged_message(logged: LoggedSegment, follow_up: Segment | None) -> str:
    """What the Log page says after a Log: the numbers it created and the follow-up segment."""
    text = _("Logged %(no)s: %(entries)s, %(campaign)s.") % {
        "no": logged.segment_no,
        "entries": entries_text(logged.no_of_interactions),
        "campaign": campaign_entries_text(logged.no_of_campaign_entries),
    }
    if follow_up is not None:
        created = _("Created follow-up segment %(link)s with %(lines)s.") % {
            "link": format_html('<a href="{}">{}</a>', follow_up.get_absolute_url(), follow_up.no),
            "lines": conditional_escape(lines_text(follow_up.lines.count())),
        }
        text = format_html("{} {}", text, mark_safe(created))  # the parts are escaped
    return text


def log_job_url(job: LogJob) -> str:
    return reverse("segments:log_job", args=[job.pk])


def log_job_response(request, job: LogJob) -> HttpResponse:
    """Where a started or polled job leads: a finished one to its logged segment (or the
    delivery it started) with the Log's message, any other to its page."""
    if job.state != LogJobState.FINISHED or job.logged_segment is None:
        return redirect(log_job_url(job))
    messages.success(request, logged_message(job.logged_segment, job.follow_up_segment))
    if job.delivery_error:
        for reason in job.delivery_error.splitlines():
            messages.error(request, _("The delivery did not start: %(reason)s") % {"reason": reason})
    if job.delivery_id is not None:
        url = reverse("interactions:delivery_detail", args=[job.delivery_id])
    else:
        url = job.logged_segment.get_absolute_url()
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def elapsed_text(since: datetime.datetime | None, now: datetime.datetime) -> str:
    """ "0:01:05" from `since` to `now`."""
    if since is None:
        return ""
    seconds = max(0, int((now - since).total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LogJobView(SegmentPermissionMixin, View):
    """A log job: its phase while queued or running, the reason of a failure; a finished job
    leads to its logged segment (log_job_response). A constant number of queries."""

    permission_required = "segments.view_segment"

    def get(self, request, pk: int) -> HttpResponse:
        jobs = LogJob.objects.select_related("created_by", "segment", "logged_segment", "follow_up_segment").defer(
            "segment__description"
        )
        job = get_object_or_404(jobs, pk=pk)
        if job.state == LogJobState.FINISHED:
            return log_job_response(request, job)
        now = timezone.now()
        context = {
            "job": job,
            "active": job.state in (LogJobState.QUEUED, LogJobState.RUNNING),
            "stalled": log_job_stalled(job, now),
            "elapsed": elapsed_text(job.started_at, now),
            "poll_url": request.path,
            "takeover": takeover_delay(),
        }
        template = JOB_PAGE + "#progress" if request.htmx else JOB_PAGE
        return TemplateResponse(request, template, context)
