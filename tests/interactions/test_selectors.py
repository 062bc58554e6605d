"""Reads of the interaction pages: the log, selections, statistics without canceled entries, the chart."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crm.permissions import COMMAND_LINE
from interactions import charts, selectors, services
from interactions.filters import InteractionLogEntryFilterSet
from interactions.models import InteractionLogEntry
from tests.factories import (
    make_campaign,
    make_company,
    make_interaction_group,
    make_person,
    make_salesperson,
    make_template,
)
from tests.interactions.entry_builders import bulk_entries, logged_company, single

pytestmark = pytest.mark.django_db

D = Decimal


def all_entries():
    return InteractionLogEntry.objects.all()


# --- The log -------------------------------------------------------------------------------------------


def test_entry_list_is_newest_first_with_the_shown_references_joined(django_assert_max_num_queries):
    logged_company(3)
    entry = InteractionLogEntry.objects.order_by("pk").first()
    services.interaction_comment_add(user=COMMAND_LINE, entry=entry, comment="Hello")
    filterset = InteractionLogEntryFilterSet({})

    with django_assert_max_num_queries(1):
        rows = list(selectors.entry_list(filterset=filterset))
        shown = [
            (r.contact.no, r.contact_company.name, r.interaction_template.description, r.salesperson.name) for r in rows
        ]

    assert [r.pk for r in rows] == sorted((r.pk for r in rows), reverse=True)
    assert len(shown) == 4
    assert {r.pk: r.has_comments for r in rows} == {r.pk: r.pk == entry.pk for r in rows}


def test_entry_list_of_an_invalid_filter_raises():
    with pytest.raises(ValidationError):
        selectors.entry_list(filterset=InteractionLogEntryFilterSet({"contact": "NOPE"}))


def test_entry_page_is_one_count_and_one_select(django_assert_num_queries):
    bulk_entries(120, contact=make_company(), template=make_template())
    filterset = InteractionLogEntryFilterSet({})
    filterset.is_valid()

    with django_assert_num_queries(2):
        page = selectors.entry_page(filterset=filterset, number="3")
        rows = list(page.object_list)

    assert page.paginator.count == 120 and len(rows) == 20
    assert rows[0].pk > rows[-1].pk


def test_entry_page_with_a_malformed_number_is_the_first():
    bulk_entries(3, contact=make_company(), template=make_template())
    page = selectors.entry_page(filterset=InteractionLogEntryFilterSet({}), number="x")
    assert page.number == 1


# --- Selections -----------------------------------------------------------------------------------------


def test_cancel_preview_takes_the_opposite_of_the_first_selected():
    logged_company(2)
    first, second, third = InteractionLogEntry.objects.order_by("pk").values_list("pk", flat=True)
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[second], canceled=True)

    cancel = selectors.cancel_preview(entry_nos=[str(first), str(second), str(third)])
    restore = selectors.cancel_preview(entry_nos=[second, first, first])

    assert (cancel.canceled, cancel.first_no, cancel.changing, cancel.unchanged) == (True, first, 2, 1)
    assert cancel.selected == 3
    assert (restore.canceled, restore.first_no, restore.changing, restore.unchanged) == (False, second, 1, 1)
    assert restore.entry_nos == [second, first]


def test_cancel_preview_names_every_bad_entry_no():
    with pytest.raises(ValidationError) as raised:
        selectors.cancel_preview(entry_nos=["x1", "777777"])
    assert raised.value.messages == ['entry no.: "x1" is not a number', 'unknown interaction log entry "777777"']
    with pytest.raises(ValidationError, match="No interaction log entries selected."):
        selectors.cancel_preview(entry_nos=[])


def test_selected_entries_checks_every_number():
    logged_company(1)
    first = InteractionLogEntry.objects.order_by("pk").first().pk
    assert list(selectors.selected_entries(entry_nos=[str(first)]).values_list("pk", flat=True)) == [first]
    with pytest.raises(ValidationError, match="unknown interaction log entry"):
        selectors.selected_entries(entry_nos=[first, 999999])


def test_delete_canceled_preview_counts_canceled_entries_and_their_comments():
    logged_company(3)
    entries = list(InteractionLogEntry.objects.order_by("pk"))
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[entries[0].pk, entries[1].pk], canceled=True)
    services.interaction_comment_add(user=COMMAND_LINE, entry=entries[0], comment="a")
    services.interaction_comment_add(user=COMMAND_LINE, entry=entries[0], comment="b")
    services.interaction_comment_add(user=COMMAND_LINE, entry=entries[2], comment="kept")

    preview = selectors.delete_canceled_preview(entries=all_entries())

    assert (preview.considered, preview.canceled, preview.comments, preview.kept) == (4, 2, 2, 2)


# --- Statistics -----------------------------------------------------------------------------------------------


@pytest.fixture
def stats_world():
    letters, calls = make_interaction_group("LETTERS"), make_interaction_group("CALLS")
    letter = make_template("LETTER", group=letters, unit_cost=D("1.50"), unit_duration=D("5"))
    call = make_template("CALL", group=calls, unit_cost=D("4.00"), unit_duration=D("20"))
    spring = make_campaign(no="CPSPRING", description="Spring")
    salesperson = make_salesperson("ANN")
    result, contacts = logged_company(2, template=letter, campaign=spring, salesperson=salesperson)
    calls_made = [single(contacts[1], call), single(contacts[2], call), single(contacts[2], call)]
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[calls_made[2].pk], canceled=True)
    return {"contacts": contacts, "calls": calls_made}


def test_statistics_leave_canceled_entries_out(stats_world):
    totals = selectors.statistics_totals(entries=all_entries())
    assert (totals.count, totals.cost, totals.duration) == (5, D("12.50"), D("55.00"))
    assert selectors.entry_statistics(entries=all_entries()).totals == totals


def test_statistics_by_template_group_and_campaign(stats_world):
    statistics = selectors.entry_statistics(entries=all_entries())
    by_template, by_group, by_campaign = statistics.by_template, statistics.by_group, statistics.by_campaign

    assert [(r.key, r.label, r.count, r.cost, r.duration) for r in by_template] == [
        ("LETTER", "Spring letter", 3, D("4.50"), D("15.00")),
        ("CALL", "Spring letter", 2, D("8.00"), D("40.00")),
    ]
    assert [(r.key, r.count) for r in by_group] == [("LETTERS", 3), ("CALLS", 2)]
    assert [(r.key, r.label, r.count) for r in by_campaign] == [("CPSPRING", "Spring", 3), ("", "No campaign", 2)]


def test_statistics_follow_the_entries_given(stats_world):
    person = stats_world["contacts"][2]
    entries = InteractionLogEntry.objects.filter(contact=person)
    assert [(r.key, r.count) for r in selectors.entry_statistics(entries=entries).by("template")] == [
        ("CALL", 1),
        ("LETTER", 1),
    ]


def test_statistics_read_the_entries_once(stats_world, django_assert_num_queries):
    with django_assert_num_queries(4):  # the entries once, then the names of templates, groups, campaigns
        statistics = selectors.entry_statistics(entries=all_entries())
    assert statistics.totals.count == 5


def test_contact_interactions_of_a_company_include_its_persons(stats_world, django_assert_num_queries):
    company, person, other = stats_world["contacts"]
    for _ in range(12):
        single(person, stats_world["calls"][0].interaction_template)

    with django_assert_num_queries(2):
        card = selectors.contact_interactions(contact=company)
        shown = [(e.contact.no, e.interaction_template.description) for e in card.latest]

    assert len(shown) == 10
    assert [e.pk for e in card.latest] == list(
        InteractionLogEntry.objects.filter(contact_company=company).order_by("-pk").values_list("pk", flat=True)[:10]
    )
    assert card.totals.count == 17
    assert card.log_query == f"company={company.no}"


def test_contact_interactions_of_a_person_are_its_own_and_list_canceled_ones(stats_world):
    company, person, other = stats_world["contacts"]
    card = selectors.contact_interactions(contact=other)
    assert {e.contact_id for e in card.latest} == {other.pk}
    assert len(card.latest) == 3 and sum(e.canceled for e in card.latest) == 1
    assert card.totals.count == 2
    assert card.log_query == f"contact={other.no}"


def test_a_person_without_company_has_its_own_entries():
    salesperson = make_salesperson("ANN")
    loner = make_person(None, salesperson=salesperson)
    single(loner, make_template())
    assert selectors.contact_interactions(contact=loner).totals.count == 1


# --- Interactions per month -----------------------------------------------------------------------------


def test_month_range_defaults_to_the_last_12_months():
    months = selectors.month_range(date_after=None, date_before=None, today=datetime.date(2026, 3, 17))
    assert months.months[0] == datetime.date(2025, 4, 1) and months.months[-1] == datetime.date(2026, 3, 1)
    assert len(months.months) == 12 and not months.truncated
    assert months.end == datetime.date(2026, 3, 31)


def test_month_range_follows_the_dates_and_keeps_the_last_36_months():
    today = datetime.date(2026, 3, 17)
    short = selectors.month_range(
        date_after=datetime.date(2025, 11, 20), date_before=datetime.date(2026, 1, 3), today=today
    )
    assert short.months == [datetime.date(2025, 11, 1), datetime.date(2025, 12, 1), datetime.date(2026, 1, 1)]
    long = selectors.month_range(date_after=datetime.date(2010, 1, 1), date_before=None, today=today)
    assert long.truncated and len(long.months) == 36 and long.months[-1] == datetime.date(2026, 3, 1)
    since = selectors.month_range(date_after=datetime.date(2026, 1, 9), date_before=None, today=today)
    assert since.months[0] == datetime.date(2026, 1, 1) and since.months[-1] == datetime.date(2026, 3, 1)


def months_of(first: datetime.date, count: int) -> selectors.MonthRange:
    return selectors.MonthRange(months=[selectors.add_months(first, i) for i in range(count)])


def test_interactions_per_month_by_template_without_canceled(django_assert_max_num_queries):
    contact = make_company(salesperson=make_salesperson("ANN"))
    letter, call = make_template("LETTER"), make_template("CALL", description="Phone call")
    bulk_entries(3, contact=contact, template=letter, date=datetime.date(2026, 1, 5))
    bulk_entries(1, contact=contact, template=letter, date=datetime.date(2026, 3, 31))
    bulk_entries(2, contact=contact, template=call, date=datetime.date(2026, 3, 1))
    bulk_entries(5, contact=contact, template=call, date=datetime.date(2026, 2, 1), canceled=True)
    bulk_entries(9, contact=contact, template=call, date=datetime.date(2025, 12, 31))  # before the range

    with django_assert_max_num_queries(2):
        data = selectors.interactions_per_month(
            entries=all_entries(), by="template", months=months_of(datetime.date(2026, 1, 1), 3)
        )

    assert [(s.key, s.title, s.counts) for s in data.series] == [
        ("LETTER", "LETTER – Spring letter", [3, 0, 1]),
        ("CALL", "CALL – Phone call", [0, 0, 2]),
    ]
    assert data.month_totals == [3, 0, 3] and data.total == 6
    assert data.rows[2] == {"month": datetime.date(2026, 3, 1), "counts": [1, 2], "total": 3}


def test_interactions_per_month_by_campaign_names_entries_without_one():
    contact = make_company(salesperson=make_salesperson("ANN"))
    template = make_template()
    spring = make_campaign(no="CPSPRING", description="Spring")
    bulk_entries(2, contact=contact, template=template, campaign=spring, date=datetime.date(2026, 1, 5))
    bulk_entries(1, contact=contact, template=template, date=datetime.date(2026, 1, 6))

    data = selectors.interactions_per_month(
        entries=all_entries(), by="campaign", months=months_of(datetime.date(2026, 1, 1), 1)
    )

    assert [(s.key, s.label, s.title, s.counts) for s in data.series] == [
        ("CPSPRING", "CPSPRING", "CPSPRING – Spring", [2]),
        ("", "No campaign", "No campaign", [1]),
    ]


def test_many_series_are_summed_as_other():
    contact = make_company(salesperson=make_salesperson("ANN"))
    for i in range(10):
        bulk_entries(20 - i, contact=contact, template=make_template(f"T{i:02d}"), date=datetime.date(2026, 1, 5))

    data = selectors.interactions_per_month(
        entries=all_entries(), by="template", months=months_of(datetime.date(2026, 1, 1), 1)
    )

    assert len(data.series) == selectors.CHART_SERIES
    assert [s.key for s in data.series[:7]] == [f"T{i:02d}" for i in range(7)]
    other = data.series[-1]
    assert other.other and other.label == "Other (3 more)" and other.counts == [13 + 12 + 11]
    assert data.total == sum(20 - i for i in range(10))


# --- The chart ---------------------------------------------------------------------------------------------


def test_nice_step():
    assert [charts.nice_step(n) for n in (0, 3, 4, 9, 17, 40, 95, 1234)] == [1, 1, 1, 5, 5, 10, 50, 500]


def test_stacked_bars_are_proportional_and_stacked():
    data = selectors.MonthlyInteractions(
        months=[datetime.date(2026, 1, 1), datetime.date(2026, 2, 1)],
        series=[
            selectors.Series(key="A", label="A", title="A – a", counts=[10, 0]),
            selectors.Series(key="B", label="B", title="B – b", counts=[10, 5]),
        ],
        truncated=False,
    )

    chart = charts.stacked_bars(data)

    assert len(chart.bars) == 3
    a_jan, b_jan, b_feb = chart.bars
    assert a_jan.height == b_jan.height == 2 * b_feb.height
    assert b_jan.y + b_jan.height == pytest.approx(a_jan.y)  # B sits on top of A
    assert a_jan.y + a_jan.height == chart.plot_bottom
    assert a_jan.fill != b_jan.fill
    assert b_feb.title == "Feb 2026 · B – b: 5"
    assert [t.label for t in chart.ticks] == ["0", "5", "10", "15", "20"]
    assert [m.label for m in chart.months] == ["Jan 26", "Feb"]
    assert [(item.label, item.total) for item in chart.legend] == [("A", 10), ("B", 15)]
    assert chart.description == "Interactions per month from January 2026 to February 2026: 25 in all."


def test_an_empty_chart_has_an_axis_and_no_bars():
    data = selectors.MonthlyInteractions(months=[datetime.date(2026, 1, 1)], series=[], truncated=False)
    chart = charts.stacked_bars(data)
    assert chart.bars == [] and chart.legend == [] and chart.ticks[0].label == "0"


def test_filter_choices_are_one_query(django_assert_num_queries):
    make_template("LETTER")
    make_campaign(no="CP1", description="One")
    make_salesperson("ANN", name="Ann")
    with django_assert_num_queries(1):
        choices = selectors.filter_choices()
    assert ("LETTER", "LETTER – Spring letter") in choices["interaction_template"]
    assert choices["campaign"] == [("CP1", "CP1 – One")]
    assert choices["salesperson"] == [("ANN", "ANN – Ann")]
    assert len(choices["interaction_group"]) == 1
