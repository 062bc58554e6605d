"""Delivery of a logged segment's letters after the log (SPEC D8, D9, R70, R72, R73; RELIABILITY 13).

Logging only records entries (D8); with "deliver", the e-mail and hard-copy entries start as
`in_progress` and a `Delivery` makes and sends their letters after the log has committed:

- `delivery_start` creates the delivery and one `DeliveryItem` per entry in one transaction
  (two set-based statements whatever the number of entries) and enqueues `delivery_run` as a
  django.tasks task once that transaction has committed. One unfinished delivery per logged
  segment: a second start is refused (the logged segment row is locked first, and a partial
  unique constraint is the database's backstop).
- `delivery_run` (the task) claims the delivery with a conditional UPDATE and a lease
  (`LEASE`, renewed as it goes), so one worker at a time runs it. Each item goes
  pending → sending (committed before the SMTP conversation starts) → sent (committed after
  it ends), each step a conditional UPDATE: an item is handed to the mail server at most once
  by the run, whatever the number of workers. An item found `sending` when a run starts was in
  flight when its worker died: nobody knows whether the server got it, so it becomes an error
  "outcome unknown" and goes out again only by an explicit resend. Hard-copy items go
  pending → printed; the run's printed letters are combined into one .docx, one letter per
  page (D9). A problem with one entry (an invalid address, a refusal by the server, a subject
  with a line break, a letter that cannot be made) makes that entry an error with the reason;
  the run goes on with the others.
- Consent is checked at the moment of sending (CONTRACT "Consent per channel and unsubscribe"):
  the conditional UPDATE that claims an item (pending → sending for an e-mail, pending →
  printed for a letter) also requires that the entry's contact has not withdrawn consent for
  the entry's channel (`_consent_withdrawn`, NOT EXISTS in the same statement); an item it does
  not claim for that reason becomes `skipped` (item and entry, nothing sent, nothing stored),
  counted in `Delivery.skipped`. Each batch first skips, set-based, the pending items whose
  contact withdrew already (no letter made for them), so a withdrawal between the Log and the
  delivery, or during it, is honoured for every e-mail and letter not yet sent or made. A
  hard-copy letter is a send too: its contact's postal consent is checked when it is made,
  and a skipped letter is left out of the print file.
- Every entry keeps the exact document made for it (R72): the letter is stored as a
  `Document` and the entry points at it in the same transaction that claims the item, so what
  is sent is what is stored.
- `delivery_resend` starts a delivery over the entries in error only; an entry that was sent
  is never part of one. A delivery whose worker stopped (its lease has passed) is taken over
  by any live worker (`deliveries_heal`, crm.worker); `delivery_resume` re-enqueues it at
  once, by hand. A worker asked to stop (SIGTERM) finishes its batch and hands the rest back
  to the queue (`_hand_back`).

Reads are per batch (`BATCH_SIZE` entries in one query with everything a letter shows, each
Word template loaded and prepared once per run); writes are a fixed handful of statements per
entry, because each entry's state must be committed on its own around its send. One SMTP
connection per batch.
"""

from __future__ import annotations

import logging
import re
import smtplib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.languages import letter_language
from crm.models import CorrespondenceType, consent_withdrawn_q
from crm.permissions import recorded_user, require
from crm.sql import insert_select
from crm.worker import job_enqueue, job_lease, jobs_heal, stop_requested

from . import mail
from .documents import document_create, document_file_name, document_rewrite
from .merge_fields import MergeError, line_context, salutation_formulas
from .models import (
    Delivery,
    DeliveryItem,
    DeliveryItemStatus,
    DeliveryKind,
    DeliveryState,
    DeliveryStatus,
    Document,
    InteractionLogEntry,
    LoggedSegment,
)
from .ooxml import DOCX_CONTENT_TYPE
from .storage import file_store, stored_bytes
from .unsubscribe import entry_unsubscribe_url, page_language
from .wordtemplates import LetterRenderError, WordTemplateInvalid, prepared_template, salutation_kinds

logger = logging.getLogger(__name__)

# How long a run holds its delivery without renewing is crm.worker.job_lease()
# (CRM_JOB_LEASE_SECONDS, two minutes): a worker that stops (killed, machine gone) leaves a
# delivery that any live worker takes over once it has passed (`deliveries_heal`). Renewed
# whenever half of it is left, so a slow mail server (EMAIL_TIMEOUT, 30 s by default) never
# loses a live run its delivery.
# Entries read (with everything their letters show) in one query, and sent over one SMTP connection.
BATCH_SIZE = 100
# Failures listed by `delivery_progress` (the page and the command summary).
FAILURES_SHOWN = 20

OUTCOME_UNKNOWN = "outcome unknown: the worker stopped while sending; resend to try again"

# What a letter needs of its entry, in one query.
ENTRY_RELATED = (
    "contact",
    "contact__company",
    "contact__country",
    "alt_address",
    "alt_address__country",
    "salesperson",
    "campaign",
    "logged_segment",
)


class DeliveryRefused(ValidationError):
    """A delivery that cannot start or resume, with the reason (nothing was written)."""


class NothingToDeliver(DeliveryRefused):
    """No entry of the logged segment is waiting for this kind of delivery."""


# --- Letters ------------------------------------------------------------------------------------


class LetterMaker:
    """Makes entries' letters (R72): the salutation formulas read once, each Word template
    loaded and prepared once (prepared templates are cached by SHA-256, `prepared_template`)."""

    def __init__(self) -> None:
        self.formulas = salutation_formulas()
        self.today = timezone.localdate()
        self._templates: dict[int, Any] = {}  # document id → PreparedTemplate, or the reason it cannot be used
        self._documents: dict[int, Document] = {}  # document id → the Word template's row (a letter's base)
        self._kinds: dict[int, tuple[str, ...]] = {}  # document id → the salutation types it uses

    def load(self, document_ids) -> None:
        """Prepare the templates of `document_ids` not prepared yet (one query, then each file read
        from storage)."""
        missing = {pk for pk in document_ids if pk is not None and pk not in self._templates}
        if not missing:
            return
        for document in Document.objects.filter(pk__in=missing).select_related("base"):
            pk = document.pk
            self._documents[pk] = document
            try:
                prepared = prepared_template(document.read_bytes())
                self._templates[pk] = prepared
                self._kinds[pk] = tuple(salutation_kinds(prepared.fields))
            except WordTemplateInvalid as exc:
                self._templates[pk] = _("Word document %(name)s cannot be used: %(problems)s") % {
                    "name": document.file_name,
                    "problems": "; ".join(exc.messages),
                }

    def template_document(self, document_id: int | None) -> Document | None:
        """The loaded Word template `document_id` (the base its letters are stored against)."""
        return self._documents.get(document_id) if document_id is not None else None

    def letter(self, entry: InteractionLogEntry) -> bytes:
        """The entry's letter as .docx bytes; raises LetterError with the reason."""
        if entry.word_template_id is None:
            raise LetterError(
                _("no Word document: the template %(template)s has none for language %(language)s")
                % {"template": entry.interaction_template_id, "language": entry.language_id or _("(blank)")}
            )
        self.load([entry.word_template_id])
        prepared = self._templates[entry.word_template_id]
        if isinstance(prepared, str):
            raise LetterError(prepared)
        logged = entry.logged_segment if entry.logged_segment_id else None
        segment = SimpleNamespace(no=entry.segment_no, description=logged.description if logged else "")
        try:
            context = line_context(
                entry, segment, self.formulas, today=self.today, salutation_types=self._kinds[entry.word_template_id]
            )
            return prepared.render(context, language=letter_language(entry.language_id))
        except MergeError as exc:
            raise LetterError("; ".join(exc.messages)) from exc
        except LetterRenderError as exc:
            raise LetterError(str(exc)) from exc


class LetterError(Exception):
    """An entry whose letter cannot be made, with the reason."""


def entry_letter(entry: InteractionLogEntry, *, maker: LetterMaker | None = None) -> bytes:
    """The letter of one entry: its Word template (`entry.word_template`, the document the log
    chose for its line) merged with the entry's fields as a segment line's (merge_fields:
    contact with the alternate address on the entry's date, salutations in its language, …;
    only the salutations the document uses need a formula). Raises LetterError with the reason.
    Pass a `LetterMaker` to make many letters with each template prepared once; load the
    entries with `ENTRY_RELATED` so making them reads nothing more."""
    return (maker or LetterMaker()).letter(entry)


def letter_name(entry: InteractionLogEntry) -> str:
    """ "<subject>.docx" (the description when the subject is blank), in safe characters."""
    name = re.sub(r"[\\/]", "_", entry.subject or entry.description)
    return document_file_name(f"{name}.docx", default="letter.docx")


# --- E-mail -------------------------------------------------------------------------------------


def entry_email(entry: InteractionLogEntry, letter: bytes) -> EmailMultiAlternatives:
    """The e-mail of an entry (R70; its shape: interactions.mail): to `entry.contact_via` (the
    log put the active alternate address's e-mail there, else the contact's), subject = the
    entry's subject (else its description), from "<salesperson> via <our company>" on the
    sending address, replies to the entry's salesperson, a Message-ID on the sending domain.
    A text part and an HTML part (multipart/alternative): the letter itself (made with channel
    `email`), or, when the entry sends it as an attachment, a short note with the merged .docx
    attached as "<subject>.docx"; both end with the contact's unsubscribe link (unless the letter
    shows it itself), which the
    `List-Unsubscribe` and `List-Unsubscribe-Post` headers carry too (an entry of a logged
    segment: every entry a delivery sends). Raises ValidationError for an invalid address and ValueError
    for a header that cannot be sent (a subject with a line break); the message is checked
    whole, so what raises here never reaches the mail server."""
    address = entry.contact_via.strip()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise ValidationError(
            _('invalid e-mail address "%(address)s"') % {"address": entry.contact_via}, code="invalid_email"
        ) from exc
    # What the CRM adds to the letter (the note, the unsubscribe line, "via") speaks the
    # entry's language when the pages speak it, else English: never the sender's language.
    with translation.override(page_language(entry.language_id) or settings.LANGUAGE_CODE):
        return _entry_email(entry, letter, address)


def _entry_email(entry: InteractionLogEntry, letter: bytes, address: str) -> EmailMultiAlternatives:
    subject = entry.subject or entry.description
    salesperson = entry.salesperson if entry.salesperson_id else None
    if entry.send_as_attachment:
        name = letter_name(entry)
        body_html = mail.paragraph_html(_("Please find the letter attached: %(name)s") % {"name": name})
    else:
        from .letters import letter_html

        body_html = letter_html(letter)
    # The contact's one-click unsubscribe link: in the headers and in both parts, at their end
    # unless the letter already shows it in its own words (a template using `unsubscribe_url`).
    unsubscribe_url = entry_unsubscribe_url(entry)
    footer_url = "" if unsubscribe_url and unsubscribe_url in body_html else unsubscribe_url
    message = EmailMultiAlternatives(
        subject,
        mail.plain_text(body_html) + (mail.unsubscribe_text(footer_url) if footer_url else ""),
        mail.sender(salesperson.name if salesperson else ""),
        [address],
        # Replies go to the entry's salesperson, whom the letter names as the contact person.
        reply_to=mail.reply_to(salesperson),
        headers={
            "Message-ID": mail.message_id(),
            **(mail.unsubscribe_headers(unsubscribe_url) if unsubscribe_url else {}),
        },
    )
    message.attach_alternative(
        mail.email_html(body_html, title=subject, language=entry.language_id or "", unsubscribe_url=footer_url),
        "text/html",
    )
    if entry.send_as_attachment:
        message.attach(name, letter, DOCX_CONTENT_TYPE)
    try:
        message.message()  # every header checked, as the backend will build it
    except ValueError as exc:  # a header with a line break (a subject made from a name with "\n")
        raise ValueError(_("the e-mail cannot be built: %(reason)s") % {"reason": exc}) from exc
    return message


class _Mailer:
    """The run's mail connection: opened once per batch, when its first e-mail is ready; after
    a send that broke it (a dropped connection, a socket error) it is closed and the next e-mail
    opens a new one; a message the server refused leaves it open. When opening fails, the
    batch's remaining e-mails fail with the same reason without another attempt (nothing of
    them reached a server)."""

    def __init__(self) -> None:
        self.backend = None
        self.open_error: Exception | None = None

    def ensure_open(self) -> None:
        if self.open_error is not None:
            raise self.open_error
        if self.backend is None:
            backend = mailers.default
            try:
                backend.open()
            except Exception as exc:
                self.open_error = exc
                raise
            self.backend = backend

    def send(self, message: EmailMultiAlternatives) -> None:
        self.ensure_open()
        try:
            sent = self.backend.send_messages([message])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise  # the server refused this message; smtplib has reset the session for the next one
        except Exception:
            self.close()
            raise
        if not sent:
            raise smtplib.SMTPException("the mail backend did not accept the message")

    def close(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:  # a connection that is already gone
                logger.debug("closing the mail connection failed", exc_info=True)
            self.backend = None

    def end_batch(self) -> None:
        self.close()
        self.open_error = None


def failure_reason(exc: BaseException) -> str:
    """One line saying why an entry failed."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{address}: {code} {_decode(text)}" for address, (code, text) in exc.recipients.items())
        return _("the mail server refused the recipient (%(refused)s)") % {"refused": refused}
    if isinstance(exc, smtplib.SMTPResponseException):
        return _("the mail server answered %(code)s %(text)s") % {
            "code": exc.smtp_code,
            "text": _decode(exc.smtp_error),
        }
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _("the mail server closed the connection (%(text)s); resend to try again") % {"text": exc}
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return _("the mail server cannot be reached (%(text)s)") % {"text": exc}
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, (LetterError, ValueError)) else text


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- Starting, resending, resuming ---------------------------------------------------------------


def delivery_runs_inline() -> bool:
    """Whether an enqueued delivery runs inside the enqueue (the default ImmediateBackend)."""
    from django.tasks.backends.immediate import ImmediateBackend

    from .tasks import delivery_task

    return isinstance(delivery_task.get_backend(), ImmediateBackend)


def _enqueue(delivery_id: int) -> None:
    from .tasks import delivery_task

    result = job_enqueue(Delivery, delivery_task, delivery_id)
    for error in getattr(result, "errors", None) or ():  # an inline run that raised: resumable, but say why
        logger.error("delivery %s stopped: %s", delivery_id, error.traceback)


def _refuse_unfinished(logged_segment_id: int) -> None:
    delivery = (
        Delivery.objects.filter(logged_segment_id=logged_segment_id).exclude(state=DeliveryState.FINISHED).first()
    )
    if delivery is not None:
        raise DeliveryRefused(
            _(
                "logged segment %(logged)s already has a delivery under way (delivery %(delivery)s, %(state)s); "
                "wait until it has finished."
            ),
            code="delivery_under_way",
            params={"logged": logged_segment_id, "delivery": delivery.pk, "state": delivery.get_state_display()},
        )


def resendable_entries(logged_segment_id: int):
    """The entries a resend delivers again (CONTRACT `logged_segment resend`): the logged
    segment's e-mail entries whose delivery ended in an error, not canceled; never one that was
    sent."""
    return InteractionLogEntry.objects.filter(
        logged_segment_id=logged_segment_id,
        delivery_status=DeliveryStatus.ERROR,
        canceled=False,
        correspondence_type=CorrespondenceType.EMAIL,
    )


def delivery_start(*, user, logged_segment: LoggedSegment | int, kind: str = DeliveryKind.DELIVER) -> Delivery:
    """Start a delivery of a logged segment's entries (D8) and return it.

    `kind` "deliver" covers the entries waiting for delivery (`in_progress`, as the log with
    deliver left them); "resend" covers the e-mail entries in error (they go back to
    `in_progress`) and never one that was sent. Canceled entries are left out of a resend. One durable
    transaction: the logged segment row is locked, an unfinished delivery of it is refused
    (DeliveryRefused, nothing written; the partial unique constraint refuses a concurrent one
    that got past the check), the delivery and its items are two set-based statements, and
    no entry at all raises NothingToDeliver. The task is enqueued after the commit, so a
    worker never looks for a delivery that is not there; with the default ImmediateBackend
    the delivery has run when this returns.
    """
    require(user, "segments.log_segment" if kind == DeliveryKind.DELIVER else "interactions.change_interactionlogentry")
    if kind not in DeliveryKind.values:
        raise ValueError(f"unknown delivery kind {kind!r}")
    try:
        logged_id = logged_segment.pk if isinstance(logged_segment, LoggedSegment) else int(logged_segment)
    except (TypeError, ValueError):
        raise DeliveryRefused(
            _('logged segment: "%(id)s" is not a number'), code="unknown_logged_segment", params={"id": logged_segment}
        ) from None
    with transaction.atomic(durable=True):
        logged = LoggedSegment.objects.select_for_update().filter(pk=logged_id).first()
        if logged is None:
            raise DeliveryRefused(
                _('unknown logged segment "%(id)s"'), code="unknown_logged_segment", params={"id": logged_id}
            )
        _refuse_unfinished(logged.pk)
        if kind == DeliveryKind.DELIVER:
            entries = InteractionLogEntry.objects.filter(
                logged_segment=logged, delivery_status=DeliveryStatus.IN_PROGRESS
            )
        else:
            entries = resendable_entries(logged.pk)
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(logged_segment=logged, kind=kind, created_by=recorded_user(user))
        except IntegrityError as exc:  # a concurrent start got in first
            _refuse_unfinished(logged.pk)
            raise DeliveryRefused(
                _("logged segment %(logged)s already has a delivery under way."),
                code="delivery_under_way",
                params={"logged": logged.pk},
            ) from exc
        total = insert_select(
            DeliveryItem,
            entries,
            {
                "delivery_id": Value(delivery.pk),
                "entry_id": F("pk"),
                "status": Value(DeliveryItemStatus.PENDING),
                "error": Value(""),
            },
        )
        if not total:
            raise NothingToDeliver(
                _("logged segment %(logged)s has no entries waiting for delivery.")
                if kind == DeliveryKind.DELIVER
                else _("logged segment %(logged)s has no entries with a delivery error to resend."),
                code="nothing_to_deliver",
                params={"logged": logged.pk},
            )
        if kind == DeliveryKind.RESEND:
            InteractionLogEntry.objects.filter(
                pk__in=DeliveryItem.objects.filter(delivery=delivery).values("entry_id")
            ).update(delivery_status=DeliveryStatus.IN_PROGRESS, delivery_error="")
        Delivery.objects.filter(pk=delivery.pk).update(total=total)
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    delivery.refresh_from_db()
    return delivery


def delivery_resend(*, user, logged_segment_id) -> Delivery:
    """Deliver again the entries of a logged segment whose delivery status is error (CONTRACT
    `logged_segment resend`); never one that was sent. See `delivery_start`."""
    return delivery_start(user=user, logged_segment=logged_segment_id, kind=DeliveryKind.RESEND)


def _stalled(delivery: Delivery, now) -> bool:
    if delivery.state == DeliveryState.RUNNING:
        return delivery.lease_until is None or delivery.lease_until < now
    if delivery.state == DeliveryState.QUEUED:
        return delivery.created_at < now - job_lease()
    return False


def delivery_resume(*, user, delivery_id) -> Delivery:
    """Enqueue a delivery again whose worker stopped: a running one whose lease has passed, or
    one still queued (its task may be lost). A finished delivery, or one whose worker still
    holds its lease, is refused (DeliveryRefused). The run picks up the pending items; an item
    that was being sent when the worker stopped becomes an error "outcome unknown". Resuming
    twice is harmless: the run claims the delivery, and a second run finds it claimed."""
    require(user, "interactions.change_interactionlogentry")
    try:
        pk = int(delivery_id)
    except (TypeError, ValueError):
        raise DeliveryRefused(_('delivery: "%(id)s" is not a number'), params={"id": delivery_id}) from None
    with transaction.atomic(durable=True):
        delivery = Delivery.objects.select_for_update().filter(pk=pk).first()
        if delivery is None:
            raise DeliveryRefused(_('unknown delivery "%(id)s"'), code="unknown_delivery", params={"id": pk})
        now = timezone.now()
        if delivery.state == DeliveryState.FINISHED:
            raise DeliveryRefused(
                _("delivery %(id)s has finished: nothing to resume (resend the entries in error instead)."),
                code="finished",
                params={"id": pk},
            )
        if delivery.state == DeliveryState.RUNNING and not _stalled(delivery, now):
            raise DeliveryRefused(
                _("delivery %(id)s is running: its worker holds it until %(until)s; resume it only after that."),
                code="running",
                params={"id": pk, "until": timezone.localtime(delivery.lease_until).strftime("%Y-%m-%d %H:%M:%S")},
            )
        transaction.on_commit(lambda: _enqueue(pk))
    delivery.refresh_from_db()
    return delivery


# --- The run ------------------------------------------------------------------------------------


@dataclass
class _Run:
    delivery_id: int
    lease_until: Any
    renewed_at: Any

    def renew(self, *, force: bool = False) -> bool:
        """Extend the lease when half of it is gone (or `force`); False when the run no longer
        holds the delivery (another worker resumed it after the lease passed)."""
        now = timezone.now()
        if not force and now - self.renewed_at < job_lease() / 2:
            return True
        new = now + job_lease()
        held = Delivery.objects.filter(
            pk=self.delivery_id, state=DeliveryState.RUNNING, lease_until=self.lease_until
        ).update(lease_until=new)
        if held:
            self.lease_until, self.renewed_at = new, now
        return bool(held)


def _claim(delivery_id: int) -> _Run | None:
    """The run's claim: a conditional UPDATE of the delivery (queued, or running with its lease
    passed), checked by its row count."""
    now = timezone.now()
    lease = now + job_lease()
    claimed = (
        Delivery.objects.filter(pk=delivery_id)
        .filter(Q(state=DeliveryState.QUEUED) | Q(state=DeliveryState.RUNNING, lease_until__lt=now))
        .update(state=DeliveryState.RUNNING, lease_until=lease, started_at=Coalesce(F("started_at"), Value(now)))
    )
    return _Run(delivery_id, lease, now) if claimed else None


def _items(delivery_id: int, status: str):
    return DeliveryItem.objects.filter(delivery_id=delivery_id, status=status)


def _consent_withdrawn() -> Exists:
    """For delivery items: the item's entry has a contact who withdrew consent for the entry's
    channel (e-mail for an e-mail entry, postal for a hard copy). A correlated EXISTS, so a
    claim checks it in its own UPDATE statement, as the consent stands at that moment."""
    return Exists(
        InteractionLogEntry.objects.filter(pk=OuterRef("entry_id")).filter(consent_withdrawn_q(contact="contact__"))
    )


def _skip_withdrawn(delivery_id: int, entry_ids: list[int]) -> int:
    """The pending items of `entry_ids` in the delivery whose contact withdrew consent for the
    entry's channel become skipped, with their entries, and the delivery counts them: one
    transaction of three set-based statements, the items claimed first (pending → skipped, a
    conditional UPDATE) so a run that took over never counts them twice. Returns how many."""
    with transaction.atomic():
        items = _items(delivery_id, DeliveryItemStatus.PENDING).filter(entry_id__in=entry_ids)
        count = items.filter(_consent_withdrawn()).update(status=DeliveryItemStatus.SKIPPED, finished_at=timezone.now())
        if count:
            skipped = _items(delivery_id, DeliveryItemStatus.SKIPPED).filter(entry_id__in=entry_ids)
            InteractionLogEntry.objects.filter(
                pk__in=Subquery(skipped.values("entry_id")), delivery_status=DeliveryStatus.IN_PROGRESS
            ).update(delivery_status=DeliveryStatus.SKIPPED, delivery_error="")
            Delivery.objects.filter(pk=delivery_id).update(skipped=F("skipped") + count)
    return count


def _settle_in_flight(delivery_id: int) -> int:
    """Items left `sending` by a worker that stopped: error "outcome unknown" (item and entry)."""
    with transaction.atomic():
        stuck = _items(delivery_id, DeliveryItemStatus.SENDING)
        InteractionLogEntry.objects.filter(pk__in=Subquery(stuck.values("entry_id"))).update(
            delivery_status=DeliveryStatus.ERROR, delivery_error=OUTCOME_UNKNOWN
        )
        count = stuck.update(status=DeliveryItemStatus.ERROR, error=OUTCOME_UNKNOWN, finished_at=timezone.now())
        if count:
            Delivery.objects.filter(pk=delivery_id).update(failed=F("failed") + count)
    return count


class _Delivering:
    """One run over a delivery's pending items (see the module docstring)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.maker = LetterMaker()
        self.mailer = _Mailer()

    # Transitions: each a conditional UPDATE of the item, in one transaction with the entry and
    # the delivery's counters; False when the item was not in `from_status` (another run has it).

    def fail(self, entry: InteractionLogEntry, reason: str, from_status: str) -> bool:
        with transaction.atomic():
            if (
                not _items(self.run.delivery_id, from_status)
                .filter(entry_id=entry.pk)
                .update(status=DeliveryItemStatus.ERROR, error=reason, finished_at=timezone.now())
            ):
                return False
            InteractionLogEntry.objects.filter(pk=entry.pk).update(
                delivery_status=DeliveryStatus.ERROR, delivery_error=reason
            )
            Delivery.objects.filter(pk=self.run.delivery_id).update(failed=F("failed") + 1)
        return True

    def _store(self, entry: InteractionLogEntry, letter: bytes, **entry_values) -> None:
        """The letter becomes the entry's document (R72). The document of an earlier, failed
        attempt belongs to this entry alone and is rewritten in place: one UPDATE, where
        deleting it would make Django look for other users of it in every table that refers to
        documents (scans of the entry and line tables, for each entry of a resend)."""
        name = letter_name(entry)
        base = self.maker.template_document(entry.word_template_id)  # stored as what differs from it
        if entry.document_id is not None and document_rewrite(
            document_id=entry.document_id, data=letter, file_name=name, base=base
        ):
            if entry_values:
                InteractionLogEntry.objects.filter(pk=entry.pk).update(**entry_values)
            return
        document = document_create(data=letter, file_name=name, base=base)
        InteractionLogEntry.objects.filter(pk=entry.pk).update(document=document, **entry_values)
        entry.document = document

    def claim_sending(self, entry: InteractionLogEntry, letter: bytes) -> bool:
        """pending → sending, only while the contact has not withdrawn e-mail consent (the same
        statement); an item not claimed for that reason is skipped. False when not claimed."""
        with transaction.atomic():
            if (
                not _items(self.run.delivery_id, DeliveryItemStatus.PENDING)
                .filter(entry_id=entry.pk)
                .exclude(_consent_withdrawn())
                .update(status=DeliveryItemStatus.SENDING)
            ):
                _skip_withdrawn(self.run.delivery_id, [entry.pk])
                return False
            self._store(entry, letter)
        return True

    def sent(self, entry: InteractionLogEntry) -> None:
        with transaction.atomic():
            if (
                not _items(self.run.delivery_id, DeliveryItemStatus.SENDING)
                .filter(entry_id=entry.pk)
                .update(status=DeliveryItemStatus.SENT, finished_at=timezone.now())
            ):
                return  # settled as "outcome unknown" by a run that took over: it stays an error
            InteractionLogEntry.objects.filter(pk=entry.pk).update(
                delivery_status=DeliveryStatus.SENT, delivery_error=""
            )
            Delivery.objects.filter(pk=self.run.delivery_id).update(sent=F("sent") + 1)

    def printed(self, entry: InteractionLogEntry, letter: bytes) -> None:
        """pending → printed, only while the contact has not withdrawn postal consent (the same
        statement); an item not claimed for that reason is skipped and left out of the print file."""
        with transaction.atomic():
            if (
                not _items(self.run.delivery_id, DeliveryItemStatus.PENDING)
                .filter(entry_id=entry.pk)
                .exclude(_consent_withdrawn())
                .update(status=DeliveryItemStatus.PRINTED, finished_at=timezone.now())
            ):
                _skip_withdrawn(self.run.delivery_id, [entry.pk])
                return
            self._store(entry, letter, delivery_status=DeliveryStatus.SENT, delivery_error="")
            Delivery.objects.filter(pk=self.run.delivery_id).update(printed=F("printed") + 1)

    # One entry.

    def deliver(self, entry: InteractionLogEntry) -> None:
        pending = DeliveryItemStatus.PENDING
        if entry.canceled:
            self.fail(entry, _("the entry was canceled before it was delivered"), pending)
            return
        if entry.correspondence_type not in (CorrespondenceType.EMAIL, CorrespondenceType.HARD_COPY):
            self.fail(entry, _("the entry has no correspondence type: nothing to deliver"), pending)
            return
        try:
            letter = self.maker.letter(entry)
            if entry.correspondence_type == CorrespondenceType.HARD_COPY:
                self.printed(entry, letter)
                return
            message = entry_email(entry, letter)
            self.mailer.ensure_open()
        except DatabaseError:
            raise
        except Exception as exc:  # this entry only: its reason is recorded, the run goes on
            self.fail(entry, failure_reason(exc), pending)
            return
        if not self.claim_sending(entry, letter):
            return
        try:
            self.mailer.send(message)
        except Exception as exc:
            self.fail(entry, failure_reason(exc), DeliveryItemStatus.SENDING)
            return
        self.sent(entry)

    # The whole run.

    def batches(self):
        after = 0
        while True:
            ids = list(
                _items(self.run.delivery_id, DeliveryItemStatus.PENDING)
                .filter(entry_id__gt=after)
                .order_by("entry_id")
                .values_list("entry_id", flat=True)[:BATCH_SIZE]
            )
            if not ids:
                return
            after = ids[-1]
            # Those whose contact withdrew consent already are skipped at once: no letter is made.
            # The claim of each other item checks again, as the consent stands when it is sent.
            if _skip_withdrawn(self.run.delivery_id, ids):
                ids = list(
                    _items(self.run.delivery_id, DeliveryItemStatus.PENDING)
                    .filter(entry_id__in=ids)
                    .values_list("entry_id", flat=True)
                )
            entries = list(InteractionLogEntry.objects.filter(pk__in=ids).select_related(*ENTRY_RELATED).order_by("pk"))
            self.maker.load({entry.word_template_id for entry in entries})
            yield entries

    def __call__(self) -> str:
        """Deliver every pending item: DONE; LOST when the run lost its lease half-way; STOPPED
        when its worker was asked to stop (checked after each batch: the batch is finished)."""
        for entries in self.batches():
            if not self.run.renew(force=True):
                return LOST
            try:
                for entry in entries:
                    if not self.run.renew():
                        return LOST
                    self.deliver(entry)
            finally:
                self.mailer.end_batch()
            if stop_requested() and not delivery_runs_inline():
                return STOPPED
        return DONE if self.run.renew(force=True) else LOST


DONE, LOST, STOPPED = "done", "lost", "stopped"


def printed_letters(delivery_id: int) -> Iterator[bytes]:
    """The letters of the delivery's print file (its printed entries' documents, in entry
    order), read one at a time from storage (a compact letter rebuilt from its Word template)."""
    letters = (
        InteractionLogEntry.objects.filter(
            delivery_items__delivery_id=delivery_id, delivery_items__status=DeliveryItemStatus.PRINTED
        )
        .order_by("pk")
        .values_list("document__file", "document__base__file")
        .iterator(chunk_size=500)
    )
    return (stored_bytes(letter, base) for letter, base in letters)


def _print_document(delivery_id: int, segment_no: str) -> None:
    """The printed letters of the delivery in one .docx, one letter per page, in entry order
    (D9), stored as its print document; streamed: the letters are read one at a time from
    storage (a compact letter rebuilt from its Word template), the combined file is written to a
    temporary file on disk and stored from there (never whole in memory)."""
    from .letters import combine_docx

    if not _items(delivery_id, DeliveryItemStatus.PRINTED).exists():
        return
    with tempfile.TemporaryFile() as out:
        combine_docx(printed_letters(delivery_id), out)
        out.flush()
        file_name = f"Segment {segment_no} letters.docx"
        stored = file_store(out, file_name=file_name)  # before the transaction: it may take a while
    with transaction.atomic():
        document = document_create(data=stored, file_name=file_name)
        if not Delivery.objects.filter(pk=delivery_id, print_document__isnull=True).update(print_document=document):
            raise IntegrityError("the print document was set by another run")


def _hand_back(run: _Run) -> dict[str, int] | None:
    """Give the delivery back to the queue because this worker is stopping (SIGTERM): running →
    queued under this run's lease and a new task for it, in one transaction, so the next free
    worker goes on with the pending items. Returns the items per status as this run leaves them
    (read before the new task can be seen: nothing in flight, the rest pending), for the task
    result; None when the run no longer held the delivery."""
    with transaction.atomic():
        if not Delivery.objects.filter(
            pk=run.delivery_id, state=DeliveryState.RUNNING, lease_until=run.lease_until
        ).update(state=DeliveryState.QUEUED, lease_until=None):
            return None
        items = DeliveryItem.objects.filter(delivery_id=run.delivery_id)
        left = dict(items.values_list("status").annotate(n=Count("pk")).order_by())
        _enqueue(run.delivery_id)
    logger.warning("delivery %s handed back to the queue: its worker is stopping (%s)", run.delivery_id, left)
    return left


def deliveries_heal(now) -> int:
    """Re-queue the deliveries whose worker stopped (a crm.hooks job healer, run by every
    worker; RELIABILITY 21); returns how many.

    - a running delivery whose lease has passed goes back to queued with a new task: the next
      run turns its item in flight into "outcome unknown" (never sent again on its own) and
      goes on with the pending items;
    - a queued delivery older than a lease whose task is no longer in the queue (lost between a
      commit and its enqueue) gets a new task.
    Each is a conditional UPDATE, so two workers healing at once re-queue a delivery once.
    """
    from .tasks import delivery_task

    stale = Q(state=DeliveryState.RUNNING, lease_until__lt=now)
    return jobs_heal(Delivery, delivery_task, now, stale=stale, reset={"lease_until": None})


def delivery_run(delivery_id: int) -> dict[str, Any]:
    """The task body: run delivery `delivery_id` to the end (see the module docstring).

    Returns a summary (JSON-serialisable) for the task result. When another worker holds the
    delivery, or it has finished, returns at once with `claimed` False.
    """
    run = _claim(delivery_id)
    if run is None:
        return {"delivery": delivery_id, "claimed": False}
    _settle_in_flight(delivery_id)
    outcome = _Delivering(run)()
    if outcome == STOPPED:
        left = _hand_back(run)
        return {
            "delivery": delivery_id,
            "claimed": True,
            "finished": False,
            "handed_back": left is not None,
            "items": left,
        }
    if outcome == LOST:
        return {"delivery": delivery_id, "claimed": True, "finished": False}
    delivery = Delivery.objects.select_related("logged_segment").get(pk=delivery_id)
    if delivery.print_document_id is None:
        _print_document(delivery_id, delivery.logged_segment.segment_no)
    finished = Delivery.objects.filter(pk=delivery_id, state=DeliveryState.RUNNING, lease_until=run.lease_until).update(
        state=DeliveryState.FINISHED, finished_at=timezone.now(), lease_until=None
    )
    delivery.refresh_from_db()
    return {
        "delivery": delivery_id,
        "claimed": True,
        "finished": bool(finished),
        "sent": delivery.sent,
        "printed": delivery.printed,
        "failed": delivery.failed,
        "skipped": delivery.skipped,
    }


# --- Reads --------------------------------------------------------------------------------------


def delivery_progress(delivery: Delivery | int) -> dict[str, Any]:
    """Where a delivery stands, for a progress bar and the summary at the end: total, done,
    sent, printed, failed, skipped (consent withdrawn), state, stalled (its worker stopped:
    resume it), percent, the print document's id, and the first FAILURES_SHOWN failures as
    (entry no., contact no., contact name, reason). Two queries."""
    pk = delivery.pk if isinstance(delivery, Delivery) else int(delivery)
    delivery = Delivery.objects.get(pk=pk)
    failures = [
        {
            "entry_no": item.entry_id,
            "contact_no": item.entry.contact.no,
            "contact_name": item.entry.contact.name,
            "reason": item.error,
        }
        for item in _items(pk, DeliveryItemStatus.ERROR)
        .select_related("entry__contact")
        .only("entry_id", "error", "entry__contact__no", "entry__contact__name")
        .order_by("entry_id")[:FAILURES_SHOWN]
    ]
    done = delivery.done
    return {
        "id": delivery.pk,
        "kind": delivery.kind,
        "state": delivery.state,
        "total": delivery.total,
        "done": done,
        "sent": delivery.sent,
        "printed": delivery.printed,
        "failed": delivery.failed,
        "skipped": delivery.skipped,
        "percent": 100 if not delivery.total else min(100, done * 100 // delivery.total),
        "stalled": _stalled(delivery, timezone.now()),
        "print_document_id": delivery.print_document_id,
        "failures": failures,
    }


def skipped_text(count: int) -> str:
    """ "2 skipped: consent withdrawn" (the delivery summary and page)."""
    return ngettext("%(count)s skipped: consent withdrawn", "%(count)s skipped: consent withdrawn", count) % {
        "count": count
    }


def delivery_summary_lines(delivery: Delivery | int) -> list[str]:
    """The summary of a delivery as lines of text (for commands): counts, the entries skipped
    because their contact withdrew consent ("2 skipped: consent withdrawn"), then each failure
    shown by `delivery_progress`."""
    progress = delivery_progress(delivery)
    lines = [
        _("delivery %(id)s: %(sent)s sent, %(printed)s made for print, %(failed)s failed of %(total)s (%(state)s)")
        % progress
    ]
    if progress["skipped"]:
        lines.append(skipped_text(progress["skipped"]))
    lines += [
        _("entry %(entry_no)s (%(contact_no)s %(contact_name)s): %(reason)s") % failure
        for failure in progress["failures"]
    ]
    if progress["failed"] > len(progress["failures"]):
        more = progress["failed"] - len(progress["failures"])
        lines.append(ngettext("… and %(more)s more failure", "… and %(more)s more failures", more) % {"more": more})
    return lines
