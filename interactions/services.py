"""Writes on interactions: the Log transaction, logged segments, entries, single interactions.

Guarantees shared by the services here:
- one durable transaction each, so a failure half-way leaves nothing;
- set-based: logging N lines is a constant number of statements (an INSERT … SELECT of the
  entries, a few DELETEs of the segment), and so are cancel, uncancel, evaluate and delete;
- a segment is logged once: the log claims the segment row with a conditional UPDATE and
  checks its row count, and `LoggedSegment.source_uuid` (unique) and the unique
  (logged segment, segment line) pair of the entries are the database's last guards;
- bad input raises ValidationError listing every problem, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    TimeField,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Contact, ContactAltAddress, ContactType, CorrespondenceType, SalutationFormula, SalutationType
from crm.services import number_series_next
from crm.untrusted import parse_id
from segments.documents import missing_word_document_problems, with_word_document, word_document_expression
from segments.models import RemovedSegmentLine, Segment, SegmentLine
from segments.services import (
    SEGMENT_SERIES,
    SegmentAlreadyLogged,
    _insert_select,
    _lock,
    already_logged,
    reuse_logged_lines,
)

from .documents import documents_delete_with
from .models import (
    CampaignEntry,
    ContactAnonymisation,
    Delivery,
    DeliveryItem,
    DeliveryState,
    DeliveryStatus,
    Document,
    Evaluation,
    InteractionComment,
    InteractionLogEntry,
    InteractionTemplate,
    InteractionTemplateLanguage,
    LoggedSegment,
)
from .selectors import selected_entries
from .wordtemplates import WordTemplateInvalid, prepared_template, salutation_kinds

PROBLEM_EXAMPLES = 5


def _check_permission(user, permission: str) -> None:
    if user is not None and not user.has_perm(permission):
        raise PermissionDenied(f"{permission} needed")


def _user(user):
    return user if user is not None and user.pk else None


def interaction_template_ensure_language_row(*, template: InteractionTemplate) -> InteractionTemplateLanguage:
    """Make sure the template's default language has a language row (SPEC F1.9) and return it.

    A template's default language must be one of its languages: choosing a new one creates
    its row, described like the template. Idempotent; joins the caller's transaction.
    """
    with transaction.atomic():
        row, _ = InteractionTemplateLanguage.objects.get_or_create(
            template=template, language=template.language, defaults={"description": template.description}
        )
    return row


# --- Pre-flight (D7) ----------------------------------------------------------------------------


class LogPreflightError(ValidationError):
    """Every problem that stops a segment from being logged, one message each (D7)."""


def _examples(lines, label: Callable[[dict], str], *fields: str) -> str:
    rows = list(lines.order_by("line_no").values("line_no", *fields)[:PROBLEM_EXAMPLES])
    return ", ".join(label(row) for row in rows)


def _line_label(row: dict) -> str:
    return f"{row['line_no']}"


def _contact_label(row: dict) -> str:
    return f"{row['contact__no']} (line {row['line_no']})"


def _problem(count: int, one: str, many: str, examples: str) -> str:
    text = one if count == 1 else many
    return text % {"count": count, "examples": examples}


def _email_address_missing() -> Q:
    """An e-mail line with no address: neither the contact nor its active alternate address has one."""
    return Q(correspondence_type=CorrespondenceType.EMAIL, contact__email="") & (
        Q(alt_address__isnull=True) | Q(alt_address__email="")
    )


def segment_log_problems(*, segment: Segment, deliver: bool = False) -> list[str]:
    """Every reason the segment cannot be logged (D7), all at once; empty when it can.

    Always: no description (R40), no lines (R41), lines without description, interaction
    template or salesperson (R42). Only when the log also delivers, over the lines that will be
    delivered (e-mail and hard copy): e-mail lines whose contact and active alternate address
    have no e-mail (R43), lines without a Word document to merge (a template without one for
    the line's language, named), and lines whose contact has no formula in the line's language
    for a salutation their Word document uses (F1.4). Writes nothing;
    one aggregate query over the lines plus one query per problem found (its first examples).
    """
    problems: list[str] = []
    if not segment.description.strip():
        problems.append(_("The segment has no description."))
    lines = SegmentLine.objects.filter(segment=segment).order_by()
    checks = {
        "no_description": Q(description=""),
        "no_template": Q(interaction_template_id__isnull=True),
        "no_salesperson": Q(salesperson_id__isnull=True),
    }
    counts = lines.aggregate(total=Count("pk"), **{name: Count("pk", filter=q) for name, q in checks.items()})
    if not counts["total"]:
        problems.append(_("The segment has no lines: add contacts before logging."))
        return problems
    messages = {
        "no_description": (
            _("Line %(examples)s has no description."),
            _("%(count)s lines have no description (lines %(examples)s…)."),
        ),
        "no_template": (
            _("Line %(examples)s has no interaction template."),
            _("%(count)s lines have no interaction template (lines %(examples)s…)."),
        ),
        "no_salesperson": (
            _("Line %(examples)s has no salesperson."),
            _("%(count)s lines have no salesperson (lines %(examples)s…)."),
        ),
    }
    for name, q in checks.items():
        if counts[name]:
            one, many = messages[name]
            problems.append(_problem(counts[name], one, many, _examples(lines.filter(q), _line_label)))
    if deliver:
        problems += _delivery_problems(segment, lines)
    return problems


def _kinds_by_document(document_ids: Iterable[int]) -> tuple[dict[str, list[int]], list[str]]:
    """salutation type → the documents (of `document_ids`) that use it; problems of documents
    that no longer prepare."""
    kinds: dict[str, list[int]] = {kind: [] for kind in SalutationType.values}
    problems = []
    for document in Document.objects.filter(pk__in=list(document_ids)):
        try:
            fields = prepared_template(bytes(document.content)).fields
        except WordTemplateInvalid as exc:
            problems.append(_("Word document %(name)s: %(problems)s") % {"name": document.file_name, "problems": exc})
            continue
        for kind in salutation_kinds(fields):
            kinds[kind].append(document.pk)
    return kinds, problems


def _delivery_problems(segment: Segment, lines) -> list[str]:
    problems = []
    deliverable = lines.exclude(correspondence_type="").exclude(_email_address_missing())
    problems += missing_word_document_problems(segment, deliverable)
    documents = with_word_document(segment, deliverable).filter(word_document_id__isnull=False)
    kinds, document_problems = _kinds_by_document(
        documents.order_by().values_list("word_document_id", flat=True).distinct()
    )
    problems += document_problems
    no_address = lines.filter(_email_address_missing())
    count = no_address.count()
    if count:
        problems.append(
            _problem(
                count,
                _(
                    "E-mail line for contact %(examples)s has no e-mail address: fill it on the contact or its "
                    "alternate address, or make it a hard-copy line."
                ),
                _(
                    "%(count)s e-mail lines have no e-mail address: contacts %(examples)s…; fill it on the contact "
                    "or its alternate address, or make them hard-copy lines."
                ),
                _examples(no_address, _contact_label, "contact__no"),
            )
        )
    for kind, document_ids in kinds.items():
        if not document_ids:
            continue
        formulas = SalutationFormula.objects.filter(salutation_id=OuterRef("contact__salutation_id"), type=kind)
        # A line without a language needs the formula without a language (F1.4).
        has_formula = (Q(language_id__isnull=False) & Exists(formulas.filter(language_id=OuterRef("language_id")))) | (
            Q(language_id__isnull=True) & Exists(formulas.filter(language_id__isnull=True))
        )
        missing = documents.filter(word_document_id__in=document_ids).exclude(has_formula)
        count = missing.count()
        if count:
            label = str(dict(SalutationType.choices)[kind]).lower()
            one = _("Contact %(examples)s has no %(kind)s salutation formula in the line's language.")
            many = _("%(count)s lines have no %(kind)s salutation formula in their language: contacts %(examples)s…")
            problems.append(
                _problem(
                    count,
                    one.replace("%(kind)s", label),
                    many.replace("%(kind)s", label),
                    _examples(missing, _contact_label, "contact__no"),
                )
            )
    return problems


# --- The Log transaction (F4.3, D8) ---------------------------------------------------------------


@dataclass(frozen=True)
class LogResult:
    logged_segment: LoggedSegment
    entries: int
    campaign_entries: int
    follow_up: Segment | None
    deliveries: int


# Test hook: called inside the log's transaction after the entries are inserted (RELIABILITY
# case 3: a failure or a killed process there must leave nothing behind). None in production.
after_entries_hook: Callable[[LoggedSegment], None] | None = None


def _claim(segment: Segment | str) -> Segment:
    """The log's claim: a conditional UPDATE of the segment row, checked by its row count.

    The winner holds the row until it commits (and deletes the segment); a concurrent log
    waits, then updates no row and learns who logged it. On SQLite the IMMEDIATE transaction
    mode makes the second writer wait at BEGIN and see the segment gone.
    """
    lookup = {"no": segment} if isinstance(segment, str) else {"pk": segment.pk, "uuid": segment.uuid}
    if not Segment.objects.filter(**lookup).update(updated_at=timezone.now()):
        logged = already_logged(segment)
        if logged is not None:
            raise logged
        raise ValidationError(
            _('segment "%(no)s" does not exist.'),
            code="segment_gone",
            params={"no": lookup.get("no") or getattr(segment, "no", "")},
        )
    return _lock(segment)


def _entry_columns(segment: Segment, logged: LoggedSegment, user, campaign_entries: dict[int, int], deliver: bool):
    """Column → expression over SegmentLine for its interaction log entry (R47, with R43)."""
    now = timezone.localtime()
    email_address = Case(
        When(~Q(alt_address__email="") & Q(alt_address__isnull=False), then=F("alt_address__email")),
        default=F("contact__email"),
        output_field=CharField(),
    )
    # R43: an e-mail line without any address is logged as a line without correspondence type.
    correspondence = Case(
        When(_email_address_missing(), then=Value("")), default=F("correspondence_type"), output_field=CharField()
    )
    contact_via = Case(
        When(Q(correspondence_type=CorrespondenceType.EMAIL) & ~_email_address_missing(), then=email_address),
        default=Value(""),
        output_field=CharField(),
    )
    if campaign_entries:
        campaign_entry = Case(
            *(When(campaign_id=campaign, then=Value(entry)) for campaign, entry in campaign_entries.items()),
            default=Value(None),
            output_field=BigIntegerField(),
        )
    else:
        campaign_entry = Value(None, output_field=BigIntegerField())
    delivery = Value("", output_field=CharField())
    if deliver:
        delivery = Case(
            When(_email_address_missing(), then=Value("")),
            When(correspondence_type="", then=Value("")),
            default=Value(DeliveryStatus.IN_PROGRESS),
            output_field=CharField(),
        )
    return {
        "contact_id": F("contact_id"),
        "contact_company_id": Case(
            When(contact__type=ContactType.COMPANY, then=F("contact_id")),
            default=F("contact__company_id"),
            output_field=BigIntegerField(),
        ),
        "date": F("date"),
        "time": Value(now.time().replace(microsecond=0), output_field=TimeField()),
        "description": F("description"),
        "subject": F("subject"),
        "information_flow": F("information_flow"),
        "initiated_by": F("initiated_by"),
        "cost": F("cost"),
        "duration": F("duration"),
        "user_id": Value(_user(user).pk if _user(user) else None, output_field=BigIntegerField()),
        "interaction_template_id": F("interaction_template_id"),
        "interaction_group_id": F("interaction_group_id"),
        "language_id": F("language_id"),
        "salesperson_id": F("salesperson_id"),
        "campaign_id": F("campaign_id"),
        "campaign_entry_id": campaign_entry,
        "campaign_target": F("campaign_target"),
        "campaign_response": F("campaign_response"),
        "segment_no": Value(segment.no, output_field=CharField()),
        "logged_segment_id": Value(logged.pk, output_field=BigIntegerField()),
        "segment_line_id": F("pk"),
        "evaluation": F("evaluation"),
        "attempt_failed": Value(False, output_field=BooleanField()),
        "correspondence_type": correspondence,
        "alt_address_id": F("alt_address_id"),
        "contact_via": contact_via,
        "send_as_attachment": F("send_as_attachment"),
        "personal_text": F("personal_text"),
        "word_template_id": word_document_expression(segment),
        "delivery_status": delivery,
        "delivery_error": Value("", output_field=CharField()),
        "canceled": Value(False, output_field=BooleanField()),
        "created_at": Value(timezone.now(), output_field=DateTimeField()),
    }


def _create_campaign_entries(segment: Segment, logged: LoggedSegment, user, lines) -> dict[int, int]:
    """R46: one campaign entry per campaign of the lines, dated and assigned like the campaign's
    first line in date order; returns campaign id → campaign entry id. Two queries.

    The first line of each campaign is found with one window function (ROW_NUMBER per
    campaign), one sort of the lines: a correlated subquery per campaign ended up in the
    GROUP BY and ran once per line on SQLite (10,000 lines: 140 s)."""
    first_lines = list(
        lines.filter(campaign_id__isnull=False)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("campaign_id")], order_by=[F("date").asc(), F("line_no").asc()])
        )
        .filter(rank=1)
        .values("campaign_id", "date", "salesperson_id")
        .order_by("campaign_id")
    )
    entries = CampaignEntry.objects.bulk_create(
        CampaignEntry(
            campaign_id=row["campaign_id"],
            description=segment.description,
            date=row["date"],
            user=_user(user),
            segment_no=segment.no,
            logged_segment=logged,
            salesperson_id=row["salesperson_id"],
        )
        for row in first_lines
    )
    if entries and entries[0].pk is None:  # a backend without RETURNING on bulk inserts
        entries = list(CampaignEntry.objects.filter(logged_segment=logged))
    return {entry.campaign_id: entry.pk for entry in entries}


def _delete_segment(segment: Segment) -> None:
    """R49: the segment goes with its lines, undo journal, steps and language rows; lines first
    (their step references are checked by the database), each a single DELETE."""
    SegmentLine.objects.filter(segment=segment).delete()
    RemovedSegmentLine.objects.filter(segment=segment).delete()
    segment.delete()


def segment_log(*, user, segment: Segment | str, follow_up: bool = False, deliver: bool = False) -> LogResult:
    """Log a segment (F4.3): one atomic, set-based transaction that can never run twice.

    Claims the segment (a conditional UPDATE), checks every pre-flight problem (D7; all of them
    in one LogPreflightError, nothing written), then creates the logged segment (R45), one
    campaign entry per campaign (R46), one interaction log entry per line with every value the
    line has after its overrides (R47; an e-mail line without an address is logged without a
    correspondence type, R43), deletes the segment (R49) and, when asked, creates the follow-up
    segment with the same contacts (R50). With `deliver`, e-mail and hard-copy entries start as
    "in progress" for the delivery that runs after the commit (D8).

    A second log of the same segment (double click, retry, another user) raises
    SegmentAlreadyLogged naming who logged it and when. A constant number of statements
    whatever the number of lines.
    """
    _check_permission(user, "segments.log_segment")
    with transaction.atomic(durable=True):
        segment = _claim(segment)
        problems = segment_log_problems(segment=segment, deliver=deliver)
        if problems:
            raise LogPreflightError(problems, code="preflight")
        lines = SegmentLine.objects.filter(segment=segment).order_by()
        logged = LoggedSegment.objects.create(
            segment_no=segment.no, source_uuid=segment.uuid, description=segment.description, user=_user(user)
        )
        campaign_entries = _create_campaign_entries(segment, logged, user, lines)
        entries = _insert_select(
            InteractionLogEntry, lines, _entry_columns(segment, logged, user, campaign_entries, deliver)
        )
        # The documents the entries' letters are made from stay as they are (R72).
        Document.objects.filter(
            pk__in=InteractionLogEntry.objects.filter(logged_segment=logged, word_template__isnull=False).values(
                "word_template_id"
            ),
            read_only=False,
        ).update(read_only=True)
        if after_entries_hook is not None:
            after_entries_hook(logged)
        deliveries = (
            InteractionLogEntry.objects.filter(
                logged_segment=logged, delivery_status=DeliveryStatus.IN_PROGRESS
            ).count()
            if deliver
            else 0
        )
        logged.no_of_interactions = entries
        logged.no_of_campaign_entries = len(campaign_entries)
        logged.save(update_fields=["no_of_interactions", "no_of_campaign_entries"])
        new_segment = None
        if follow_up:
            new_segment = _follow_up(segment.no, segment.campaign_id, user, logged)
        _delete_segment(segment)
    return LogResult(
        logged_segment=logged,
        entries=entries,
        campaign_entries=len(campaign_entries),
        follow_up=new_segment,
        deliveries=deliveries,
    )


def _follow_up(old_no: str, campaign_id, user, logged: LoggedSegment) -> Segment:
    """R50: a new segment "Follow-up on segment <no>" with the old campaign, dated today, with
    no template or other interaction settings, and one line per entry of `logged` (F3.7)."""
    segment = Segment.objects.create(
        no=number_series_next(code=SEGMENT_SERIES)[0],
        description=(_("Follow-up on segment %(no)s") % {"no": old_no})[:100],
        campaign_id=campaign_id,
        date=timezone.localdate(),
        owner=_user(user),
    )
    reuse_logged_lines(segment, user, logged)
    return segment


# --- Logged segments (F5) ---------------------------------------------------------------------


def _recount(logged_ids: Iterable[int]) -> None:
    """Recount entries and campaign entries whose Canceled equals their logged segment's (F1.18)."""
    ids = sorted(set(filter(None, logged_ids)))
    if not ids:
        return
    same = Q(canceled=OuterRef("canceled"))
    entries = (
        InteractionLogEntry.objects.filter(same, logged_segment=OuterRef("pk"))
        .order_by()
        .values("logged_segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    campaign = (
        CampaignEntry.objects.filter(same, logged_segment=OuterRef("pk"))
        .order_by()
        .values("logged_segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    LoggedSegment.objects.filter(pk__in=ids).update(
        no_of_interactions=Coalesce(Subquery(entries), 0), no_of_campaign_entries=Coalesce(Subquery(campaign), 0)
    )


def _logged_segments(ids: Iterable) -> list[LoggedSegment]:
    wanted = []
    problems = []
    for value in ids:
        try:
            wanted.append(parse_id(value))
        except ValidationError as error:
            problems.extend(_("logged segment: %(problem)s") % {"problem": message} for message in error.messages)
    found = {row.pk: row for row in LoggedSegment.objects.select_for_update().filter(pk__in=wanted).order_by("pk")}
    problems += [_('unknown logged segment "%(id)s"') % {"id": pk} for pk in wanted if pk not in found]
    if problems:
        raise ValidationError(problems, code="unknown_logged_segment")
    return [found[pk] for pk in wanted]


def logged_segment_set_canceled(*, user, ids: Iterable, canceled: bool) -> int:
    """Cancel or restore logged segments (R52): each one, all its campaign entries and all its
    interaction entries take the new state, overriding entries canceled one by one. Returns
    how many logged segments changed. Three UPDATEs and a recount whatever the size."""
    _check_permission(user, "interactions.change_loggedsegment")
    with transaction.atomic(durable=True):
        rows = _logged_segments(ids)
        pks = [row.pk for row in rows]
        changed = (
            LoggedSegment.objects.filter(pk__in=pks)
            .exclude(canceled=canceled)
            .update(canceled=canceled, canceled_at=timezone.now() if canceled else None)
        )
        InteractionLogEntry.objects.filter(logged_segment_id__in=pks).exclude(canceled=canceled).update(
            canceled=canceled
        )
        CampaignEntry.objects.filter(logged_segment_id__in=pks).exclude(canceled=canceled).update(canceled=canceled)
        _recount(pks)
    return changed


def logged_segment_follow_up(*, user, logged_segment_id) -> Segment:
    """A new segment with the contacts of a logged segment (R50 from the logged segments page)."""
    _check_permission(user, "segments.add_segment")
    with transaction.atomic(durable=True):
        (logged,) = _logged_segments([logged_segment_id])
        return _follow_up(logged.segment_no, _first_campaign(logged), user, logged)


def _first_campaign(logged: LoggedSegment):
    entry = CampaignEntry.objects.filter(logged_segment=logged).order_by("pk").first()
    return entry.campaign_id if entry else None


@dataclass(frozen=True)
class LoggedSegmentDeletion:
    logged_segment_id: int
    entries: int
    campaign_entries: int


def logged_segment_delete(*, user, logged_segment_id) -> LoggedSegmentDeletion:
    """Delete a canceled logged segment with its interaction entries (and their comments) and
    campaign entries (CONTRACT `logged_segment delete`). An uncanceled one is refused.
    Deleting it also lifts R39's block: the segment number could be logged again."""
    _check_permission(user, "interactions.delete_loggedsegment")
    with transaction.atomic(durable=True):
        (logged,) = _logged_segments([logged_segment_id])
        if not logged.canceled:
            raise ValidationError(
                _("logged segment %(id)s is not canceled: cancel it first, then delete it."),
                code="not_canceled",
                params={"id": logged.pk},
            )
        if Delivery.objects.filter(logged_segment=logged).exclude(state=DeliveryState.FINISHED).exists():
            raise ValidationError(
                _("logged segment %(id)s has a delivery under way: delete it when the delivery has finished."),
                code="delivery_under_way",
                params={"id": logged.pk},
            )
        entries = InteractionLogEntry.objects.filter(logged_segment=logged)
        InteractionComment.objects.filter(entry__in=entries.values("pk")).delete()
        DeliveryItem.objects.filter(delivery__logged_segment=logged).delete()
        documents_delete_with(entries, deliveries=Delivery.objects.filter(logged_segment=logged))
        entry_count = entries.delete()[0]
        campaign_count = CampaignEntry.objects.filter(logged_segment=logged).delete()[0]
        logged.delete()
    return LoggedSegmentDeletion(
        logged_segment_id=int(logged_segment_id), entries=entry_count, campaign_entries=campaign_count
    )


# --- Interaction log entries (F6) -------------------------------------------------------------


def _entries(numbers: Iterable):
    """The entries numbered, locked in key order; ValidationError naming every number that is
    not a number or does not exist, or an empty selection."""
    return selected_entries(entry_nos=numbers, rows=InteractionLogEntry.objects.select_for_update())


def interactions_set_canceled(*, user, entry_nos: Iterable, canceled: bool) -> int:
    """Cancel or restore entries (R57). Restoring is refused, for all of them, while an entry's
    logged segment or campaign entry is canceled (one error per entry and reason). Canceled
    entries stay visible and drop out of every statistic. Returns how many entries changed."""
    _check_permission(user, "interactions.change_interactionlogentry")
    with transaction.atomic(durable=True):
        entries = _entries(entry_nos)
        if not canceled:
            problems = []
            for pk, logged in entries.filter(logged_segment__canceled=True).values_list("pk", "logged_segment_id"):
                problems.append(
                    _("entry %(no)s: its logged segment %(logged)s is canceled; restore the logged segment instead.")
                    % {"no": pk, "logged": logged}
                )
            for pk, campaign in entries.filter(campaign_entry__canceled=True).values_list("pk", "campaign__no"):
                problems.append(
                    _("entry %(no)s: its campaign entry (campaign %(campaign)s) is canceled.")
                    % {"no": pk, "campaign": campaign}
                )
            if problems:
                raise ValidationError(sorted(problems), code="cannot_restore")
        logged_ids = set(entries.values_list("logged_segment_id", flat=True).distinct())
        changed = entries.exclude(canceled=canceled).update(canceled=canceled)
        _recount(logged_ids)
    return changed


def interactions_evaluate(*, user, entry_nos: Iterable, evaluation: str) -> int:
    """Set the evaluation of entries (R58); blank cannot be chosen. Returns the number updated."""
    _check_permission(user, "interactions.change_interactionlogentry")
    if evaluation not in Evaluation.values:
        raise ValidationError(
            _('evaluation: unknown value "%(value)s" (use %(choices)s)'),
            code="invalid_evaluation",
            params={"value": evaluation, "choices": ", ".join(Evaluation.values)},
        )
    with transaction.atomic(durable=True):
        return _entries(entry_nos).update(evaluation=evaluation)


def interactions_delete_canceled(*, user, entries) -> int:
    """Delete the canceled entries among `entries` (a queryset) with their comments (R63);
    uncanceled ones stay. Returns how many were deleted. A few statements whatever the size."""
    _check_permission(user, "interactions.delete_interactionlogentry")
    with transaction.atomic(durable=True):
        doomed = InteractionLogEntry.objects.filter(pk__in=entries.filter(canceled=True).values("pk"))
        # Lock them first, so a restore running at the same time waits and every statement
        # below sees the same entries (ids streamed, never held in a list).
        for _pk in doomed.select_for_update().values_list("pk", flat=True).iterator(chunk_size=5000):
            pass
        logged_ids = set(doomed.values_list("logged_segment_id", flat=True).distinct())
        InteractionComment.objects.filter(entry__in=doomed.values("pk")).delete()
        DeliveryItem.objects.filter(entry__in=doomed.values("pk")).delete()
        documents_delete_with(doomed)
        deleted = doomed.delete()[0]
        _recount(logged_ids)
    return deleted


def interaction_comment_add(*, user, entry: InteractionLogEntry, comment: str) -> InteractionComment:
    """Add a comment line to an entry (R64)."""
    _check_permission(user, "interactions.add_interactioncomment")
    row = InteractionComment(entry=entry, comment=comment.strip(), created_by=_user(user))
    row.full_clean(exclude=["entry", "created_by"])
    with transaction.atomic(durable=True):
        row.save()
    return row


# --- Single interaction (F8 with D13) -----------------------------------------------------------


SINGLE_FIELDS = frozenset(
    {
        "description",
        "date",
        "salesperson",
        "cost",
        "duration",
        "correspondence_type",
        "evaluation",
        "subject",
        "language",
        "campaign",
        "campaign_target",
        "campaign_response",
        "information_flow",
        "initiated_by",
        "attempt_failed",
    }
)


def _single_correspondence_type(template: InteractionTemplate, contact: Contact) -> str:
    """R13 for one contact: the template's type when it ignores the contact or the contact has none."""
    if template.ignore_contact_correspondence_type or not contact.correspondence_type:
        return template.correspondence_type
    return contact.correspondence_type


def interaction_create(
    *, user, contact: Contact, interaction_template: InteractionTemplate, values: dict[str, Any] | None = None
) -> InteractionLogEntry:
    """Record one interaction with one contact (F8 with D13); returns the entry.

    Values not given come from the template and the contact as for a segment line: the
    template's description (in the contact's language when the template has that language),
    date today, the contact's salesperson, correspondence type by R13, the template's cost,
    duration, flow, initiated by and campaign. Contact, template, salesperson, date and
    description are required (F8). An entry with a campaign joins the campaign entry that all
    single interactions of that campaign share. Records only: nothing is delivered.
    """
    _check_permission(user, "interactions.add_interactionlogentry")
    values = dict(values or {})
    unknown = set(values) - SINGLE_FIELDS
    if unknown:
        raise TypeError(f"not interaction fields: {sorted(unknown)}")
    rows = {row.language_id: row for row in InteractionTemplateLanguage.objects.filter(template=interaction_template)}
    language_id = (
        contact.language_id if contact.language_id in rows and contact.language_id else interaction_template.language_id
    )
    row = rows.get(language_id)
    entry = InteractionLogEntry(
        contact=contact,
        contact_company_id=contact.pk if contact.type == ContactType.COMPANY else contact.company_id,
        date=timezone.localdate(),
        time=_next_minute(),
        description=(row.description if row and row.description else interaction_template.description),
        subject=row.subject if row else "",
        language_id=language_id,
        information_flow=interaction_template.information_flow,
        initiated_by=interaction_template.initiated_by,
        cost=interaction_template.unit_cost,
        duration=interaction_template.unit_duration,
        user=_user(user),
        interaction_template=interaction_template,
        interaction_group_id=interaction_template.group_id,
        salesperson_id=contact.salesperson_id,
        campaign_id=interaction_template.campaign_id,
        campaign_target=interaction_template.campaign_target,
        campaign_response=interaction_template.campaign_response,
        correspondence_type=_single_correspondence_type(interaction_template, contact),
    )
    for field, value in values.items():
        if value is not None:
            setattr(entry, field, value)
    problems = {}
    if entry.salesperson_id is None:
        problems["salesperson"] = _("salesperson: required (the contact %(no)s has none; give one).") % {
            "no": contact.no
        }
    if not (entry.description or "").strip():
        problems["description"] = _("description: required.")
    try:
        entry.full_clean(exclude=["contact", "contact_company", "user", "campaign_entry", "logged_segment"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            problems.setdefault(field, f"{field}: {' '.join(messages)}")
    if problems:
        raise ValidationError(list(problems.values()), code="invalid_interaction")
    with transaction.atomic(durable=True):
        if entry.campaign_id is not None:
            entry.campaign_entry = _single_campaign_entry(entry, user)
        entry.save()
    return entry


def _next_minute():
    """F8: now, rounded up to the next minute."""
    now = timezone.localtime()
    rounded = now.replace(second=0, microsecond=0)
    if rounded < now:
        rounded += timedelta(minutes=1)
    return rounded.time()


def _single_campaign_entry(entry: InteractionLogEntry, user) -> CampaignEntry:
    """The campaign entry all single interactions of the entry's campaign share (F8), created
    by the first; the unique constraint makes a concurrent first a lookup, not a duplicate."""
    lookup = {"campaign_id": entry.campaign_id, "logged_segment": None, "segment_no": ""}
    existing = CampaignEntry.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CampaignEntry.objects.create(
                **lookup,
                description=_("Single interactions"),
                date=entry.date,
                user=_user(user),
                salesperson_id=entry.salesperson_id,
            )
    except IntegrityError:
        return CampaignEntry.objects.get(**lookup)


# --- Contacts with history (D15) ------------------------------------------------------------------

ANONYMOUS_NAME = "Anonymised contact"
CONTACT_PERSONAL_FIELDS = (
    "name_2",
    "first_name",
    "middle_name",
    "surname",
    "initials",
    "job_title",
    "address",
    "address_2",
    "post_code",
    "city",
    "county",
    "phone",
    "mobile_phone",
    "email",
)
ALT_ADDRESS_PERSONAL_FIELDS = (
    "company_name",
    "company_name_2",
    "address",
    "address_2",
    "post_code",
    "city",
    "county",
    "phone",
    "mobile_phone",
    "email",
)


def contact_anonymise(*, user, contact: Contact) -> Contact:
    """Replace a contact's personal data (name, address, e-mail, phone, also on its alternate
    addresses) instead of deleting it (D15); its number, lines and entries stay, and the
    anonymisation is recorded. Admins only (crm.delete_contact and interactions.add_contactanonymisation)."""
    contacts_anonymise(user=user, contacts=Contact.objects.filter(pk=contact.pk))
    return Contact.objects.get(pk=contact.pk)


ANONYMISE_BATCH = 5000


def contacts_anonymise(*, user, contacts) -> int:
    """`contact_anonymise` for every contact of `contacts` (a queryset) in one transaction,
    set-based: three statements per 5,000 contacts (the admin action). Returns how many
    contacts were anonymised.

    The name becomes "Anonymised contact <no.>", every other personal field is blanked, on the
    contact and its alternate addresses; one ContactAnonymisation row per contact records who
    and when. The selection is read once, before anything changes (a selection by name must
    not move under its own update). Same permissions as `contact_anonymise`.
    """
    _check_permission(user, "crm.delete_contact")
    _check_permission(user, "interactions.add_contactanonymisation")
    with transaction.atomic(durable=True):
        # Read (and on PostgreSQL lock) the rows in key order, so two admins cannot interleave.
        pks = list(
            Contact.objects.select_for_update()
            .filter(pk__in=contacts.values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        count = 0
        for start in range(0, len(pks), ANONYMISE_BATCH):
            batch = pks[start : start + ANONYMISE_BATCH]
            count += Contact.objects.filter(pk__in=batch).update(
                name=Concat(Value(f"{ANONYMOUS_NAME} "), F("no"), output_field=CharField()),
                updated_at=now,
                **dict.fromkeys(CONTACT_PERSONAL_FIELDS, ""),
            )
            ContactAltAddress.objects.filter(contact_id__in=batch).update(
                **dict.fromkeys(ALT_ADDRESS_PERSONAL_FIELDS, "")
            )
            ContactAnonymisation.objects.bulk_create(
                [ContactAnonymisation(contact_id=pk, user=_user(user), created_at=now) for pk in batch]
            )
    return count


__all__ = [
    "LogPreflightError",
    "LogResult",
    "SegmentAlreadyLogged",
    "contact_anonymise",
    "contacts_anonymise",
    "interaction_create",
    "interactions_delete_canceled",
    "interactions_evaluate",
    "interactions_set_canceled",
    "logged_segment_delete",
    "logged_segment_follow_up",
    "logged_segment_set_canceled",
    "segment_log",
    "segment_log_problems",
]
