"""No text of a page is left unmarked for translation (issue 17, part 1).

Every page of the every-page walk and Django admin's pages (tests/i18n/texts.py) is rendered in
a pseudo-language (tests/i18n/pseudo.py) whose catalogue shows every msgid of the code and of
Django as "⟦msgid⟧". A text a page shows (a text node, a placeholder, title, aria-label or alt,
a button's value) with letters outside ⟦ ⟧ fails, unless those letters are data (a value stored
in the test's database) or no language (an e-mail or web address, a file name, a code such as
SEG00002). The failure lists the unmarked texts per page; CRM_UNMARKED=FILE also writes the list
to FILE.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm import languages
from crm.models import Contact
from tests.factories import make_language
from tests.i18n.pseudo import CODE, NODE, clear_language_caches, pseudo_catalogue, unmarked, wrap_message, write_mo
from tests.i18n.texts import FRAGMENTS, UPSTREAM, admin_client, all_pages, page_texts, render, stored_texts

pytestmark = pytest.mark.django_db

PSEUDO_NAME = "Pseudo"


@pytest.fixture
def pseudo_language(settings, tmp_path, monkeypatch):
    """The pseudo-language, spoken by the pages while the test runs (also by the unsubscribe
    page, which speaks its contact's language: the world's contacts speak it too)."""
    monkeypatch.setitem(languages._CODES, CODE, CODE)
    Contact.objects.update(language=make_language(CODE.upper()))
    write_mo(pseudo_catalogue(tmp_path), tmp_path / "locale" / CODE / "LC_MESSAGES" / "django.mo")
    settings.LOCALE_PATHS = [tmp_path / "locale", *settings.LOCALE_PATHS]
    settings.LANGUAGES = [*settings.LANGUAGES, (CODE, PSEUDO_NAME)]
    clear_language_caches()
    yield CODE
    clear_language_caches()


def unmarked_texts(found_pages: dict[str, str]) -> dict[str, list[str]]:
    """{page: its unmarked texts} of every page rendered in the pseudo-language."""
    # Data, and the languages' own names on the profile page (each in its own language).
    data = stored_texts() | {"English", "Dansk", "Norsk bokmål", "Suomi", PSEUDO_NAME}
    client = admin_client()
    found: dict[str, list[str]] = {}
    for name, path in all_pages(found_pages).items():
        response = render(client, name, path, CODE)
        if response.status_code != 200:
            found[f"{name} {path}"] = [f"answers {response.status_code}"]
            continue
        texts = page_texts(response.content.decode())
        left = [f"text {text!r}" for text in unmarked(NODE.join(texts.nodes), data)]
        left += [f"{where} {text!r}" for where, text in texts.texts if where != "text" and unmarked(text, data)]
        left = [text for text in left if not any(name == p and text == f"{w} {t!r}" for p, w, t in UPSTREAM)]
        if texts.lang != CODE and name not in FRAGMENTS:
            left.insert(0, f'<html lang="{texts.lang}">')
        if left:
            found[f"{name} {path}"] = list(dict.fromkeys(left))
    return found


def test_every_text_of_every_page_is_marked_for_translation(pages, pseudo_language):
    found = unmarked_texts(pages)

    listing = "\n".join(f"{page}:\n  " + "\n  ".join(texts) for page, texts in found.items())
    if os.environ.get("CRM_UNMARKED"):
        total = sum(len(texts) for texts in found.values())
        Path(os.environ["CRM_UNMARKED"]).write_text(
            f"{total} unmarked texts on {len(found)} pages (tests/i18n/test_every_text_marked.py)\n\n{listing}\n"
        )
    assert not found, listing


# --- The tool finds what it should ---------------------------------------------------------------------


def test_wrapped_texts_data_codes_and_addresses_are_not_unmarked():
    data = {"Acme Delft", "Dora"}

    assert unmarked("⟦Contacts⟧", data) == []
    assert unmarked("⟦Segment ⟦Add⟧ SEG00002 was logged⟧", data) == []
    assert unmarked("Acme Delft", data) == []
    assert unmarked("⟦Dear⟧ Dora, dora@acme.test letter.docx CP0001 2026-12-06 · 12 %", data) == []
    assert unmarked("⟦Created⟧ by Acme Delft and friends", data) == ["by Acme Delft and friends"]
    assert unmarked("Delete Dorado", data) == ["Delete Dorado"]
    assert unmarked("⟦Create\x01a segment\x01 to begin.⟧\x01Welcome", data) == ["Welcome"]  # across nodes
    assert wrap_message("Yes,No") == "⟦Yes⟧,⟦No⟧" and wrap_message("Yes, no") == "⟦Yes, no⟧"  # |yesno splits


def test_the_pseudo_language_wraps_our_msgids_and_djangos(pseudo_language):
    from django.utils import translation

    with translation.override(pseudo_language):
        assert translation.gettext("This field is required.") == "⟦This field is required.⟧"
        assert translation.gettext("Your profile") == "⟦Your profile⟧"
        assert translation.gettext("Not a msgid of anyone") == "Not a msgid of anyone"
