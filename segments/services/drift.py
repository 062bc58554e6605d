"""The drift check before Log (issue 15): what changed since a worksheet's lines were added, and
Refresh, which applies those changes as one step that Undo reverses.

`segment_drift` (a read) reports per kind how many, and the first DRIFT_EXAMPLES by name (line
no., contact no., name; lines by line no., new contacts by contact no.):

- `withdrawn`: lines whose contact withdrew consent for the line's channel
  (crm.models.consent_withdrawn_q); the Log refuses them (CONTRACT "Consent per channel");
- `excluded`: lines whose contact is now set to "exclude from segment" and whose step did not
  ignore the exclusion. A manual line (add-contact, R29) and a reused logged segment's line
  (R38) ignore the exclusion by definition (the user chose that contact, or that mailing), so
  they are never listed; nor are the lines a Refresh added, which follow the criteria (below);
- `anonymised`: lines whose contact was anonymised (interactions.ContactAnonymisation) after
  the step that added the line ran;
- for a worksheet built by criteria (an add, reduce or refine step by criteria, not by hand):
  - `unmatched`: lines whose contact is not among the contacts the worksheet's steps select
    today (the replay, below), other than the lines a kind above lists;
  - `new`: contacts the steps select today that no line names, other than those Refresh never
    adds: an anonymised contact, or one whose consent for the channel a new line would get
    (R13) is withdrawn.

The replay is what running the worksheet's current steps again, in order, on today's data
selects, as a set of contacts (an undone step is gone, so it does not count):
- add: plus the contacts its Add would take with its options (expansion, companies with
  persons, the exclusion unless ignored), whether on the worksheet or not;
- reduce / refine: minus / only the contacts matching its criteria (with Entire Companies every
  contact of a company that has a matching contact);
- a line removed by hand: minus that contact, unless a line of it is still on the worksheet
  (one of two lines was removed);
- reuse of a logged segment: plus the contacts of its entries; reuse of saved criteria: the
  steps it replayed, in its place;
- a Refresh, and any other step that only removes changed contacts: nothing.
So a line is unmatched when the add that took its contact no longer matches it or a reduce or
refine now takes it out, and a contact is new when it now matches where it did not.

The replay is SQL, never read into Python: each step's contacts are a SELECT compiled from its
criteria, chained by UNION, anti-join (NOT EXISTS) and semi-join (IN), each link wrapped as a
derived table (so both databases read the chain the same way). `segment_drift` is then one statement: the replay and
its two differences with the lines (a FULL JOIN of the lines' contacts and the replay: the
contacts of lines it does not select, and the contacts it selects that no line names) are
computed once in a WITH, and each kind reads them by an `IN` (a semi-join). Each kind keeps its
first rows by a window rank and counts them all by a window count, and only the rows kept are
looked up for the contact's number and name. Never `NOT IN` over a large set, nor
`IN … OR IN …`, nor a join of every line with its contact: the contact kinds start from the few
contacts that withdrew, are excluded (partial indexes) or were anonymised.

Cost: one query for the steps, the criteria's codes (one query per code list, as a step
validates them), then that one statement: a constant number whatever the number of lines or
contacts. Measured by `manage.py bench` ("segment drift check", bench/README.md).

`segment_refresh` (a write) applies the differences as one step (StepAction.REFRESH) that Undo
reverses exactly: the listed lines are removed and kept for undo (per kind an INSERT … SELECT
and a DELETE), then the new contacts are added as Add adds lines (R21 order, header and
contact values, F2.4: one INSERT … SELECT). Afterwards the check finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BigIntegerField, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, RowNumber
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.counts import counted
from crm.models import ConsentState, Contact, consent_withdrawn_q
from crm.permissions import require
from interactions.models import ContactAnonymisation, InteractionLogEntry

from ..models import CriteriaStep, Segment, SegmentLine, StepAction
from .statistics import page_queries
from .worksheet import (
    StepResult,
    _analyze_after,
    _company_key,
    _correspondence_type,
    _finish,
    _insert_lines,
    _lock,
    _new_step,
    _remove_lines,
    add_candidates,
    criteria,
)

DRIFT_EXAMPLES = 10

WITHDRAWN = "withdrawn"
EXCLUDED = "excluded"
ANONYMISED = "anonymised"
UNMATCHED = "unmatched"
NEW = "new"
LINE_KINDS = (WITHDRAWN, EXCLUDED, ANONYMISED, UNMATCHED)  # the order Refresh removes them in
KINDS = (*LINE_KINDS, NEW)

# The criteria steps a replay runs; every other step (a Refresh, …) replays as nothing.
CRITERIA_ACTIONS = (StepAction.ADD, StepAction.REDUCE, StepAction.REFINE)


def _label(kind: str, count: int) -> str:
    if kind == WITHDRAWN:
        text = ngettext(
            "%(count)s line whose contact withdrew consent for the line's channel (blocks the Log)",
            "%(count)s lines whose contacts withdrew consent for the line's channel (blocks the Log)",
            count,
        )
    elif kind == EXCLUDED:
        text = ngettext(
            "%(count)s line whose contact was set to “exclude from segment” since it was added",
            "%(count)s lines whose contacts were set to “exclude from segment” since they were added",
            count,
        )
    elif kind == ANONYMISED:
        text = ngettext(
            "%(count)s line whose contact was anonymised since it was added",
            "%(count)s lines whose contacts were anonymised since they were added",
            count,
        )
    elif kind == UNMATCHED:
        text = ngettext(
            "%(count)s line whose contact no longer matches the criteria",
            "%(count)s lines whose contacts no longer match the criteria",
            count,
        )
    else:
        text = ngettext(
            "%(count)s contact who matches the criteria now but is not on the worksheet",
            "%(count)s contacts who match the criteria now but are not on the worksheet",
            count,
        )
    return counted(text, count)


@dataclass(frozen=True)
class DriftRow:
    """A line (or, for a new contact, the contact alone) named in the drift panel."""

    line_no: int | None
    contact_no: str
    name: str


@dataclass(frozen=True)
class DriftGroup:
    kind: str
    count: int
    rows: tuple[DriftRow, ...]

    @property
    def label(self) -> str:
        return _label(self.kind, self.count)

    @property
    def blocks_log(self) -> bool:
        return self.kind == WITHDRAWN

    @property
    def more(self) -> int:
        """How many are not named."""
        return self.count - len(self.rows)


@dataclass(frozen=True)
class SegmentDrift:
    """What changed since the lines were added: the kinds that have lines or contacts, in
    KINDS order. `by_criteria`: the worksheet has criteria steps, so the unmatched and new
    kinds were checked; `problems`: why they could not be (criteria no longer valid)."""

    groups: tuple[DriftGroup, ...]
    by_criteria: bool
    problems: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.groups)

    def count(self, kind: str) -> int:
        return next((group.count for group in self.groups if group.kind == kind), 0)

    @property
    def blocks_log(self) -> bool:
        return any(group.blocks_log for group in self.groups)

    @property
    def to_add(self) -> int:
        return self.count(NEW)


# --- The replay -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """The contacts the worksheet's steps select today (SQL of one column `member`), and its
    two differences with the worksheet's lines.

    Each difference is SQL for an `IN`: by default a set difference (EXCEPT) holding the
    replay's SQL, so a write runs it where it needs it (segment_refresh). `in_statement()`
    instead reads both from the statement's WITH (`with_clause`), where the replay and both
    differences are computed once (segment_drift).
    """

    sql: str
    params: tuple
    segment_id: int
    in_with: bool = False

    def _lines(self) -> tuple[str, tuple]:
        table = connection.ops.quote_name(SegmentLine._meta.db_table)
        return f"SELECT l.contact_id FROM {table} l WHERE l.segment_id = %s", (self.segment_id,)

    def in_statement(self) -> Replay:
        return replace(self, in_with=True)

    def with_clause(self) -> tuple[str, tuple]:
        """`WITH drift_replay …, drift_difference …` for the statement that reads `in_statement()`.

        PostgreSQL finds both differences in one hash join (FULL JOIN); SQLite has no hash join
        and runs a FULL JOIN with a materialised side as nested loops, so there each difference
        is an EXCEPT (a temporary b-tree)."""
        lines, lines_params = self._lines()
        if connection.vendor == "sqlite":
            difference = (
                f"SELECT g.contact_id AS gone, NULL AS new FROM ({lines} EXCEPT SELECT member FROM drift_replay) g"
                f" UNION ALL SELECT NULL, n.member FROM (SELECT member FROM drift_replay EXCEPT {lines}) n"
            )
            lines_params = (*lines_params, *lines_params)
        else:
            difference = (
                "SELECT w.contact_id AS gone, r.member AS new"
                f" FROM ({lines}) w FULL JOIN drift_replay r ON r.member = w.contact_id"
                " WHERE w.contact_id IS NULL OR r.member IS NULL"
            )
        sql = f"WITH drift_replay AS MATERIALIZED ({self.sql}), drift_difference AS MATERIALIZED ({difference})"
        return sql, (*self.params, *lines_params)

    def gone(self) -> RawSQL:
        """The contacts of lines that the replay does not select."""
        if self.in_with:
            return RawSQL("SELECT d.gone FROM drift_difference d WHERE d.gone IS NOT NULL", ())
        lines, lines_params = self._lines()
        return RawSQL(f"{lines} EXCEPT SELECT r.member FROM ({self.sql}) r", (*lines_params, *self.params))

    def new(self) -> RawSQL:
        """The contacts the replay selects that no line names."""
        if self.in_with:
            return RawSQL("SELECT d.new FROM drift_difference d WHERE d.new IS NOT NULL", ())
        lines, lines_params = self._lines()
        return RawSQL(f"SELECT r.member FROM ({self.sql}) r EXCEPT {lines}", (*self.params, *lines_params))


def _replay_steps(segment: Segment) -> list[CriteriaStep]:
    """The segment's steps in worksheet order, a replay's steps in its place (one query)."""
    return list(
        CriteriaStep.objects.filter(segment=segment).order_by(
            Coalesce(F("parent__position"), F("position")), F("parent_id").asc(nulls_first=True), "position"
        )
    )


def _built_by_criteria(steps: list[CriteriaStep]) -> bool:
    return any(step.action in CRITERIA_ACTIONS and not step.manual for step in steps)


def _step_contacts(segment: Segment, step: CriteriaStep) -> tuple[str, QuerySet] | None:
    """The set operation of `step` in the replay and the contacts it takes; None for nothing.

    A criterion that no longer validates (a deleted code) raises ValidationError.
    """
    if step.drops_withdrawn:
        # "Remove these N lines" (segment drop-withdrawn) has no criteria: every replay leaves
        # withdrawn contacts out anyway, so it selects nothing of its own.
        return None
    if step.action == StepAction.REUSE_LOGGED:
        entries = InteractionLogEntry.objects.filter(logged_segment_id=int(step.source or 0))
        return "UNION", entries.values(member=F("contact_id"))
    if step.action not in CRITERIA_ACTIONS:
        return None
    selection = criteria(step.filter)
    if step.action == StepAction.ADD:
        contacts = add_candidates(
            segment=segment,
            query=selection,
            allow_existing=True,
            expand_contact=step.expand_contact,
            allow_company_with_persons=step.allow_company_with_persons,
            ignore_exclusion=step.ignore_exclusion,
        )
        return "UNION", contacts
    contacts = selection.contacts
    if step.manual and step.action == StepAction.REDUCE:
        on_worksheet = SegmentLine.objects.filter(segment=segment, contact_id=OuterRef("pk"))
        return "EXCEPT", contacts.filter(~Exists(on_worksheet))
    if step.entire_companies:
        keys = contacts.annotate(company_key=_company_key()).values("company_key")
        contacts = Contact.objects.annotate(company_key=_company_key()).filter(company_key__in=keys)
    return ("EXCEPT" if step.action == StepAction.REDUCE else "INTERSECT"), contacts


def _compiled(rows: QuerySet) -> tuple[str, tuple]:
    """A step's contacts as SQL of one column, `member` (contacts, or entries' contacts)."""
    if rows.model is Contact:
        rows = rows.values(member=F("pk"))
    sql, params = rows.order_by().query.sql_with_params()
    return sql, tuple(params)


def _chained(sql: str, operation: str, step_sql: str, index: int) -> str:
    """The replay so far (`sql`) and one more step's contacts (`step_sql`), one column `member`.

    A union is a UNION; a difference an anti-join (`NOT EXISTS`) and an intersection a
    semi-join (`IN`) with the step's contacts: PostgreSQL hashes the smaller side instead of
    sorting or hashing both (EXCEPT: 0.34 s, NOT EXISTS: 0.18 s for 261,302 contacts less 13,844
    at 1M), SQLite looks each one up by key.
    """
    so_far, step = f"w{index}", f"s{index}"
    if operation == "UNION":
        return f"SELECT {so_far}.member FROM ({sql}) {so_far} UNION {step_sql}"
    if operation == "EXCEPT":
        return (
            f"SELECT {so_far}.member FROM ({sql}) {so_far} WHERE NOT EXISTS"
            f" (SELECT 1 FROM ({step_sql}) {step} WHERE {step}.member = {so_far}.member)"
        )
    return (
        f"SELECT {so_far}.member FROM ({sql}) {so_far}"
        f" WHERE {so_far}.member IN (SELECT {step}.member FROM ({step_sql}) {step})"
    )


def segment_replay(segment: Segment, steps: list[CriteriaStep] | None = None) -> Replay:
    """The replay of the worksheet's steps (module docstring) as SQL; nothing runs yet.

    Raises ValidationError naming each step whose criteria no longer validate.
    """
    steps = _replay_steps(segment) if steps is None else steps
    sql, params = "", ()
    problems = []
    numbers = {step.pk: step.position for step in steps if step.parent_id is None}
    for index, step in enumerate(steps):
        try:
            taken = _step_contacts(segment, step)
        except ValidationError as error:
            number = numbers.get(step.parent_id, step.position)
            problems += [
                _('step %(n)s: criterion "%(filter)s" is no longer valid: %(problem)s')
                % {"n": number, "filter": step.filter, "problem": problem}
                for problem in error.messages
            ]
            continue
        if taken is None:
            continue
        operation, contacts = taken
        step_sql, step_params = _compiled(contacts)
        if not sql:  # the empty set: a union starts it, a difference or intersection keeps it empty
            if operation == "UNION":
                sql, params = step_sql, step_params
            continue
        sql = _chained(sql, operation, step_sql, index)
        params = (*params, *step_params)
    if problems:
        raise ValidationError(problems, code="stale_criteria")
    if not sql:
        sql = f"SELECT id AS member FROM {connection.ops.quote_name(Contact._meta.db_table)} WHERE 1 = 0"
    return Replay(sql, params, segment.pk)


# --- The kinds ------------------------------------------------------------------------------------


def _withdrawn() -> Q:
    """Lines whose contact withdrew consent for the line's channel (consent_withdrawn_q): the
    lines of the few contacts who withdrew anything (two partial indexes, then the lines'
    contact index), so the lines are never all joined with their contacts."""
    anything = Q(email_consent=ConsentState.WITHDRAWN) | Q(postal_consent=ConsentState.WITHDRAWN)
    withdrawn = SegmentLine.objects.filter(contact_id__in=Contact.objects.filter(anything).values("pk"))
    return Q(pk__in=withdrawn.filter(consent_withdrawn_q()).values("pk"))


def _excluded() -> Q:
    """Lines whose contact is set to "exclude from segment" (a small partial index) and whose
    step did not ignore the exclusion."""
    excluded = Contact.objects.filter(exclude_from_segment=True).values("pk")
    return Q(contact_id__in=excluded, step__ignore_exclusion=False)


def _anonymised() -> Q:
    """Lines whose contact was anonymised after the line's step ran: the lines of the few
    anonymised contacts first (a semi-join), then the time of each one's anonymisation."""
    since = ContactAnonymisation.objects.filter(
        contact_id=OuterRef("contact_id"), created_at__gt=OuterRef("step__created_at")
    )
    return Q(contact_id__in=ContactAnonymisation.objects.values("contact_id")) & Q(Exists(since))


def _unmatched(replay: Replay) -> Q:
    """Lines whose contact the replay does not select, other than those of the kinds above."""
    return Q(contact_id__in=replay.gone()) & ~_withdrawn() & ~_excluded() & ~_anonymised()


def _line_kind(kind: str, replay: Replay | None = None) -> Q:
    if kind == WITHDRAWN:
        return _withdrawn()
    if kind == EXCLUDED:
        return _excluded()
    if kind == ANONYMISED:
        return _anonymised()
    return _unmatched(replay)


def new_contacts(segment: Segment, replay: Replay) -> QuerySet[Contact]:
    """The contacts the replay selects that no line names, less those Refresh never adds (an
    anonymised contact; one whose consent for the channel a new line would get is withdrawn)."""
    anonymised = ContactAnonymisation.objects.filter(contact_id=OuterRef("pk"))
    return (
        Contact.objects.filter(pk__in=replay.new())
        .annotate(new_line_channel=_correspondence_type(segment))
        .exclude(consent_withdrawn_q("new_line_channel", contact=""))
        .exclude(Exists(anonymised))
    )


def _ranked(kind: str, rows: QuerySet, *, line_no: str | None, order: str) -> tuple[str, tuple]:
    """SQL of a kind's first DRIFT_EXAMPLES rows by `order` (line no. and contact id), each with
    the kind's count.

    The count and the rank are window functions and the first rows are kept by rank, not by
    LIMIT: with a LIMIT PostgreSQL plans for the first rows (walking every line by line no.
    with a lookup per line) although the count needs them all. No contact is joined here:
    `_groups` joins the few rows kept (a join of every line would cost a scan of every contact).
    """
    contact = "contact_id" if line_no else "pk"
    line = F(line_no) if line_no else Cast(Value(None), BigIntegerField())
    ranked = (
        rows.annotate(
            drift_total=Window(Count("pk")),
            drift_rank=Window(RowNumber(), order_by=[F(order).asc()]),
        )
        .filter(drift_rank__lte=DRIFT_EXAMPLES)
        .order_by()
        .values(
            drift_kind=Value(kind, output_field=CharField()),
            drift_line=line,
            drift_contact=F(contact),
            drift_total=F("drift_total"),
            drift_rank=F("drift_rank"),
        )
    )
    sql, params = ranked.query.sql_with_params()
    return sql, tuple(params)


def _groups(parts: list[tuple[str, tuple]], replay: Replay | None) -> list[DriftGroup]:
    """Run the kinds' SQL as one statement (UNION ALL, the replay and its differences once in a
    WITH), each kept row with its contact's number and name (looked up by key: a join would be
    planned for every line, the rows kept being unknown to the planner); the groups, in KINDS
    order."""
    contacts = connection.ops.quote_name(Contact._meta.db_table)
    number, name = (f"(SELECT c.{column} FROM {contacts} c WHERE c.id = p.drift_contact)" for column in ("no", "name"))
    sql = " UNION ALL ".join(
        f"SELECT p.drift_kind, p.drift_line, {number}, {name}, p.drift_total, p.drift_rank FROM ({part}) p"
        for part, _params in parts
    )
    params = tuple(param for _part, part_params in parts for param in part_params)
    if replay is not None:
        with_sql, with_params = replay.with_clause()
        sql, params = f"{with_sql} {sql}", (*with_params, *params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = sorted(cursor.fetchall(), key=lambda row: (KINDS.index(row[0]), row[5]))
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    return [
        DriftGroup(
            kind=kind,
            count=found[0][4],
            rows=tuple(DriftRow(line_no=line_no, contact_no=no, name=name) for _k, line_no, no, name, *_ in found),
        )
        for kind, found in groups.items()
    ]


def segment_drift(*, segment: Segment) -> SegmentDrift:
    """What changed since the worksheet's lines were added (module docstring). Writes nothing.

    Queries: the steps, the criteria's codes (as a step validates them), then one statement
    for every kind (each kind's count and first rows; the replay computed once), whatever the
    number of lines.
    """
    steps = _replay_steps(segment)
    by_criteria = _built_by_criteria(steps)
    replay, problems = None, ()
    if by_criteria:
        try:
            replay = segment_replay(segment, steps).in_statement()
        except ValidationError as error:
            problems = tuple(error.messages)
    lines = SegmentLine.objects.filter(segment=segment)
    parts = [
        _ranked(kind, lines.filter(_line_kind(kind, replay)), line_no="line_no", order="line_no")
        for kind in LINE_KINDS
        if kind != UNMATCHED or replay is not None
    ]
    if replay is not None:
        parts.append(_ranked(NEW, new_contacts(segment, replay), line_no=None, order="no"))
    with page_queries():
        groups = _groups(parts, replay)
    return SegmentDrift(groups=tuple(groups), by_criteria=by_criteria, problems=problems)


# --- Refresh --------------------------------------------------------------------------------------


def segment_refresh(*, user, segment: Segment | str) -> StepResult:
    """Apply the drift as one step (StepAction.REFRESH) that Undo reverses exactly.

    Removes the lines of every kind (withdrawn, excluded, anonymised, unmatched), each kept for
    undo, then adds the new contacts as Add would (header and contact values, R21 order, line
    numbers after the last). A worksheet not built by criteria only loses its changed
    contacts' lines. Nothing to change writes nothing (the result's `step` is None); criteria
    that no longer validate are a ValidationError naming them, and nothing is written. One
    durable transaction of a constant number of statements whatever the size.
    """
    require(user, "segments.change_segment")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        steps = _replay_steps(segment)
        replay = segment_replay(segment, steps) if _built_by_criteria(steps) else None
        step = _new_step(segment, user, action=StepAction.REFRESH, ignore_exclusion=True)
        removed = 0
        lines = SegmentLine.objects.filter(segment=segment).order_by()
        for kind in LINE_KINDS:
            if kind == UNMATCHED and replay is None:
                continue
            removed += _remove_lines(segment, step, lines.filter(_line_kind(kind, replay)))
        added = _insert_lines(segment, step, new_contacts(segment, replay)) if replay is not None else 0
        if not added and not removed:
            step.delete()
            count = SegmentLine.objects.filter(segment=segment).count()
            return StepResult(step=None, added=0, removed=0, line_count=count)
        return _analyze_after(_finish(step, added, removed), removed_lines=bool(removed))
