"""Reads for the interaction pages: the log, an entry, statistics, a contact's interactions.

Each selector states its query cost, so a page's query count does not depend on how many
entries it shows. The log is read newest first by entry no. (the primary key): a page is one
COUNT plus one SELECT whose keys come from the index (DeferredJoinPaginator), so the 20,000th
page of a million entries joins only its own 50 rows.

Statistics count non-canceled entries only (F1.11, R57: canceled entries drop out of every
statistic but stay visible in the log).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.paginator import Page
from django.db.models import CharField, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import TruncMonth
from django.http import QueryDict
from django.utils.translation import gettext as _

from crm.models import (
    Campaign,
    ConsentChange,
    ConsentChannel,
    ConsentState,
    ContactType,
    CorrespondenceType,
    Salesperson,
)
from crm.selectors import DeferredJoinPaginator
from crm.untrusted import parse_id

from .models import (
    DeliveryItem,
    DeliveryItemStatus,
    DeliveryStatus,
    InteractionComment,
    InteractionGroup,
    InteractionLogEntry,
    InteractionTemplate,
    LoggedSegment,
)

if TYPE_CHECKING:
    from crm.models import Contact

    from .filters import InteractionLogEntryFilterSet

ENTRIES_PER_PAGE = 50
LATEST_ON_CARD = 10
CHART_SERIES = 8
CHART_MONTHS = 12
CHART_MONTHS_MAX = 36
ZERO = Decimal("0")

# Columns the log shows; `only` keeps the rows narrow at a million entries.
ENTRY_LIST_COLUMNS = (
    "date",
    "time",
    "description",
    "cost",
    "duration",
    "canceled",
    "evaluation",
    "correspondence_type",
    "delivery_status",
    "segment_no",
    "logged_segment_id",
    "contact_id",
    "contact_company_id",
    "interaction_template_id",
    "salesperson_id",
    "campaign_id",
    "contact__no",
    "contact__name",
    "contact__type",
    "contact_company__no",
    "contact_company__name",
    "interaction_template__description",
    "salesperson__name",
    "campaign__no",
    "campaign__description",
)


# --- The log (F6) -------------------------------------------------------------------------------


def print_delivery_id() -> Subquery:
    """The delivery whose print file holds the entry's letter (the latest, when it was printed
    again), for the pages that say a hard-copy letter is "in print file" and link to that file:
    a subquery on the delivery items' entry index, evaluated for the rows shown."""
    return Subquery(
        DeliveryItem.objects.filter(
            entry=OuterRef("pk"), status=DeliveryItemStatus.PRINTED, delivery__print_document__isnull=False
        )
        .order_by("-delivery_id")
        .values("delivery_id")[:1]
    )


def entry_list(*, filterset: InteractionLogEntryFilterSet) -> QuerySet[InteractionLogEntry]:
    """The entries matching a valid filter set, newest first, with what the log shows joined in.

    Raises ValidationError when the filter set is invalid (never "every entry"). Each row has
    `has_comments`. One query per page of rows (contact, company, template, salesperson and
    campaign joined; the comment flag is an EXISTS on the comment's entry index).
    """
    return (
        filterset.qs.select_related("contact", "contact_company", "interaction_template", "salesperson", "campaign")
        .only(*ENTRY_LIST_COLUMNS)
        .annotate(
            has_comments=Exists(InteractionComment.objects.filter(entry=OuterRef("pk"))),
            print_delivery_id=print_delivery_id(),
        )
        .order_by("-pk")
    )


def entry_page(*, filterset: InteractionLogEntryFilterSet, number) -> Page:
    """One page of the log (50 entries): one COUNT and one SELECT. A malformed page number
    gives the first page, one past the end the last."""
    paginator = DeferredJoinPaginator(entry_list(filterset=filterset), ENTRIES_PER_PAGE)
    return paginator.get_page(number)


def entry_detail_queryset() -> QuerySet[InteractionLogEntry]:
    """Entries with every reference the entry page shows joined in, and the delivery whose
    print file holds the letter (one query per entry)."""
    return InteractionLogEntry.objects.annotate(print_delivery_id=print_delivery_id()).select_related(
        "contact",
        "contact_company",
        "interaction_template",
        "interaction_group",
        "language",
        "salesperson",
        "campaign",
        "campaign_entry",
        "logged_segment",
        "alt_address",
        "user",
    )


def entry_comments(*, entry: InteractionLogEntry) -> list[InteractionComment]:
    """The entry's comment lines in the order written, with their author (one query)."""
    return list(InteractionComment.objects.filter(entry=entry).select_related("created_by").order_by("pk"))


def _entry_numbers(values) -> tuple[list[int], list[str]]:
    numbers, problems = [], []
    for value in values:
        try:
            number = parse_id(value)
        except ValidationError as error:
            problems.extend(_("entry no.: %(problem)s") % {"problem": message} for message in error.messages)
        else:
            if number not in numbers:
                numbers.append(number)
    return numbers, problems


@dataclass(frozen=True)
class CancelPreview:
    """What "cancel or restore" will do with a selection (R57).

    `canceled` is the new state: the opposite of the first selected entry's. `changing`
    entries take it; `unchanged` ones have it already.
    """

    entry_nos: list[int]
    canceled: bool
    first_no: int
    changing: int
    unchanged: int

    @property
    def selected(self) -> int:
        return len(self.entry_nos)


def cancel_preview(*, entry_nos) -> CancelPreview:
    """The new state and the counts for a selection, in the order selected (one query).

    Raises ValidationError naming every entry no. that is not a number or does not exist,
    or saying nothing was selected.
    """
    numbers, problems = _entry_numbers(entry_nos)
    states = dict(InteractionLogEntry.objects.filter(pk__in=numbers).values_list("pk", "canceled"))
    problems += [_('unknown interaction log entry "%(no)s"') % {"no": no} for no in numbers if no not in states]
    if not numbers and not problems:
        problems.append(_("No interaction log entries selected."))
    if problems:
        raise ValidationError(problems, code="invalid_selection")
    new_state = not states[numbers[0]]
    unchanged = sum(1 for no in numbers if states[no] == new_state)
    return CancelPreview(
        entry_nos=numbers,
        canceled=new_state,
        first_no=numbers[0],
        changing=len(numbers) - unchanged,
        unchanged=unchanged,
    )


def selected_entries(*, entry_nos, rows: QuerySet[InteractionLogEntry] | None = None) -> QuerySet[InteractionLogEntry]:
    """The selected entries (no query yet); ValidationError for numbers that are not numbers
    or do not exist (one query), or an empty selection. `rows` is what the numbers are
    looked up in (the services pass `select_for_update()`, so the lookup locks them)."""
    numbers, problems = _entry_numbers(entry_nos)
    rows = InteractionLogEntry.objects.all() if rows is None else rows
    found = set(rows.filter(pk__in=numbers).order_by("pk").values_list("pk", flat=True))
    problems += [_('unknown interaction log entry "%(no)s"') % {"no": no} for no in numbers if no not in found]
    if not numbers and not problems:
        problems.append(_("No interaction log entries selected."))
    if problems:
        raise ValidationError(problems, code="invalid_selection")
    return InteractionLogEntry.objects.filter(pk__in=sorted(found))


@dataclass(frozen=True)
class DeleteCanceledPreview:
    """How many entries "delete canceled entries" looks at, how many of them it deletes (the
    canceled ones, R63) and how many comment lines go with them."""

    considered: int
    canceled: int
    comments: int

    @property
    def kept(self) -> int:
        return self.considered - self.canceled


def delete_canceled_preview(*, entries: QuerySet[InteractionLogEntry]) -> DeleteCanceledPreview:
    """Counts for the delete confirmation page: one aggregate and one COUNT of comments."""
    counts = entries.order_by().aggregate(considered=Count("pk"), canceled=Count("pk", filter=Q(canceled=True)))
    canceled_ids = entries.order_by().filter(canceled=True).values("pk")
    comments = InteractionComment.objects.filter(entry__in=canceled_ids).count() if counts["canceled"] else 0
    return DeleteCanceledPreview(considered=counts["considered"], canceled=counts["canceled"], comments=comments)


# --- Statistics (F1.8, F1.9, F1.11) --------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Count, cost and duration of non-canceled entries."""

    count: int = 0
    cost: Decimal = ZERO
    duration: Decimal = ZERO


@dataclass(frozen=True)
class StatisticsRow:
    """One template, group or campaign: `key` is its code (campaign no.), blank for "none"."""

    key: str
    label: str
    count: int
    cost: Decimal
    duration: Decimal


def _totals(row: dict) -> Totals:
    return Totals(count=row["count"] or 0, cost=row["cost"] or ZERO, duration=row["duration"] or ZERO)


def _sums() -> dict:
    return {"count": Count("pk"), "cost": Sum("cost"), "duration": Sum("duration")}


def statistics_totals(*, entries: QuerySet[InteractionLogEntry]) -> Totals:
    """Count, cost and duration of the non-canceled entries among `entries` (one aggregate)."""
    return _totals(entries.counted().order_by().aggregate(**_sums()))


# dimension → the entry's column it is grouped by
STATISTICS_BY = {"template": "interaction_template_id", "group": "interaction_group_id", "campaign": "campaign_id"}


@dataclass(frozen=True)
class EntryStatistics:
    """Totals and rows per template, group and campaign, each list most entries first."""

    totals: Totals
    by_template: list[StatisticsRow]
    by_group: list[StatisticsRow]
    by_campaign: list[StatisticsRow]

    def by(self, dimension: str) -> list[StatisticsRow]:
        return getattr(self, f"by_{dimension}")


def _statistics_labels(rows: list[dict]) -> dict[str, dict[object, tuple[str, str]]]:
    """(code or no., description) of the templates, groups and campaigns in `rows`: three
    small queries by key."""

    def wanted(column: str) -> set:
        return {row[column] for row in rows if row[column] is not None}

    return {
        "template": {
            code: (code, description)
            for code, description in InteractionTemplate.objects.filter(
                code__in=wanted("interaction_template_id")
            ).values_list("code", "description")
        },
        "group": {
            code: (code, name)
            for code, name in InteractionGroup.objects.filter(code__in=wanted("interaction_group_id")).values_list(
                "code", "name"
            )
        },
        "campaign": {
            pk: (no, description)
            for pk, no, description in Campaign.objects.filter(pk__in=wanted("campaign_id")).values_list(
                "pk", "no", "description"
            )
        },
    }


def entry_statistics(*, entries: QuerySet[InteractionLogEntry]) -> EntryStatistics:
    """Count, cost and duration of the non-canceled entries among `entries`: in all, and per
    template, per group and per campaign.

    One GROUP BY over the entries' (template, group, campaign) columns, summed up here, and
    three small queries for the names: the entries are read once, not four times, and are
    never joined (grouping a million joined rows by their descriptions took seconds).
    Entries without a campaign make one row with a blank key ("No campaign"), so every
    list adds up to the totals.
    """
    rows = list(entries.counted().order_by().values(*STATISTICS_BY.values()).annotate(**_sums()).order_by())
    labels = _statistics_labels(rows)
    sums: dict[str, dict[object, list]] = {dimension: {} for dimension in STATISTICS_BY}
    for row in rows:
        for dimension, column in STATISTICS_BY.items():
            item = sums[dimension].setdefault(row[column], [0, ZERO, ZERO])
            item[0] += row["count"]
            item[1] += row["cost"] or ZERO
            item[2] += row["duration"] or ZERO
    lists = {}
    for dimension, items in sums.items():
        rows_of_dimension = []
        for value, (count, cost, duration) in items.items():
            key, label = labels[dimension].get(value, (str(value or ""), ""))
            if dimension == "campaign" and value is None:
                key, label = "", _("No campaign")
            rows_of_dimension.append(StatisticsRow(key=key, label=label, count=count, cost=cost, duration=duration))
        lists[dimension] = sorted(rows_of_dimension, key=lambda r: (-r.count, r.key))
    totals = Totals(
        count=sum(r["count"] for r in rows),
        cost=sum((r["cost"] or ZERO for r in rows), ZERO),
        duration=sum((r["duration"] or ZERO for r in rows), ZERO),
    )
    return EntryStatistics(
        totals=totals, by_template=lists["template"], by_group=lists["group"], by_campaign=lists["campaign"]
    )


def contact_entries(*, contact: Contact) -> QuerySet[InteractionLogEntry]:
    """A contact's interactions: a company's are its own and its persons' (the entry's company,
    as the reference's contact statistics count them), a person's are its own."""
    if contact.type == ContactType.COMPANY:
        return InteractionLogEntry.objects.filter(contact_company=contact)
    return InteractionLogEntry.objects.filter(contact=contact)


def contact_history_entries(contact: Contact) -> QuerySet[InteractionLogEntry]:
    """The entries that keep `contact` from being deleted (D15): its own, and for a company
    those of its persons that name it (crm.hooks.contact_history)."""
    return InteractionLogEntry.objects.filter(Q(contact=contact) | Q(contact_company=contact))


@dataclass(frozen=True)
class ContactInteractions:
    """The "Interactions" section of the contact card."""

    latest: list[InteractionLogEntry]
    totals: Totals
    log_query: str  # the log's criteria for this contact's entries


def contact_interactions(*, contact: Contact, limit: int = LATEST_ON_CARD) -> ContactInteractions:
    """The contact's latest `limit` entries (canceled ones too, marked) and the statistics of
    its non-canceled entries: two queries whatever the number of entries."""
    entries = contact_entries(contact=contact)
    latest = list(
        entries.select_related("contact", "interaction_template", "salesperson", "campaign").order_by("-pk")[:limit]
    )
    name = "company" if contact.type == ContactType.COMPANY else "contact"
    query = QueryDict(mutable=True)
    query[name] = contact.no
    return ContactInteractions(latest=latest, totals=statistics_totals(entries=entries), log_query=query.urlencode())


# --- Interactions over time (chart) ------------------------------------------------------------------


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(month: datetime.date, n: int) -> datetime.date:
    """The first day of the month `n` months after `month`'s, kept within the calendar (the
    first month of year 1 to the last of year 9999), so no date at its edges overflows."""
    index = month.year * 12 + month.month - 1 + n
    index = min(max(index, datetime.MINYEAR * 12), datetime.MAXYEAR * 12 + 11)
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_end(month: datetime.date) -> datetime.date:
    """The last day of `month`'s month (which exists in December 9999 too, unlike the next month's first)."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


@dataclass(frozen=True)
class MonthRange:
    """The months a chart shows (first days), and whether a long range was cut to its end."""

    months: list[datetime.date]
    truncated: bool = False

    @property
    def start(self) -> datetime.date:
        return self.months[0]

    @property
    def end(self) -> datetime.date:
        """The last day of the last month."""
        return month_end(self.months[-1])


def month_range(
    *, date_after: datetime.date | None, date_before: datetime.date | None, today: datetime.date
) -> MonthRange:
    """The chart's months: those of the date range asked, else the last 12 months up to
    today's; a range longer than 36 months shows its last 36."""
    end = month_start(date_before) if date_before else month_start(today)
    start = month_start(date_after) if date_after else add_months(end, -(CHART_MONTHS - 1))
    if start > end:
        start = end
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    truncated = count > CHART_MONTHS_MAX
    if truncated:
        start = add_months(end, -(CHART_MONTHS_MAX - 1))
        count = CHART_MONTHS_MAX
    return MonthRange(months=[add_months(start, i) for i in range(count)], truncated=truncated)


@dataclass
class Series:
    """One template or campaign in the chart: its entries per month, in the order of the months."""

    key: str
    label: str
    title: str
    counts: list[int] = field(default_factory=list)
    other: bool = False  # the sum of the series not shown by name

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class MonthlyInteractions:
    months: list[datetime.date]
    series: list[Series]
    truncated: bool

    @property
    def month_totals(self) -> list[int]:
        return [sum(s.counts[i] for s in self.series) for i in range(len(self.months))]

    @property
    def total(self) -> int:
        return sum(self.month_totals)

    @property
    def rows(self) -> list[dict]:
        """The chart as a table: one row per month with each series' count and the total."""
        totals = self.month_totals
        return [
            {"month": month, "counts": [s.counts[i] for s in self.series], "total": totals[i]}
            for i, month in enumerate(self.months)
        ]


CHART_BY = {
    "template": ("interaction_template_id", InteractionTemplate, "code", "description"),
    "campaign": ("campaign_id", Campaign, "pk", "description"),
}


def interactions_per_month(
    *, entries: QuerySet[InteractionLogEntry], by: str, months: MonthRange
) -> MonthlyInteractions:
    """Non-canceled entries among `entries` per month and per template or campaign (`by`).

    The `CHART_SERIES - 1` biggest series are shown by name and the rest summed as "Other"
    (a chart with forty colours says nothing); entries without a campaign are "No campaign".
    Two queries: one GROUP BY month and key, one for the names of the shown keys.
    """
    column, model, model_key, model_label = CHART_BY[by]
    rows = (
        entries.counted()
        .filter(date__gte=months.start, date__lte=months.end)
        .order_by()
        .annotate(month=TruncMonth("date"))
        .values("month", column)
        .annotate(n=Count("pk"))
    )
    index = {month: i for i, month in enumerate(months.months)}
    per_key: dict[object, list[int]] = {}
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = month.date()
        counts = per_key.setdefault(row[column], [0] * len(months.months))
        counts[index[month]] += row["n"]
    ranked = sorted(per_key.items(), key=lambda item: (-sum(item[1]), str(item[0])))
    if len(ranked) > CHART_SERIES:
        shown, rest = ranked[: CHART_SERIES - 1], ranked[CHART_SERIES - 1 :]
    else:
        shown, rest = ranked, []
    names = {
        getattr(obj, model_key): obj
        for obj in model.objects.filter(**{f"{model_key}__in": [key for key, _counts in shown if key is not None]})
    }
    series = []
    for key, counts in shown:
        obj = names.get(key)
        if obj is None:
            label = _("No campaign") if by == "campaign" else str(key)
            series.append(Series(key="", label=label, title=label, counts=counts))
        elif by == "campaign":
            series.append(Series(key=obj.no, label=obj.no, title=f"{obj.no} – {obj.description}", counts=counts))
        else:
            series.append(Series(key=obj.code, label=obj.code, title=f"{obj.code} – {obj.description}", counts=counts))
    if rest:
        other = [sum(counts[i] for _key, counts in rest) for i in range(len(months.months))]
        label = _("Other (%(n)s more)") % {"n": len(rest)}
        series.append(Series(key="", label=label, title=label, counts=other, other=True))
    return MonthlyInteractions(months=months.months, series=series, truncated=months.truncated)


# --- Unsubscribe rate ------------------------------------------------------------------------------

UNSUBSCRIBE_MAILINGS_SHOWN = 20


def unsubscribes_of(logged_segment_id) -> QuerySet[ConsentChange]:
    """The e-mail consent withdrawals made through the unsubscribe link of a logged segment's
    e-mails (`logged_segment_id`: an id or an OuterRef): the consent history's partial index on
    (logged segment, contact)."""
    return ConsentChange.objects.filter(
        logged_segment_id=logged_segment_id, channel=ConsentChannel.EMAIL, state=ConsentState.WITHDRAWN
    )


@dataclass(frozen=True)
class UnsubscribeRow:
    """E-mails sent and how many of their contacts unsubscribed through the link in them."""

    sent: int
    unsubscribed: int

    @property
    def rate(self) -> float | None:
        """Unsubscribes per 100 e-mails sent; None without e-mails."""
        return 100 * self.unsubscribed / self.sent if self.sent else None


@dataclass(frozen=True)
class MailingUnsubscribes(UnsubscribeRow):
    logged_segment_id: int = 0
    segment_no: str = ""
    description: str = ""


@dataclass(frozen=True)
class MonthUnsubscribes(UnsubscribeRow):
    month: datetime.date | None = None


@dataclass(frozen=True)
class UnsubscribeRates:
    """The unsubscribe rate of the e-mails among some entries: in all, per logged segment (the
    newest `UNSUBSCRIBE_MAILINGS_SHOWN`, and how many more) and per month of the chart."""

    total: UnsubscribeRow
    mailings: list[MailingUnsubscribes]
    more_mailings: int
    months: list[MonthUnsubscribes]


def unsubscribe_rates(*, entries: QuerySet[InteractionLogEntry], months: MonthRange) -> UnsubscribeRates:
    """Per logged segment and per month (of the entry's date, as the chart counts), the
    non-canceled e-mail entries among `entries` that were sent, and how many of them went to a
    contact who withdrew e-mail consent through that logged segment's unsubscribe link.

    Two queries: the sent entries and those of them unsubscribed, each grouped by (logged
    segment, month), as one UNION ALL (the unsubscribed ones a semi-join of the entries with the
    consent history's (logged segment, contact) partial index: an EXISTS in the WHERE clause,
    which PostgreSQL joins, not one in the count's FILTER, which it evaluates per entry); and
    the shown logged segments' numbers and descriptions."""
    sent = (
        entries.counted()
        .filter(
            correspondence_type=CorrespondenceType.EMAIL,
            delivery_status=DeliveryStatus.SENT,
            logged_segment_id__isnull=False,
        )
        .order_by()
        .annotate(month=TruncMonth("date"))
    )
    unsubscribed = sent.filter(
        Exists(unsubscribes_of(OuterRef("logged_segment_id")).filter(contact_id=OuterRef("contact_id")))
    )

    def grouped(rows, kind: int):
        return (
            rows.annotate(kind=Value(kind, output_field=IntegerField()))
            .values("logged_segment_id", "month", "kind")
            .annotate(n=Count("pk"))
        )

    rows = list(grouped(sent, 0).union(grouped(unsubscribed, 1), all=True).order_by())
    per_mailing: dict[int, list[int]] = {}
    per_month = {month: [0, 0] for month in months.months}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], datetime.datetime) else row["month"]
        for sums in (per_mailing.setdefault(row["logged_segment_id"], [0, 0]), per_month.get(month)):
            if sums is not None:
                sums[row["kind"]] += row["n"]
    shown = sorted(per_mailing, reverse=True)[:UNSUBSCRIBE_MAILINGS_SHOWN]
    labels = {
        pk: (no, description)
        for pk, no, description in LoggedSegment.objects.filter(pk__in=shown).values_list(
            "pk", "segment_no", "description"
        )
    }
    return UnsubscribeRates(
        total=UnsubscribeRow(
            sent=sum(sent for sent, _n in per_mailing.values()),
            unsubscribed=sum(n for _sent, n in per_mailing.values()),
        ),
        mailings=[
            MailingUnsubscribes(
                sent=per_mailing[pk][0],
                unsubscribed=per_mailing[pk][1],
                logged_segment_id=pk,
                segment_no=labels.get(pk, ("", ""))[0],
                description=labels.get(pk, ("", ""))[1],
            )
            for pk in shown
        ],
        more_mailings=max(len(per_mailing) - len(shown), 0),
        months=[MonthUnsubscribes(sent=sent, unsubscribed=n, month=month) for month, (sent, n) in per_month.items()],
    )


# --- Filter form choices ------------------------------------------------------------------------------


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """(value, "code – description") options of the log's code lists (templates, groups,
    campaigns, salespeople) in one UNION ALL query instead of one query per list."""

    def options(model, kind: str, key: str, label: str):
        return (
            model.objects.order_by()
            .annotate(_kind=Value(kind, output_field=CharField()), _key=F(key), _label=F(label))
            .values_list("_kind", "_key", "_label")
        )

    first, *rest = [
        options(InteractionTemplate, "interaction_template", "code", "description"),
        options(InteractionGroup, "interaction_group", "code", "name"),
        options(Campaign, "campaign", "no", "description"),
        options(Salesperson, "salesperson", "code", "name"),
    ]
    choices: dict[str, list[tuple[str, str]]] = {
        "interaction_template": [],
        "interaction_group": [],
        "campaign": [],
        "salesperson": [],
    }
    for kind, key, label in first.union(*rest, all=True).order_by("_kind", "_key"):
        choices[kind].append((key, f"{key} – {label}" if label else key))
    return choices
