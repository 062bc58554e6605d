"""Whole segment commands beside a lean floor (`manage.py bench --commands`, issue 13).

"Ours" is a whole command, `manage.py segment …` run as a process against the scratch
database, less its start-up (Python, Django's set-up and the command's imports, what an empty
command costs): the process times itself from the end of start-up to its end
(bench.command_timer). What is left is what the step costs a script: argument parsing,
connecting, looking the segment up, the step's queries, ANALYZE after a big step on
PostgreSQL, the commit. The empty command's start-up (`manage.py segment --help`) is shown
in its own row.

The lean floor does the same rows in plain SQL, in this process, on lean tables made in the
scratch database with the columns of the real ones but none of their constraints and only the
indexes the issue allows:

- lines (`bench_lean_line`): the primary key and a (segment, contact) index;
- removed lines (`bench_lean_removed`): the primary key only;
- entries (`bench_lean_entry`): the primary key, a (contact) and a (logged segment) index.

- `segment count NO --filter country=NL` (an empty segment): one `SELECT count(*)` of the
  contacts the add would take;
- `segment add NO --filter country=NL` (~30% of N, template LETTER): INSERT … SELECT the lines
  with the same values, in R21 order with their line numbers;
- `segment undo NO` right after that add: DELETE the step's lines;
- `segment reduce NO --filter mailing_group=NEWSLETTER`: copy the matching lines to the removed
  lines, DELETE them;
- `segment log NO` of the ~30% segment: INSERT … SELECT the entries with the same values,
  DELETE the lines.

Each run starts from the same data: the cleanup (untimed) undoes, redoes or restores the step
(on both sides).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from django.conf import settings
from django.db import connection, transaction

from crm.permissions import COMMAND_LINE
from interactions.models import InteractionLogEntry
from segments import services
from segments.models import RemovedSegmentLine, SegmentLine, StepAction

from . import log_operations as log_ops
from . import segment_operations as segment_ops
from .harness import Context, Operation

LEAN_LINE = "bench_lean_line"
LEAN_REMOVED = "bench_lean_removed"
LEAN_ENTRY = "bench_lean_entry"
LEAN_STEP = 1  # the step id the lean lines carry (no step table on the lean side)
LEAN_LOGGED = 1  # the logged segment id the lean entries carry
ADD_QUERY = segment_ops.ADD_QUERY
REDUCE_QUERY = segment_ops.REDUCE_QUERY
STARTUP = ["segment", "--help"]  # the empty command: start-up without a database

LINE_COLUMNS = segment_ops.LINE_COLUMNS
COPY = segment_ops.COPY
IN_GROUP = "contact_id IN (SELECT g.contact_id FROM crm_contactmailinggroup g WHERE g.mailing_group_id = %s)"


# --- the command as a process ----------------------------------------------------------------------


def run_command(*arguments: str, timed: bool = False) -> float:
    """Run `manage.py <arguments>` in a new process (the scratch DATABASE_URL inherited): its
    wall-clock seconds, or with `timed` the seconds after its start-up (bench.command_timer).
    A failing command raises with its stderr."""
    program = ["-m", "bench.command_timer"] if timed else [str(settings.BASE_DIR / "manage.py")]
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *program, *arguments], capture_output=True, text=True, check=False, cwd=settings.BASE_DIR
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(arguments)}: exit {completed.returncode}: {completed.stderr.strip()}")
    if timed:
        return float(completed.stderr.strip().splitlines()[-1].removeprefix("bench-seconds: "))
    return elapsed


def measure_startup(ctx: Context, runs: int) -> float:
    """The empty command's start-up (shown, not subtracted): the median of `runs` runs after a
    warm-up."""
    run_command(*STARTUP)
    ctx.data["startup"] = statistics.median(run_command(*STARTUP) for _ in range(runs))
    return ctx.data["startup"]


def command(ctx: Context, *arguments: str) -> float:
    """The command's seconds less its start-up (the step's own time, as a script waits for it)."""
    return run_command(*arguments, timed=True)


# --- lean tables --------------------------------------------------------------------------------------


def _column_sql(field) -> str:
    null = "" if field.null else " NOT NULL"
    return f"{connection.ops.quote_name(field.column)} {field.db_type(connection)}{null}"


def _create_lean(cursor, table: str, model, *, extra: tuple[str, ...] = (), indexes: tuple[str, ...] = ()) -> None:
    """`table` with the columns of `model` (and `extra`), a primary key and `indexes` (column
    lists), no other constraint."""
    key = (
        "id integer NOT NULL PRIMARY KEY AUTOINCREMENT"
        if connection.vendor == "sqlite"
        else "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    columns = [_column_sql(field) for field in model._meta.concrete_fields if field.column != "id"]
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TABLE {table} ({', '.join([key, *columns, *extra])})")
    for number, index in enumerate(indexes):
        cursor.execute(f"CREATE INDEX {table}_{number} ON {table} ({index})")


def create_lean_tables() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _create_lean(cursor, LEAN_LINE, SegmentLine, indexes=("segment_id, contact_id",))
        _create_lean(cursor, LEAN_REMOVED, RemovedSegmentLine)
        _create_lean(cursor, LEAN_ENTRY, InteractionLogEntry, indexes=("contact_id", "logged_segment_id"))
    analyze_lean()


def analyze_lean() -> None:
    """What autovacuum would soon do after a big change (PostgreSQL), as segment_ops.analyze."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cursor.execute(f"{command} {LEAN_LINE}, {LEAN_REMOVED}, {LEAN_ENTRY}")


def _lean_add_sql(segment_id: int) -> tuple[str, list]:
    with connection.cursor() as cursor:
        header = segment_ops._header(cursor, segment_id)
    header.update(segment=segment_id, step=LEAN_STEP, base=0)
    return segment_ops._add_floor_sql(header, table=LEAN_LINE)


def fill_lean_lines(ctx: Context) -> None:
    """The lean lines of the add (untimed): the starting state of undo, reduce and log."""
    sql, params = _lean_add_sql(ctx.data["segment"].pk)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LEAN_LINE}")
        cursor.execute(f"DELETE FROM {LEAN_REMOVED}")
        cursor.execute(f"DELETE FROM {LEAN_ENTRY}")
        cursor.execute(sql, params)
    analyze_lean()


# --- lean floors ----------------------------------------------------------------------------------------


def lean_count(ctx: Context) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        segment_ops._without_jit(cursor)
        cursor.execute(*segment_ops.count_sql(cursor, ctx.data["segment"].pk, LEAN_LINE))
        cursor.fetchone()


def lean_add(ctx: Context) -> None:
    sql, params = ctx.data["lean_add"]
    with transaction.atomic(), connection.cursor() as cursor:
        segment_ops._without_jit(cursor)
        cursor.execute(sql, params)


def lean_undo(ctx: Context) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LEAN_LINE} WHERE step_id = %s", [LEAN_STEP])


def lean_reduce(ctx: Context) -> None:
    segment_id, group = ctx.data["segment"].pk, REDUCE_QUERY.split("=")[1]
    with transaction.atomic(), connection.cursor() as cursor:
        segment_ops._without_jit(cursor)
        cursor.execute(
            f"INSERT INTO {LEAN_REMOVED} ({COPY}, line_id, removed_by_id) SELECT {COPY}, id, %s"
            f" FROM {LEAN_LINE} WHERE segment_id = %s AND {IN_GROUP}",
            [LEAN_STEP, segment_id, group],
        )
        cursor.execute(f"DELETE FROM {LEAN_LINE} WHERE segment_id = %s AND {IN_GROUP}", [segment_id, group])


LEAN_ENTRY_INSERT = log_ops.ENTRY_INSERT.replace("interactions_interactionlogentry", LEAN_ENTRY).replace(
    "FROM segments_segmentline l", f"FROM {LEAN_LINE} l"
)


def lean_log(ctx: Context) -> None:
    from django.utils import timezone

    segment = ctx.data["segment"]
    ops, now = connection.ops, timezone.now()
    values = {
        "time": ops.adapt_timefield_value(timezone.localtime(now).time().replace(microsecond=0)),
        "user": None,
        "segment_no": segment.no,
        "logged": LEAN_LOGGED,
        "false": False,
        "now": ops.adapt_datetimefield_value(now),
        "segment": segment.pk,
        "header_template": segment.interaction_template_id,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        segment_ops._without_jit(cursor)
        cursor.execute(LEAN_ENTRY_INSERT, values)
        cursor.execute(f"DELETE FROM {LEAN_LINE} WHERE segment_id = %s", [segment.pk])


def lean_restore_removed(ctx: Context) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {LEAN_LINE} (id, {COPY}) SELECT line_id, {COPY} FROM {LEAN_REMOVED}")
        cursor.execute(f"DELETE FROM {LEAN_REMOVED}")
    analyze_lean()


# --- our side: set-ups and cleanups --------------------------------------------------------------------


def _prepare(ctx: Context, name: str, *, lines: bool) -> None:
    create_lean_tables()
    segment = segment_ops.new_segment(ctx, f"command {name}", lines=lines)
    ctx.data["lean_add"] = _lean_add_sql(segment.pk)
    if lines:
        fill_lean_lines(ctx)


def prepare_empty(ctx: Context) -> None:
    _prepare(ctx, "add", lines=False)


def prepare_filled(ctx: Context) -> None:
    _prepare(ctx, "filled", lines=True)


def prepare_log(ctx: Context) -> None:
    _prepare(ctx, "log", lines=True)
    segment = ctx.data["segment"]
    problems = services.segment_log_problems(segment=segment)
    if problems:
        raise RuntimeError(f"the bench segment cannot be logged: {problems}")
    ctx.data["log_segment"] = segment
    log_ops.snapshot(ctx)


def cleanup_add(ctx: Context) -> None:
    """Ours: undo the add; lean: clear the lines."""
    if SegmentLine.objects.filter(segment=ctx.data["segment"]).exists():
        services.segment_undo(user=COMMAND_LINE, segment=ctx.data["segment"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LEAN_LINE}")
    segment_ops.analyze()
    analyze_lean()


def cleanup_undo(ctx: Context) -> None:
    """Ours: the add again; lean: its lines again."""
    if not SegmentLine.objects.filter(segment=ctx.data["segment"]).exists():
        services.segment_add_contacts(user=COMMAND_LINE, segment=ctx.data["segment"], query=ADD_QUERY)
    fill_lean_lines(ctx)
    segment_ops.analyze()


def cleanup_reduce(ctx: Context) -> None:
    """Ours: undo the reduce when it ran; lean: the removed lines back."""
    last = ctx.data["segment"].steps.order_by("-position").first()
    if last is not None and last.action == StepAction.REDUCE:
        services.segment_undo(user=COMMAND_LINE, segment=ctx.data["segment"])
    lean_restore_removed(ctx)
    segment_ops.analyze()


def cleanup_log(ctx: Context) -> None:
    """Ours: the segment back as it was (log_operations.restore_log); lean: the lines back."""
    log_ops.restore_log(ctx)
    fill_lean_lines(ctx)


# --- our side: the commands ------------------------------------------------------------------------------


def count_command(ctx: Context) -> float:
    return command(ctx, "segment", "count", ctx.data["segment"].no, "--filter", ADD_QUERY)


def add_command(ctx: Context) -> float:
    return command(ctx, "segment", "add", ctx.data["segment"].no, "--filter", ADD_QUERY)


def undo_command(ctx: Context) -> float:
    return command(ctx, "segment", "undo", ctx.data["segment"].no)


def reduce_command(ctx: Context) -> float:
    return command(ctx, "segment", "reduce", ctx.data["segment"].no, "--filter", REDUCE_QUERY)


def log_command(ctx: Context) -> float:
    return command(ctx, "segment", "log", ctx.data["segment"].no)


COMMANDS = [
    Operation(f"segment count --filter {ADD_QUERY}", count_command, lean_count, prepare_empty),
    Operation(f"segment add --filter {ADD_QUERY} (~30% of N)", add_command, lean_add, prepare_empty, cleanup_add),
    Operation("segment undo (of that add)", undo_command, lean_undo, prepare_filled, cleanup_undo),
    Operation(f"segment reduce --filter {REDUCE_QUERY}", reduce_command, lean_reduce, prepare_filled, cleanup_reduce),
    Operation("segment log (~30% of N lines)", log_command, lean_log, prepare_log, cleanup_log),
]
