"""`manage.py bench --commands`: whole segment commands beside a lean floor that writes the same
rows (bench/command_operations.py)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from bench import command_operations as ops
from bench.harness import Context
from crm.permissions import COMMAND_LINE
from interactions.models import InteractionLogEntry, LoggedSegment
from segments import services
from segments.demo import demo_seed
from segments.models import RemovedSegmentLine, SegmentLine, StepAction

pytestmark = pytest.mark.django_db

CONTACTS = 600
LINE_VALUES = [c for c in ops.LINE_COLUMNS if c not in {"step_id"}]
ENTRY_SKIPPED = {"id", "logged_segment_id", "campaign_entry_id", "segment_line_id", "time", "created_at"}
ENTRY_VALUES = [f.column for f in InteractionLogEntry._meta.concrete_fields if f.column not in ENTRY_SKIPPED]


def rows(table: str, columns: list[str], where: str = "", params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} {where}", list(params))
        return sorted(map(repr, cursor.fetchall()))


def prepared(prepare) -> Context:
    demo_seed(contacts=CONTACTS)
    ctx = Context(contacts=CONTACTS)
    prepare(ctx)
    return ctx


def test_the_lean_add_writes_the_lines_our_add_writes():
    ctx = prepared(ops.prepare_empty)
    segment = ctx.data["segment"]

    ops.lean_add(ctx)
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=ops.ADD_QUERY)

    ours = rows("segments_segmentline", LINE_VALUES, "WHERE segment_id = %s", [segment.pk])
    assert 100 < len(ours) < 300
    assert rows(ops.LEAN_LINE, LINE_VALUES) == ours


def test_the_lean_reduce_and_undo_remove_the_lines_ours_remove():
    ctx = prepared(ops.prepare_filled)
    segment = ctx.data["segment"]
    assert rows(ops.LEAN_LINE, LINE_VALUES) == rows(
        "segments_segmentline", LINE_VALUES, "WHERE segment_id = %s", [segment.pk]
    )

    ops.lean_reduce(ctx)
    services.segment_remove_contacts(
        user=COMMAND_LINE, segment=segment, action=StepAction.REDUCE, query=ops.REDUCE_QUERY
    )

    kept = rows("segments_segmentline", LINE_VALUES, "WHERE segment_id = %s", [segment.pk])
    removed = rows("segments_removedsegmentline", LINE_VALUES, "WHERE segment_id = %s", [segment.pk])
    assert kept and removed
    assert rows(ops.LEAN_LINE, LINE_VALUES) == kept
    assert rows(ops.LEAN_REMOVED, LINE_VALUES) == removed

    ops.cleanup_reduce(ctx)  # both sides back to the add
    assert not RemovedSegmentLine.objects.filter(segment=segment).exists()
    ops.lean_undo(ctx)
    services.segment_undo(user=COMMAND_LINE, segment=segment)
    assert rows(ops.LEAN_LINE, ["id"]) == [] and not SegmentLine.objects.filter(segment=segment).exists()


def test_the_lean_log_writes_the_entries_our_log_writes_and_deletes_the_lines():
    ctx = prepared(ops.prepare_log)
    segment = ctx.data["segment"]

    ops.lean_log(ctx)
    services.segment_log(user=COMMAND_LINE, segment=segment)

    logged = LoggedSegment.objects.get(source_uuid=segment.uuid)
    ours = rows("interactions_interactionlogentry", ENTRY_VALUES, "WHERE logged_segment_id = %s", [logged.pk])
    assert len(ours) > 100
    assert rows(ops.LEAN_ENTRY, ENTRY_VALUES) == ours
    assert rows(ops.LEAN_LINE, ["id"]) == []


def test_bench_commands_times_each_command_beside_its_lean_floor():
    out = io.StringIO()

    call_command("bench", "--commands", "--contacts", "200", "--runs", "1", stdout=out, stderr=io.StringIO())

    table = out.getvalue()
    assert "| command | N | ours (s) | lean floor (s) | ratio |" in table
    for name in ("count", "add", "undo", "reduce", "log"):
        row = next(line for line in table.splitlines() if line.startswith(f"| segment {name} "))
        assert row.endswith("× |") and "failed" not in row, row
    assert "| empty command (manage.py segment --help) | 200 |" in table
