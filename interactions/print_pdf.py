"""A delivery's print file as one PDF, made by a worker (SPEC D9, R69; RELIABILITY 21).

"Make the PDF" on the delivery page calls `print_pdf_request`: one conditional UPDATE moves the
delivery's PDF from none or failed (or a stalled job, see below) to queued, so a second click
while it is queued or being made queues nothing; the task (`interactions.tasks.print_pdf_task`)
is enqueued once that UPDATE has committed: in a worker in production, before
`print_pdf_request` returns when tasks run immediately (`make run`, the tests).

`print_pdf_run` (the task's body) claims the job (queued → making), so a task delivered twice
converts once. It converts the print file with LibreOffice (interactions.pdf): the stored
.docx itself when it holds at most CRM_PDF_CHUNK_LETTERS letters, else the same letters (the
printed entries' documents, in entry order) a chunk at a time, the chunks' PDFs joined by
pdfunite. The PDF goes to a temporary file, is streamed from there into storage as a Document
(never whole in memory), and the delivery is marked ready with that document in one
transaction. Any failure marks it failed with the reason; asking again retries it.

While LibreOffice works the job's heartbeat (`pdf_heartbeat_at`) is written every few seconds.
A worker asked to stop (SIGTERM) hands the job back to the queue. A worker that is killed leaves
a job "making" without a sign of life: after a job lease any live worker queues it again
(`print_pdfs_heal`, a crm.hooks job healer through crm.worker.jobs_heal, as merges and
deliveries), and the page lets the user ask again at once. The PDF is then made from the start
(nothing partial is kept). A file stored by a run that lost its job has no row: housekeeping
removes it. The stored PDF is a Document named by `Delivery.print_pdf`, so housekeeping's
pruning of unreferenced files (interactions.storage) keeps it.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.permissions import require
from crm.worker import job_enqueue, job_lease, jobs_heal, stop_requested

from .delivery import printed_letters
from .documents import document_create
from .models import Delivery, PdfState
from .pdf import PDF_CONTENT_TYPE, chunk_letters, docx_to_pdf, letters_to_pdf, pdf_file_name, pdf_require
from .storage import file_store

logger = logging.getLogger(__name__)

#: The columns of the PDF job on the delivery row, for crm.worker's enqueue and healing.
JOB_COLUMNS = {"state": "pdf_state", "task_id": "pdf_task_id", "created_at": "pdf_queued_at"}


class PrintPdfRefused(ValidationError):
    """The PDF cannot be asked for (no such delivery, no print file), with the reason."""


def _stalled(now) -> Q:
    """A PDF being made without a sign of life for a job lease: its worker stopped."""
    return Q(pdf_state=PdfState.MAKING) & (Q(pdf_heartbeat_at__lt=now - job_lease()) | Q(pdf_heartbeat_at__isnull=True))


def print_pdf_stalled(delivery: Delivery, now=None) -> bool:
    """Whether the delivery's PDF is being made by a worker that stopped (no sign of life for a
    job lease): a worker queues it again by itself, and the page offers to ask again."""
    now = now or timezone.now()
    return delivery.pdf_state == PdfState.MAKING and (
        delivery.pdf_heartbeat_at is None or delivery.pdf_heartbeat_at < now - job_lease()
    )


def print_pdf_request(*, user, delivery_id: int) -> tuple[Delivery, bool]:
    """Ask for the PDF of a delivery's print file; returns the delivery as it then stands and
    whether this call queued the PDF (False: it is queued, being made or ready already).

    Needs interactions.change_loggedsegment. Refused, nothing written: an unknown delivery or
    one without a print file (PrintPdfRefused); no LibreOffice, or no pdfunite for a print file
    of more than one chunk (PdfError saying what to install). Queues only a PDF that is not
    made, failed, or stalled (its worker stopped), by one conditional UPDATE, and enqueues its
    task once that has committed (with the immediate backend the PDF is made on return)."""
    require(user, "interactions.change_loggedsegment")
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        raise PrintPdfRefused(_('unknown delivery "%(id)s"'), code="unknown_delivery", params={"id": delivery_id})
    if delivery.print_document_id is None:
        raise PrintPdfRefused(_("Delivery %(pk)s has no print file."), code="no_print_file", params={"pk": delivery.pk})
    pdf_require(letters=delivery.printed)
    now = timezone.now()
    with transaction.atomic(durable=True):
        queued = Delivery.objects.filter(
            Q(pdf_state__in=[PdfState.NONE, PdfState.FAILED]) | _stalled(now), pk=delivery.pk
        ).update(pdf_state=PdfState.QUEUED, pdf_error="", pdf_queued_at=now, pdf_heartbeat_at=None, pdf_task_id="")
        if queued:
            transaction.on_commit(lambda: _enqueue(delivery.pk))
    delivery.refresh_from_db()
    return delivery, bool(queued)


def _enqueue(delivery_id: int) -> None:
    from .tasks import print_pdf_task

    job_enqueue(Delivery, print_pdf_task, delivery_id, task_id=JOB_COLUMNS["task_id"])


def print_pdfs_heal(now) -> int:
    """Queue again the PDFs whose worker stopped (a crm.hooks job healer, run by every worker;
    RELIABILITY 21); returns how many: one being made without a sign of life for a lease, and
    one queued for longer than a lease whose task is no longer in the queue. Conditional
    UPDATEs (crm.worker.jobs_heal): two workers healing at once queue a PDF once."""
    from .tasks import print_pdf_task

    return jobs_heal(
        Delivery, print_pdf_task, now, stale=_stalled(now), reset={"pdf_heartbeat_at": None}, **JOB_COLUMNS
    )


def _alive(delivery_id: int) -> None:
    """The job's heartbeat while LibreOffice works; a worker asked to stop hands it back."""
    Delivery.objects.filter(pk=delivery_id, pdf_state=PdfState.MAKING).update(pdf_heartbeat_at=timezone.now())
    if stop_requested():
        raise _HandBack


def _hand_back(delivery_id: int) -> None:
    """The worker is stopping (SIGTERM): the PDF goes back to queued with a new task, in one
    transaction; the next free worker makes it from the start."""
    with transaction.atomic():
        if Delivery.objects.filter(pk=delivery_id, pdf_state=PdfState.MAKING).update(
            pdf_state=PdfState.QUEUED, pdf_heartbeat_at=None, pdf_queued_at=timezone.now()
        ):
            _enqueue(delivery_id)
            logger.warning("the PDF of delivery %s was handed back to the queue: its worker is stopping", delivery_id)


def _convert(delivery: Delivery, out) -> None:
    def alive() -> None:
        _alive(delivery.pk)

    if delivery.printed > chunk_letters():
        letters_to_pdf(printed_letters(delivery.pk), out, alive=alive)
        return
    with delivery.print_document.open() as source:
        docx_to_pdf(source, out, alive=alive)


def print_pdf_run(delivery_id: int) -> dict[str, Any]:
    """Make the PDF of the delivery's print file (the task's body; see the module docstring).
    Returns a summary for the task result: `claimed` False when the PDF was not queued (a
    second delivery of the task, or another worker has it)."""
    claimed = Delivery.objects.filter(pk=delivery_id, pdf_state=PdfState.QUEUED).update(
        pdf_state=PdfState.MAKING, pdf_heartbeat_at=timezone.now()
    )
    if not claimed:
        return {"delivery": delivery_id, "claimed": False}
    job = Delivery.objects.filter(pk=delivery_id, pdf_state=PdfState.MAKING)
    try:
        delivery = Delivery.objects.select_related("print_document__base").get(pk=delivery_id)
        if delivery.print_document is None:
            raise PrintPdfRefused(_("Delivery %(pk)s has no print file.") % {"pk": delivery_id}, code="no_print_file")
        file_name = pdf_file_name(delivery.print_document.file_name)
        with tempfile.TemporaryFile() as out:
            _convert(delivery, out)
            out.flush()
            stored = file_store(out, file_name=file_name)  # before the transaction: it may take a while
        with transaction.atomic():
            document = document_create(data=stored, file_name=file_name, content_type=PDF_CONTENT_TYPE)
            if not job.filter(print_pdf__isnull=True).update(
                pdf_state=PdfState.READY, print_pdf=document, pdf_error="", pdf_heartbeat_at=None
            ):
                raise _JobTakenAway  # the row is rolled back; its file has none: housekeeping removes it
    except _JobTakenAway:
        return {"delivery": delivery_id, "claimed": True, "ready": False}
    except _HandBack:
        _hand_back(delivery_id)
        return {"delivery": delivery_id, "claimed": True, "ready": False, "handed_back": True}
    except Exception as exc:
        if isinstance(exc, ValidationError):
            message = "\n".join(exc.messages)
        else:
            logger.exception("the PDF of delivery %s failed", delivery_id)
            message = _("The PDF could not be made: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
        job.update(pdf_state=PdfState.FAILED, pdf_error=message, pdf_heartbeat_at=None)
        return {"delivery": delivery_id, "claimed": True, "ready": False, "error": message}
    return {"delivery": delivery_id, "claimed": True, "ready": True, "document": document.pk}


class _JobTakenAway(Exception):
    """The PDF left the "making" state while it was made (another run finished it first)."""


class _HandBack(Exception):
    """The worker was asked to stop while the PDF was made (crm.worker)."""
