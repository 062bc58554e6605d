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


def analyze_after_commit(tables: Iterable[str], *, changed: int, lines_before: int, lines_after: int) -> None:
    """After the current transaction commits, ANALYZE `tables` (model db_table names) when the
    change is big (`is_big_change`); on PostgreSQL only. Never inside the step's transaction, so
    the step's locks are not held any longer, and not at all when it rolls back."""
    if connection.vendor != "postgresql":
        return
    if not is_big_change(changed=changed, lines_before=lines_before, lines_after=lines_after):
        return
    names = ", ".join(connection.ops.quote_name(table) for table in dict.fromkeys(tables))
    using = connection.alias

    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {names}")

    transaction.on_commit(analyze, using=using)


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
