"""A test-only way into the Log's transaction (RELIABILITY case 3): run code right after the
entries are inserted, where a failure, a stall or a killed process must leave nothing behind.

The Log has no hook of its own. `after_entries(hook)` is a stand-in for the `insert_select`
it calls (patch `segments.services.log.insert_select` with it): it inserts as the real one
does and, when it has just inserted a log's entries, calls `hook(logged_segment)` inside the
same transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from crm.sql import insert_select
from interactions.models import InteractionLogEntry, LoggedSegment


def after_entries(hook: Callable[[LoggedSegment], object]) -> Callable[..., int]:
    def insert_then_hook(model, rows, columns, order_by=()) -> int:
        inserted = insert_select(model, rows, columns, order_by)
        if model is InteractionLogEntry:
            hook(LoggedSegment.objects.get(pk=columns["logged_segment_id"].value))
        return inserted

    return insert_then_hook
