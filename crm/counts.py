"""Counts in messages: "1 line", "1,234 lines", in the active language.

A counted noun is one `ngettext` message whose count is `%(count)s`, so a translation gives
every plural form its language has (never "s" appended to an English word); `counted` writes
the number the way the active language groups digits ("1,234" in English), as `grouped` does
for a number inside any other message.
"""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import ngettext


def grouped(number: int) -> str:
    """`number` with the active language's digit grouping ("1,234" in English, "1.234" in Danish)."""
    return number_format(number, force_grouping=True)


def counted(message: str, count: int) -> str:
    """`message` (from `ngettext(singular, plural, count)`) with its `%(count)s` filled in."""
    return message % {"count": grouped(count)}


def contacts_text(count: int) -> str:
    """ "1 contact", "1,234 contacts"."""
    return counted(ngettext("%(count)s contact", "%(count)s contacts", count), count)
