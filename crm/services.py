"""Writes on contacts and reference data.

Every public service is one transaction; helpers join the caller's transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from .models import NumberSeries


def number_series_next(*, code: str, count: int = 1) -> list[str]:
    """Draw `count` consecutive numbers from series `code` (e.g. CT000001).

    The series row is moved forward with one conditional UPDATE inside the caller's
    transaction, so two writers never draw the same number; numbers drawn by a
    transaction that rolls back are given out again.
    """
    if count < 1:
        return []
    with transaction.atomic():
        series = NumberSeries.objects.select_for_update().get(code=code)
        NumberSeries.objects.filter(code=code).update(last_no=F("last_no") + count)
        first = series.last_no + 1
        return [series.format(number) for number in range(first, first + count)]
