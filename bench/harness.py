"""Operation registry and timing rules of the benchmark.

An operation is measured twice on the same data: "ours" runs the project's own code (a
service, a view through the test client), "floor" does the same work in raw SQL through the
DB-API cursor, the least the database needs. The ratio ours / floor says how much our layers
cost; a ratio that grows with N points at per-row work.

Rules: each side is warmed up once, then timed `RUNS` times and the median kept. An operation
that writes has a `cleanup`, run untimed after every run, so each run starts from the same data.

A step may return the seconds it measured itself (a float): that time is used instead of the
call's, so a step can leave out what it must not count (starting worker processes). An
operation's `note(ctx, ours, floor)` adds a line under the table (rates, memory).

To add an operation, decorate its "ours" function in `bench/operations.py` (or any module
imported there):

    @operation("segment add (city filter)", floor=segment_add_floor, cleanup=segment_cleanup)
    def segment_add(ctx: Context) -> None:
        ...
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RUNS = 3


@dataclass
class Context:
    """What operations share: the database size, a logged-in client, prepared data."""

    contacts: int
    client: Any = None
    data: dict[str, Any] = field(default_factory=dict)


Step = Callable[[Context], None]


@dataclass(frozen=True)
class Operation:
    name: str
    ours: Step
    floor: Step | None = None
    prepare: Step | None = None
    cleanup: Step | None = None
    # (ctx, ours median, floor median) → a line printed under the table (rates, memory, …)
    note: Callable[[Context, float, float | None], str] | None = None


REGISTRY: list[Operation] = []


def operation(
    name: str,
    *,
    floor: Step | None = None,
    prepare: Step | None = None,
    cleanup: Step | None = None,
    note: Callable[[Context, float, float | None], str] | None = None,
):
    """Register the decorated function as the "ours" side of operation `name`."""

    def register(ours: Step) -> Step:
        if any(existing.name == name for existing in REGISTRY):
            raise ValueError(f"operation {name!r} is registered twice")
        REGISTRY.append(Operation(name, ours, floor, prepare, cleanup, note))
        return ours

    return register


def _timed(step: Step, ctx: Context, cleanup: Step | None) -> float:
    started = time.perf_counter()
    measured = step(ctx)
    elapsed = time.perf_counter() - started
    if isinstance(measured, float):  # a step that times itself (e.g. without starting its processes)
        elapsed = measured
    if cleanup:
        cleanup(ctx)
    return elapsed


def median_time(step: Step, ctx: Context, *, cleanup: Step | None = None, runs: int = RUNS) -> float:
    """Warm up once, then the median of `runs` timed runs (seconds)."""
    _timed(step, ctx, cleanup)
    return statistics.median(_timed(step, ctx, cleanup) for _ in range(runs))


def run_operations(ctx: Context, operations: list[Operation], *, runs: int = RUNS, log=None) -> list[dict]:
    """Measure every operation; a failing one gives a row with its error instead of times."""
    rows = []
    for op in operations:
        if log:
            log(f"measuring: {op.name}")
        row: dict[str, Any] = {"operation": op.name, "n": ctx.contacts, "ours": None, "floor": None, "error": None}
        try:
            if op.prepare:
                op.prepare(ctx)
            row["ours"] = median_time(op.ours, ctx, cleanup=op.cleanup, runs=runs)
            if op.floor:
                row["floor"] = median_time(op.floor, ctx, cleanup=op.cleanup, runs=runs)
            if op.note:
                row["note"] = op.note(ctx, row["ours"], row["floor"])
        except Exception as error:  # one failing operation must not hide the others
            row["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            if op.cleanup:
                try:
                    op.cleanup(ctx)
                except Exception as cleanup_error:
                    row["error"] += f" (cleanup failed too: {cleanup_error})"
        rows.append(row)
    return rows


def format_table(rows: list[dict], *, name: str = "operation", floor: str = "floor") -> str:
    """The result table (Markdown): operation | N | ours (s) | floor (s) | ratio (`name` and
    `floor` head the first and fourth columns)."""
    lines = [f"| {name} | N | ours (s) | {floor} (s) | ratio |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        if row.get("error"):
            lines.append(f"| {row['operation']} | {row['n']:,} | failed: {row['error']} | | |")
            continue
        ours, floor = row["ours"], row["floor"]
        ratio = f"{ours / floor:.1f}×" if floor else "–"
        lines.append(f"| {row['operation']} | {row['n']:,} | {_seconds(ours)} | {_seconds(floor)} | {ratio} |")
    notes = [f"- {row['operation']}: {row['note']}" for row in rows if row.get("note") and not row.get("error")]
    return "\n".join(lines + ([""] + notes if notes else []))


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.0001:  # a floor of a few microseconds must not print as 0
        return f"{value:.6f}"
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}" if value < 100 else f"{value:.1f}"
