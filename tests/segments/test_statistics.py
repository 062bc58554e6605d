"""Fresh planner statistics after a big segment step (segments/services/statistics.py, issue 13):
ANALYZE of the touched tables on PostgreSQL once a step that changed more than 10% of a
segment's lines (and at least 10,000 rows) commits; never on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from crm.permissions import COMMAND_LINE
from segments import services
from segments.models import SegmentLine, StepAction
from segments.services import log as log_services
from segments.services.statistics import (
    ANALYZE_MIN_ROWS,
    LINE_STATISTICS_TARGET,
    analyze_after_commit,
    is_big_change,
    is_big_growth,
    page_queries,
)
from tests.factories import bulk_contacts, make_salesperson, make_template

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def segment():
    template = make_template(correspondence_type="")
    return services.segment_create(
        user=COMMAND_LINE,
        values={"description": "Big", "interaction_template": template, "salesperson": make_salesperson()},
    )


def analyzed(step, django_capture_on_commit_callbacks) -> tuple[list[str], list[str]]:
    """Run `step` in its transaction: (ANALYZE statements before the commit, after it)."""
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            step()
        inside = len(queries.captured_queries)
        for callback in callbacks:
            callback()
    statements = [query["sql"] for query in queries.captured_queries]
    return (
        [sql for sql in statements[:inside] if sql.startswith("ANALYZE")],
        [sql for sql in statements[inside:] if sql.startswith("ANALYZE")],
    )


@pytest.mark.slow
def test_a_big_add_analyses_the_lines_after_its_commit_on_postgresql_only(segment, django_capture_on_commit_callbacks):
    bulk_contacts(ANALYZE_MIN_ROWS)

    before, after = analyzed(
        lambda: services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=""),
        django_capture_on_commit_callbacks,
    )

    assert SegmentLine.objects.filter(segment=segment).count() == ANALYZE_MIN_ROWS
    assert before == []
    assert after == (['ANALYZE "segments_segmentline"'] if POSTGRESQL else [])


@pytest.mark.slow
def test_a_big_reduce_an_undo_and_the_log_analyse_their_tables(segment, django_capture_on_commit_callbacks):
    bulk_contacts(ANALYZE_MIN_ROWS, city="Big")
    bulk_contacts(10, city="Small")
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    both = ['ANALYZE "segments_segmentline", "segments_removedsegmentline"'] if POSTGRESQL else []

    reduce = analyzed(
        lambda: services.segment_remove_contacts(
            user=COMMAND_LINE, segment=segment, action=StepAction.REDUCE, query="city=Big"
        ),
        django_capture_on_commit_callbacks,
    )
    undo = analyzed(
        lambda: services.segment_undo(user=COMMAND_LINE, segment=segment), django_capture_on_commit_callbacks
    )
    log = analyzed(
        lambda: log_services.segment_log(user=COMMAND_LINE, segment=segment), django_capture_on_commit_callbacks
    )

    assert reduce == ([], both)
    assert undo == ([], both)
    # the interaction log, never analysed before, grows by more than a tenth: analysed too
    entries = [*both, 'ANALYZE "interactions_interactionlogentry"']
    assert log == ([], entries if POSTGRESQL else [])


def test_a_small_step_does_not_analyse(segment, django_capture_on_commit_callbacks):
    bulk_contacts(20, city="Small")

    add = analyzed(
        lambda: services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=""),
        django_capture_on_commit_callbacks,
    )
    reduce = analyzed(
        lambda: services.segment_remove_contacts(
            user=COMMAND_LINE, segment=segment, action=StepAction.REDUCE, query="city=Small"
        ),
        django_capture_on_commit_callbacks,
    )

    assert add == ([], []) and reduce == ([], [])


@pytest.mark.parametrize(
    ("changed", "before", "after", "big"),
    [
        (10_000, 0, 10_000, True),  # a first add
        (9_999, 0, 9_999, False),  # too few rows to matter
        (10_000, 100_000, 110_000, False),  # 10% (of the larger side) is not more than 10%
        (10_000, 89_000, 99_000, True),
        (100_000, 1_000_000, 900_000, False),
        (100_001, 1_000_000, 899_999, True),  # a reduce of just over 10%
        (980_000, 980_000, 0, True),  # an undo of the add, a log
    ],
)
def test_a_big_change_is_more_than_a_tenth_of_the_lines_and_at_least_the_minimum(changed, before, after, big):
    assert is_big_change(changed=changed, lines_before=before, lines_after=after) is big


@pytest.mark.parametrize(
    ("changed", "estimated", "big"),
    [
        (30_000, -1, True),  # never analysed
        (30_000, 0, True),
        (30_000, 299_999, True),
        (30_000, 300_000, False),  # a tenth is not more than a tenth: autovacuum's own threshold
        (300_000, 10_000_000, False),  # a log into a large interaction log leaves it to autovacuum
    ],
)
def test_a_growing_table_is_analysed_when_it_grew_by_more_than_a_tenth(changed, estimated, big):
    assert is_big_growth(changed=changed, estimated_rows=estimated) is big


@pytest.mark.skipif(not POSTGRESQL, reason="statistics targets are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_line_tables_are_analysed_with_a_smaller_sample_inside_their_own_transaction():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        analyze_after_commit(["segments_segmentline"], changed=20_000, lines_before=0, lines_after=20_000)
    statements = [query["sql"] for query in queries.captured_queries]
    at = statements.index(f"SET LOCAL default_statistics_target = {LINE_STATISTICS_TARGET}")
    assert statements[at + 1] == 'ANALYZE "segments_segmentline"'
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_statistics_target")
        assert cursor.fetchone()[0] == "100"  # the session's own target is back


@pytest.mark.skipif(not POSTGRESQL, reason="planner settings are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_page_queries_are_planned_without_jit_for_hot_tables_and_only_inside():
    """The pages' counting queries run without JIT and with random_page_cost 1.1 (the Log
    pre-flight then reads the lines of the contacts without e-mail by index instead of every
    line); the session's own settings are back afterwards."""

    def settings() -> tuple[str, str]:
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            jit = cursor.fetchone()[0]
            cursor.execute("SHOW random_page_cost")
            return jit, cursor.fetchone()[0]

    before = settings()
    with page_queries():
        inside = settings()
    after = settings()

    assert inside == ("off", "1.1")
    assert after == before != inside
