"""The Log transaction (SPEC F4.3 with D7, D8): a segment becomes a logged segment with one
interaction log entry per line, campaign entries, and on request a follow-up segment.

Guarantees:
- one durable transaction, so a failure half-way leaves nothing;
- set-based: logging N lines is a constant number of statements (an INSERT … SELECT of the
  entries, a few DELETEs of the segment);
- a segment is logged once: the log claims the segment row with a conditional UPDATE and
  checks its row count, and `LoggedSegment.source_uuid` (unique) and the unique
  (logged segment, segment line) pair of the entries are the database's last guards;
- the pre-flight (D7) raises LogPreflightError listing every problem, and nothing is written.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import reduce

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Q,
    QuerySet,
    TimeField,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.consent import channel_label, channel_of
from crm.models import Contact, ContactType, CorrespondenceType, Salutation, SalutationFormula, SalutationType
from crm.permissions import recorded_user, require
from crm.services import number_series_next
from crm.sql import insert_select
from interactions.mail import mail_server_problem
from interactions.models import CampaignEntry, DeliveryStatus, Document, InteractionLogEntry, LoggedSegment
from interactions.services import locked_logged_segments
from interactions.wordtemplates import WordTemplateInvalid, prepared_template, salutation_kinds

from ..documents import (
    language_fallback_notices,
    missing_word_document_counts,
    missing_word_document_problem,
    resolve_word_documents,
    with_word_document,
    word_document_groups,
)
from ..models import RemovedSegmentLine, Segment, SegmentLine
from .consent import withdrawn_line_problem, withdrawn_lines
from .statistics import analyze_after_commit, page_queries
from .worksheet import SEGMENT_SERIES, _lock, already_logged, reuse_logged_lines

PROBLEM_EXAMPLES = 5


# --- Pre-flight (D7) ----------------------------------------------------------------------------


class LogPreflightError(ValidationError):
    """Every problem that stops a segment from being logged, one message each (D7).

    `withdrawn` holds those of the messages that name a line whose contact withdrew consent
    for the line's channel, one per line (CONTRACT: `line 30000: CT000123: e-mail consent
    withdrawn`): a page shows them as a list of its own."""

    def __init__(self, message, code=None, params=None, *, withdrawn: Iterable[str] = ()):
        super().__init__(message, code, params)
        self.withdrawn = list(withdrawn)


def _examples(lines, label: Callable[[dict], str], *fields: str) -> str:
    rows = list(lines.order_by("line_no").values("line_no", *fields)[:PROBLEM_EXAMPLES])
    return ", ".join(label(row) for row in rows)


def _line_label(row: dict) -> str:
    return f"{row['line_no']}"


def _contact_label(row: dict) -> str:
    return _("%(contact)s (line %(line_no)s)") % {"contact": row["contact__no"], "line_no": row["line_no"]}


def _problem(count: int, one: str, many: str, examples: str) -> str:
    text = one if count == 1 else many
    return text % {"count": count, "examples": examples}


def _email_address_missing() -> Q:
    """An e-mail line with no address: neither the contact nor its active alternate address has one."""
    return Q(correspondence_type=CorrespondenceType.EMAIL, contact__email="") & (
        Q(alt_address__isnull=True) | Q(alt_address__email="")
    )


def _lines_without_address(lines: QuerySet[SegmentLine]) -> QuerySet[SegmentLine]:
    """`lines` that are e-mail lines with no address (`_email_address_missing`), found from the
    contacts without e-mail (`IN`): the database looks up only their lines, instead of every
    line's contact (SQLite: 0.5 s instead of 2 s at 1M lines)."""
    return lines.filter(
        Q(correspondence_type=CorrespondenceType.EMAIL, contact_id__in=Contact.objects.filter(email="").values("pk"))
        & (Q(alt_address__isnull=True) | Q(alt_address__email=""))
    )


@dataclass(frozen=True)
class LogPreflight:
    """The pre-flight of a log (D7) with the numbers its confirmation states: what stops the
    log itself, what stops the delivery after it (checked only with `deliver` and lines to
    deliver), the entries and campaign entries it creates (R46, R47), and its e-mail and
    hard-copy lines."""

    problems: list[str]
    delivery_problems: list[str]
    entries: int
    campaign_entries: int
    emails: int
    letters: int
    # Informational, never a problem: lines to deliver whose contact's language has no Word
    # document and that are merged from another language's ("12 lines in FI use the EN document").
    language_notices: list[str] = field(default_factory=list)
    # The lines whose contact withdrew consent for the line's channel (D17): how many, and the
    # first WITHDRAWN_SHOWN of them (every one with `every_withdrawn_line`) as rows (line_no,
    # contact__no, contact__name, correspondence_type) by line no.
    withdrawn: int = 0
    withdrawn_lines: list[dict] = field(default_factory=list)
    withdrawn_summary: str = ""  # the problem that names the first of them (without `every_withdrawn_line`)

    @property
    def all_problems(self) -> list[str]:
        return [*self.problems, *self.delivery_problems]

    @property
    def withdrawn_problems(self) -> list[str]:
        """One CONTRACT line per withdrawn line listed: `line 30000: CT000123: e-mail consent withdrawn`."""
        return [withdrawn_line_problem(row) for row in self.withdrawn_lines]


LINE_CHECKS = {
    "no_description": Q(description=""),
    "no_template": Q(interaction_template_id__isnull=True),
    "no_salesperson": Q(salesperson_id__isnull=True),
}


def segment_log_preflight(
    *,
    segment: Segment,
    deliver: bool = False,
    mail_server: bool = True,
    notices: bool = True,
    every_withdrawn_line: bool = False,
) -> LogPreflight:
    """Every reason the segment cannot be logged (D7), all at once, and the confirmation's numbers.

    Always: no description (R40), no lines (R41), lines without description, interaction
    template or salesperson (R42), lines whose contact withdrew consent for the line's channel
    (D17: one problem naming the first of them, or with `every_withdrawn_line` one problem per
    line in the CONTRACT's words; `withdrawn`, `withdrawn_lines`). Only when the log also
    delivers, over the lines that will be delivered (e-mail and hard copy): e-mail lines whose
    contact and active alternate address have no e-mail (R43), lines without a Word document to
    merge (a template without one for the line's language, named), and lines whose contact has
    no formula in the line's language for a salutation their Word document uses (F1.4).
    Writes nothing.

    Set-based whatever the number of lines: one pass over the lines grouped by campaign for
    the counts; with delivery one more, grouped by (Word document, template, language,
    salutation, address missing), from which the delivery problems are counted; then the
    documents' salutation fields, the formulas, and the first examples of each problem found.

    With delivery and e-mail lines, and `mail_server`, the mail server is asked too (after the
    queries, outside any transaction: up to 10 s when it does not answer): a delivery to a
    server that cannot be reached would fail every e-mail after a Log that cannot be undone.
    With `notices`, the informational `language_notices` the pages show.
    """
    with page_queries():
        preflight = _preflight(segment, deliver, notices, every_withdrawn_line)
    if mail_server and deliver and preflight.emails:
        preflight.delivery_problems.extend(_mail_server_problems())
    return preflight


def _mail_server_problems() -> list[str]:
    """The mail server's problem ("cannot reach the mail server HOST:PORT: reason"), or none
    (interactions.mail.mail_server_problem: nothing to check for a backend that is not SMTP)."""
    problem = mail_server_problem()
    return [problem] if problem else []


def _preflight(segment: Segment, deliver: bool, notices: bool, every_withdrawn_line: bool = False) -> LogPreflight:
    problems: list[str] = []
    if not segment.description.strip():
        problems.append(_("The segment has no description."))
    lines = SegmentLine.objects.filter(segment=segment).order_by()
    # One pass: the lines by campaign, correspondence type and what decides their Word document.
    by_kind = list(
        lines.values(
            "campaign_id", "correspondence_type", "document_id", "interaction_template_id", "language_id"
        ).annotate(total=Count("pk"), **{name: Count("pk", filter=q) for name, q in LINE_CHECKS.items()})
    )
    counts = {name: sum(row[name] for row in by_kind) for name in ("total", *LINE_CHECKS)}
    by_type = {
        kind: sum(row["total"] for row in by_kind if row["correspondence_type"] == kind)
        for kind in ("email", "hard_copy")
    }
    preflight = LogPreflight(
        problems=problems,
        delivery_problems=[],
        entries=counts["total"],
        campaign_entries=len({row["campaign_id"] for row in by_kind} - {None}),
        emails=by_type[CorrespondenceType.EMAIL],
        letters=by_type[CorrespondenceType.HARD_COPY],
    )
    if not counts["total"]:
        problems.append(_("The segment has no lines: add contacts before logging."))
        return preflight
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
    for name, q in LINE_CHECKS.items():
        if counts[name]:
            one, many = messages[name]
            problems.append(_problem(counts[name], one, many, _examples(lines.filter(q), _line_label)))
    preflight = _check_withdrawn(preflight, lines, every_withdrawn_line)
    if deliver and preflight.emails + preflight.letters:
        to_deliver: dict[tuple, int] = {}
        for row in by_kind:
            if row["correspondence_type"]:
                to_deliver[_key(row)] = to_deliver.get(_key(row), 0) + row["total"]
        groups = [
            {"document_id": key[0], "interaction_template_id": key[1], "language_id": key[2], "lines": count}
            for key, count in to_deliver.items()
        ]
        preflight.delivery_problems.extend(_delivery_problems(segment, lines, resolve_word_documents(segment, groups)))
        if notices:
            templates = {row["interaction_template_id"] for row in by_kind if row["correspondence_type"]}
            preflight.language_notices.extend(
                language_fallback_notices(segment, lines.exclude(correspondence_type=""), templates)
            )
    return preflight


WITHDRAWN_SHOWN = 10
WITHDRAWN_COLUMNS = ("line_no", "contact__no", "contact__name", "correspondence_type")


def _check_withdrawn(preflight: LogPreflight, lines, every_line: bool) -> LogPreflight:
    """The lines whose contact withdrew consent for the line's channel (D17), read from the
    contacts who withdrew (segments.services.consent.withdrawn_lines): counted first (from the
    partial indexes of those contacts; one query, all when there is none), then with
    `every_line` all of them, one problem each, else the first WITHDRAWN_SHOWN and one problem
    naming the first."""
    count = withdrawn_lines(lines, "pk").count()
    if not count:
        return preflight
    rows = withdrawn_lines(lines, *WITHDRAWN_COLUMNS)
    rows = list(rows if every_line else rows[:WITHDRAWN_SHOWN])
    preflight = replace(preflight, withdrawn=count, withdrawn_lines=rows)
    if every_line:
        preflight.problems.extend(preflight.withdrawn_problems)
    else:
        examples = ", ".join(
            f"{row['line_no']} ({row['contact__no']}, {channel_label(channel_of(row['correspondence_type']))})"
            for row in rows[:PROBLEM_EXAMPLES]
        )
        one = _(
            "Line %(examples)s: its contact withdrew consent for the line's channel. Remove the line before logging."
        )
        many = _(
            "%(count)s lines have a contact who withdrew consent for the line's channel (lines %(examples)s…). "
            "Remove them before logging."
        )
        preflight = replace(preflight, withdrawn_summary=_problem(count, one, many, examples))
        preflight.problems.append(preflight.withdrawn_summary)
    return preflight


def segment_log_problems(*, segment: Segment, deliver: bool = False, mail_server: bool = True) -> list[str]:
    """Every reason the segment cannot be logged (D7), all at once; empty when it can
    (`segment_log_preflight`, without its informational notices, which only pages show; one
    problem per line whose contact withdrew consent)."""
    return segment_log_preflight(
        segment=segment, deliver=deliver, mail_server=mail_server, notices=False, every_withdrawn_line=True
    ).all_problems


def segment_log_check(*, segment: Segment, deliver: bool = False, mail_server: bool = True, more=()) -> None:
    """Raise LogPreflightError with every problem of `segment_log_problems` and `more` (the
    withdrawn lines' messages in its `withdrawn`); nothing when the segment can be logged."""
    preflight = segment_log_preflight(
        segment=segment, deliver=deliver, mail_server=mail_server, notices=False, every_withdrawn_line=True
    )
    problems = [*preflight.all_problems, *more]
    if problems:
        raise LogPreflightError(problems, code="preflight", withdrawn=preflight.withdrawn_problems)


def _kinds_by_document(document_ids: Iterable[int]) -> tuple[dict[str, list[int]], list[str]]:
    """salutation type → the documents (of `document_ids`) that use it; problems of documents
    that no longer prepare."""
    kinds: dict[str, list[int]] = {kind: [] for kind in SalutationType.values}
    problems = []
    for document in Document.objects.filter(pk__in=list(document_ids)):
        try:
            fields = prepared_template(document.read_bytes()).fields
        except WordTemplateInvalid as exc:
            problems.append(_("Word document %(name)s: %(problems)s") % {"name": document.file_name, "problems": exc})
            continue
        for kind in salutation_kinds(fields):
            kinds[kind].append(document.pk)
    return kinds, problems


def _key(row: dict) -> tuple:
    return (row["document_id"], row["interaction_template_id"], row["language_id"])


def _without(groups: list[dict], removed: list[dict]) -> list[dict]:
    """`groups` (word_document_groups) less the lines counted in `removed` (a subset of them)."""
    less: dict[tuple, int] = {}
    for row in removed:
        less[_key(row)] = less.get(_key(row), 0) + row["lines"]
    kept = [{**row, "lines": row["lines"] - less.get(_key(row), 0)} for row in groups]
    return [row for row in kept if row["lines"]]


def _delivery_problems(segment: Segment, lines, to_deliver: list[dict]) -> list[str]:
    """The delivery's problems, counted from the lines' side without joining every line to its
    contact: the lines to deliver by Word document (`to_deliver`, from the pre-flight's pass); the e-mail lines without
    an address, joined only to the contacts without e-mail; per salutation kind the documents
    use, the lines of those documents joined only to the contacts whose salutation has no
    formula of that kind in the line's language (or no salutation)."""
    problems = []
    no_address = _lines_without_address(lines)
    missing_address = word_document_groups(segment, no_address)
    deliverable = _without(to_deliver, missing_address)
    problems += [missing_word_document_problem(*row) for row in missing_word_document_counts(deliverable)]
    kinds, document_problems = _kinds_by_document(
        {row["word_document_id"] for row in deliverable if row["word_document_id"] is not None}
    )
    problems += document_problems
    count = sum(row["lines"] for row in missing_address)
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
    used = {kind: set(document_ids) for kind, document_ids in kinds.items() if document_ids}
    if not used:
        return problems
    salutations = set(Salutation.objects.values_list("pk", flat=True))
    formulas: dict[tuple, set] = {}
    for kind, salutation, language in SalutationFormula.objects.filter(type__in=list(used)).values_list(
        "type", "salutation_id", "language_id"
    ):
        formulas.setdefault((kind, language), set()).add(salutation)
    delivered = lines.exclude(correspondence_type="").exclude(pk__in=_lines_without_address(lines).values("pk"))
    for kind, document_ids in used.items():
        # The lines of these documents whose contact has no salutation, or one without this kind
        # of formula in the line's language (a line without a language needs the formula without
        # one, F1.4). `=None` is IS NULL.
        # The contacts come in through `IN` (their ids), not a join of every line to its contact:
        # one subquery per set of salutations without the formula (the same for most languages).
        keys_by_missing: dict[tuple, list[Q]] = {}
        for row in deliverable:
            if row["word_document_id"] in document_ids:
                without = tuple(sorted(salutations - formulas.get((kind, row["language_id"]), set())))
                keys_by_missing.setdefault(without, []).append(
                    Q(document_id=row["document_id"], interaction_template_id=row["interaction_template_id"])
                    & Q(language_id=row["language_id"])
                )
        conditions = [
            reduce(operator.or_, keys)
            & Q(
                contact_id__in=Contact.objects.filter(
                    Q(salutation_id__isnull=True) | Q(salutation_id__in=without)
                ).values("pk")
            )
            for without, keys in keys_by_missing.items()
        ]
        missing = delivered.filter(reduce(operator.or_, conditions))
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
        "user_id": Value(getattr(recorded_user(user), "pk", None), output_field=BigIntegerField()),
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
        "segment_line_no": F("line_no"),
        "evaluation": F("evaluation"),
        "attempt_failed": Value(False, output_field=BooleanField()),
        "correspondence_type": correspondence,
        "alt_address_id": F("alt_address_id"),
        "contact_via": contact_via,
        "send_as_attachment": F("send_as_attachment"),
        "personal_text": F("personal_text"),
        "word_template_id": F("word_document_id"),  # rows: segments.documents.with_word_document
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
            user=recorded_user(user),
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


def segment_log(
    *,
    user,
    segment: Segment | str,
    follow_up: bool = False,
    deliver: bool = False,
    then: Callable[[LoggedSegment, Segment | None], object] | None = None,
) -> LogResult:
    """Log a segment (F4.3): one atomic, set-based transaction that can never run twice.

    Claims the segment (a conditional UPDATE), checks every pre-flight problem (D7; all of them
    in one LogPreflightError, nothing written; a line whose contact withdrew consent for its
    channel is one, checked here inside the transaction too; with `deliver` and e-mail lines the mail server
    is asked first, before the transaction opens), then creates the logged segment (R45), one
    campaign entry per campaign (R46), one interaction log entry per line with every value the
    line has after its overrides (R47; an e-mail line without an address is logged without a
    correspondence type, R43), deletes the segment (R49) and, when asked, creates the follow-up
    segment with the same contacts (R50). With `deliver`, e-mail and hard-copy entries start as
    "in progress" for the delivery that runs after the commit (D8).

    A second log of the same segment (double click, retry, another user) raises
    SegmentAlreadyLogged naming who logged it and when. A constant number of statements
    whatever the number of lines. `then(logged segment, follow-up)` is the caller's own write in
    the same transaction (a log job records its result: segments.log_jobs).
    """
    require(user, "segments.log_segment")
    # The mail server is asked before the transaction: never while the segment is claimed.
    unreachable = _mail_server_problems() if deliver and _has_email_lines(segment) else []
    with transaction.atomic(durable=True):
        segment = _claim(segment)
        segment_log_check(segment=segment, deliver=deliver, mail_server=False, more=unreachable)
        lines = SegmentLine.objects.filter(segment=segment).order_by()
        logged = LoggedSegment.objects.create(
            segment_no=segment.no, source_uuid=segment.uuid, description=segment.description, user=recorded_user(user)
        )
        campaign_entries = _create_campaign_entries(segment, logged, user, lines)
        entries = insert_select(
            InteractionLogEntry,
            with_word_document(segment, lines),
            _entry_columns(segment, logged, user, campaign_entries, deliver),
            order_by=("line_no",),
        )
        # The documents the entries' letters are made from stay as they are (R72).
        Document.objects.filter(
            pk__in=InteractionLogEntry.objects.filter(logged_segment=logged, word_template__isnull=False).values(
                "word_template_id"
            ),
            read_only=False,
        ).update(read_only=True)
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
        # The entries came and the lines went (and came back for a follow-up): fresh statistics.
        analyze_after_commit(
            [SegmentLine._meta.db_table, RemovedSegmentLine._meta.db_table],
            changed=entries,
            lines_before=entries,
            lines_after=0,
            growing=[InteractionLogEntry._meta.db_table],
        )
        if then is not None:
            then(logged, new_segment)
    return LogResult(
        logged_segment=logged,
        entries=entries,
        campaign_entries=len(campaign_entries),
        follow_up=new_segment,
        deliveries=deliveries,
    )


def _has_email_lines(segment: Segment | str) -> bool:
    lookup = {"segment__no": segment} if isinstance(segment, str) else {"segment_id": segment.pk}
    return SegmentLine.objects.filter(correspondence_type=CorrespondenceType.EMAIL, **lookup).exists()


def _follow_up(old_no: str, campaign_id, user, logged: LoggedSegment) -> Segment:
    """R50: a new segment "Follow-up on segment <no>" with the old campaign, dated today, with
    no template or other interaction settings, and one line per entry of `logged` (F3.7) except
    for contacts who withdrew consent for their line's channel (D17), counted in the returned
    segment's `consent_left_out` (a LeftOut, for the caller's message)."""
    segment = Segment.objects.create(
        no=number_series_next(code=SEGMENT_SERIES)[0],
        description=(_("Follow-up on segment %(no)s") % {"no": old_no})[:100],
        campaign_id=campaign_id,
        date=timezone.localdate(),
        owner=recorded_user(user),
    )
    segment.consent_left_out = reuse_logged_lines(segment, user, logged).left_out
    return segment


# --- Follow-up of a logged segment (R50) -----------------------------------------------------------


def logged_segment_follow_up(*, user, logged_segment_id) -> Segment:
    """A new segment with the contacts of a logged segment (R50 from the logged segments page)."""
    require(user, "segments.add_segment")
    with transaction.atomic(durable=True):
        (logged,) = locked_logged_segments([logged_segment_id])
        return _follow_up(logged.segment_no, _first_campaign(logged), user, logged)


def _first_campaign(logged: LoggedSegment):
    entry = CampaignEntry.objects.filter(logged_segment=logged).order_by("pk").first()
    return entry.campaign_id if entry else None
