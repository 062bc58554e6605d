"""Interaction groups and templates (SPEC F1.8, F1.9).

A template carries the defaults a segment line or a single interaction takes: description,
cost, duration, information flow, initiated by, correspondence type, campaign and language.
Each template has language rows (description and subject per language); the Word documents of
those rows arrive with the Word-merge work.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import (
    CODE_VALIDATOR,
    Campaign,
    CodedModel,
    CodeQuerySet,
    Contact,
    ContactAltAddress,
    CorrespondenceType,
    Language,
    Salesperson,
)


class InformationFlow(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class InitiatedBy(models.TextChoices):
    US = "us", _("Us")
    THEM = "them", _("Them")


class Evaluation(models.TextChoices):
    VERY_POSITIVE = "very_positive", _("Very positive")
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")
    VERY_NEGATIVE = "very_negative", _("Very negative")


class InteractionGroup(CodedModel):
    name = models.CharField(_("description"), max_length=100, blank=True)

    class Meta(CodedModel.Meta):
        verbose_name = _("interaction group")
        verbose_name_plural = _("interaction groups")


class InteractionTemplate(models.Model):
    code = models.CharField(_("code"), max_length=10, primary_key=True, validators=[CODE_VALIDATOR])
    group = models.ForeignKey(
        InteractionGroup, on_delete=models.PROTECT, related_name="templates", verbose_name=_("interaction group")
    )
    description = models.CharField(
        _("description"), max_length=100, help_text=_("The default description of lines and entries.")
    )
    unit_cost = models.DecimalField(
        _("unit cost"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    unit_duration = models.DecimalField(
        _("unit duration (min.)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    information_flow = models.CharField(
        _("information flow"), max_length=10, choices=InformationFlow.choices, blank=True
    )
    initiated_by = models.CharField(_("initiated by"), max_length=10, choices=InitiatedBy.choices, blank=True)
    correspondence_type = models.CharField(
        _("correspondence type (default)"),
        max_length=10,
        choices=CorrespondenceType.choices,
        blank=True,
        default=CorrespondenceType.EMAIL,
    )
    ignore_contact_correspondence_type = models.BooleanField(
        _("ignore contact correspondence type"),
        default=False,
        help_text=_("Use the template's correspondence type even when the contact prefers another."),
    )
    language = models.ForeignKey(
        Language,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("language (default)"),
        help_text=_("Must be one of the template's languages; a row is created for it when missing."),
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("campaign")
    )
    campaign_target = models.BooleanField(_("campaign target"), default=False)
    campaign_response = models.BooleanField(_("campaign response"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("interaction template")
        verbose_name_plural = _("interaction templates")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="template_unit_cost_not_negative"),
            models.CheckConstraint(condition=Q(unit_duration__gte=0), name="template_unit_duration_not_negative"),
            models.CheckConstraint(
                condition=Q(information_flow="") | Q(information_flow__in=InformationFlow.values),
                name="template_information_flow_valid",
            ),
            models.CheckConstraint(
                condition=Q(initiated_by="") | Q(initiated_by__in=InitiatedBy.values),
                name="template_initiated_by_valid",
            ),
            models.CheckConstraint(
                condition=Q(correspondence_type="") | Q(correspondence_type__in=CorrespondenceType.values),
                name="template_correspondence_type_valid",
            ),
            models.CheckConstraint(condition=~Q(description=""), name="template_description_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.description}"

    def natural_key(self) -> tuple[str]:
        return (self.code,)


# --- Stored documents (SPEC F1.10, F1.9, D10) ----------------------------------------------------


class Document(models.Model):
    """A stored file (F1.10 attachment): a Word template of a template language, and later the
    documents of segments and entries.

    The bytes live in Django's default storage (interactions.storage: MEDIA_ROOT or an
    S3-compatible bucket shared by every web and worker machine) under `file`, a name that is
    never reused; the row keeps the description: `file_name` (the name users see), `size` and
    `sha256` of the document's bytes as read (downloaded). The file is written before the row
    and removed only after the row's removal has committed. A read-only document is never
    changed or removed (logging marks the documents it used read-only). Every foreign key to a
    document uses PROTECT, so a document still in use cannot be deleted.

    An entry's letter made from a read-only Word template is stored compact (issue 13,
    interactions.compact_letters): `file` holds only the parts that differ from `base`, that
    template, and the list of the letter's parts; reading it (`open`, `read_bytes`,
    storage.stored_bytes) rebuilds the letter with the same parts in the same order and the same
    bytes as when it was made. `size` and `sha256` are those of the rebuilt letter (for a letter
    made by our renderer, the letter as made, byte for byte), not of the compact file. `base`
    is PROTECT: a template cannot be deleted while a letter needs it. A document with no base
    is stored whole: Word templates, print files, merge results, a letter that could not be
    compacted, and every letter stored before compact letters existed (they stay as they are;
    no data migration).
    """

    file_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("stored file"), upload_to="documents/", max_length=255, unique=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    content_type = models.CharField(_("content type"), max_length=100)
    read_only = models.BooleanField(_("read-only"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The Word template a compact letter is rebuilt from (None: `file` holds the whole document).
    base = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="compact_letters",
        verbose_name=_("base Word template"),
    )

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(file_name=""), name="document_file_name_not_blank"),
            models.CheckConstraint(condition=~Q(file=""), name="document_file_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.file_name}"

    @property
    def base_file(self) -> str | None:
        """The stored file of the base a compact letter is rebuilt from; None when stored whole."""
        return self.base.file.name if self.base_id is not None else None

    def open(self):
        """The document's bytes, open for reading (binary): read them in chunks. A compact
        letter is rebuilt (storage.stored_open)."""
        from .storage import stored_open

        return stored_open(self.file.name, self.base_file)

    def read_bytes(self) -> bytes:
        """The whole document, for small ones (Word templates, letters); a compact letter is
        rebuilt (storage.stored_bytes)."""
        from .storage import stored_bytes

        return stored_bytes(self.file.name, self.base_file)


class InteractionTemplateLanguage(models.Model):
    """A language of a template: its description and subject in that language (SPEC F1.9)."""

    template = models.ForeignKey(
        InteractionTemplate, on_delete=models.CASCADE, related_name="languages", verbose_name=_("template")
    )
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("language")
    )
    description = models.CharField(_("description"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=100, blank=True)
    # The Word template (docxtpl) of this language (F1.9, D10).
    document = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Word template"),
    )

    class Meta:
        verbose_name = _("interaction template language")
        verbose_name_plural = _("interaction template languages")
        ordering = ["template", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "language"],
                condition=Q(language__isnull=False),
                name="template_language_unique",
            ),
            models.UniqueConstraint(
                fields=["template"], condition=Q(language__isnull=True), name="template_blank_language_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_id}/{self.language_id or '-'}"

    def clean(self) -> None:
        if self.description and "\n" in self.description:
            raise ValidationError({"description": _("Use one line.")}, code="newline")


# --- What logging records (SPEC F1.7, F1.11, F1.18; D8, D11) -------------------------------------


class DeliveryStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    SENT = "sent", _("Sent")
    ERROR = "error", _("Error")
    # The contact had withdrawn e-mail consent when the e-mail would have gone out: nothing sent.
    SKIPPED = "skipped", _("Skipped (consent withdrawn)")


class LoggedSegment(models.Model):
    """A segment after logging (F1.18): what was logged, when and by whom.

    `source_uuid` is the logged segment's `Segment.uuid`, unique, so one segment can be logged
    once only, even by two users at once (the log's claim is the first guard, this the last).
    `no_of_interactions` and `no_of_campaign_entries` count the entries whose Canceled equals
    this row's own (F1.18); every service that changes those flags recounts them in the same
    transaction, so the list page reads them without counting a million rows.
    """

    segment_no = models.CharField(_("segment no."), max_length=20, db_index=True)
    source_uuid = models.UUIDField(_("segment id"), unique=True, editable=False)
    description = models.CharField(_("description"), max_length=100)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    canceled = models.BooleanField(_("canceled"), default=False)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    no_of_interactions = models.PositiveIntegerField(_("interactions"), default=0)
    no_of_campaign_entries = models.PositiveIntegerField(_("campaign entries"), default=0)

    class Meta:
        verbose_name = _("logged segment")
        verbose_name_plural = _("logged segments")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.pk} {self.segment_no} {self.description}".strip()

    def get_absolute_url(self) -> str:
        return reverse("interactions:logged_segment_detail", args=[self.pk])


class CampaignEntry(models.Model):
    """One campaign's share of a logged segment (R46: one per campaign per logged segment), or
    the entry all single interactions of a campaign share (F8: no logged segment, no segment no.).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="entries", verbose_name=_("campaign"))
    description = models.CharField(_("description"), max_length=100, blank=True)
    date = models.DateField(_("date"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    segment_no = models.CharField(_("segment no."), max_length=20, blank=True)
    logged_segment = models.ForeignKey(
        LoggedSegment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaign_entries",
        verbose_name=_("logged segment"),
    )
    salesperson = models.ForeignKey(
        Salesperson, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("salesperson")
    )
    canceled = models.BooleanField(_("canceled"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("campaign entry")
        verbose_name_plural = _("campaign entries")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "logged_segment"],
                condition=Q(logged_segment__isnull=False),
                name="campaign_entry_once_per_logged_segment",
            ),
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(logged_segment__isnull=True, segment_no=""),
                name="campaign_entry_once_for_single_interactions",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.campaign_id} {self.segment_no}".strip()


def _code_reference(model, verbose_name, *, null: bool = True) -> models.ForeignKey:
    """An entry's reference to reference data (codes): kept from deletion by Django's PROTECT,
    without a database constraint, which would cost a check per entry when a segment of
    hundreds of thousands of lines is logged. Entries are filtered by these columns, so they
    are indexed, by plain indexes in Meta: a field's own index would come with a second
    `varchar_pattern_ops` index on PostgreSQL, for LIKE searches nobody makes on codes."""
    return models.ForeignKey(
        model,
        on_delete=models.PROTECT,
        null=null,
        blank=null,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=verbose_name,
    )


class InteractionLogEntryQuerySet(models.QuerySet):
    def counted(self) -> InteractionLogEntryQuerySet:
        """The entries statistics count (F1.11: canceled entries are left out)."""
        return self.filter(canceled=False)


class InteractionLogEntry(models.Model):
    """One interaction with one contact (F1.11): what was sent or said, when, by whom, at what cost.

    The entry number is the primary key (D11: the database's own sequence, gaps possible).
    Entries are history: no page edits their values, only canceled, evaluation and comments.
    An entry from a segment names its logged segment and its segment line; that pair is unique
    (a contact on two lines gets two entries, one line never gets two).
    """

    # Indexed together with `canceled` below.
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="interactions", db_index=False, verbose_name=_("contact")
    )
    contact_company = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="company_interactions",
        # The contact's company when the entry was made, a copy for the company's history
        # filters: the entry's contact is checked by the database, this copy only by Django's
        # PROTECT (issue 13: each checked key costs a lookup per entry when a log commits).
        db_constraint=False,
        verbose_name=_("contact company"),
        help_text=_("The company of the contact (a company's own number on its entries)."),
    )
    date = models.DateField(_("date"), db_index=True)
    time = models.TimeField(_("time"), null=True, blank=True)
    description = models.CharField(_("description"), max_length=100)
    subject = models.CharField(_("subject"), max_length=100, blank=True)
    information_flow = models.CharField(
        _("information flow"), max_length=10, choices=InformationFlow.choices, blank=True
    )
    initiated_by = models.CharField(_("initiated by"), max_length=10, choices=InitiatedBy.choices, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=Decimal("0"))
    duration = models.DecimalField(_("duration (min.)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    # Who recorded the entry: the same user on every entry of a log, so not checked by the
    # database entry by entry (issue 13); deleting a user sets it to null through Django.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("user"),
    )
    interaction_template = _code_reference(InteractionTemplate, _("interaction template"), null=False)
    interaction_group = _code_reference(InteractionGroup, _("interaction group"), null=False)
    language = models.ForeignKey(
        Language,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("language"),
    )
    salesperson = _code_reference(Salesperson, _("salesperson"))
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        verbose_name=_("campaign"),
    )
    # Made by the log in the same transaction as the entries, for the same logged segment, and
    # deleted only with it (logged_segment_delete, entries first): no database check of its own.
    campaign_entry = models.ForeignKey(
        CampaignEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="interactions",
        verbose_name=_("campaign entry"),
    )
    campaign_target = models.BooleanField(_("campaign target"), default=False)
    campaign_response = models.BooleanField(_("campaign response"), default=False)
    segment_no = models.CharField(_("segment no."), max_length=20, blank=True)
    # Looked up through the unique (logged_segment, segment_line_id) index. Not checked by the
    # database (issue 13: a lookup per entry when a log commits): the log makes the logged
    # segment and all its entries in one transaction, and the one service that deletes a logged
    # segment (interactions.services.logged_segment_delete) locks it and deletes its entries
    # first; Django's PROTECT refuses any other delete that would leave entries behind.
    logged_segment = models.ForeignKey(
        LoggedSegment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        related_name="interactions",
        verbose_name=_("logged segment"),
    )
    segment_line_id = models.BigIntegerField(_("segment line"), null=True, blank=True)
    # The line's number as the worksheet showed it (10000, 20000, …), for people; `segment_line_id`
    # is the line's row id. Empty for entries logged before it was kept, and for single interactions.
    segment_line_no = models.BigIntegerField(_("segment line no."), null=True, blank=True)
    evaluation = models.CharField(_("evaluation"), max_length=20, choices=Evaluation.choices, blank=True)
    attempt_failed = models.BooleanField(_("attempt failed"), default=False)
    correspondence_type = models.CharField(
        _("correspondence type"), max_length=10, choices=CorrespondenceType.choices, blank=True
    )
    alt_address = models.ForeignKey(
        ContactAltAddress,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("alternate address"),
    )
    contact_via = models.CharField(
        _("contact via"), max_length=80, blank=True, help_text=_("The e-mail address or phone number used.")
    )
    send_as_attachment = models.BooleanField(_("send Word document as attachment"), default=False)
    personal_text = models.TextField(_("personal text"), blank=True)
    delivery_status = models.CharField(_("delivery status"), max_length=20, choices=DeliveryStatus.choices, blank=True)
    delivery_error = models.TextField(_("delivery error"), blank=True)
    # The Word template the entry's letter is merged from: the line's own document, else the
    # segment's copy for the line's language (R14, R66). Logging marks it read-only.
    word_template = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("Word template"),
    )
    # The exact document produced for the entry (R72, D9): set when its letter is made.
    document = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("document"),
    )
    canceled = models.BooleanField(_("canceled"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # The token of the form that recorded a single interaction (F8): a second post of the same
    # form finds this entry instead of recording another. Blank for every other entry.
    idempotency_token = models.UUIDField(_("idempotency token"), null=True, blank=True, editable=False)

    objects = InteractionLogEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("interaction log entry")
        verbose_name_plural = _("interaction log entries")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["logged_segment", "segment_line_id"],
                condition=Q(logged_segment__isnull=False),
                name="interaction_once_per_logged_line",
            ),
            models.UniqueConstraint(
                fields=["idempotency_token"],
                condition=Q(idempotency_token__isnull=False),
                name="interaction_once_per_token",
            ),
            models.CheckConstraint(condition=~Q(description=""), name="interaction_description_not_blank"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="interaction_cost_not_negative"),
            models.CheckConstraint(condition=Q(duration__gte=0), name="interaction_duration_not_negative"),
            models.CheckConstraint(
                condition=Q(evaluation="") | Q(evaluation__in=Evaluation.values), name="interaction_evaluation_valid"
            ),
            models.CheckConstraint(
                condition=Q(delivery_status="") | Q(delivery_status__in=DeliveryStatus.values),
                name="interaction_delivery_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(correspondence_type="") | Q(correspondence_type__in=CorrespondenceType.values),
                name="interaction_correspondence_type_valid",
            ),
        ]
        indexes = [
            # The history criteria (D16) and the contact card: a contact's entries.
            models.Index(fields=["contact", "canceled"], name="interaction_contact_idx"),
            models.Index(fields=["interaction_template"], name="interaction_template_idx"),
            models.Index(fields=["interaction_group"], name="interaction_group_idx"),
            models.Index(fields=["salesperson"], name="interaction_salesperson_idx"),
            # A logged segment's entries newest first: without it PostgreSQL walks the primary
            # key backwards from the newest entry to reach an old logged segment (0.36 s at 1M).
            models.Index(fields=["logged_segment", "id"], name="interaction_logged_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.contact_id} {self.description}"

    def get_absolute_url(self) -> str:
        return reverse("interactions:entry_detail", args=[self.pk])

    @property
    def entry_no(self) -> int:
        return self.pk


# --- Delivery (SPEC D8, R70, R72; RELIABILITY 13) ----------------------------------------------


class DeliveryKind(models.TextChoices):
    DELIVER = "deliver", _("Delivery")
    RESEND = "resend", _("Resend of errors")


class DeliveryState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")


class PdfState(models.TextChoices):
    """Where a delivery's print file PDF stands (interactions.print_pdf)."""

    NONE = "none", _("Not made")
    QUEUED = "queued", _("Queued")
    MAKING = "making", _("Being made")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """One run that makes and sends the letters of a logged segment's entries (D8).

    A delivery has one item per entry it covers; the items carry the status, so a run that
    stops half-way (a killed worker) goes on with the items still pending. One unfinished
    delivery per logged segment at a time (a partial unique constraint), so a double-clicked
    resend cannot start a second run over the same entries. `lease_until` is renewed while a
    run works; a run whose lease has passed is stalled and may be resumed by anyone.

    The print file's PDF is a job of its own on the same row (interactions.print_pdf):
    `pdf_state` none → queued → making → ready (with `print_pdf`, a stored document like the
    print file) or failed (with `pdf_error`; it may be queued again). `pdf_task_id`,
    `pdf_queued_at` and `pdf_heartbeat_at` are its task, when it was queued and its worker's
    last sign of life, as a merge job's.
    """

    logged_segment = models.ForeignKey(
        LoggedSegment, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("logged segment")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=DeliveryKind.choices, default=DeliveryKind.DELIVER)
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.QUEUED)
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    total = models.PositiveIntegerField(_("entries"), default=0)
    sent = models.PositiveIntegerField(_("e-mails sent"), default=0)
    printed = models.PositiveIntegerField(_("letters made for print"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # Entries not sent because the contact had withdrawn consent for the entry's channel when
    # its e-mail would have gone out or its letter been made (CONTRACT "Consent per channel").
    skipped = models.PositiveIntegerField(_("skipped (consent withdrawn)"), default=0)
    # The hard-copy letters of this run in one .docx, one letter per page (D9).
    print_document = models.ForeignKey(
        Document, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("print file")
    )
    # The print file as one PDF, made by a worker on request (interactions.print_pdf).
    print_pdf = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("print file as PDF"),
    )
    pdf_state = models.CharField(_("PDF state"), max_length=10, choices=PdfState.choices, default=PdfState.NONE)
    pdf_error = models.TextField(_("PDF error"), blank=True)
    pdf_task_id = models.CharField(_("PDF task id"), max_length=64, blank=True)
    pdf_queued_at = models.DateTimeField(_("PDF queued"), null=True, blank=True)
    pdf_heartbeat_at = models.DateTimeField(_("PDF last sign of life"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["logged_segment"],
                condition=~Q(state="finished"),
                name="delivery_one_unfinished_per_logged_segment",
            ),
            models.CheckConstraint(condition=Q(kind__in=DeliveryKind.values), name="delivery_kind_valid"),
            models.CheckConstraint(condition=Q(state__in=DeliveryState.values), name="delivery_state_valid"),
            models.CheckConstraint(condition=Q(pdf_state__in=PdfState.values), name="delivery_pdf_state_valid"),
            # A ready PDF has its document, and only a ready one.
            models.CheckConstraint(
                condition=Q(pdf_state=PdfState.READY, print_pdf__isnull=False)
                | (~Q(pdf_state=PdfState.READY) & Q(print_pdf__isnull=True)),
                name="delivery_pdf_ready_has_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} of logged segment {self.logged_segment_id}"

    @property
    def done(self) -> int:
        return self.sent + self.printed + self.failed + self.skipped


class DeliveryItemStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    PRINTED = "printed", _("Made for print")
    ERROR = "error", _("Error")
    SKIPPED = "skipped", _("Skipped (consent withdrawn)")


class DeliveryItem(models.Model):
    """One entry in one delivery: pending → sending → sent / printed / error (RELIABILITY 13),
    or pending → skipped when its contact withdrew consent for the entry's channel.

    "sending" is committed before the SMTP conversation starts and "sent" after it ends, so an
    item found "sending" by a later run was in flight when its worker died: it becomes an
    error with "outcome unknown" and goes out again only by an explicit resend.
    """

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="items", db_index=False, verbose_name=_("delivery")
    )
    # DO_NOTHING, as for comments: deleting many entries stays one DELETE instead of a load of
    # every entry; the services delete the items first (the database refuses otherwise).
    entry = models.ForeignKey(
        InteractionLogEntry, on_delete=models.DO_NOTHING, related_name="delivery_items", verbose_name=_("entry")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryItemStatus.choices, default=DeliveryItemStatus.PENDING
    )
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery item")
        verbose_name_plural = _("delivery items")
        ordering = ["delivery", "entry"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "entry"], name="delivery_item_once_per_entry"),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryItemStatus.values), name="delivery_item_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["delivery", "status", "entry"], name="delivery_item_status_idx")]

    def __str__(self) -> str:
        return f"{self.delivery_id}/{self.entry_id} {self.status}"


class InteractionComment(models.Model):
    """A comment line on an entry (F1.11, R64)."""

    # DO_NOTHING so that deleting many entries is one DELETE, not a load of every entry: the
    # services (and admin) delete an entry's comments first, and the constraint refuses otherwise.
    entry = models.ForeignKey(
        InteractionLogEntry, on_delete=models.DO_NOTHING, related_name="comments", verbose_name=_("entry")
    )
    date = models.DateField(_("date"), default=timezone.localdate)
    comment = models.CharField(_("comment"), max_length=250)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction comment")
        verbose_name_plural = _("interaction comments")
        ordering = ["entry", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(comment=""), name="interaction_comment_not_blank")]

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.comment[:40]}"


class ContactAnonymisation(models.Model):
    """The record that a contact with history was anonymised instead of deleted (D15): who and
    when; the contact keeps its number, its entries and its lines."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+", verbose_name=_("contact"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("anonymised at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact anonymisation")
        verbose_name_plural = _("contact anonymisations")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.contact_id} ({self.created_at:%Y-%m-%d})"


class UnsubscribeRequestCount(models.Model):
    """Requests one client address made to the public unsubscribe page in one minute
    (interactions.unsubscribe's rate limit): counted in the database, so every web process
    sees the same count. Rows of past minutes are removed as new ones come."""

    address = models.CharField(_("client address"), max_length=64)
    minute = models.BigIntegerField(_("minute"))  # minutes since 1970-01-01 UTC
    count = models.PositiveIntegerField(_("requests"))

    class Meta:
        verbose_name = _("unsubscribe request count")
        verbose_name_plural = _("unsubscribe request counts")
        constraints = [
            models.UniqueConstraint(fields=["address", "minute"], name="unsubscribe_request_count_once_per_minute")
        ]
        indexes = [models.Index(fields=["minute"], name="unsubscribe_request_minute_idx")]

    def __str__(self) -> str:
        return f"{self.address} @{self.minute}: {self.count}"
