"""The Log and Print letters pages of the benchmark (bench/page_operations.py): the pages answer,
and each floor counts what the page states."""

from __future__ import annotations

import pytest

import bench.operations  # noqa: F401 - registers the operations
from bench import page_operations as ops
from bench.harness import Context
from segments.demo import demo_seed
from segments.merge_views import merge_plan
from segments.models import SegmentLine
from segments.services.log import segment_log_preflight

pytestmark = pytest.mark.django_db


def test_the_pages_answer_and_their_floors_count_what_they_state(admin_client_crm):
    demo_seed(contacts=400)
    ctx = Context(contacts=400, client=admin_client_crm)
    ops.prepare_pages(ctx)
    segment = ctx.data["pages_segment"]
    lines = SegmentLine.objects.filter(segment=segment).count()
    assert lines >= 300

    ops.log_page(ctx)
    ops.print_letters_page(ctx)

    preflight = segment_log_preflight(segment=segment, deliver=True)
    floor = ops.log_page_floor(ctx)
    assert floor["entries"] == preflight.entries == lines
    assert (floor["campaign_entries"], floor["emails"], floor["letters"]) == (
        preflight.campaign_entries,
        preflight.emails,
        preflight.letters,
    )
    assert floor["deliverable"] + floor["no_address"] == preflight.emails + preflight.letters
    formula = [problem for problem in preflight.delivery_problems if "salutation formula" in problem]
    assert floor["missing_formula"] == sum(int(p.split()[0]) if p[0].isdigit() else 1 for p in formula)
    assert ops.print_page_floor(ctx) == {"letters": merge_plan(segment=segment).letters}
