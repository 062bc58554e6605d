"""A pseudo-language that shows which texts are not marked for translation.

Its catalogue translates every msgid to "⟦msgid⟧": the msgids of our code as `manage.py
makemessages` finds them (in a throw-away copy of the project; the same command as the catalogue
check, scripts/check-catalogues.sh) and those of Django's own catalogues (admin, forms' errors).
A page rendered in it shows every marked text inside ⟦ ⟧; a text outside them that is not data
was never marked (or marked in a way makemessages cannot find, e.g. `_(f"…")`).
"""

from __future__ import annotations

import array
import gettext
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.utils.translation import trans_real

from .texts import has_letters

CODE = "qps"  # no language: Django has no catalogue for it, so only ours speaks it
OPEN, CLOSE = "⟦", "⟧"
ROOT = Path(settings.BASE_DIR)
HEADER = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"


def wrap(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


# A list for |yesno ("Yes,No", "yes,no,unknown"): each word wrapped, since yesno splits it.
YESNO = re.compile(r"[^,\s]+(?:,[^,\s]+){1,2}")


def wrap_message(text: str) -> str:
    return ",".join(map(wrap, text.split(","))) if YESNO.fullmatch(text) else wrap(text)


def project_copy(target: Path) -> Path:
    """The project's files (tracked and new, not ignored) copied to `target`."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def code_msgids(work: Path) -> dict:
    """The catalogue of our code's msgids in English ({msgid: msgid}, {(msgid, n): form}),
    through makemessages, msgen and msgfmt in a copy of the project under `work`."""
    copy = project_copy(work / "project")
    env = {**os.environ, "DJANGO_SECRET_KEY": "makemessages-only", "DJANGO_SETTINGS_MODULE": "crm.settings"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", CODE, "--ignore=.venv", "--ignore=tests", "-v", "0"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    po = copy / "locale" / CODE / "LC_MESSAGES" / "django.po"
    english = subprocess.run(["msgen", str(po)], check=True, capture_output=True).stdout.decode()
    english = english.replace("nplurals=INTEGER; plural=EXPRESSION;", "nplurals=2; plural=(n != 1);")
    mo = work / "english.mo"
    subprocess.run(["msgfmt", "-o", str(mo), "-"], input=english.encode(), check=True, capture_output=True)
    with mo.open("rb") as file:
        return gettext.GNUTranslations(file)._catalog


def pseudo_catalogue(work: Path) -> dict[str, str]:
    """{.mo key: "⟦text⟧"}: our code's msgids and Django's own (from its Danish catalogues,
    which hold them all; a plural of Django's shows its singular)."""
    entries: dict[str, list[str]] = {}
    for key in trans_real.translation("da")._catalog.keys():  # noqa: SIM118 (a TranslationCatalog)
        msgid, index = key if isinstance(key, tuple) else (key, None)
        if msgid:
            entries[msgid] = [msgid.split("\x04", 1)[-1]] * (1 if index is None else 2)
    plurals: dict[str, dict[int, str]] = {}
    for key, value in code_msgids(work).items():
        if isinstance(key, tuple):
            plurals.setdefault(key[0], {})[key[1]] = value
        elif key:
            entries[key] = [value]
    mo_entries = {}
    for msgid, forms in entries.items():
        if msgid in plurals:
            continue
        if len(forms) == 2:  # one of Django's plurals: its English plural is not in the catalogue
            mo_entries[f"{msgid}\0{msgid}"] = "\0".join(wrap(form) for form in forms)
        else:
            mo_entries[msgid] = wrap_message(forms[0])
    for msgid, forms in plurals.items():
        mo_entries[f"{msgid}\0{forms[1]}"] = "\0".join(wrap(forms[index]) for index in sorted(forms))
    return mo_entries


def write_mo(entries: dict[str, str], path: Path) -> None:
    """A GNU .mo file of `entries` (keys with contexts and plurals as gettext stores them)."""
    entries = {"": HEADER, **entries}
    keys = sorted(entries)
    ids = strs = b""
    offsets = []
    for key in keys:
        key_bytes, value_bytes = key.encode(), entries[key].encode()
        offsets.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    key_offsets, value_offsets = [], []
    for id_offset, id_length, str_offset, str_length in offsets:
        key_offsets += [id_length, id_offset + key_start]
        value_offsets += [str_length, str_offset + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.array("i", key_offsets + value_offsets).tobytes() + ids + strs)


def clear_language_caches() -> None:
    trans_real._translations = {}
    for cached in ("translation_catalog_exists", "check_for_language", "get_languages"):
        if hasattr(getattr(trans_real, cached, None), "cache_clear"):
            getattr(trans_real, cached).cache_clear()
    trans_real._get_supported_language_variant.cache_clear()


# --- What is left unmarked ---------------------------------------------------------------------------

NODE = "\x01"  # between two text nodes of a page
INNERMOST = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
# Texts that are no language: e-mail addresses, web addresses, file names, codes and numbers
# (SEG00002, CP0001, PDF, 2026-12-06), symbols.
NOT_LANGUAGE = re.compile(
    r"""[\w.+-]+@[\w.-]+            # an e-mail address
    | \w+://\S+                       # a web address
    | [\w-]+\.(?:docx|pdf|zip|csv|txt|log|svg|png)\b  # a file name
    | \b[A-Z0-9][A-Z0-9_./:-]*\b      # a code: capitals and digits
    """,
    re.X,
)


def unmarked(text: str, data: set[str]) -> list[str]:
    """The parts of a shown `text` that are outside ⟦ ⟧, contain letters and are not data.
    `text` may be a page's text nodes joined by NODE: a message with markup in it (a link, a
    <strong>) spans several nodes."""
    while True:
        stripped = INNERMOST.sub("\0", text)
        if stripped == text:
            break
        text = stripped
    found = []
    for fragment in re.split(f"[\0{NODE}]", text):
        fragment = " ".join(fragment.split())
        if not has_letters(fragment) or fragment in data:
            continue
        rest = fragment
        for value in sorted((v for v in data if v in rest), key=len, reverse=True):
            rest = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", rest)
        rest = NOT_LANGUAGE.sub(" ", rest)
        if has_letters(rest):
            found.append(fragment)
    return found
