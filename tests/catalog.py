"""A few catalogue entries for a test, before the real catalogues (locale/) hold them: shows that a
text goes through gettext when the page is rendered, in the active language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import translation
from django.utils.translation import trans_real


@contextmanager
def translated(language: str, entries: dict) -> Iterator[None]:
    """`entries` in `language`'s catalogue while the block runs: msgid → msgstr, or
    (msgid, plural index) → msgstr for the forms of an ngettext/blocktranslate count."""
    catalog = trans_real.translation(language)._catalog._catalogs[0]
    before = {key: catalog[key] for key in entries if key in catalog}
    catalog.update(entries)
    try:
        with translation.override(language):
            yield
    finally:
        for key in entries:
            catalog.pop(key, None)
        catalog.update(before)
