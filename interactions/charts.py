"""A stacked bar chart of interactions per month, drawn on the server as inline SVG.

No chart library and no script: the page's Content Security Policy allows neither inline
scripts nor inline styles, and SVG presentation attributes (fill, x, y …) are neither. The
template only writes out the shapes computed here; each bar has a <title> for its tooltip,
and the page shows the same numbers as a table for screen readers and for copying.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext

from crm.counts import grouped

from .selectors import MonthlyInteractions

# Distinguishable colours (Okabe–Ito and Tableau), "Other" last in grey.
PALETTE = ("#1f5fbf", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8c6d31", "#6b6ecf")
OTHER_COLOUR = "#9aa5b1"

WIDTH = 880
HEIGHT = 280
LEFT = 48
RIGHT = 12
TOP = 12
BOTTOM = 40


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class MonthLabel:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class LegendItem:
    label: str
    title: str
    fill: str
    total: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: float
    label_x: float
    plot_right: float
    plot_bottom: float
    bars: list[Bar]
    ticks: list[Tick]
    months: list[MonthLabel]
    legend: list[LegendItem]
    description: str


def nice_step(maximum: int, ticks: int = 4) -> int:
    """A round step (1, 2, 5 × 10ⁿ) so that about `ticks` steps reach `maximum`."""
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def stacked_bars(data: MonthlyInteractions) -> BarChart:
    """The chart's shapes: one stacked bar per month, one colour per series, y from zero."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    totals = data.month_totals
    step = nice_step(max(totals, default=0))
    top = max(step, math.ceil(max(totals, default=0) / step) * step)
    scale = plot_height / top
    slot = plot_width / max(len(data.months), 1)
    bar_width = max(min(slot * 0.7, 48), 2)
    colours = [OTHER_COLOUR if series.other else PALETTE[i % len(PALETTE)] for i, series in enumerate(data.series)]
    bars = []
    for m, month in enumerate(data.months):
        x = LEFT + m * slot + (slot - bar_width) / 2
        base = HEIGHT - BOTTOM
        for series, colour in zip(data.series, colours, strict=True):
            count = series.counts[m]
            if not count:
                continue
            height = count * scale
            base -= height
            bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(base, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    fill=colour,
                    title=f"{date_format(month, 'M Y')} · {series.title}: {grouped(count)}",
                )
            )
    ticks = [
        Tick(y=round(HEIGHT - BOTTOM - value * scale, 1), label=grouped(value)) for value in range(0, top + 1, step)
    ]
    # At most 12 month labels, evenly spread, so they never overlap.
    every = max(1, math.ceil(len(data.months) / 12))
    months = [
        MonthLabel(
            x=round(LEFT + m * slot + slot / 2, 1),
            y=HEIGHT - BOTTOM + 16,
            label=date_format(month, "M y") if month.month == 1 or m == 0 else date_format(month, "M"),
        )
        for m, month in enumerate(data.months)
        if m % every == 0
    ]
    legend = [
        LegendItem(label=series.label, title=series.title, fill=colour, total=series.total)
        for series, colour in zip(data.series, colours, strict=True)
    ]
    first, last = data.months[0], data.months[-1]
    description = gettext("Interactions per month from %(first)s to %(last)s: %(total)s in all.") % {
        "first": date_format(first, "F Y"),
        "last": date_format(last, "F Y"),
        "total": grouped(data.total),
    }
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        label_x=LEFT - 6,
        plot_right=WIDTH - RIGHT,
        plot_bottom=HEIGHT - BOTTOM,
        bars=bars,
        ticks=ticks,
        months=months,
        legend=legend,
        description=description,
    )
