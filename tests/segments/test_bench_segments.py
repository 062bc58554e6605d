"""The segment operations of the benchmark: each floor writes exactly what our step writes."""

from __future__ import annotations

import pytest

import bench.operations  # noqa: F401 - registers the operations
from bench import segment_operations as ops
from bench.harness import Context
from segments.demo import demo_seed
from segments.models import CriteriaStep, RemovedSegmentLine, SegmentLine

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "add": (ops.prepare_empty, ops.segment_add, ops.add_floor, ops.clear_lines),
    "count": (ops.prepare_empty, ops.segment_count, ops.count_floor, None),
    "reduce": (ops.prepare_filled, ops.segment_reduce, ops.reduce_floor, ops.undo_last),
    "refine": (ops.prepare_filled, ops.segment_refine, ops.refine_floor, ops.undo_last),
    "refine entire": (ops.prepare_filled, ops.segment_refine_entire, ops.refine_entire_floor, ops.undo_last),
    "undo add": (ops.prepare_filled, ops.segment_undo_add, ops.undo_floor, ops.redo_add),
    "undo refine": (ops.prepare_refined, ops.segment_undo_refine, ops.undo_floor, ops.redo_refine),
}


def state(segment) -> tuple:
    """Steps, lines and removed lines of the segment, without surrogate keys of new rows."""
    position = dict(CriteriaStep.objects.filter(segment=segment).values_list("pk", "position"))
    steps = sorted(
        CriteriaStep.objects.filter(segment=segment).values_list(
            "position",
            "action",
            "filter",
            "allow_existing",
            "expand_contact",
            "allow_company_with_persons",
            "ignore_exclusion",
            "entire_companies",
            "manual",
            "lines_added",
            "lines_removed",
        )
    )
    columns = [f.attname for f in SegmentLine._meta.concrete_fields if f.attname not in {"id", "step_id"}]
    lines = sorted(
        (position[row[0]], *row[1:])
        for row in SegmentLine.objects.filter(segment=segment).values_list("step_id", *columns)
    )
    removed = sorted(
        (position[row[0]], *row[1:])
        for row in RemovedSegmentLine.objects.filter(segment=segment).values_list("removed_by_id", *columns)
    )
    return steps, lines, removed


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_the_floor_writes_what_our_step_writes(name):
    demo_seed(contacts=600)
    prepare, ours, floor, cleanup = OPERATIONS[name]
    ctx = Context(contacts=600)
    prepare(ctx)
    segment = ctx.data["segment"]
    before = state(segment)

    ours(ctx)
    after_ours = state(segment)
    if cleanup:
        cleanup(ctx)
    restored = state(segment)
    floor(ctx)
    after_floor = state(segment)

    if name != "count":
        assert after_ours != before, "the operation changed nothing"
    assert after_floor == after_ours
    assert len(restored[1]) == len(before[1])


def test_the_add_fills_about_30_percent_with_values_from_the_template():
    demo_seed(contacts=600)
    ctx = Context(contacts=600)
    ops.prepare_empty(ctx)

    ops.segment_add(ctx)

    lines = SegmentLine.objects.filter(segment=ctx.data["segment"])
    assert 120 < lines.count() < 240
    assert set(lines.values_list("interaction_template_id", flat=True)) == {"LETTER"}
    assert len(set(lines.values_list("language_id", flat=True))) > 1
    assert len(set(lines.values_list("subject", flat=True))) > 1
