"""Fresh planner statistics after a big step (issue 13, "Pages stay fast at scale").

A step that inserts or deletes a large part of a segment's lines changes the line tables faster
than PostgreSQL's autovacuum notices: the next screen was planned with the old numbers (right
after an Add of 980,000 lines the worksheet took 18 s until autovacuum caught up). So after such
a step commits, the tables it touched are analysed at once (`ANALYZE`, a sample of the rows: a
fraction of a second). SQLite plans without such statistics: nothing happens there.

The pages that count a segment's lines run their queries in `page_queries` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction

# A step is big when it inserts or deletes more than this share of the segment's lines (before
# or after the step, whichever is more) and at least ANALYZE_MIN_ROWS rows.
ANALYZE_SHARE = 0.10
ANALYZE_MIN_ROWS = 10_000


def is_big_change(*, changed: int, lines_before: int, lines_after: int) -> bool:
    """Whether a step that inserted or deleted `changed` rows of a segment's lines calls for ANALYZE."""
    return changed >= ANALYZE_MIN_ROWS and changed > ANALYZE_SHARE * max(lines_before, lines_after)


def is_big_growth(*, changed: int, estimated_rows: float) -> bool:
    """Whether adding `changed` rows to a table PostgreSQL estimates at `estimated_rows` rows
    (-1: never analysed) calls for ANALYZE: more than ANALYZE_SHARE of them."""
    return estimated_rows < 0 or changed > ANALYZE_SHARE * estimated_rows


# The tables a step touched are analysed with a smaller sample than PostgreSQL's default (a
# statistics target of 30: 9,000 sampled rows instead of 30,000), which halves ANALYZE's time
# after a step; the next screen needs little more than how many lines a segment has (entries a
# logged segment has) and how they spread over contacts. Autovacuum analyses again with the
# server's own target once a tenth of the table has changed.
LINE_STATISTICS_TARGET = 30


def analyze_after_commit(
    tables: Iterable[str], *, changed: int, lines_before: int, lines_after: int, growing: Iterable[str] = ()
) -> None:
    """After the current transaction commits, ANALYZE the line `tables` (model db_table names)
    when the change is big (`is_big_change`); on PostgreSQL only. Never inside the step's
    transaction, so the step's locks are not held any longer, and not at all when it rolls back.

    `growing` tables (the interaction log, which a log only adds `changed` rows to) are analysed,
    with the same small sample, only when those rows are more than ANALYZE_SHARE of the
    rows PostgreSQL counts in them (`pg_class.reltuples`, never analysed: -1): a log into a
    large interaction log leaves it to autovacuum, as its own 10% threshold would."""
    if connection.vendor != "postgresql":
        return
    if not is_big_change(changed=changed, lines_before=lines_before, lines_after=lines_after):
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(table) for table in dict.fromkeys(tables))
    growing = list(dict.fromkeys(growing))

    def analyze() -> None:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL default_statistics_target = {LINE_STATISTICS_TARGET}")
            cursor.execute(f"ANALYZE {names}")
            if not growing:
                return
            cursor.execute(
                "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'", [growing]
            )
            stale = [name for name, rows in cursor.fetchall() if is_big_growth(changed=changed, estimated_rows=rows)]
            if stale:
                cursor.execute(f"ANALYZE {', '.join(quote(table) for table in stale)}")

    transaction.on_commit(analyze, using=connection.alias)


PAGE_SETTINGS = "SET LOCAL jit = off; SET LOCAL random_page_cost = 1.1"


@contextmanager
def page_queries() -> Iterator[None]:
    """PostgreSQL: the queries inside are planned for a page that counts a segment's lines.

    - Without JIT compilation: a page's counting queries are a few big statements run once
      each; compiling them cost more than it saved (0.8 s of the Log page's 4 s at 1M lines).
    - `random_page_cost = 1.1` (PostgreSQL's advice for data in memory or on SSD; the default 4
      is for spinning disks): the tables a page reads are hot, and with the default the
      planner scans all the lines of a segment where looking up the few lines of the contacts
      without e-mail by index is 4× faster (Log page at 1M lines).

    `SET LOCAL` lasts until the transaction ends, so one is opened when none is (a read-only
    one: it writes nothing). Elsewhere nothing happens."""
    if connection.vendor != "postgresql":
        yield
        return
    if connection.in_atomic_block:  # until the end of the caller's transaction, as its step does
        with connection.cursor() as cursor:
            cursor.execute(PAGE_SETTINGS)
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(PAGE_SETTINGS)
        yield
