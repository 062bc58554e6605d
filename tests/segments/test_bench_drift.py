"""The drift check of the benchmark (bench/drift_operations.py): the prepared changes give every
kind, and the raw-SQL floor counts what the drift check reports."""

from __future__ import annotations

import pytest

import bench.operations  # noqa: F401 - registers the operations
from bench import drift_operations as ops
from bench.harness import REGISTRY, Context
from segments.demo import demo_seed
from segments.services.drift import KINDS

pytestmark = pytest.mark.django_db


def test_the_drift_check_and_its_floor_count_the_same_kinds():
    demo_seed(contacts=3000)
    ctx = Context(contacts=3000)
    ops.prepare_drift(ctx)

    ours = ops.drift_check(ctx)

    assert set(ours) == set(KINDS)
    assert ops.drift_floor(ctx) == ours


def test_the_drift_check_is_measured_last():
    assert REGISTRY[-1].name.startswith("segment drift check")
