"""Reads for the segment pages: the list, the worksheet's header totals, lines and steps.

Each selector states its query cost. The worksheet's first screen (header, totals, one page
of 50 lines, the step list, the saved criteria) is a fixed number of queries whatever the
number of lines: the lines are counted once (with the totals), a page of lines is one SELECT
with contact, company and step joined, and the steps are at most two queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Count, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.filters import ContactFilterSet
from crm.models import ContactType

from .models import (
    OVERRIDE_BIT,
    CriteriaStep,
    RemovedSegmentLine,
    SavedCriteria,
    SavedCriteriaStep,
    Segment,
    SegmentLine,
    StepAction,
)

LINES_PER_PAGE = 50
STEPS_SHOWN = 30

# Short words for a step's action in the provenance column and the step list.
ACTION_WORDS = {
    StepAction.ADD: _("add"),
    StepAction.REDUCE: _("reduce"),
    StepAction.REFINE: _("refine"),
    StepAction.REUSE_CRITERIA: _("reuse"),
    StepAction.REUSE_LOGGED: _("reuse logged"),
    StepAction.REFRESH: _("refresh"),
}
OPTION_LABELS = {
    "allow_existing": _("allow existing contacts"),
    "expand_contact": _("expand contact"),
    "allow_company_with_persons": _("allow company with persons"),
    "ignore_exclusion": _("ignore exclusion"),
    "entire_companies": _("entire companies"),
}


def _count_of(model: type, field: str = "segment", **filters):
    rows = model.objects.filter(**{field: OuterRef("pk")}, **filters).order_by().values(field)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), 0, output_field=IntegerField())


def segment_list() -> QuerySet[Segment]:
    """Segments by no. with `no_of_lines` and `no_of_steps` counted: one query per page.

    `no_of_steps` counts the steps the worksheet lists (numbered 1, 2, 3 …): a replay of saved
    criteria or of a logged segment is one step, its replayed steps are not counted again.
    The counts are correlated subqueries, not joins, so two to-many counts never multiply
    each other.
    """
    return (
        Segment.objects.select_related("interaction_template", "owner", "campaign")
        .annotate(no_of_lines=_count_of(SegmentLine), no_of_steps=_count_of(CriteriaStep, parent__isnull=True))
        .order_by("no")
    )


def segment_detail_queryset() -> QuerySet[Segment]:
    """Segments with every reference the worksheet header shows joined in."""
    return Segment.objects.select_related(
        "interaction_template", "interaction_group", "campaign", "salesperson", "language", "owner"
    )


@dataclass(frozen=True)
class SegmentTotals:
    """How many lines the segment has, and how many of them follow the header.

    `following` counts the lines whose template is not set by hand: a header change
    propagates to them, except for the fields overridden on each line.
    """

    lines: int
    following: int


def _own_template():
    # `overrides > 0` first: most lines override nothing, and the database skips the bit test.
    return Q(overrides__gt=0) & ~Q(own_template=0)


def _count(lines: QuerySet[SegmentLine]):
    """`lines` (filtered by OuterRef) counted in a scalar subquery."""
    return Subquery(lines.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n"))


def segment_totals(*, segment: Segment) -> SegmentTotals:
    """One query (the worksheet counts its lines once) of two counts, each from an index alone:
    all lines from the (segment, line_no) index, those overriding their template from the
    partial (segment, overrides) index of the lines that override something."""
    lines = SegmentLine.objects.filter(segment=OuterRef("pk"))
    own = lines.annotate(own_template=F("overrides").bitand(OVERRIDE_BIT["interaction_template"])).filter(
        _own_template()
    )
    counts = Segment.objects.filter(pk=segment.pk).values(all_lines=_count(lines), own=_count(own))
    row = counts.first() or {"all_lines": 0, "own": 0}  # a segment logged meanwhile has no lines
    return SegmentTotals(lines=row["all_lines"], following=row["all_lines"] - row["own"])


def lines_following_header(*, segment: Segment) -> int:
    """How many lines a header change reaches (one aggregate query)."""
    return segment_totals(segment=segment).following


class LinesPaginator(Paginator):
    """Pages of a segment's lines read as a range of line numbers, never OFFSET over the join.

    Next and Previous carry the line no. the page starts after (or ends before): that page is
    the 50 lines from there on, read from the (segment, line_no) unique index like the first
    page, at any depth. A page asked by its number alone (a link to a line, "Last") finds its
    first line no. in that index alone (an index-only OFFSET, no table row read); the last
    page is read backwards from the end. The row count is given, so the lines are counted
    once per page.
    """

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.__dict__["count"] = count  # fills Paginator.count (a cached_property)

    def page(self, number, *, after: int | None = None, before: int | None = None) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        size = min(self.per_page, self.count - bottom) if self.count else 0
        lines = self.object_list
        if not size:
            rows = []
        elif after is not None:
            rows = list(lines.filter(line_no__gt=after).order_by("line_no")[: self.per_page])
        elif before is not None:
            rows = list(lines.filter(line_no__lt=before).order_by("-line_no")[: self.per_page])[::-1]
        elif number == self.num_pages and number > 1:
            rows = list(lines.order_by("-line_no")[:size])[::-1]
        else:
            first = lines.order_by("line_no").values_list("line_no", flat=True)[bottom : bottom + 1]
            rows = list(lines.filter(line_no__gte=Subquery(first)).order_by("line_no")[:size])
        return self._get_page(rows, number, self)


def _line_no(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def segment_lines(*, segment: Segment) -> QuerySet[SegmentLine]:
    """The segment's lines by line no., with contact, company and step joined (one query)."""
    return (
        SegmentLine.objects.filter(segment=segment)
        .select_related("contact", "contact__company", "step", "step__parent")
        .order_by("line_no")
    )


def lines_page(*, segment: Segment, count: int, number, after=None, before=None) -> Page:
    """One page of lines (50) with `provenance` and `ovr` (the overridden field names) set.

    One SELECT for the page (the count is given); an out-of-range page number gives the last
    page, a malformed one the first. `after` / `before` (a line no., from the Next and
    Previous links) give the lines after or before it: the page number is then only shown.
    """
    paginator = LinesPaginator(segment_lines(segment=segment), LINES_PER_PAGE, count=count)
    try:
        number = paginator.validate_number(number)
    except (PageNotAnInteger, EmptyPage) as problem:
        number = paginator.num_pages if isinstance(problem, EmptyPage) else 1
        after = before = None
    page = paginator.page(number, after=_line_no(after), before=_line_no(before))
    for line in page.object_list:
        mark_line(line)
    page.first_line_no = page.object_list[0].line_no if page.object_list else None
    page.last_line_no = page.object_list[-1].line_no if page.object_list else None
    return page


def mark_line(line: SegmentLine) -> SegmentLine:
    """Set what the lines table shows beside the fields: `provenance` and `ovr` (the overridden names)."""
    line.provenance = step_label(line.step)
    line.ovr = frozenset(line.overridden_fields)
    return line


def page_of_line(*, segment: Segment, line_no: int) -> int:
    """The page of the lines table that shows line `line_no` (one COUNT)."""
    before = SegmentLine.objects.filter(segment=segment, line_no__lt=line_no).count()
    return before // LINES_PER_PAGE + 1


def step_label(step: CriteriaStep) -> str:
    """Where a line came from (D6): "manual", "step 3: add", "step 5: reuse SPRING"."""
    if step.parent_id is not None:
        parent = step.parent
        return (
            gettext("step %(position)s: %(action)s %(source)s")
            % {"position": parent.position, "action": ACTION_WORDS[parent.action], "source": parent.source}
        ).strip()
    if step.manual:
        return gettext("manual")
    return gettext("step %(position)s: %(action)s") % {"position": step.position, "action": ACTION_WORDS[step.action]}


def readable_filter(query: str) -> str:
    """A stored QUERY as words: "City: Delft, Leiden · Salesperson: ANN"; "all contacts" when empty."""
    data = QueryDict(query or "")
    filters = ContactFilterSet.base_filters
    type_labels = dict(ContactType.choices)
    parts = []
    for name in data:
        values = [value for value in data.getlist(name) if value != ""]
        if not values:
            continue
        if name == "type":
            values = [str(type_labels.get(value, value)) for value in values]
        label = str(filters[name].label) if name in filters else name
        parts.append(f"{label}: {', '.join(values)}")
    return " · ".join(parts) if parts else gettext("all contacts")


def step_filter_text(step: CriteriaStep) -> str:
    """What a step selected, in words: its criteria, why `drop-withdrawn` removed its lines, or
    for a Refresh (which has no criteria) that it applied what changed (services.drift)."""
    if step.drops_withdrawn:
        return gettext("lines whose contact withdrew consent for the line's channel")
    if step.action == StepAction.REFRESH:
        return gettext("what changed since the lines were added")
    return readable_filter(step.filter)


def step_options(step: CriteriaStep) -> list[str]:
    return [str(label) for name, label in OPTION_LABELS.items() if getattr(step, name)]


def segment_steps(*, segment: Segment, limit: int = STEPS_SHOWN) -> list[CriteriaStep]:
    """The latest `limit` top-level steps, newest first, each with `.replayed` (its children).

    Each step also gets `.filter_text` and `.option_labels`. Two queries at most (the
    children only when a shown step is a replay).
    """
    steps = list(
        CriteriaStep.objects.filter(segment=segment, parent__isnull=True)
        .select_related("created_by")
        .order_by("-position")[:limit]
    )
    replays = [step.pk for step in steps if step.action in (StepAction.REUSE_CRITERIA, StepAction.REUSE_LOGGED)]
    children: dict[int, list[CriteriaStep]] = {}
    if replays:
        for child in CriteriaStep.objects.filter(parent_id__in=replays).order_by("position"):
            children.setdefault(child.parent_id, []).append(child)
    for step in [*steps, *(child for group in children.values() for child in group)]:
        step.filter_text = step_filter_text(step)
        # A manual step's options are implied; a Refresh has none of its own.
        step.option_labels = [] if step.manual or step.action == StepAction.REFRESH else step_options(step)
        step.replayed = children.get(step.pk, [])
    return steps


@dataclass(frozen=True)
class UndoPreview:
    """What undoing the last step would do: remove `lines_added` lines, restore `lines_restored`."""

    step: CriteriaStep
    steps_in_unit: int
    lines_added: int
    lines_restored: int


def undo_preview(*, segment: Segment) -> UndoPreview | None:
    """Exact counts for the undo confirmation (D3); None when there is nothing to undo.

    Counted the way `segment_undo` works: the lines the step (and, for a replay, its replayed
    steps) added, and the lines they removed that older steps had added. Four queries.
    """
    last = CriteriaStep.objects.select_related("created_by").to_undo(segment)
    if last is None:
        return None
    unit = list(CriteriaStep.objects.undo_unit(last).values_list("pk", flat=True))
    added = SegmentLine.objects.filter(step_id__in=unit).count()
    restored = RemovedSegmentLine.objects.filter(removed_by_id__in=unit).exclude(step_id__in=unit).count()
    last.filter_text = step_filter_text(last)
    return UndoPreview(step=last, steps_in_unit=len(unit), lines_added=added, lines_restored=restored)


def saved_criteria_list() -> QuerySet[SavedCriteria]:
    """Saved criteria by code with `no_of_steps` (one query)."""
    return SavedCriteria.objects.annotate(no_of_steps=_count_of(SavedCriteriaStep, "saved_criteria")).order_by("code")


# --- A contact's history (SPEC D15, crm.hooks.contact_history) ------------------------------------


def contact_lines(contact) -> QuerySet[SegmentLine]:
    """The segment lines that name `contact` (they keep it from being deleted)."""
    return SegmentLine.objects.filter(contact=contact)


def contact_removed_lines(contact) -> QuerySet[RemovedSegmentLine]:
    """The lines removed by a step that name `contact` (an undo would bring them back)."""
    return RemovedSegmentLine.objects.filter(contact=contact)
