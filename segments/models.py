"""Segments: the worksheet of contacts to send one interaction (SPEC F1.12–F1.17, D1–D6).

A segment is a header (the interaction settings) plus lines, one per contact to reach. Lines
come from criteria steps (add, reduce, refine, reuse of saved criteria or of a logged segment)
or from manual edits, which are steps too. Exact undo (D3) needs two facts per step:
- every line records the step that added it (`SegmentLine.step`), so undoing an add deletes
  exactly those lines;
- a line removed by a step is moved, with every value it had, to `RemovedSegmentLine`, so
  undoing a removal puts it back unchanged under its old line number.

A line follows its header except the interaction fields a user set on that line by hand
(D1); `SegmentLine.overrides` is a bit set of those fields (`OVERRIDABLE_FIELDS`), so header
changes propagate with one UPDATE per field group.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.models import Campaign, Contact, ContactAltAddress, CorrespondenceType, Language, Salesperson
from interactions.models import (
    Delivery,
    Document,
    Evaluation,
    InformationFlow,
    InitiatedBy,
    InteractionGroup,
    InteractionTemplate,
    LoggedSegment,
)

# The interaction fields a line may override (D1), in bit order. Never reorder: the bits
# are stored. Append new fields at the end.
OVERRIDABLE_FIELDS = (
    "description",
    "subject",
    "correspondence_type",
    "language",
    "salesperson",
    "date",
    "cost",
    "duration",
    "information_flow",
    "initiated_by",
    "evaluation",
    "campaign",
    "campaign_target",
    "campaign_response",
    "interaction_template",
    "send_as_attachment",
)
OVERRIDE_BIT = {name: 1 << index for index, name in enumerate(OVERRIDABLE_FIELDS)}


def today():
    return timezone.localdate()


class InteractionFields(models.Model):
    """The interaction settings a header holds as defaults and a line holds for its contact."""

    description = models.CharField(_("description"), max_length=100, blank=True)
    interaction_template = models.ForeignKey(
        InteractionTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("interaction template"),
    )
    interaction_group = models.ForeignKey(
        InteractionGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("interaction group"),
    )
    salesperson = models.ForeignKey(
        Salesperson, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("salesperson")
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("campaign")
    )
    campaign_target = models.BooleanField(_("campaign target"), default=False)
    campaign_response = models.BooleanField(_("campaign response"), default=False)
    date = models.DateField(_("date"), default=today)
    subject = models.CharField(_("subject"), max_length=100, blank=True)
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("language")
    )
    correspondence_type = models.CharField(
        _("correspondence type"), max_length=10, choices=CorrespondenceType.choices, blank=True
    )
    information_flow = models.CharField(
        _("information flow"), max_length=10, choices=InformationFlow.choices, blank=True
    )
    initiated_by = models.CharField(_("initiated by"), max_length=10, choices=InitiatedBy.choices, blank=True)
    send_as_attachment = models.BooleanField(
        _("send Word document as attachment"),
        default=False,
        help_text=_("E-mail: attach the merged Word document instead of using it as the message body."),
    )

    class Meta:
        abstract = True


class Segment(InteractionFields):
    """A segment header (SPEC F1.12). `unit_cost`/`unit_duration` become each line's cost/duration."""

    no = models.CharField(_("no."), max_length=20, unique=True)
    uuid = models.UUIDField(_("uuid"), default=uuid.uuid4, unique=True, editable=False)
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
    ignore_contact_correspondence_type = models.BooleanField(_("ignore contact correspondence type"), default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["no"]
        permissions = [("log_segment", _("Can log segments")), ("run_mail_merge", _("Can run the Word mail merge"))]
        constraints = [
            models.CheckConstraint(condition=~Q(no=""), name="segment_no_not_blank"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="segment_unit_cost_not_negative"),
            models.CheckConstraint(condition=Q(unit_duration__gte=0), name="segment_unit_duration_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.no} {self.description}".strip()

    def get_absolute_url(self) -> str:
        return reverse("segments:segment_detail", args=[self.no])

    def natural_key(self) -> tuple[str]:
        return (self.no,)


class SegmentLanguage(models.Model):
    """The segment's copy of one language row of its template: description and subject (F1.14)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="languages", verbose_name=_("segment"))
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("language")
    )
    description = models.CharField(_("description"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=100, blank=True)
    # The segment's own copy of the language's Word template (R66): taken from the template
    # when the template is set; replacing it ("modify Word template") changes this segment only.
    # Documents are never changed in place, so sharing the template's row until then is a copy.
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("Word template")
    )

    class Meta:
        verbose_name = _("segment language")
        verbose_name_plural = _("segment languages")
        ordering = ["segment", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "language"], condition=Q(language__isnull=False), name="segment_language_unique"
            ),
            models.UniqueConstraint(
                fields=["segment"], condition=Q(language__isnull=True), name="segment_blank_language_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}/{self.language_id or '-'}"


class StepAction(models.TextChoices):
    ADD = "add", _("Add contacts")
    REDUCE = "reduce", _("Remove contacts – reduce")
    REFINE = "refine", _("Remove contacts – refine")
    REUSE_CRITERIA = "reuse_criteria", _("Reuse saved criteria")
    REUSE_LOGGED = "reuse_logged", _("Reuse logged segment")
    # What changed since the lines were added, applied as one step (segments.services.drift).
    REFRESH = "refresh", _("Refresh")


# The source of a reduce step that removed the lines whose contact withdrew consent for the
# line's channel (`segment drop-withdrawn`, the Log page's "Remove these N lines"): a removal
# without criteria of its own, kept out of saved criteria.
CONSENT_STEP_SOURCE = "consent withdrawn"


class CriteriaOptions(models.Model):
    """One criteria step's action, filter (a QUERY string) and options (SPEC F1.15)."""

    action = models.CharField(_("action"), max_length=20, choices=StepAction.choices)
    filter = models.TextField(_("filter"), blank=True, help_text=_("The step's QUERY string."))
    allow_existing = models.BooleanField(_("allow existing contacts"), default=False)
    expand_contact = models.BooleanField(_("expand contact"), default=False)
    allow_company_with_persons = models.BooleanField(_("allow company with persons"), default=False)
    ignore_exclusion = models.BooleanField(_("ignore exclusion"), default=False)
    entire_companies = models.BooleanField(_("entire companies"), default=False)

    class Meta:
        abstract = True


class CriteriaStepQuerySet(models.QuerySet):
    def to_undo(self, segment) -> CriteriaStep | None:
        """The step one undo reverses (D3): the segment's latest top-level step, or None."""
        return self.filter(segment=segment, parent__isnull=True).order_by("-position").first()

    def undo_unit(self, step: CriteriaStep) -> CriteriaStepQuerySet:
        """`step` with the steps it replayed (its children): what one undo of it reverses."""
        return self.filter(Q(pk=step.pk) | Q(parent=step))


class CriteriaStep(CriteriaOptions):
    """A step that changed a segment's lines, in order (`position` 1, 2, …).

    A step that replays saved criteria or a logged segment is one undo unit: its replayed
    steps are its children (`parent`), and undo reverses the parent with all of them. The
    segment's own steps are numbered 1, 2, 3 … as the worksheet shows them; a replay's
    children are numbered 1, 2, … within their parent (the saved criteria's step numbers).
    `lines_added`/`lines_removed` record what the step did; saving the criteria keeps them, so
    a replay can say where it did something else (segments.services.segment_reuse_criteria).
    """

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="steps", verbose_name=_("segment"))
    position = models.PositiveIntegerField(_("step"))
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    manual = models.BooleanField(_("manual"), default=False, help_text=_("A line typed or deleted by hand."))
    source = models.CharField(
        _("source"), max_length=40, blank=True, help_text=_("Saved criteria code or logged segment id replayed.")
    )
    lines_added = models.PositiveIntegerField(_("lines added"), default=0)
    lines_removed = models.PositiveIntegerField(_("lines removed"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CriteriaStepQuerySet.as_manager()

    class Meta:
        verbose_name = _("criteria step")
        verbose_name_plural = _("criteria steps")
        ordering = ["segment", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "position"], condition=Q(parent__isnull=True), name="criteria_step_number_unique"
            ),
            models.UniqueConstraint(
                fields=["parent", "position"],
                condition=Q(parent__isnull=False),
                name="criteria_step_replayed_number_unique",
            ),
            models.CheckConstraint(condition=Q(action__in=StepAction.values), name="criteria_step_action_valid"),
        ]

    def __str__(self) -> str:
        return gettext("%(segment)s step %(position)s: %(action)s") % {
            "segment": self.segment_id,
            "position": self.position,
            "action": self.get_action_display(),
        }

    @property
    def drops_withdrawn(self) -> bool:
        """Whether this step removed the lines whose contact withdrew consent (CONSENT_STEP_SOURCE)."""
        return self.action == StepAction.REDUCE and self.source == CONSENT_STEP_SOURCE


def _reference(model, verbose_name, *, on_delete=models.PROTECT) -> models.ForeignKey:
    """A line's reference to reference data, without a database constraint or index.

    A step writes hundreds of thousands of lines at once; each foreign-key constraint costs a
    check per line at commit and each index an insert, which together made an add several
    times slower than the lines themselves. Lines are never looked up by these columns, and
    deleting a referenced row is still refused (PROTECT) or handled (SET_NULL) by Django's
    delete, which finds the lines with one query.
    """
    return models.ForeignKey(
        model,
        on_delete=on_delete,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=verbose_name,
    )


class LineFields(InteractionFields):
    """What a segment line holds; shared by live lines and lines kept for undo."""

    interaction_template = _reference(InteractionTemplate, _("interaction template"))
    interaction_group = _reference(InteractionGroup, _("interaction group"))
    salesperson = _reference(Salesperson, _("salesperson"))
    campaign = _reference(Campaign, _("campaign"))
    language = _reference(Language, _("language"))
    line_no = models.BigIntegerField(_("line no."))
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("contact")
    )
    alt_address = _reference(ContactAltAddress, _("alternate address"), on_delete=models.SET_NULL)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=Decimal("0"))
    duration = models.DecimalField(_("duration (min.)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    evaluation = models.CharField(_("evaluation"), max_length=20, choices=Evaluation.choices, blank=True)
    personal_text = models.TextField(_("personal text"), blank=True)
    # The line's own Word document (R67): merged for this contact instead of the segment's.
    document = _reference(Document, _("own Word document"))
    overrides = models.PositiveIntegerField(_("overridden fields"), default=0)

    class Meta:
        abstract = True

    def is_overridden(self, field: str) -> bool:
        return bool(self.overrides & OVERRIDE_BIT[field])

    @property
    def overridden_fields(self) -> list[str]:
        return [name for name in OVERRIDABLE_FIELDS if self.overrides & OVERRIDE_BIT[name]]


class SegmentLine(LineFields):
    """One contact to reach, with its interaction values (SPEC F1.13)."""

    # No index of its own: the indexes on (segment, line_no) and (segment, contact) serve it.
    # No constraint of its own either (issue 13: a check per line at commit, a third of an
    # add's database time on PostgreSQL): the line's step belongs to the segment, and the
    # database refuses to delete a step that has lines and a segment that has steps, so the
    # segment cannot go while its lines stay; Django's delete of a segment deletes its lines.
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
        verbose_name=_("segment"),
    )
    # The database refuses to delete a step that still has lines (undo deletes them first);
    # deleting the segment deletes both. DO_NOTHING, not PROTECT or RESTRICT, because those make
    # Django's delete load every line of the segment's steps into memory.
    step = models.ForeignKey(
        CriteriaStep, on_delete=models.DO_NOTHING, related_name="lines", verbose_name=_("added by step")
    )

    class Meta:
        verbose_name = _("segment line")
        verbose_name_plural = _("segment lines")
        ordering = ["segment", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "line_no"], name="segment_line_no_unique"),
        ]
        indexes = [
            # Contact first: one index serves both "is this contact on the worksheet" (add,
            # reduce, add-contact: contact and segment given) and a contact's lines in any
            # segment (deleting a contact: Django's PROTECT query, PostgreSQL's foreign-key check).
            models.Index(fields=["contact", "segment"], name="segment_line_contact_idx"),
            # The lines that override a field, for the worksheet's count of lines following the
            # header without reading a line. Partial: a line an add writes overrides nothing and
            # costs this index nothing. The count of all lines reads the (segment, line_no) index.
            models.Index(
                fields=["segment", "overrides"], condition=Q(overrides__gt=0), name="segment_line_overrides_idx"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(segment)s line %(line_no)s") % {"segment": self.segment_id, "line_no": self.line_no}


class RemovedSegmentLine(LineFields):
    """A line as it was when step `removed_by` removed it; undo of that step restores it.

    This is the undo journal, written and read only by the segment services: its references
    carry no database constraints (a removal writes hundreds of thousands of rows, and each
    constraint costs a check per row at commit). Django's delete still cascades from the
    segment and the step, and still refuses to delete a contact a removed line names. A
    restored line is checked by the constraints of SegmentLine.
    """

    line_id = models.BigIntegerField(_("line id"))
    # No index: only deleting a contact looks removed lines up by contact (Django's PROTECT
    # query, one scan per delete), while a reduce or refine writes a row per removed line.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("contact"),
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="+", db_constraint=False, verbose_name=_("segment")
    )
    # The step that added the line, put back on the line when it is restored. Undo goes last
    # step first, so the step that added a removed line outlives the removal; no index is
    # needed, and deleting a step does not look for removed lines it added.
    step = models.ForeignKey(
        CriteriaStep,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("step"),
    )
    removed_by = models.ForeignKey(
        CriteriaStep,
        on_delete=models.CASCADE,
        related_name="removed_lines",
        db_constraint=False,
        db_index=False,
        verbose_name=_("removed by"),
    )

    class Meta:
        verbose_name = _("removed segment line")
        verbose_name_plural = _("removed segment lines")
        indexes = [models.Index(fields=["removed_by"], name="removed_line_step_idx")]

    def __str__(self) -> str:
        return gettext("%(segment)s line %(line_no)s (removed)") % {"segment": self.segment_id, "line_no": self.line_no}


class SavedCriteria(models.Model):
    """A named recipe of criteria steps to replay on any segment (SPEC F1.16)."""

    code = models.CharField(_("code"), max_length=10, unique=True)
    description = models.CharField(_("description"), max_length=100, blank=True)
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
        verbose_name = _("saved criteria")
        verbose_name_plural = _("saved criteria")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="saved_criteria_code_not_blank")]

    def __str__(self) -> str:
        return f"{self.code} – {self.description}" if self.description else self.code


class SavedCriteriaStep(CriteriaOptions):
    """One step of saved criteria, with what it did when it ran on the segment it was saved from.

    `lines_added`/`lines_removed` are the recorded counts (NULL for steps saved before they
    were kept): a replay that does something else says so per step. A `manual` step is a line
    typed or deleted by hand; a manual removal replays as the removal of at most the recorded
    number of that contact's lines (segments.services.segment_reuse_criteria).
    """

    saved_criteria = models.ForeignKey(
        SavedCriteria, on_delete=models.CASCADE, related_name="steps", verbose_name=_("saved criteria")
    )
    position = models.PositiveIntegerField(_("step"))
    manual = models.BooleanField(_("manual"), default=False, help_text=_("A line typed or deleted by hand."))
    lines_added = models.PositiveIntegerField(_("lines added"), null=True, blank=True)
    lines_removed = models.PositiveIntegerField(_("lines removed"), null=True, blank=True)

    class Meta:
        verbose_name = _("saved criteria step")
        verbose_name_plural = _("saved criteria steps")
        ordering = ["saved_criteria", "position"]
        constraints = [
            models.UniqueConstraint(fields=["saved_criteria", "position"], name="saved_criteria_step_unique"),
        ]

    def __str__(self) -> str:
        return gettext("%(code)s step %(position)s") % {"code": self.saved_criteria_id, "position": self.position}


class MergeOutput(models.TextChoices):
    DOCX = "docx", _("One combined .docx to print")
    ZIP = "zip", _("A .zip of one .docx per line")
    PDF = "pdf", _("One PDF of all letters")


class JobState(models.TextChoices):
    """The life of a job a task worker runs from a page (a merge, a Log)."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")


MergeState = LogJobState = JobState


class SegmentJob(models.Model):
    """What every job a worker runs for a segment records: the segment (NULL once it is logged
    or deleted; `segment_no` stays), its state and error, the task that runs it, who started
    it and when, when it finished, and its heartbeat: written when a worker claims the job and
    while it works, so a running job whose heartbeat is old lost its worker
    (crm.worker.jobs_heal)."""

    segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("segment")
    )
    segment_no = models.CharField(_("segment no."), max_length=20)
    state = models.CharField(_("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    error = models.TextField(_("error"), blank=True)
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
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-pk"]


class MergeJob(SegmentJob):
    """A Word mail merge of a segment's lines run from the worksheet (D9): its progress and,
    when finished, the file made (`document`). Writes nothing else; the segment may be logged or
    deleted meanwhile (`segment` becomes NULL, `segment_no` stays)."""

    output = models.CharField(_("output"), max_length=10, choices=MergeOutput.choices)
    total = models.PositiveIntegerField(_("letters"), default=0)
    done = models.PositiveIntegerField(_("letters made"), default=0)
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("file")
    )

    class Meta:
        verbose_name = _("merge job")
        verbose_name_plural = _("merge jobs")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(output__in=MergeOutput.values), name="merge_job_output_valid"),
            models.CheckConstraint(condition=Q(state__in=MergeState.values), name="merge_job_state_valid"),
        ]

    def __str__(self) -> str:
        return gettext("Merge %(pk)s of %(no)s") % {"pk": self.pk, "no": self.segment_no}


LOG_JOB_UNFINISHED = [LogJobState.QUEUED, LogJobState.RUNNING]


class LogJob(SegmentJob):
    """A Log of a large segment started from the Log page, run by a task worker (issue 13):
    the options the page passed, its state and, when finished, the logged segment it made (and
    the follow-up segment and delivery it started); failed with the reason otherwise. The Log
    itself is `segments.services.segment_log`, one transaction. One unfinished job per
    segment (a double click or two users find the same job). The segment goes when it is
    logged (`segment` becomes NULL; `segment_no` and `segment_uuid` stay)."""

    segment_uuid = models.UUIDField(_("segment id"))
    lines = models.PositiveIntegerField(_("lines"), default=0)
    follow_up = models.BooleanField(_("create follow-up segment"), default=False)
    deliver = models.BooleanField(_("deliver after logging"), default=False)
    logged_segment = models.ForeignKey(
        LoggedSegment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("logged segment"),
    )
    follow_up_segment = models.ForeignKey(
        Segment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("follow up segment"),
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("delivery")
    )
    delivery_error = models.TextField(_("delivery not started"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    # heartbeat_at: while its Log runs, written by a thread on its own connection
    # (segments.log_jobs), the Log's transaction being one long statement.

    class Meta:
        verbose_name = _("log job")
        verbose_name_plural = _("log jobs")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=LogJobState.values), name="log_job_state_valid"),
            models.UniqueConstraint(
                fields=["segment"],
                condition=Q(state__in=LOG_JOB_UNFINISHED),
                name="log_job_one_unfinished_per_segment",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Log %(pk)s of %(no)s") % {"pk": self.pk, "no": self.segment_no}
