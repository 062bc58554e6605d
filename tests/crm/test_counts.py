"""Counted nouns in messages (crm.counts): one ngettext message, the count as the language writes it."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import ngettext

from crm.counts import counted


def lines(count: int) -> str:
    return counted(ngettext("%(count)s line", "%(count)s lines", count), count)


def test_english_counts_read_as_before():
    assert [lines(0), lines(1), lines(2), lines(1234567)] == ["0 lines", "1 line", "2 lines", "1,234,567 lines"]


def test_the_count_is_grouped_as_the_active_language_writes_numbers():
    with translation.override("nl"):
        assert lines(1234567).startswith("1.234.567 ")
