"""Delivery pages (SPEC D8, D9, R70–R73): one delivery's progress and summary, resume of a
stalled run, resend of a logged segment's failed e-mails, and the print file download, as
.docx or as a PDF made by a worker (interactions.print_pdf).

The delivery page polls its `status` partial every second (htmx) while the run is queued or
running; at the end it shows what was made, sent and failed, with each failure's entry, contact
and reason (the first FAILURES_SHOWN, then a link to the interaction log filtered to the errors
of that logged segment), the print file of the hard-copy letters, and "Resend failed e-mails".
A run whose lease has passed is stalled: the page says so and offers "Resume".

The print file's PDF is never made in a request: "Make the PDF" queues it (one job however
often it is clicked), the page shows "Making the PDF…" (its `pdf` partial polled while the PDF
is queued or being made), then a link that streams the stored PDF; a failure shows its reason
and may be retried. Without LibreOffice the button is disabled and says what to install.

The work itself is interactions.delivery's (delivery_start, delivery_resend, delivery_resume);
the views only call it and report what it did or why it refused (a resend while a run is
unfinished, a second click on "Resend": the service refuses, the page shows its message).
Reading (the PDF's download too) needs interactions.view_loggedsegment; resend, resume and
making the PDF interactions.change_loggedsegment, POST only (CSRF checked).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from crm.counts import counted
from crm.worker import takeover_delay

from ..delivery import delivery_progress, delivery_resend, delivery_resume, resendable_entries, skipped_text
from ..models import (
    Delivery,
    DeliveryItem,
    DeliveryItemStatus,
    DeliveryState,
    DeliveryStatus,
    Document,
    LoggedSegment,
    PdfState,
)
from ..pdf import pdf_unavailable
from ..print_pdf import print_pdf_request, print_pdf_stalled
from .documents import document_response

PAGE = "interactions/delivery_detail.html"
RESEND_PAGE = "interactions/delivery_confirm_resend.html"
FAILURES_SHOWN = 50
PANEL_DELIVERIES = 10


def _optional_url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def delivery_url(delivery: Delivery) -> str:
    return reverse("interactions:delivery_detail", args=[delivery.pk])


# --- Reads -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryProgress:
    """A delivery's counts for its progress bar: sent, made for print, failed and skipped
    (consent withdrawn), of total."""

    state: str
    total: int
    sent: int
    printed: int
    failed: int
    done: int
    remaining: int
    percent: int
    active: bool  # queued or running
    stalled: bool  # unfinished and its worker stopped (lease passed, or queued too long): resume it
    skipped: int = 0  # not sent: the contact had withdrawn consent for the entry's channel

    @property
    def skipped_text(self) -> str:
        return skipped_text(self.skipped)


def delivery_progress_of(delivery: Delivery) -> DeliveryProgress:
    """Where `delivery` stands (interactions.delivery.delivery_progress: its stored counts and
    whether it stalled), as a progress bar. Two queries."""
    data = delivery_progress(delivery)
    active = data["state"] != DeliveryState.FINISHED
    return DeliveryProgress(
        state=data["state"],
        total=data["total"],
        sent=data["sent"],
        printed=data["printed"],
        failed=data["failed"],
        done=data["done"],
        remaining=max(data["total"] - data["done"], 0),
        percent=data["percent"] if active else 100,
        active=active,
        stalled=bool(data["stalled"]),
        skipped=data["skipped"],
    )


def resendable_count(*, logged_segment_id: int) -> int:
    """How many entries of the logged segment a resend would retry (delivery.resendable_entries).
    One COUNT."""
    return resendable_entries(logged_segment_id).count()


def unfinished_delivery(*, logged_segment_id: int) -> Delivery | None:
    """The logged segment's unfinished delivery (at most one, a database constraint)."""
    return Delivery.objects.filter(logged_segment_id=logged_segment_id).exclude(state=DeliveryState.FINISHED).first()


@dataclass(frozen=True)
class DeliveryPanel:
    """The deliveries of a logged segment for its page: the latest PANEL_DELIVERIES, newest
    first, how many entries a resend would retry, and the run that is still unfinished."""

    deliveries: list[tuple[Delivery, DeliveryProgress]]
    more: int
    resendable: int
    unfinished: Delivery | None


def logged_segment_delivery_panel(*, logged_segment: LoggedSegment) -> DeliveryPanel:
    """A constant number of queries: the latest deliveries, the error count, the progress of
    the unfinished one (at most one), and a count of the older ones when there are more than
    PANEL_DELIVERIES. Finished deliveries show their stored counts."""
    rows = list(Delivery.objects.filter(logged_segment=logged_segment).order_by("-pk")[: PANEL_DELIVERIES + 1])
    more = 0
    if len(rows) > PANEL_DELIVERIES:
        more = Delivery.objects.filter(logged_segment=logged_segment).count() - PANEL_DELIVERIES
        rows = rows[:PANEL_DELIVERIES]
    unfinished = next((row for row in rows if row.state != DeliveryState.FINISHED), None)
    return DeliveryPanel(
        deliveries=[(row, delivery_progress_of(row) if row is unfinished else _finished(row)) for row in rows],
        more=more,
        resendable=resendable_count(logged_segment_id=logged_segment.pk),
        unfinished=unfinished,
    )


def _finished(delivery: Delivery) -> DeliveryProgress:
    done = delivery.done
    return DeliveryProgress(
        state=delivery.state,
        total=delivery.total,
        sent=delivery.sent,
        printed=delivery.printed,
        failed=delivery.failed,
        done=done,
        remaining=max(delivery.total - done, 0),
        percent=100,
        active=False,
        stalled=False,
        skipped=delivery.skipped,
    )


def get_delivery(pk: int) -> Delivery:
    queryset = Delivery.objects.select_related("logged_segment", "created_by")
    return get_object_or_404(queryset, pk=pk)


class DeliveryPermissionMixin(PermissionRequiredMixin):
    raise_exception = True


# --- The delivery page -----------------------------------------------------------------------------


class DeliveryDetailView(DeliveryPermissionMixin, View):
    """One delivery: progress while it runs (htmx polls the `status` partial every second,
    and stops once it is finished), a stalled run's "Resume", and at the end the summary with
    the failures (the first FAILURES_SHOWN), the print file and "Resend failed e-mails".
    A constant number of queries."""

    permission_required = "interactions.view_loggedsegment"

    def get(self, request, pk: int) -> HttpResponse:
        delivery = get_delivery(pk)
        progress = delivery_progress_of(delivery)
        if progress.state != delivery.state:  # it moved on between the two reads
            delivery.refresh_from_db()
        logged = delivery.logged_segment
        context = {
            "delivery": delivery,
            "logged": logged,
            "progress": progress,
            "poll_url": request.path,
            "can_change": request.user.has_perm("interactions.change_loggedsegment"),
            "takeover": takeover_delay(),
        }
        if not progress.active:
            failures = (
                DeliveryItem.objects.filter(delivery=delivery, status=DeliveryItemStatus.ERROR)
                .select_related("entry__contact")
                .only("entry__id", "error", "entry__contact__no", "entry__contact__name", "entry__correspondence_type")
                .order_by("entry_id")
            )
            entry_list = _optional_url("interactions:entry_list")
            context.update(
                failures=list(failures[:FAILURES_SHOWN]),
                failures_url=(
                    f"{entry_list}?logged_segment={logged.pk}&delivery_status={DeliveryStatus.ERROR}"
                    if entry_list
                    else None
                ),
                link_entries=_optional_url("interactions:entry_detail", 1) is not None,
                print_file_name=(
                    Document.objects.filter(pk=delivery.print_document_id).values_list("file_name", flat=True).first()
                    if delivery.print_document_id
                    else None
                ),
                pdf=print_pdf_context(delivery),
                resendable=resendable_count(logged_segment_id=logged.pk),
                newer=Delivery.objects.filter(logged_segment_id=logged.pk, pk__gt=delivery.pk)
                .order_by("-pk")
                .only("pk", "state")
                .first(),
            )
        template = PAGE + "#status" if request.htmx else PAGE
        return TemplateResponse(request, template, context)


def print_pdf_context(delivery: Delivery) -> dict:
    """What the page's `pdf` partial shows of the print file's PDF: its state, whether it is
    still coming (the partial polls then), stalled, the stored PDF's name and size when ready,
    and why none can be made here (no LibreOffice)."""
    stalled = print_pdf_stalled(delivery)
    ready = None
    if delivery.pdf_state == PdfState.READY:
        ready = Document.objects.filter(pk=delivery.print_pdf_id).only("file_name", "size").first()
    return {
        "state": delivery.pdf_state,
        "coming": delivery.pdf_state in (PdfState.QUEUED, PdfState.MAKING) and not stalled,
        "stalled": stalled,
        "document": ready,
        "unavailable": pdf_unavailable() if delivery.pdf_state != PdfState.READY else None,
        "poll_url": reverse("interactions:delivery_print_pdf_state", args=[delivery.pk]),
    }


class DeliveryPrintPdfStateView(DeliveryPermissionMixin, View):
    """The delivery page's PDF panel alone (its `pdf` partial), polled by htmx every second while
    the PDF is queued or being made."""

    permission_required = "interactions.view_loggedsegment"

    def get(self, request, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery, pk=pk)
        context = {
            "delivery": delivery,
            "pdf": print_pdf_context(delivery),
            "can_change": request.user.has_perm("interactions.change_loggedsegment"),
            "takeover": takeover_delay(),
        }
        return TemplateResponse(request, PAGE + "#pdf", context)


class DeliveryPrintDocumentView(DeliveryPermissionMixin, View):
    """The delivery's hard-copy letters in one .docx (one letter per page), as an attachment."""

    permission_required = "interactions.view_loggedsegment"

    def get(self, request, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery.objects.select_related("print_document"), pk=pk)
        if delivery.print_document is None:
            raise Http404(_("Delivery %(pk)s has no print file.") % {"pk": delivery.pk})
        return document_response(delivery.print_document)


class DeliveryPrintPdfView(DeliveryPermissionMixin, View):
    """The delivery's print file as one PDF, once a worker has made it (interactions.print_pdf):
    the stored PDF streamed from storage as an attachment; nothing is converted here. Before it
    is ready this leads back to the delivery page, which says where the PDF stands (and what to
    install when there is no LibreOffice)."""

    permission_required = "interactions.view_loggedsegment"

    def get(self, request, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery.objects.select_related("print_pdf"), pk=pk)
        if delivery.print_document_id is None:
            raise Http404(_("Delivery %(pk)s has no print file.") % {"pk": delivery.pk})
        if delivery.print_pdf is not None:
            return document_response(delivery.print_pdf)
        unavailable = pdf_unavailable()
        if unavailable:
            messages.error(request, unavailable)
        else:
            messages.info(request, _('The PDF of this print file is not made yet: use "Make the PDF".'))
        return redirect(delivery_url(delivery))


class DeliveryPrintPdfMakeView(DeliveryPermissionMixin, View):
    """ "Make the PDF" (interactions.print_pdf.print_pdf_request): queues the PDF of the print
    file for a worker and goes back to the delivery page, which shows it coming. A second click
    while it is queued or being made queues nothing; a refusal (no LibreOffice, no print file)
    shows the service's message."""

    permission_required = "interactions.change_loggedsegment"

    def post(self, request, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery.objects.only("pk"), pk=pk)
        try:
            delivery, queued = print_pdf_request(user=request.user, delivery_id=delivery.pk)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, capfirst(message))
            return redirect(delivery_url(delivery))
        if not queued and delivery.pdf_state in (PdfState.QUEUED, PdfState.MAKING):
            messages.info(request, _("The PDF is being made already."))
        return redirect(delivery_url(delivery))


# --- Resume and resend -------------------------------------------------------------------------------


class DeliveryResumeView(DeliveryPermissionMixin, View):
    """Resume a stalled run (interactions.delivery.delivery_resume): it goes on with the items
    still pending; an item that was in flight when the run stopped becomes an error "outcome
    unknown" (never sent twice on its own). A run that is not stalled is refused with the
    service's message."""

    permission_required = "interactions.change_loggedsegment"

    def post(self, request, pk: int) -> HttpResponse:
        delivery = get_delivery(pk)
        try:
            resumed = delivery_resume(user=request.user, delivery_id=delivery.pk)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, capfirst(message))
            return redirect(delivery_url(delivery))
        messages.success(
            request,
            _("Resumed delivery %(pk)s of logged segment %(logged)s.")
            % {"pk": resumed.pk, "logged": resumed.logged_segment_id},
        )
        return redirect(delivery_url(resumed))


class LoggedSegmentResendView(DeliveryPermissionMixin, View):
    """Resend a logged segment's failed e-mails (interactions.delivery.delivery_resend): the GET
    says how many entries it retries, or why it cannot now (nothing failed, a run is still
    unfinished); the POST starts the resend and goes to its delivery page. A second POST (double
    click, back button) is refused by the service and shows its message, so one resend runs."""

    permission_required = "interactions.change_loggedsegment"

    def get(self, request, pk: int) -> HttpResponse:
        logged = get_object_or_404(LoggedSegment.objects.select_related("user"), pk=pk)
        context = {
            "logged": logged,
            "resendable": resendable_count(logged_segment_id=logged.pk),
            "unfinished": unfinished_delivery(logged_segment_id=logged.pk),
        }
        return TemplateResponse(request, RESEND_PAGE, context)

    def post(self, request, pk: int) -> HttpResponse:
        logged = get_object_or_404(LoggedSegment, pk=pk)
        try:
            delivery = delivery_resend(user=request.user, logged_segment_id=logged.pk)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, capfirst(message))
            unfinished = unfinished_delivery(logged_segment_id=logged.pk)
            return redirect(delivery_url(unfinished) if unfinished else logged.get_absolute_url())
        messages.success(
            request,
            _("Resending %(what)s of logged segment %(logged)s.")
            % {
                "what": counted(
                    ngettext("%(count)s failed entry", "%(count)s failed entries", delivery.total), delivery.total
                ),
                "logged": logged.pk,
            },
        )
        return redirect(delivery_url(delivery))
