"""Log a segment from its worksheet (SPEC F4 with D7, D8; STYLE 11).

The GET is the confirmation: every pre-flight problem at once (D7), or the numbers the log
will create. The POST calls segments.services.segment_log and redirects to the logged
segment. The form carries the segment's uuid, so a second POST of the same page (double
click, back button, a retry, another user who was quicker) finds the logged segment that
uuid became and goes there with "Segment … was already logged by … at …" (RELIABILITY
cases 1 and 2) — never a 500, never a second log.

"Send the e-mails and make the letters after logging" (F4.1 "Send Attachments", D8) is ticked
by default when the segment has e-mail or hard-copy lines. With it the pre-flight also checks
what delivery needs (e-mail addresses, Word documents, salutation formulas) before anything is
written, the confirmation says how many e-mails it sends and letters it makes, and after the
log commits interactions.delivery.delivery_start runs the delivery and the user lands on its
page (progress, then the summary). A segment whose only problems are delivery problems can
still be logged without delivery (`?deliver=0`).

Lines whose contact withdrew consent for the line's channel (D17) stop the Log: the page lists
the first of them with their count and offers "Remove these N lines" (SegmentDropWithdrawnView,
services.segment_drop_withdrawn: one step that undo reverses), then comes back here.

A segment of more than CRM_LOG_INLINE_LINES lines is logged by a task, not in the request
(issue 13): the POST runs the same pre-flight, starts a log job (segments.log_jobs) and sends
the user to its page (segments.log_job_views), which leads to the logged segment when done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from crm.consent import channel_label, channel_of
from crm.counts import counted
from crm.languages import test_email_address
from crm.untrusted import CheckedForm
from crm.worker import tasks_queued
from interactions.delivery import delivery_start
from interactions.models import DeliveryKind, LoggedSegment

from . import selectors
from .document_selectors import first_email_line_no
from .log_job_views import log_job_response, logged_message
from .log_jobs import log_job_start, log_runs_as_job
from .models import LogJob, Segment
from .services import LogPreflightError, SegmentAlreadyLogged, already_logged, segment_drop_withdrawn, segment_log
from .services.log import LogPreflight, segment_log_preflight
from .views import SegmentPermissionMixin, get_segment

TEMPLATE = "segments/segment_confirm_log.html"


class LogSegmentForm(CheckedForm):
    """The Log confirmation: which segment (its uuid, as shown) and whether to follow up."""

    segment_uuid = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": gettext_lazy("The form did not say which segment to log: open Log again.")},
    )
    deliver = forms.BooleanField(
        label=gettext_lazy("Send the e-mails and make the letters after logging"),
        required=False,
        help_text=gettext_lazy(
            "E-mail lines are sent with their merged Word letter; hard-copy lines become one .docx to print."
        ),
    )
    follow_up = forms.BooleanField(
        label=gettext_lazy("Create follow-up segment"),
        required=False,
        help_text=gettext_lazy(
            'A new segment "Follow-up on segment …" with the same contacts and campaign, '
            "without template or other interaction settings."
        ),
    )


@dataclass(frozen=True)
class DeliverySummary:
    """What delivery after the log would do: e-mails to send and letters to make for print."""

    emails: int
    letters: int

    @property
    def total(self) -> int:
        return self.emails + self.letters


class SegmentLogView(SegmentPermissionMixin, View):
    """Log a segment: confirm with numbers, then one atomic log (services.segment_log).

    Queries: the GET is a constant number whatever the number of lines: the pre-flight
    (segments.services.log.segment_log_preflight: one grouped pass over the lines for the
    problems and the numbers, one more for delivery) plus the first examples of each problem.
    """

    permission_required = "segments.log_segment"

    def render(
        self,
        request,
        segment: Segment,
        form: LogSegmentForm,
        *,
        deliver: bool = False,
        preflight: LogPreflight | None = None,
        problems=None,
        notice: str = "",
        status: int = 200,
    ) -> HttpResponse:
        # One pre-flight gives the problems, those of the log alone and the numbers (set-based).
        if preflight is None:  # the mail server is asked only when no problems were given
            preflight = segment_log_preflight(segment=segment, deliver=deliver, mail_server=problems is None)
        if problems is None:
            problems = preflight.all_problems
        elif preflight.withdrawn_summary and preflight.withdrawn_summary not in problems:
            problems = [preflight.withdrawn_summary, *problems]  # the Log's refusal listed each line
        # Delivery problems alone leave "log without delivery" open.
        can_log_alone = deliver and bool(problems) and not preflight.problems
        context = {
            "segment": segment,
            "form": form,
            "problems": problems,
            "notice": notice,
            "deliver": deliver,
            "can_log_alone": can_log_alone,
            # More lines than CRM_LOG_INLINE_LINES and workers to run it: a log job (log_jobs).
            "in_background": preflight.entries > settings.CRM_LOG_INLINE_LINES and tasks_queued(),
            "deliveries": DeliverySummary(emails=preflight.emails, letters=preflight.letters),
            "summary": preflight,  # the entries and campaign entries the Log will create
            # "Send a test to me" (segments.test_mail_views): the first e-mail line, when there is one.
            "test_line": first_email_line_no(segment=segment) if preflight.emails else None,
            # ... and where it goes: the profile's test address, else the user's e-mail.
            "test_email": test_email_address(request.user) if preflight.emails else "",
            # D17: the lines whose contact withdrew consent for the line's channel (the first
            # WITHDRAWN_SHOWN), with "Remove these N lines" for those who may change the segment.
            "withdrawn_lines": [
                {**row, "channel": channel_label(channel_of(row["correspondence_type"]))}
                for row in preflight.withdrawn_lines
            ],
            "can_drop_withdrawn": request.user.has_perm("segments.change_segment"),
        }
        return TemplateResponse(request, TEMPLATE, context, status=status)

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        # Delivery is offered when there are e-mail or hard-copy lines (the pre-flight's counts;
        # without them it checks no delivery problems).
        deliver = request.GET.get("deliver") != "0"
        preflight = segment_log_preflight(segment=segment, deliver=deliver)
        deliver = deliver and bool(preflight.emails + preflight.letters)
        form = LogSegmentForm(initial={"segment_uuid": segment.uuid, "deliver": deliver})
        return self.render(request, segment, form, deliver=deliver, preflight=preflight)

    def post(self, request, no: str) -> HttpResponse:
        form = LogSegmentForm(request.POST)
        posted_uuid = _posted_uuid(request.POST.get("segment_uuid"))
        segment = selectors.segment_detail_queryset().filter(no=no).first()
        if posted_uuid is not None and (segment is None or segment.uuid != posted_uuid):
            logged = already_logged(posted_uuid)
            if logged is not None:
                raise logged
        if segment is None:
            segment = get_segment(no)  # logged by number, else 404
        if not form.is_valid():
            return self.render(request, segment, form, status=400)
        deliver = form.cleaned_data["deliver"]
        if form.cleaned_data["segment_uuid"] != segment.uuid:
            fresh = LogSegmentForm(
                initial={
                    "segment_uuid": segment.uuid,
                    "follow_up": form.cleaned_data["follow_up"],
                    "deliver": deliver,
                }
            )
            notice = _("This page was opened for another segment %(no)s: check the numbers and log again.")
            return self.render(request, segment, fresh, deliver=deliver, notice=notice % {"no": segment.no}, status=400)
        # More than CRM_LOG_INLINE_LINES lines: a log job (segments.log_jobs), after the same pre-flight.
        log = log_job_start if log_runs_as_job(segment) else segment_log
        try:
            result = log(user=request.user, segment=segment, follow_up=form.cleaned_data["follow_up"], deliver=deliver)
        except SegmentAlreadyLogged:
            raise
        except LogPreflightError as error:
            # The lines whose contact withdrew consent are listed on their own (first ones, count).
            problems = [message for message in error.messages if message not in set(error.withdrawn)]
            return self.render(request, segment, form, deliver=deliver, problems=problems, status=400)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("segments:segment_list")
        if isinstance(result, LogJob):  # its page, or its logged segment when it has run already
            return log_job_response(request, result)
        messages.success(request, logged_message(result.logged_segment, result.follow_up))
        if deliver and result.deliveries:
            return self.start_delivery(request, result.logged_segment)
        return redirect(result.logged_segment)

    def start_delivery(self, request, logged: LoggedSegment) -> HttpResponse:
        """The delivery after the log committed (D8). The log stands whatever happens here: a
        refusal to start is reported on the logged segment page with the service's reason."""
        try:
            delivery = delivery_start(user=request.user, logged_segment=logged, kind=DeliveryKind.DELIVER)
        except (ValidationError, PermissionDenied) as error:
            reasons = error.messages if isinstance(error, ValidationError) else [str(error)]
            for message in reasons:
                messages.error(request, _("The delivery did not start: %(reason)s") % {"reason": message})
            return redirect(logged)
        return redirect(reverse("interactions:delivery_detail", args=[delivery.pk]))


def _posted_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class SegmentDropWithdrawnView(SegmentPermissionMixin, View):
    """The Log page's "Remove these N lines" (D17): the lines whose contact withdrew consent for
    the line's channel go, as one step that undo reverses (services.segment_drop_withdrawn);
    then back to the Log page (with or without delivery, as it was shown) with how many went."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        try:
            result = segment_drop_withdrawn(user=request.user, segment=segment)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(segment)
        if result.removed:
            text = ngettext(
                "Removed %(count)s line whose contact withdrew consent; Undo puts it back.",
                "Removed %(count)s lines whose contacts withdrew consent; Undo puts them back.",
                result.removed,
            )
            messages.success(request, counted(text, result.removed))
        else:
            messages.info(request, _("No line's contact has withdrawn consent: nothing was removed."))
        url = reverse("segments:segment_log", args=[segment.no])
        return redirect(f"{url}?deliver=0" if request.POST.get("deliver") == "0" else url)  # as it was shown
