"""Word templates: the checks a .docx passes before it is stored, and the one helper that renders
letters from it (SPEC D10, F7; CONTRACT.md "Word template fields"; RELIABILITY.md 7–12).

A Word template is a .docx with docxtpl (Jinja) tags. Nothing else in the project renders one:
every letter goes through `prepare()` / `PreparedTemplate.render()` (or `render_docx()`, the same
path for one letter), which guarantees:

- the package was checked first (`check_package`): size, part count, unpacked size and
  compression ratio from the zip directory before anything is unpacked; no macros, no external
  content except hyperlinks, no content-loading fields, and every XML part parses with a hardened
  parser that refuses a DTD (so XXE and billion-laughs never reach python-docx);
- every tag of every part docxtpl renders (body, headers, footers, footnotes and the core
  document properties it fills in) was read statically, from the exact Jinja source docxtpl
  builds (its own `patch_xml`): only the fields of `ALLOWED_FIELDS`, the filters of
  `ALLOWED_FILTERS`, constants, `~`, comparisons, `and/or/not`, `x if y else z` and
  `{% if %}`; no calls, no subscripts, no arithmetic, no `_attributes`, no `for`, `set`,
  macros, imports, includes or `autoescape` blocks. Branches that the sample data would not
  take are checked too, because the check reads the syntax tree, not a rendering;
- rendering runs in a Jinja sandbox (`LetterEnvironment`) with autoescape (a value can never
  become XML: "Smith & <Sons>" stays text) and StrictUndefined, whose attribute lookup reads
  dictionary keys only, and whose arithmetic operators raise SecurityError;
- the context is rebuilt as plain dicts of the allowed fields (`plain_context`): text, dates and
  numbers only; a model object, a missing or an unknown field is a programming error.

CPU and memory: with no loops, calls, assignments or arithmetic, a template cannot repeat work:
rendering is linear in the template's size (at most `MAX_TAGS` tags) times the size of the
values (each at most `MAX_VALUE_CHARS`; filters that could grow a value check the result's size
first). So `{{ 'A' * 2000000000 }}`, `**` and nested `range()` loops are refused when the
template is checked, and the sandbox refuses the operators again at render time. Render workers
still run under the job's memory and time limits.

Which parts docxtpl 0.20.2 renders, and so which parts are checked: the main document's body,
the headers and footers the main document refers to, every footnotes part, and the core
properties author, comments, identifier, language, subject and title. Other parts (endnotes,
comments, docProps/app.xml, other properties) are copied unchanged, so tags there stay text.
This module renders those parts itself from docxtpl's prepared sources instead of calling
`DocxTemplate.render`, so a template is prepared (opened, patched, compiled) once for many
letters, each footnotes part is rendered once (docxtpl renders them once per section, so a value
inserted by the first pass would be read as a template by the next), and property values are
set as text (docxtpl escapes them as XML first, so "&" would show as "&amp;").
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import io
import re
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import dateformat, translation
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from crm.counts import grouped

from .ooxml import CT_FOOTER, CT_FOOTNOTES, CT_HEADER, PARSER, hardened_parser

# --- Limits --------------------------------------------------------------------------------------

MB = 1024 * 1024
MAX_FILE_BYTES = 5 * MB  # the upload itself
MAX_UNPACKED_BYTES = 30 * MB  # sum of the parts' sizes, from the zip directory
MAX_PARTS = 300
MAX_RATIO = 100  # uncompressed / compressed, for parts over RATIO_MIN_BYTES
RATIO_MIN_BYTES = 1 * MB
MAX_RENDERED_PART_BYTES = 5 * MB  # a part that is rendered (document, header, footer, footnotes)
MAX_XML_ELEMENTS = 500_000  # in all XML parts together
MAX_TAGS = 2_000  # Jinja tags ({{ }}, {% %}) in all rendered parts together
MAX_TAG_SCAN = 20_000_000  # characters docxtpl's tag regexes may scan (unclosed tags scan far)
MAX_VALUE_CHARS = 10_000  # one merge value, and one filter's result

_MAIN_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_RENDERED_CTS = {_MAIN_CT, CT_HEADER, CT_FOOTER, CT_FOOTNOTES}
_ACTIVE_CT_WORDS = ("macroenabled", "vbaproject", "vbadata", "activex")
_ACTIVE_PART_NAMES = {"vbaproject.bin", "vbadata.xml"}
# Fields that fetch content from elsewhere when Word opens or updates the document.
_LOADING_FIELDS = re.compile(
    r"(?<![A-Za-z])(INCLUDEPICTURE|INCLUDETEXT|INCLUDE|IMPORT|LINK|DDEAUTO|DDE)(?![A-Za-z])", re.IGNORECASE
)
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")  # as docxtpl renders them
_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"

# --- The public interface: fields and filters --------------------------------------------------


@dataclass(frozen=True)
class MergeField:
    description: str


_f = MergeField

#: Every name a Word template may use (CONTRACT.md "Word template fields") with what it holds.
#: Address fields honour the alternate address active on the line's date. The examples the
#: template page shows are not written here: they are these fields rendered from
#: `interactions.merge_fields.sample_context` (a made-up line merged like every letter).
ALLOWED_FIELDS: dict[str, MergeField] = {
    "contact.no": _f(gettext_lazy("Contact number")),
    "contact.name": _f(gettext_lazy("Contact's name (on a company's line, the company's name)")),
    "contact.company_name": _f(
        gettext_lazy("Name of the contact's company (empty for a company and a private person)")
    ),
    "contact.first_name": _f(gettext_lazy("First name")),
    "contact.middle_name": _f(gettext_lazy("Middle name")),
    "contact.surname": _f(gettext_lazy("Surname")),
    "contact.initials": _f(gettext_lazy("Initials")),
    "contact.job_title": _f(gettext_lazy("Job title")),
    "contact.email": _f(gettext_lazy("E-mail (of the alternate address when one is active)")),
    "contact.phone": _f(gettext_lazy("Phone (of the alternate address when one is active)")),
    "contact.address": _f(gettext_lazy("Address (of the alternate address when one is active)")),
    "contact.address_2": _f(gettext_lazy("Address 2")),
    "contact.post_code": _f(gettext_lazy("Post code")),
    "contact.city": _f(gettext_lazy("City")),
    "contact.country": _f(gettext_lazy("Country")),
    "address_block": _f(gettext_lazy("The formatted postal address, one line per part")),
    "salutation_formal": _f(
        gettext_lazy(
            "Formal salutation: the contact's formula in the line's language, filled in exactly as written"
            " (no punctuation added: the template adds the comma)"
        )
    ),
    "salutation_informal": _f(
        gettext_lazy(
            "Informal salutation: the contact's formula in the line's language, filled in exactly as written"
            " (no punctuation added)"
        )
    ),
    "salesperson.code": _f(gettext_lazy("Salesperson code")),
    "salesperson.name": _f(gettext_lazy("Salesperson's name")),
    "salesperson.email": _f(gettext_lazy("Salesperson's e-mail")),
    "salesperson.phone": _f(gettext_lazy("Salesperson's phone")),
    "salesperson.job_title": _f(gettext_lazy("Salesperson's job title")),
    "segment.no": _f(gettext_lazy("Segment number")),
    "segment.description": _f(gettext_lazy("Segment description")),
    "line.description": _f(gettext_lazy("Description of the line")),
    "line.subject": _f(gettext_lazy("Subject of the line")),
    "line.date": _f(gettext_lazy("Date of the line (YYYY-MM-DD unless formatted with date)")),
    "line.personal_text": _f(gettext_lazy("The line's personal text (empty when it has none)")),
    "line.correspondence_type": _f(gettext_lazy("Correspondence type of the line: hard_copy or email")),
    "campaign.no": _f(gettext_lazy("Campaign number")),
    "campaign.description": _f(gettext_lazy("Campaign description")),
    "company.name": _f(gettext_lazy("Our company's name")),
    "company.address": _f(gettext_lazy("Our company's address")),
    "company.post_code": _f(gettext_lazy("Our company's post code")),
    "company.city": _f(gettext_lazy("Our company's city")),
    "company.country": _f(gettext_lazy("Our company's country")),
    "company.phone": _f(gettext_lazy("Our company's phone")),
    "company.email": _f(gettext_lazy("Our company's e-mail")),
    "today": _f(gettext_lazy("The date the letter is made (YYYY-MM-DD unless formatted with date)")),
    "channel": _f(
        # xgettext:no-python-format
        gettext_lazy(
            "How the letter goes out: email (the body or attachment of an e-mail) or letter; segment merge and"
            " print files are always letter. Keep the address block out of e-mails with"
            ' {% if channel == "letter" %}…{% endif %}'
        )
    ),
    "unsubscribe_url": _f(gettext_lazy("The contact's unsubscribe link in an e-mail (empty in a letter)")),
}

#: Filters a template may use: name → (what it does, an example).
ALLOWED_FILTERS: dict[str, tuple[str, str]] = {
    "upper": (gettext_lazy("Capitals"), "{{ contact.surname|upper }}"),
    "lower": (gettext_lazy("Small letters"), "{{ contact.email|lower }}"),
    "title": (gettext_lazy("Capital first letter of each word"), "{{ contact.city|title }}"),
    "capitalize": (gettext_lazy("Capital first letter"), "{{ salutation_informal|capitalize }}"),
    "trim": (gettext_lazy("Without spaces at the start and end"), "{{ line.personal_text|trim }}"),
    "default": (
        gettext_lazy("The given text (or field) when the value is empty"),
        "{{ contact.job_title|default('Sir or Madam') }}",
    ),
    "replace": (gettext_lazy("Replaces a text by another"), "{{ contact.phone|replace(' ', '') }}"),
    "date": (
        gettext_lazy(
            "Formats a date with Django's date format letters (j F Y → 14 March 2025),"
            " month and day names in the letter's language"
        ),
        "{{ today|date('j F Y') }}",
    ),
}


def _shape(paths: Iterable[str]) -> dict[str, tuple[str, ...] | None]:
    shape: dict[str, tuple[str, ...] | None] = {}
    for path in paths:
        head, _, attr = path.partition(".")
        if attr:
            shape[head] = (*(shape.get(head) or ()), attr)
        else:
            shape[head] = None
    return shape


# top-level name → attribute names (None for a plain field such as `today`)
_SHAPE: dict[str, tuple[str, ...] | None] = _shape(ALLOWED_FIELDS)

# --- Errors --------------------------------------------------------------------------------------


class WordTemplateInvalid(ValidationError):
    """The document cannot be a Word template: `problems` lists every reason, one line each,
    naming the part and the offending field, filter, tag or limit."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(dict.fromkeys(problems))
        super().__init__(self.problems, code="invalid_word_template")


class LetterRenderError(Exception):
    """A letter could not be rendered from a checked template (for example a date format that
    asks for hours, or a value that makes a filter's result too long)."""


# --- The sandbox ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _guard(size: int) -> None:
    if size > MAX_VALUE_CHARS:
        raise SecurityError(f"a value in the letter would be longer than {MAX_VALUE_CHARS} characters")


def _filter_upper(value: Any) -> str:
    return _text(value).upper()


def _filter_lower(value: Any) -> str:
    return _text(value).lower()


def _filter_title(value: Any) -> str:
    return _text(value).title()


def _filter_capitalize(value: Any) -> str:
    return _text(value).capitalize()


def _filter_trim(value: Any) -> str:
    return _text(value).strip()


def _filter_default(value: Any, text: Any = "") -> Any:
    return text if value in ("", None) else value


def _filter_replace(value: Any, old: Any, new: Any) -> str:
    value, old, new = _text(value), _text(old), _text(new)
    count = value.count(old) if old else len(value) + 1
    _guard(len(value) + count * (len(new) - len(old)))
    return value.replace(old, new)


#: The language of the letter being rendered (`PreparedTemplate.render_parts`): the `date`
#: filter names months and days in it. None: the active language.
_LETTER_LANGUAGE: ContextVar[str | None] = ContextVar("letter_language", default=None)


def _filter_date(value: Any, format: Any = "Y-m-d") -> str:
    if value in ("", None):
        return ""
    if not isinstance(value, datetime.date):
        return _text(value)
    format = _text(format)
    _guard(len(format) * 40)
    language = _LETTER_LANGUAGE.get()
    try:
        if language is None:
            return dateformat.format(value, format)
        with translation.override(language):
            return dateformat.format(value, format)
    except (TypeError, ValueError) as exc:  # the reason in the reader's language, not the letter's
        message = gettext('date format "%(format)s": %(error)s') % {"format": format, "error": exc}
        raise LetterRenderError(message) from exc


_FILTERS: dict[str, Callable[..., Any]] = {
    "upper": _filter_upper,
    "lower": _filter_lower,
    "title": _filter_title,
    "capitalize": _filter_capitalize,
    "trim": _filter_trim,
    "default": _filter_default,
    "replace": _filter_replace,
    "date": _filter_date,
}
assert set(_FILTERS) == set(ALLOWED_FILTERS)


class LetterEnvironment(SandboxedEnvironment):
    """Jinja's sandbox, narrowed to what a letter needs: no globals, only our filters, no tests;
    attribute lookup reads dictionary keys only; arithmetic operators raise SecurityError (they
    are intercepted, so Jinja never folds them at compile time either)."""

    intercepted_binops = frozenset({"*", "**", "/", "//", "%", "+", "-"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.clear()
        self.filters = dict(_FILTERS)
        self.tests = {}

    def call_binop(self, context, operator, left, right):
        raise SecurityError(f"operator {operator!r} is not allowed in letters")

    def getattr(self, obj, attribute):
        if isinstance(obj, dict) and isinstance(attribute, str) and attribute in obj:
            return obj[attribute]
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj, argument):
        return self.getattr(obj, argument)


#: The environment every letter is rendered in.
ENV = LetterEnvironment(autoescape=True, undefined=StrictUndefined, auto_reload=False)
# Document properties are plain text that python-docx escapes itself.
_PROPERTY_ENV = ENV.overlay(autoescape=False)


def field_text(path: str, context: Mapping[str, Any]) -> str:
    """What `{{ path }}` of an allowed field renders to in a letter with `context` (plain
    text, as python-docx would show it; dates as YYYY-MM-DD)."""
    if path not in ALLOWED_FIELDS:
        raise ValueError(f'not a merge field: "{path}"')
    return _PROPERTY_ENV.from_string("{{ " + path + " }}").render(context)


# --- The context ----------------------------------------------------------------------------------

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _plain_value(path: str, value: Any) -> str | datetime.date:
    if value is None:
        return ""
    if isinstance(value, str):
        text = _XML_INVALID.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
        if len(text) > MAX_VALUE_CHARS:
            raise ValueError(f'merge field "{path}" is longer than {MAX_VALUE_CHARS} characters')
        return text
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, int | Decimal | float):
        return str(value)
    raise TypeError(f'merge field "{path}" must be text, a number or a date, not {type(value).__name__}')


def plain_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context a letter is rendered with: fresh dicts holding exactly the allowed fields,
    each text (XML-invalid control characters removed, at most MAX_VALUE_CHARS), a date, or a
    number as text; None becomes "". A missing or unknown field, or a value of another type
    (a model object), raises ValueError / TypeError: that is a bug in the caller."""
    unknown = sorted(set(context) - set(_SHAPE))
    if unknown:
        raise ValueError(f"not merge fields: {', '.join(unknown)}")
    plain: dict[str, Any] = {}
    for name, attributes in _SHAPE.items():
        if name not in context:
            raise ValueError(f'merge field "{name}" is missing')
        value = context[name]
        if attributes is None:
            plain[name] = _plain_value(name, value)
            continue
        if not isinstance(value, Mapping):
            raise TypeError(f'merge field "{name}" must be a dict of {", ".join(attributes)}')
        extra = sorted(set(value) - set(attributes))
        if extra:
            raise ValueError(f"not merge fields: {', '.join(f'{name}.{a}' for a in extra)}")
        group: dict[str, Any] = {}
        for attribute in attributes:
            if attribute not in value:
                raise ValueError(f'merge field "{name}.{attribute}" is missing')
            group[attribute] = _plain_value(f"{name}.{attribute}", value[attribute])
        plain[name] = group
    return plain


# --- (a) The package, from the zip directory and a hardened XML scan ----------------------------


class _Stop(Exception):
    """Raised inside the XML scan to end it with a problem."""


class _Scan:
    """An lxml parser target: builds no tree (memory stays flat), refuses a DTD, counts
    elements, and collects what the checks need (content types, relationships, field codes)."""

    def __init__(self, budget: list[int]) -> None:
        self.budget = budget
        self.content_types: list[tuple[str, str, str]] = []  # (Default|Override, key, type)
        self.relationships: list[dict[str, str]] = []
        self.instructions: list[str] = []
        self._fields: list[list[str]] = []
        self._in_instr = 0

    def doctype(self, *args) -> None:
        raise _Stop("declares a DTD (<!DOCTYPE>)")

    def start(self, tag, attrib) -> None:
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise _Stop(f"the XML parts hold over {MAX_XML_ELEMENTS:,} elements")
        local = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if local in ("Default", "Override"):
            key = attrib.get("Extension") if local == "Default" else attrib.get("PartName")
            self.content_types.append((local, (key or "").lower(), attrib.get("ContentType", "")))
        elif local == "Relationship":
            self.relationships.append(dict(attrib))
        elif local == "fldChar":
            kind = next((v for k, v in attrib.items() if k.rpartition("}")[2] == "fldCharType"), "")
            if kind == "begin":
                self._fields.append([])
            elif kind == "end" and self._fields:
                self.instructions.append("".join(self._fields.pop()))
        elif local in ("instrText", "delInstrText"):
            self._in_instr += 1
        elif local == "fldSimple":
            self.instructions += [v for k, v in attrib.items() if k.rpartition("}")[2] == "instr"]

    def end(self, tag) -> None:
        local = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if local in ("instrText", "delInstrText"):
            self._in_instr -= 1

    def data(self, text: str) -> None:
        if self._in_instr:
            if self._fields:
                self._fields[-1].append(text)
            else:
                self.instructions.append(text)

    def comment(self, text) -> None:
        pass

    def pi(self, target, data=None) -> None:
        pass

    def close(self) -> _Scan:
        self.instructions += ["".join(parts) for parts in self._fields]
        return self


def _scan_xml(zf: zipfile.ZipFile, name: str, budget: list[int]) -> _Scan:
    """Parse one XML part in chunks with a parser that resolves no entities, loads no DTD and
    uses no network; raises _Stop (or XMLSyntaxError) with the reason."""
    scan = _Scan(budget)
    parser = hardened_parser(target=scan)
    with zf.open(name) as stream:
        while chunk := stream.read(64 * 1024):
            parser.feed(chunk)
    return parser.close()


def _mb(size: int) -> str:
    # Rounded here: number_format cuts the decimals off (5.96 would read "5.9").
    return gettext("%(size)s MB") % {"size": number_format(round(size / MB, 1), decimal_pos=1)}


def file_size_problem(size: int) -> str | None:
    """The problem with a file of `size` bytes as a Word template, if any (check it before
    reading an upload or a file into memory)."""
    if size > MAX_FILE_BYTES:
        return gettext("the file is %(size)s, over the limit of %(limit)s") % {
            "size": _mb(size),
            "limit": _mb(MAX_FILE_BYTES),
        }
    return None


def check_package(data: bytes) -> list[str]:
    """Every reason the bytes are not a safe .docx package, one line each; empty when they are.

    Sizes, part count and compression ratios come from the zip directory, before anything is
    unpacked (Python's zipfile never reads more than a part's declared size, so the directory
    cannot lie about it). Only then are the XML parts read, streamed through a parser that
    builds no tree: a DTD (XXE, billion laughs) is "invalid template", so are malformed XML
    and too many elements. python-docx and docxtpl are not used here.
    """
    if problem := file_size_problem(len(data)):
        return [problem]
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return [gettext("not a Word document (.docx): the file is not a zip package")]

    problems: list[str] = []
    if len(infos) > MAX_PARTS:
        problems.append(f"the package holds {len(infos)} parts, over the limit of {MAX_PARTS}")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        problems.append(f"the package unpacks to {_mb(unpacked)}, over the limit of {_mb(MAX_UNPACKED_BYTES)}")
    names: set[str] = set()
    for info in infos:
        lower = info.filename.lower()
        if lower in names:
            problems.append(f"{info.filename}: the part is in the package twice")
        names.add(lower)
        if info.flag_bits & 0x1:
            problems.append(f"{info.filename}: the part is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            problems.append(f"{info.filename}: unsupported compression")
        if info.file_size > RATIO_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.append(
                f"{info.filename}: suspicious compression ({_mb(info.file_size)} packed into "
                f"{info.compress_size:,} bytes)"
            )
        if lower.rpartition("/")[2] in _ACTIVE_PART_NAMES:
            problems.append(
                gettext("%(part)s: macros are not allowed (save the document as .docx)") % {"part": info.filename}
            )
    if problems:
        return problems
    if "[content_types].xml" not in names:
        return [gettext("not a Word document (.docx): [Content_Types].xml is missing")]

    budget = [MAX_XML_ELEMENTS]
    try:
        types = _scan_xml(zf, next(i.filename for i in infos if i.filename.lower() == "[content_types].xml"), budget)
    except (_Stop, etree.XMLSyntaxError) as exc:
        return [f"invalid template: [Content_Types].xml {_reason(exc)}"]
    defaults = {key: ct.lower() for kind, key, ct in types.content_types if kind == "Default"}
    overrides = {key.lstrip("/"): ct.lower() for kind, key, ct in types.content_types if kind == "Override"}
    for *_, ct in types.content_types:
        if any(word in ct.lower() for word in _ACTIVE_CT_WORDS):
            problems.append(
                gettext("macros and active content are not allowed: content type %(type)s (save as .docx)")
                % {"type": ct}
            )
    if _MAIN_CT not in overrides.values() and not problems:
        problems.append(gettext("not a Word document (.docx): it has no main document part"))

    for info in infos:
        name, lower = info.filename, info.filename.lower()
        if lower == "[content_types].xml" or name.endswith("/"):
            continue
        ct = overrides.get(lower, defaults.get(lower.rpartition(".")[2], ""))
        if ct in _RENDERED_CTS and info.file_size > MAX_RENDERED_PART_BYTES:
            problems.append(f"{name}: {_mb(info.file_size)}, over the limit of {_mb(MAX_RENDERED_PART_BYTES)}")
            continue
        # Images (an SVG logo may well declare a DTD) are never parsed by python-docx or docxtpl.
        if not (lower.endswith(".rels") or ct.endswith("xml")) or ct.startswith("image/"):
            continue
        try:
            scan = _scan_xml(zf, name, budget)
        except (_Stop, etree.XMLSyntaxError) as exc:
            problems.append(f"invalid template: {name} {_reason(exc)}")
            if budget[0] < 0:
                break
            continue
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            problems.append(f"invalid template: {name} cannot be unpacked")
            continue
        problems += _relationship_problems(name, scan.relationships)
        for instruction in scan.instructions:
            if match := _LOADING_FIELDS.search(instruction):
                problems.append(
                    f"{name}: the field {match.group(1).upper()} loads content from outside the document; "
                    "it is not allowed"
                )
    return problems


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Stop):
        return str(exc)
    return f"is not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})"


def _relationship_problems(name: str, relationships: list[dict[str, str]]) -> list[str]:
    problems = []
    for rel in relationships:
        kind = rel.get("Type", "").rpartition("/")[2]
        if kind == "aFChunk":
            problems.append(f"{name}: imported content (altChunk {rel.get('Target', '')}) is not allowed")
        elif rel.get("TargetMode", "").lower() == "external" and kind != "hyperlink":
            problems.append(
                f"{name}: external content is not allowed ({kind} → {rel.get('Target', '')}); "
                "only hyperlinks may point outside the document"
            )
    return problems


# --- (b) The Jinja sources docxtpl renders, and their static check -------------------------------


@dataclass
class _Source:
    part: str  # zip member name, e.g. word/header1.xml
    kind: str  # body | xml | raw | property
    text: str  # the Jinja source, exactly as docxtpl renders it
    prop: str = ""
    tree: nodes.Template | None = None
    template: Template | None = None
    fields: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.part} ({self.prop})" if self.prop else self.part


_OPENERS = (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))
_MERGE_SPLIT_BRACES = re.compile(r"(?<={)(<[^>]*>)+(?=[\{%\#])|(?<=[%\}\#])(<[^>]*>)+(?=\})", re.DOTALL)


def _tag_scan_cost(xml: str) -> int:
    """How far docxtpl's tag regexes scan: from each opener to its closer (an unclosed one scans
    to the end of the part, once per opener). Bounded so a crafted part cannot stall patch_xml."""
    xml = _MERGE_SPLIT_BRACES.sub("", xml)
    cost = 0
    for opener, closer in _OPENERS:
        start = xml.find(opener)
        while start != -1:
            end = xml.find(closer, start + 2)
            cost += (len(xml) if end == -1 else end) - start
            if cost > MAX_TAG_SCAN:
                return cost
            start = xml.find(opener, start + 2)
    return cost


def _patched(tpl: DocxTemplate, part: str, xml: str, kind: str) -> _Source:
    if _tag_scan_cost(xml) > MAX_TAG_SCAN:
        raise WordTemplateInvalid([f"{part}: too many unclosed template tags"])
    text = tpl.patch_xml(xml)
    # What DocxTemplate.render_xml_part does before compiling.
    text = re.sub(r"<w:p([ >])", r"\n<w:p\1", text)
    return _Source(part, kind, text)


def _member(partname: str) -> str:
    return str(partname).lstrip("/")


def _open_sources(data: bytes) -> tuple[DocxTemplate, list[_Source]]:
    """Open the (checked) package with python-docx and build the Jinja source of every part
    docxtpl renders, with docxtpl's own patching."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    tpl = DocxTemplate(io.BytesIO(data))
    tpl.init_docx()
    document_part = tpl.docx.part
    sources = [_patched(tpl, _member(document_part.partname), tpl.get_xml(), "body")]
    seen = {sources[0].part}
    for uri in (DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
        for _, part in tpl.get_headers_footers(uri):
            name = _member(part.partname)
            if name not in seen:
                seen.add(name)
                sources.append(_patched(tpl, name, tpl.get_part_xml(part), "xml"))
    for part in document_part.package.iter_parts():
        if part.content_type == CT_FOOTNOTES and _member(part.partname) not in seen:
            seen.add(_member(part.partname))
            blob = part.blob.decode("utf-8") if isinstance(part.blob, bytes) else part.blob
            sources.append(_patched(tpl, _member(part.partname), blob, "raw"))
    try:
        core_part = document_part.package.part_related_by(RT.CORE_PROPERTIES)
    except KeyError:
        core_part = None
    if core_part is not None:
        properties = core_part.core_properties
        for prop in _PROPERTIES:
            value = getattr(properties, prop) or ""
            if "{" in value:
                sources.append(_Source(_member(core_part.partname), "property", value, prop=prop))
    return tpl, sources


_FORBIDDEN_TAGS: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.For, "{% for %} (letters have no lists)"),
    (nodes.Macro, "{% macro %}"),
    (nodes.CallBlock, "{% call %}"),
    (nodes.FilterBlock, "{% filter %}"),
    (nodes.With, "{% with %}"),
    (nodes.Assign, "{% set %}"),
    (nodes.AssignBlock, "{% set %}"),
    (nodes.Import, "{% import %}"),
    (nodes.FromImport, "{% from … import %}"),
    (nodes.Include, "{% include %}"),
    (nodes.Extends, "{% extends %}"),
    (nodes.Block, "{% block %}"),
    (nodes.EvalContextModifier, "{% autoescape %}"),
    (nodes.Scope, "{% autoescape %}"),  # the parser wraps autoescape blocks in a Scope
)
_OPERATORS = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
    nodes.Pow: "**",
    nodes.Neg: "-",
    nodes.Pos: "+",
}
_DESCRIBED = {
    nodes.Call: "a call",
    nodes.Getitem: "a subscript [...]",
    nodes.Slice: "a slice",
    nodes.List: "a list",
    nodes.Tuple: "a tuple",
    nodes.Dict: "a dict",
    nodes.Test: "a test (is …)",
    nodes.NSRef: "a namespace",
}


class _Checker:
    """Walks a template's syntax tree: every statement and expression, in every branch."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []
        self.fields: set[str] = set()

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.label}: {text}")

    def forbidden(self, what: str) -> None:
        self.problem(gettext("template uses a forbidden expression (%(what)s)") % {"what": what})

    def statement(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Template):
            for child in node.body:
                self.statement(child)
        elif isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.expression(child)
        elif isinstance(node, nodes.If):
            self.expression(node.test)
            for child in (*node.body, *node.elif_, *node.else_):
                self.statement(child)
        else:
            tag = next((text for cls, text in _FORBIDDEN_TAGS if isinstance(node, cls)), None)
            self.problem(gettext("the tag %(tag)s is not allowed") % {"tag": tag or type(node).__name__})

    def expression(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Const):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                self.forbidden("a constant of an unknown kind")
        elif isinstance(node, nodes.Name | nodes.Getattr):
            self.field(node)
        elif isinstance(node, nodes.Filter):
            if node.node is None:
                self.problem(gettext("the tag %(tag)s is not allowed") % {"tag": "{% filter %}"})
                return
            self.expression(node.node)
            if node.name not in ALLOWED_FILTERS:
                self.problem(gettext('unknown filter "%(name)s"') % {"name": node.name})
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                self.forbidden("*args or **kwargs")
            for argument in node.args:
                self.expression(argument)
            for keyword in node.kwargs:
                self.expression(keyword.value)
        elif isinstance(node, nodes.Concat):
            for child in node.nodes:
                self.expression(child)
        elif isinstance(node, nodes.CondExpr):
            self.expression(node.test)
            self.expression(node.expr1)
            if node.expr2 is not None:
                self.expression(node.expr2)
        elif isinstance(node, nodes.And | nodes.Or):
            self.expression(node.left)
            self.expression(node.right)
        elif isinstance(node, nodes.Not):
            self.expression(node.node)
        elif isinstance(node, nodes.Compare):
            self.expression(node.expr)
            for operand in node.ops:
                self.expression(operand.expr)
        elif type(node) in _OPERATORS:
            self.forbidden(f'operator "{_OPERATORS[type(node)]}"')
        else:
            self.forbidden(_DESCRIBED.get(type(node), type(node).__name__))

    def field(self, node: nodes.Name | nodes.Getattr) -> None:
        names: list[str] = []
        while isinstance(node, nodes.Getattr):
            names.append(node.attr)
            node = node.node
        if not isinstance(node, nodes.Name):
            self.forbidden("an attribute of something that is not a field")
            self.expression(node)
            return
        names.append(node.name)
        path = ".".join(reversed(names))
        if any(name.startswith("_") for name in names):
            self.forbidden(f'"{path}": names starting with "_"')
        elif path not in ALLOWED_FIELDS:
            self.problem(gettext('unknown field "%(path)s"') % {"path": path})
        else:
            self.fields.add(path)


def _count_tags(text: str) -> int:
    return text.count("{{") + text.count("{%")


def _check_sources(sources: list[_Source]) -> list[str]:
    """Parse every source in the sandbox and check its syntax tree (statically: every branch)."""
    problems: list[str] = []
    tags = sum(_count_tags(source.text) for source in sources)
    if tags > MAX_TAGS:
        return [
            gettext("the template has %(tags)s tags, over the limit of %(limit)s")
            % {"tags": grouped(tags), "limit": grouped(MAX_TAGS)}
        ]
    for source in sources:
        env = _PROPERTY_ENV if source.kind == "property" else ENV
        try:
            source.tree = env.parse(source.text)
        except TemplateSyntaxError as exc:
            problems.append(
                gettext("%(part)s: template syntax error: %(error)s") % {"part": source.label, "error": exc.message}
            )
            continue
        except (TemplateError, ValueError, RecursionError, MemoryError) as exc:
            problems.append(
                gettext("%(part)s: template syntax error: %(error)s") % {"part": source.label, "error": exc}
            )
            continue
        checker = _Checker(source.label)
        checker.statement(source.tree)
        problems += checker.problems
        source.fields = checker.fields
    return problems


# --- (d) Preparing and rendering -----------------------------------------------------------------


@dataclass
class RenderedLetter:
    """One letter: `parts` maps each rendered zip member to its new bytes; `body` is the
    rendered `<w:body>` element as XML text (for combining many letters into one document)."""

    body: str
    parts: dict[str, bytes] = field(default_factory=dict)


class PreparedTemplate:
    """A checked template, opened, patched and compiled once, that renders any number of letters.

    Thread-safe for rendering. Not picklable: each worker process prepares its own.
    """

    def __init__(self, data: bytes, tpl: DocxTemplate, sources: list[_Source]) -> None:
        self.sha256 = hashlib.sha256(data).hexdigest()
        # Every field the template names, in any part or branch (checked statically).
        self.fields: frozenset[str] = frozenset().union(*(source.fields for source in sources))
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            self._members = [_ZipMember.copied(data, info) for info in zf.infolist()]
            core_name = sources[-1].part if sources[-1].kind == "property" else None
            core_bytes = zf.read(core_name) if core_name else b""
        for source in sources:
            env = _PROPERTY_ENV if source.kind == "property" else ENV
            source.template = env.from_string(source.tree)
        self._sources = [s for s in sources if s.kind != "property"]
        self._properties = [s for s in sources if s.kind == "property"]
        self._listing = tpl.resolve_listing
        body = next(s for s in sources if s.kind == "body")
        # document.xml around its body (as python-docx would write it): each letter's rendered
        # body goes between the two halves.
        root = copy.deepcopy(tpl.docx.element)
        old_body = root.body
        marker = etree.SubElement(root, old_body.tag)
        root.replace(old_body, marker)
        skeleton = etree.tostring(root, encoding="unicode")
        marker_text = f"<{old_body.prefix}:body/>" if old_body.prefix else "<body/>"
        before, found, after = skeleton.partition(marker_text)
        if not found:
            raise WordTemplateInvalid([f"{body.part}: the document body could not be located"])
        self._document_before, self._document_after = _XML_DECLARATION + before, after
        self._core = (core_name, core_bytes) if core_name else None

    def _render_source(self, source: _Source, context: dict[str, Any]) -> str:
        xml = source.template.render(context)
        # What DocxTemplate.render_xml_part does after rendering.
        xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)
        xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        return self._listing(xml)

    def render_parts(self, context: Mapping[str, Any], *, language: str | None = None) -> RenderedLetter:
        """Render every part of one letter; raises LetterRenderError when the template cannot
        render with these values, ValueError/TypeError when the context is not plain_context's.
        `language` (a Django language code, crm.languages.letter_language) is the letter's: the
        `date` filter names months and days in it; None keeps the active language."""
        plain = plain_context(context)
        letter = RenderedLetter(body="")
        language_token = _LETTER_LANGUAGE.set(language)
        try:
            for source in self._sources:
                xml = self._render_source(source, plain)
                if source.kind == "body":
                    letter.body = xml
                    data = (self._document_before + xml + self._document_after).encode("utf-8")
                elif source.kind == "xml":
                    data = (_XML_DECLARATION + xml).encode("utf-8")
                else:
                    data = xml.encode("utf-8")
                etree.fromstring(data, PARSER)
                letter.parts[source.part] = data
            if self._core is not None:
                letter.parts[self._core[0]] = self._render_properties(plain)
        except SecurityError as exc:
            raise LetterRenderError(gettext("template uses a forbidden expression (%(what)s)") % {"what": exc}) from exc
        except TemplateError as exc:
            raise LetterRenderError(gettext("template error: %(error)s") % {"error": exc}) from exc
        except etree.XMLSyntaxError as exc:
            raise LetterRenderError(
                gettext("the letter is not a valid Word document (%(error)s)") % {"error": exc}
            ) from exc
        finally:
            _LETTER_LANGUAGE.reset(language_token)
        return letter

    def _render_properties(self, context: dict[str, Any]) -> bytes:
        from docx.opc.coreprops import CoreProperties
        from docx.opc.oxml import serialize_part_xml
        from docx.oxml.parser import parse_xml

        element = parse_xml(self._core[1])
        properties = CoreProperties(element)
        for source in self._properties:
            setattr(properties, source.prop, source.template.render(context)[:255])
        return serialize_part_xml(element)

    def render(self, context: Mapping[str, Any], *, language: str | None = None) -> bytes:
        """One letter as .docx bytes: the template's package with its rendered parts replaced
        (`language`: as for `render_parts`)."""
        return self.package(self.render_parts(context, language=language))

    def package(self, letter: RenderedLetter) -> bytes:
        """The .docx of a rendered letter: the template's parts in their order, the unchanged ones
        copied still compressed (compressing them again was most of a letter's cost)."""
        members = [
            _ZipMember.deflated(member.name, member.date_time, letter.parts[member.name])
            if member.name in letter.parts
            else member
            for member in self._members
        ]
        return _write_zip(members)


@dataclass(frozen=True)
class _ZipMember:
    name: str
    date_time: tuple[int, ...]
    method: int
    crc: int
    size: int
    external_attr: int
    payload: bytes  # compressed as `method` says

    @classmethod
    def copied(cls, data: bytes, info: zipfile.ZipInfo) -> _ZipMember:
        """The member's bytes as stored in `data` (a checked package: not encrypted, stored or
        deflated), located through its local header."""
        offset = info.header_offset
        if data[offset : offset + 4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"{info.filename}: bad local header")
        name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
        start = offset + 30 + name_length + extra_length
        return cls(
            info.filename,
            info.date_time,
            info.compress_type,
            info.CRC,
            info.file_size,
            info.external_attr,
            data[start : start + info.compress_size],
        )

    @classmethod
    def deflated(cls, name: str, date_time: tuple[int, ...], content: bytes) -> _ZipMember:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = compressor.compress(content) + compressor.flush()
        return cls(name, date_time, zipfile.ZIP_DEFLATED, zlib.crc32(content), len(content), 0, payload)


def _dos_date_time(date_time: tuple[int, ...]) -> tuple[int, int]:
    year, month, day, hour, minute, second = (*date_time, 0, 0, 0, 0, 0, 0)[:6]
    if year < 1980:
        year, month, day, hour, minute, second = 1980, 1, 1, 0, 0, 0
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def _write_zip(members: list[_ZipMember]) -> bytes:
    """A zip archive of `members` (no ZIP64: a checked template is far below its limits)."""
    out = io.BytesIO()
    directory = []
    for member in members:
        name = member.name.encode("utf-8")
        flags = 0x800 if not member.name.isascii() else 0
        time, date = _dos_date_time(member.date_time)
        fields = (20, flags, member.method, time, date, member.crc, len(member.payload), member.size, len(name))
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0))
        out.write(name)
        out.write(member.payload)
        directory.append(struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIIIH", *fields))
        directory[-1] += struct.pack("<HHHHII", 0, 0, 0, 0, member.external_attr, offset) + name
    start = out.tell()
    for entry in directory:
        out.write(entry)
    size = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), size, start, 0))
    return out.getvalue()


def prepare(data: bytes) -> PreparedTemplate:
    """Check the template (package and every tag, statically) and compile it for rendering;
    raises WordTemplateInvalid with every problem. Does not trial-render (see
    `template_problems`), so preparing a stored template for a merge job is cheap."""
    problems = check_package(data)
    if problems:
        raise WordTemplateInvalid(problems)
    try:
        tpl, sources = _open_sources(data)
    except WordTemplateInvalid:
        raise
    except Exception as exc:  # python-docx on a package it cannot read: KeyError, ValueError, XML errors
        raise WordTemplateInvalid(
            [gettext("invalid template: the document cannot be read (%(error)s)") % {"error": type(exc).__name__}]
        ) from exc
    problems = _check_sources(sources)
    if problems:
        raise WordTemplateInvalid(problems)
    try:
        return PreparedTemplate(data, tpl, sources)
    except SecurityError as exc:
        raise WordTemplateInvalid([gettext("template uses a forbidden expression (%(what)s)") % {"what": exc}]) from exc
    except TemplateError as exc:
        raise WordTemplateInvalid([gettext("template error: %(error)s") % {"error": exc}]) from exc


def template_problems(data: bytes) -> list[str]:
    """Every reason `data` cannot be stored as a Word template, one line each (empty: it can):
    the package checks, the static check of every tag, then one sandboxed trial render with
    the sample line's fields (`merge_fields.sample_context`) whose result must open in
    python-docx."""
    from .merge_fields import sample_context  # it builds its fields with plain_context (below)

    try:
        prepared = prepare(data)
    except WordTemplateInvalid as exc:
        return exc.problems
    try:
        out = prepared.render(sample_context())
        from docx import Document as open_document

        open_document(io.BytesIO(out))
    except LetterRenderError as exc:
        return [gettext("the trial render with sample data failed: %(error)s") % {"error": exc}]
    except Exception as exc:  # the rendered letter does not open
        return [
            gettext("the trial render with sample data made a document that does not open (%(error)s)")
            % {"error": type(exc).__name__}
        ]
    return []


def validate_template(data: bytes) -> None:
    """Raise WordTemplateInvalid listing every problem of `data` as a Word template."""
    problems = template_problems(data)
    if problems:
        raise WordTemplateInvalid(problems)


_PREPARED: OrderedDict[str, PreparedTemplate] = OrderedDict()
_PREPARED_LOCK = threading.Lock()
PREPARED_CACHE_SIZE = 8


def prepared_template(template_bytes: bytes) -> PreparedTemplate:
    """The prepared template of `template_bytes`, from a small cache keyed by SHA-256."""
    sha256 = hashlib.sha256(template_bytes).hexdigest()
    with _PREPARED_LOCK:
        prepared = _PREPARED.get(sha256)
        if prepared is not None:
            _PREPARED.move_to_end(sha256)
    if prepared is None:
        prepared = prepare(template_bytes)
        with _PREPARED_LOCK:
            _PREPARED[sha256] = prepared
            while len(_PREPARED) > PREPARED_CACHE_SIZE:
                _PREPARED.popitem(last=False)
    return prepared


def salutation_kinds(fields: Iterable[str]) -> list[str]:
    """The salutation types ("formal", "informal") a template with these fields uses."""
    return [kind for kind in ("formal", "informal") if f"salutation_{kind}" in fields]


def render_docx(template_bytes: bytes, context: Mapping[str, Any], *, language: str | None = None) -> bytes:
    """One letter from `template_bytes` (checked and prepared as `prepare` does). The last few
    prepared templates are kept by SHA-256, so previews of one template's letters prepare it
    once; a merge job should still `prepare` once and call `render` for each letter."""
    return prepared_template(template_bytes).render(context, language=language)
