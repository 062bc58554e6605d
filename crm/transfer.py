"""Contact import and export (CSV, JSON): CONTRACT.md, "Set-up and contacts".

- `contacts_import_csv` creates or updates contacts by `no` from a CSV file, all or nothing;
- `contacts_export_csv` / `contacts_export_json` write contacts with the same columns.

They share this module because they share one column list and one escaping rule. The
management commands (import_contacts, export_contacts) and the import/export pages are thin
wrappers around these functions, so a file behaves the same in the browser and in a batch job.
Rows are checked the way every import checks its records (`crm.importing`: a `RecordCheck` per
row, every problem collected as `line N: field: message`, nothing written on error). The set-up
import (reference data, interaction templates) is `crm.setup_import` and `interactions.setup_import`.

The import streams: a file of a million contacts is read in passes of `CHUNK_ROWS` rows, never
held whole, so its memory stays bounded (see `contacts_import_csv`). The size limit
`CRM_CSV_MAX_BYTES` is the upload page's (`crm.transfer_forms`), not the import's.

Decisions where CONTRACT.md and SPEC.md are silent (written down here, tested in
tests/crm/test_transfer.py):
- Header names are matched after trimming spaces and lower-casing; `type` is the one required
  column. Columns left out of the header are left unchanged on updated contacts (defaults on new
  ones); a classification column that is present replaces that kind for every contact of the file.
- An import does not change the type of an existing contact (that rule lives on the contact page,
  SPEC F1.1 "Changing Type is refused …"): a row that tries is an error.
- A company's `company_no` is its own number in the export; on import it may be blank or its own
  number.
- Cells are trimmed of surrounding white space, like the contact forms do; tabs inside a value
  are allowed (the model allows them), every other control character is refused, and a newline
  or carriage return is allowed in `address` and `address_2` only.
- An all-empty row is skipped. `exclude_from_segment` blank means false. Header, booleans and
  enums are read case-insensitively; codes and numbers are matched exactly.
- Rows with a blank `no` are numbered in file order.
- The JSON export gives the four classification columns as lists of codes.
- Consent (CONTRACT "Consent per channel"): `email_consent`, `postal_consent`, `phone_consent`
  take `granted`, `withdrawn` or `unknown` (any case); a blank cell or a column left out leaves
  the channel as it is, and a new contact starts `unknown`. Each channel whose state the import
  changes gets one history row (`crm.consent.record_bulk_changes`) with the importing user
  (none for the command line) and the source `import <file name>` (`import` when the caller
  names no file), so the card says which file set it. Setting a channel to the state it has
  writes no history; the states are compared and written in the import's transaction, with
  the contacts' rows locked, so an unsubscribe at the same time is never written over with a
  state read before it.
"""

from __future__ import annotations

import codecs
import collections
import csv
import dataclasses
import datetime
import functools
import io
import itertools
import json
import operator
import re
from collections import defaultdict
from itertools import batched
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Max
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .consent import SOURCE_MAX_LENGTH, record_bulk_changes
from .importing import (
    BATCH_SIZE,
    ImportFailed,
    Problem,
    ProblemLog,
    RecordCheck,
    chunked_in,
    known_codes,
    short,
    too_long,
)
from .models import (
    CONSENT_FIELDS,
    CONTROL_CHARACTERS,
    PHONE_VALIDATOR,
    BusinessRelation,
    ConsentState,
    Contact,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    ContactType,
    CorrespondenceType,
    Country,
    IndustryGroup,
    JobResponsibility,
    Language,
    MailingGroup,
    NumberSeries,
    Salesperson,
    Salutation,
    Territory,
)
from .permissions import require
from .services import (
    ADDRESS_FIELDS,
    CONTACT_SERIES,
    INHERITED_FIELDS,
    company_inherited_values,
    company_propagate_inherited,
    contact_fill_from_company,
    number_series_next,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import BinaryIO, TextIO

    from django.db.models import QuerySet

__all__ = [
    "COLUMNS",
    "ImportFailed",
    "ImportResult",
    "Problem",
    "contacts_export_csv",
    "contacts_export_json",
    "contacts_import_csv",
    "csv_escape",
    "csv_size_problem",
    "csv_unescape",
]

# Rows checked and written together: one lookup of their existing contacts, one INSERT and one
# UPDATE batch, the classification links of each kind.
CHUNK_ROWS = BATCH_SIZE
# Bytes read from the file at a time.
READ_BYTES = 1024 * 1024

COLUMNS = (
    "no",
    "type",
    "company_no",
    "name",
    "first_name",
    "middle_name",
    "surname",
    "job_title",
    "address",
    "address_2",
    "post_code",
    "city",
    "country",
    "territory",
    "language",
    "salutation",
    "email",
    "phone",
    "correspondence_type",
    "exclude_from_segment",
    "salesperson",
    "industry_groups",
    "business_relations",
    "mailing_groups",
    "job_responsibilities",
    "email_consent",
    "postal_consent",
    "phone_consent",
)
REQUIRED_COLUMNS = ("type",)
TEXT_COLUMNS = (
    "name",
    "first_name",
    "middle_name",
    "surname",
    "job_title",
    "address",
    "address_2",
    "post_code",
    "city",
    "email",
    "phone",
)
MULTILINE_COLUMNS = frozenset({"address", "address_2"})
CONTACT_TYPES = frozenset(ContactType.values)
CORRESPONDENCE_TYPES = frozenset(CorrespondenceType.values)
# Consent column → channel; the columns are named after the contact's fields.
CONSENT_COLUMNS = {field: channel for channel, field in CONSENT_FIELDS.items()}
CONSENT_STATES = frozenset(ConsentState.values)
IMPORT_SOURCE = "import"
NAME_PARTS = ("first_name", "middle_name", "surname")
CODE_COLUMNS: dict[str, type[models.Model]] = {
    "country": Country,
    "territory": Territory,
    "language": Language,
    "salutation": Salutation,
    "salesperson": Salesperson,
}


@dataclasses.dataclass(frozen=True)
class Classification:
    column: str
    link_model: type[models.Model]
    field: str  # the link model's FK to the code table
    code_model: type[models.Model]
    only_for: str | None  # ContactType value, or None for any contact
    label: str
    wrong_type: str = ""  # the problem of a row of the other contact type (when only_for is set)


CLASSIFICATIONS = (
    Classification(
        "industry_groups",
        ContactIndustryGroup,
        "industry_group",
        IndustryGroup,
        "company",
        "industry groups",
        gettext_lazy("industry groups belong to companies only (this row is a person)"),
    ),
    Classification(
        "business_relations",
        ContactBusinessRelation,
        "business_relation",
        BusinessRelation,
        "company",
        "business relations",
        gettext_lazy("business relations belong to companies only (this row is a person)"),
    ),
    Classification("mailing_groups", ContactMailingGroup, "mailing_group", MailingGroup, None, "mailing groups"),
    Classification(
        "job_responsibilities",
        ContactJobResponsibility,
        "job_responsibility",
        JobResponsibility,
        "person",
        "job responsibilities",
        gettext_lazy("job responsibilities belong to persons only (this row is a company)"),
    ),
)
CLASSIFICATION_BY_COLUMN = {c.column: c for c in CLASSIFICATIONS}

# The contact fields an import may change; compared to decide whether an update is needed.
UPDATE_FIELDS = (
    "company_id",
    "name",
    "first_name",
    "middle_name",
    "surname",
    "job_title",
    "address",
    "address_2",
    "post_code",
    "city",
    "county",
    "country_id",
    "territory_id",
    "language_id",
    "salutation_id",
    "email",
    "phone",
    "correspondence_type",
    "exclude_from_segment",
    "salesperson_id",
)

# CSV formula injection (CONTRACT.md): a value that a spreadsheet would run as a formula gets
# one leading apostrophe on export; the import removes exactly that one.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _needs_escape(value: str) -> bool:
    return value[:1] in FORMULA_TRIGGERS or (value[:1] == "'" and value[1:2] in FORMULA_TRIGGERS)


def csv_escape(value: str) -> str:
    """The cell text for `value`: one `'` before a value a spreadsheet would take for a formula."""
    return "'" + value if value and _needs_escape(value) else value


def csv_unescape(value: str) -> str:
    """Undo `csv_escape`: drop one leading `'` only where the export would have put it."""
    return value[1:] if value[:1] == "'" and _needs_escape(value[1:]) else value


@dataclasses.dataclass
class ImportResult:
    """What an import did. `numbers` are the contact numbers of the file's rows, in file order
    (blank numbers replaced by the numbers drawn for them)."""

    created: int
    updated: int
    numbers: list[str]
    consent_changes: int = 0


# --------------------------------------------------------------------------------------------
# Reading the CSV file


def _format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def csv_size_problem(size: int) -> str | None:
    """The upload page's limit: the message for a file of `size` bytes over
    `settings.CRM_CSV_MAX_BYTES`, else None. Batch imports have no limit."""
    limit = settings.CRM_CSV_MAX_BYTES
    if size > limit:
        return _("the file is %(size)s; the limit is %(limit)s") % {
            "size": _format_size(size),
            "limit": _format_size(limit),
        }
    return None


def _clean(value: str) -> str:
    return csv_unescape(value.strip())


def _sniff_delimiter(header: str) -> str:
    try:
        return csv.Sniffer().sniff(header, delimiters=",;").delimiter
    except csv.Error:
        return ";" if header.count(";") > header.count(",") else ","


def _header_problems(header: list[str], line: int) -> list[Problem]:
    problems = []
    seen = set()
    for name in header:
        if not name:
            continue
        if name not in COLUMNS:
            problems.append(Problem(_('unknown column "%(name)s"') % {"name": short(name)}, line=line))
        elif name in seen:
            problems.append(Problem(_('duplicate column "%(name)s"') % {"name": name}, line=line))
        seen.add(name)
    problems.extend(
        Problem(_('missing column "%(name)s"') % {"name": name}, line=line)
        for name in REQUIRED_COLUMNS
        if name not in seen
    )
    return problems


class _CsvFile:
    """A CSV file read as records as often as the import needs: each pass streams it from the
    start, decoding and parsing `READ_BYTES` at a time."""

    def __init__(self, stream: BinaryIO, encoding: str):
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFailed([_('unknown encoding "%(encoding)s"') % {"encoding": encoding}]) from None
        self.stream = stream
        self.encoding = encoding
        self.reader: Any = None
        # A cell may be as long as an upload; our own length checks then say which field.
        csv.field_size_limit(max(csv.field_size_limit(), settings.CRM_CSV_MAX_BYTES + 1))

    def lines(self) -> Iterator[str]:
        """The text's lines with their ends (split at CR, LF or CRLF, as a file opened with newline="")."""
        self.stream.seek(0)
        decoder = codecs.getincrementaldecoder(self.encoding)()
        pending = ""
        newlines = 0  # line feeds in the bytes before this chunk, to name the line of a bad byte
        first = True
        while True:
            chunk = self.stream.read(READ_BYTES)
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                raise self._not_decoded(exc, newlines) from None
            newlines += chunk.count(b"\n")
            if first and text:
                first = False
                text = text.removeprefix("\ufeff")
            lines = io.StringIO(pending + text, newline="").readlines()
            # The last line may go on in the next chunk (a CR may be half of a CRLF).
            pending = lines.pop() if lines and not final and not lines[-1].endswith("\n") else ""
            yield from lines
            if final:
                return

    def _not_decoded(self, exc: UnicodeDecodeError, newlines: int) -> ImportFailed:
        line = newlines + exc.object.count(b"\n", 0, exc.start) + 1
        byte = exc.object[exc.start : exc.start + 1].hex().upper()
        name = "UTF-8" if self.encoding.lower().replace("_", "-") in {"utf-8", "utf-8-sig", "utf8"} else self.encoding
        return ImportFailed(
            [
                Problem(
                    _(
                        "the file is not valid %(encoding)s (byte 0x%(byte)s); save it as UTF-8 "
                        '(in Excel: "CSV UTF-8") and import it again, or choose the encoding it was saved in'
                    )
                    % {"encoding": name, "byte": byte},
                    line=line,
                )
            ]
        )

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line, cells) of every record that is not all empty, the header included; a record's
        line is the physical line it starts on (header = line 1). Raises csv.Error on bad CSV
        (`self.reader.line_num` is then the line it stopped at)."""
        lines = self.lines()
        first = next(lines, "")
        self.reader = csv.reader(
            itertools.chain([first], lines),
            delimiter=_sniff_delimiter(first.rstrip("\r\n")),
            quotechar='"',
            strict=False,
        )
        previous_end = 0
        for cells in self.reader:
            start = previous_end + 1
            previous_end = self.reader.line_num
            if any(cell.strip() for cell in cells):
                yield start, cells


# --------------------------------------------------------------------------------------------
# Import: checking and writing


def _field_max_length(name: str) -> int:
    return Contact._meta.get_field(name).max_length


MAX_LENGTHS = {name: _field_max_length(name) for name in ("no", *TEXT_COLUMNS)}
# What the first pass keeps of each numbered row: its line and kind, packed in one int.
_KINDS = {ContactType.COMPANY: 0, ContactType.PERSON: 1}
_KIND_NAMES = {0: ContactType.COMPANY, 1: ContactType.PERSON, 2: "other"}


@dataclasses.dataclass(slots=True)
class _Record:
    line: int
    index: int  # the row's position among the file's rows (0-based)
    cells: dict[str, str]


class _Row(RecordCheck):
    """Checks one CSV row's cells (trimmed and unescaped) and reads them as Contact values."""

    def __init__(self, record: _Record, problems: ProblemLog):
        super().__init__(problems, line=record.line)
        self.cells = record.cells

    def has(self, column: str) -> bool:
        return column in self.cells

    def cell(self, column: str) -> str:
        return self.cells.get(column, "")

    def text(self, column: str) -> str | None:
        """A checked text value, or None after reporting a problem."""
        return self.check_text(column, self.cell(column), MAX_LENGTHS[column], line_breaks=column in MULTILINE_COLUMNS)

    def code(self, column: str, known: set[str], max_length: int) -> str | None:
        """A known code, '' for blank, or None after reporting a problem."""
        value = self.cell(column)
        return self.check_code(column, value, known, max_length=max_length) if value else ""


@functools.cache
def _blank_contact() -> dict[str, Any]:
    return {field.attname: field.get_default() for field in Contact._meta.concrete_fields}


def _new_contact(no: str, contact_type: str) -> Contact:
    """A new, unsaved Contact with the model's defaults: what `Contact(no=…, type=…)` gives,
    copied from one blank instance's values (Model.__init__ costs ten times more, a minute
    per million rows). Contact has no __init__ of its own nor init signals to miss."""
    contact = Contact.__new__(Contact)
    contact.__dict__.update(_blank_contact())
    contact._state = ModelState()
    contact.no = no
    contact.type = contact_type
    return contact


def _snapshot(contact: Contact) -> tuple:
    return tuple(getattr(contact, field) for field in UPDATE_FIELDS)


_COMPANY_VALUES = ("pk", "no", "type", *dict.fromkeys((*INHERITED_FIELDS, *ADDRESS_FIELDS)))


class _CompanyValues(collections.namedtuple("_CompanyValues", _COMPANY_VALUES)):
    """A company as a person's row needs it: key, number, type and what a person inherits
    (`contact_fill_from_company` reads these), without building a model instance."""

    __slots__ = ()

    @staticmethod
    def queryset() -> QuerySet:
        return Contact.objects.values_list(*_COMPANY_VALUES)


@dataclasses.dataclass
class _Planned:
    record: _Record
    contact: Contact
    existing: bool
    before: tuple | None
    company: _CompanyValues | None
    classifications: dict[str, list[str]]
    consent: dict[str, str]  # consent field → the state the file gives (blank cells left out)


def import_source(file_name: str = "") -> str:
    """The consent history's source for an import of `file_name`: `import contacts.csv`
    (`import` without a name), control characters dropped, cut to the source's length."""
    name = " ".join(CONTROL_CHARACTERS.sub(" ", file_name).split())
    return f"{IMPORT_SOURCE} {name}"[:SOURCE_MAX_LENGTH].strip() if name else IMPORT_SOURCE


class _ContactImport:
    """One run of `contacts_import_csv`.

    1. `scan`: one pass over the file reads the header and checks the file's shape, and keeps
       of each row only its number, line and kind (for duplicates and `company_no` references
       to rows anywhere in the file). Then the numbers for rows with a blank `no` are drawn.
    2. `import_rows(company)`: a pass over the companies, then one over every other row, in
       chunks of CHUNK_ROWS: look up the chunk's existing contacts and companies, check each
       row, and write the chunk, companies before persons, so a person finds its company (and
       the values it inherits) in the database wherever the file lists it. Once a problem is
       found nothing more is written, but every row is still checked; the caller's transaction
       then rolls back what was written.
    """

    def __init__(self, file: _CsvFile, progress: Callable[[str], None] | None, *, user, source: str = IMPORT_SOURCE):
        self.file = file
        self.progress = progress or (lambda message: None)
        self.problems = ProblemLog()
        self.created = self.updated = self.consent_changes = 0
        self.user = user
        self.source = source

    # -- the first pass -----------------------------------------------------------------

    def scan(self) -> None:
        shape: list[Problem] = []
        self.header: list[str] | None = None
        self.index: dict[str, int] = {}  # no -> line << 2 | kind (0 company, 1 person, 2 other)
        self.numbers: list[str] = []  # every row's no, in file order ("" until drawn)
        self.blank_lines: list[int] = []  # the first lines with a blank no, for a message
        blanks = 0
        try:
            for line, cells in self.file.records():
                if self.header is None:
                    self.header = [cell.strip().lower() for cell in cells]
                    header_line = line
                    no_at = self.header.index("no") if "no" in self.header else None
                    type_at = self.header.index("type") if "type" in self.header else None
                    continue
                if len(cells) != len(self.header):
                    shape.append(
                        Problem(
                            _("%(cells)s cells, but the header has %(columns)s columns")
                            % {"cells": len(cells), "columns": len(self.header)},
                            line=line,
                        )
                    )
                    continue
                # Spreadsheets often save empty columns at the end; they may stay as long as they are empty.
                if any(cell.strip() for name, cell in zip(self.header, cells, strict=True) if not name):
                    shape.append(Problem(_("a value in a column without a name in the header"), line=line))
                no = _clean(cells[no_at]) if no_at is not None else ""
                self.numbers.append(no)
                if not no:
                    blanks += 1
                    if len(self.blank_lines) <= 10:
                        self.blank_lines.append(line)
                    continue
                kind = _KINDS.get(_clean(cells[type_at]).lower(), 2) if type_at is not None else 2
                first = self.index.setdefault(no, line << 2 | kind)
                if first >> 2 != line:
                    self.problems.add(
                        Problem(
                            _('"%(no)s" appears more than once (first on line %(first)s)')
                            % {"no": short(no), "first": first >> 2},
                            line,
                            "no",
                        )
                    )
        except csv.Error as exc:
            shape.append(
                Problem(_("the file is not valid CSV (%(error)s)") % {"error": exc}, line=self.file.reader.line_num)
            )
        if self.header is None:
            raise ImportFailed([_("the file is empty: expected a header line naming the columns")])
        shape[:0] = _header_problems(self.header, header_line)
        if shape:
            raise ImportFailed(shape)
        if blanks:
            self._draw_numbers(blanks)

    def _file_kind(self, no: str) -> str | None:
        packed = self.index.get(no)
        return None if packed is None else _KIND_NAMES[packed & 3]

    def _draw_numbers(self, count: int) -> None:
        """Give the rows with a blank `no` the next free numbers of the contact series, in file order.

        Numbers already used (typed by hand in an earlier import or in this file) are skipped:
        after a collision the series moves past the highest number of its own pattern, so the
        cost stays at a handful of queries whatever the file.
        """
        try:
            series = NumberSeries.objects.get(code=CONTACT_SERIES)
        except NumberSeries.DoesNotExist:
            lines = ", ".join(map(str, self.blank_lines[:10]))
            lines += ", …" if len(self.blank_lines) > 10 else ""
            self.problems.add(
                Problem(
                    _(
                        "the number series %(series)s is missing, so rows with a blank no cannot be "
                        "numbered (lines %(lines)s): give them a no, or ask an admin to set the series up"
                    )
                    % {"series": CONTACT_SERIES, "lines": lines}
                )
            )
            return
        numbers = number_series_next(code=CONTACT_SERIES, count=count)
        used = set(chunked_in(Contact.objects.values_list("no", flat=True), "no", numbers))
        free = [number for number in numbers if number not in used and number not in self.index]
        if len(free) < count:
            pattern = rf"^{re.escape(series.prefix)}[0-9]{{{series.digits}}}$"
            highest_db = Contact.objects.filter(no__regex=pattern).aggregate(m=Max("no"))["m"]
            typed = (no for no in self.index if re.match(pattern, no))
            highest = max(
                (int(no[len(series.prefix) :]) for no in itertools.chain([highest_db or ""], typed) if no), default=0
            )
            NumberSeries.objects.filter(code=CONTACT_SERIES, last_no__lt=highest).update(last_no=highest)
            free += number_series_next(code=CONTACT_SERIES, count=count - len(free))
        drawn = iter(free)
        self.numbers = [no or next(drawn) for no in self.numbers]

    # -- the passes that check and write --------------------------------------------------

    def prepare(self) -> None:
        """What every chunk needs: the reference codes, once."""
        self.progress("reading the codes")
        header = self.header
        self.known = {column: known_codes(model) for column, model in CODE_COLUMNS.items() if column in header}
        self.known_classifications = {
            c.column: known_codes(c.code_model) for c in CLASSIFICATIONS if c.column in header
        }
        self.now = timezone.now()
        self.statistics = _StatisticsRefresher(Contact)
        # Updated companies whose inherited values changed: their values before this import.
        self.company_old_values: dict[int, dict[str, Any]] = {}

    def rows(self, *, companies: bool) -> Iterator[_Record]:
        """The file's company rows, or all its other rows, cleaned, in file order."""
        header = self.header
        type_at = header.index("type")
        named = [(position, name) for position, name in enumerate(header) if name]
        records = self.file.records()
        next(records)  # the header
        for index, (line, cells) in enumerate(records):
            if (_clean(cells[type_at]).lower() == ContactType.COMPANY) == companies:
                yield _Record(line, index, {name: _clean(cells[position]) for position, name in named})

    def import_rows(self, *, companies: bool) -> None:
        what = "companies" if companies else "persons"
        done = 0
        for chunk in batched(self.rows(companies=companies), CHUNK_ROWS):
            own = [r.cells["no"] for r in chunk if r.cells.get("no")]
            self.existing = {c.no: c for c in chunked_in(Contact.objects.all(), "no", own)}
            self._load_companies(chunk)
            planned = [item for record in chunk if (item := self._plan(record)) is not None]
            if not self.problems:
                self._write(planned)
            done += len(chunk)
            self.progress(f"{what}: {done:,} rows checked" + ("" if self.problems else " and written"))

    def _load_companies(self, chunk: tuple[_Record, ...]) -> None:
        """The companies the chunk's persons name (by `company_no`, or, when the file has no
        such column, the companies of its existing persons), with what a person inherits."""
        if "company_no" in self.header:
            nos = {r.cells["company_no"] for r in chunk if r.cells.get("company_no")}
            found = chunked_in(_CompanyValues.queryset(), "no", nos)
        else:
            ids = {c.company_id for c in self.existing.values() if c.company_id}
            found = chunked_in(_CompanyValues.queryset(), "pk", ids)
        self.companies = [_CompanyValues(*values) for values in found]
        self.companies_by_no = {c.no: c for c in self.companies}
        self.companies_by_id = {c.pk: c for c in self.companies}

    def _plan(self, record: _Record) -> _Planned | None:
        row = _Row(record, self.problems)
        cells = record.cells
        no = cells.get("no", "")
        if len(no) > MAX_LENGTHS["no"]:
            row.error("no", too_long(MAX_LENGTHS["no"], len(no)))
        elif no and (CONTROL_CHARACTERS.search(no) or "\n" in no or "\r" in no or "\t" in no):
            row.error("no", _("control characters are not allowed"))
        contact_type = cells.get("type", "").lower()
        if contact_type not in CONTACT_TYPES:
            row.error(
                "type",
                _('unknown type "%(value)s" (use company or person)') % {"value": short(cells.get("type", ""))}
                if cells.get("type")
                else _("required (company or person)"),
            )
            return None
        existing = self.existing.get(no) if no else None
        if existing is not None and existing.type != contact_type:
            row.error(
                "type",
                (
                    _(
                        '"%(no)s" is a company; an import does not change the type of a contact '
                        "(change it on the contact page)"
                    )
                    if existing.type == ContactType.COMPANY
                    else _(
                        '"%(no)s" is a person; an import does not change the type of a contact '
                        "(change it on the contact page)"
                    )
                )
                % {"no": no},
            )
            return None
        contact = existing if existing is not None else _new_contact(no, contact_type)
        before = _snapshot(existing) if existing is not None else None

        values: dict[str, Any] = {}
        for column in TEXT_COLUMNS:
            if row.has(column):
                values[column] = row.text(column)
        if values.get("email"):
            try:
                validate_email(values["email"])
            except ValidationError as exc:
                row.error("email", exc.messages[0])
        if values.get("phone"):
            try:
                PHONE_VALIDATOR(values["phone"])
            except ValidationError as exc:
                row.error("phone", exc.messages[0])
        for column, model in CODE_COLUMNS.items():
            if row.has(column):
                values[f"{column}_id"] = row.code(column, self.known[column], model._meta.pk.max_length) or None
        if row.has("correspondence_type"):
            value = row.cell("correspondence_type").lower()
            if value and value not in CORRESPONDENCE_TYPES:
                row.error(
                    "correspondence_type",
                    _('unknown value "%(value)s" (use hard_copy, email or leave it blank)')
                    % {"value": short(row.cell("correspondence_type"))},
                )
            values["correspondence_type"] = value
        if row.has("exclude_from_segment"):
            value = row.cell("exclude_from_segment").lower()
            if value not in {"", "true", "false"}:
                row.error(
                    "exclude_from_segment",
                    _('not a yes/no value "%(value)s" (use true or false)')
                    % {"value": short(row.cell("exclude_from_segment"))},
                )
            values["exclude_from_segment"] = value == "true"
        consent = self._consent(row)
        company = self._company(row, contact, contact_type)
        classifications = self._classifications(row, contact_type)
        if not row.ok:
            return None

        name_given = bool(values.get("name"))
        parts_given = any(values.get(part) for part in NAME_PARTS)
        for field, value in values.items():
            setattr(contact, field, value)
        if company is False:  # only when the company's own row failed: the import fails anyway
            company = None
        if contact_type == ContactType.PERSON and name_given != parts_given:
            contact.apply_name_rule(name_typed=name_given)
            if len(contact.name) > MAX_LENGTHS["name"]:
                row.error(
                    "name",
                    _("longer than %(limit)s characters when built from the name parts")
                    % {"limit": MAX_LENGTHS["name"]},
                )
            for part in NAME_PARTS:
                if len(getattr(contact, part)) > MAX_LENGTHS[part]:
                    row.error(
                        part,
                        _("longer than %(limit)s characters when split from the name") % {"limit": MAX_LENGTHS[part]},
                    )
        if not contact.name:
            what = (
                _("required (the name, or first_name and surname)")
                if contact_type == ContactType.PERSON
                else _("required")
            )
            row.error("name", what)
        if company is not None:
            contact_fill_from_company(contact=contact, company=company)
        if not row.ok:
            return None
        if not contact.no:
            contact.no = self.numbers[record.index]
        if existing is None:
            # A new contact is inserted with its states (the rest start unknown); an existing
            # one's states are written by `_write_consent`, against its locked row.
            for field, state in consent.items():
                setattr(contact, field, state)
        return _Planned(record, contact, existing is not None, before, company, classifications, consent)

    def _consent(self, row: _Row) -> dict[str, str]:
        """The consent states the row gives: {field: state}, blank cells left out."""
        states = {}
        for column in CONSENT_COLUMNS:
            value = row.cell(column).lower()
            if not value:
                continue
            if value not in CONSENT_STATES:
                row.error(
                    column,
                    _('unknown consent state "%(value)s" (use granted, withdrawn, unknown or leave it blank)')
                    % {"value": short(row.cell(column))},
                )
                continue
            states[column] = value
        return states

    def _company(self, row: _Row, contact: Contact, contact_type: str) -> _CompanyValues | None | bool:
        """The person's company (None for a private person), or False to leave it unchanged."""
        value = row.cell("company_no")
        if contact_type == ContactType.COMPANY:
            if value and value != contact.no:
                row.error(
                    "company_no",
                    _('"%(value)s": a company\'s company_no is blank or its own no.') % {"value": short(value)},
                )
            return None
        if not row.has("company_no"):
            return self.companies_by_id.get(contact.company_id) if contact.company_id else None
        if not value:
            return None
        if value == contact.no and contact.no:
            row.error("company_no", _('"%(value)s" is this person itself, not a company') % {"value": short(value)})
            return False
        file_kind = self._file_kind(value)
        if file_kind is not None:
            if file_kind != ContactType.COMPANY:
                row.error("company_no", _('"%(value)s" is not a company') % {"value": short(value)})
                return False
            # The company pass wrote it; one that failed its own checks is reported on its own
            # line (and then nothing was written).
            return self.companies_by_no.get(value) or False
        company = self.companies_by_no.get(value)
        if company is None:
            row.error("company_no", _('unknown company "%(value)s"') % {"value": short(value)})
            return False
        if company.type != ContactType.COMPANY:
            row.error("company_no", _('"%(value)s" is not a company') % {"value": short(value)})
            return False
        return company

    def _classifications(self, row: _Row, contact_type: str) -> dict[str, list[str]]:
        result = {}
        for kind in CLASSIFICATIONS:
            if not row.has(kind.column):
                continue
            codes = list(dict.fromkeys(code.strip() for code in row.cell(kind.column).split(";") if code.strip()))
            if codes and kind.only_for and kind.only_for != contact_type:
                row.error(kind.column, str(kind.wrong_type))
                continue
            max_length = kind.code_model._meta.pk.max_length
            known = self.known_classifications[kind.column]
            for code in codes:
                row.check_code(kind.column, code, known, max_length=max_length)
            result[kind.column] = codes
        return result

    # -- writing ------------------------------------------------------------------------

    def _write(self, planned: list[_Planned]) -> None:
        """Write one chunk (all companies or all persons): INSERT the new, UPDATE the changed."""
        for item in planned:
            item.contact.company_id = item.company.pk if item.company is not None else None
        new = [item.contact for item in planned if not item.existing]
        if new:
            _insert_contacts(new, self.now, self.statistics)
        changed = [item for item in planned if item.existing and _snapshot(item.contact) != item.before]
        if changed:
            for item in changed:
                item.contact.updated_at = self.now
            _update_rows([item.contact for item in changed], [*UPDATE_FIELDS, "updated_at"])
            self._keep_old_company_values(changed)
        self._write_classifications(planned)
        self._write_consent(planned)
        self.created += len(new)
        self.updated += len(planned) - len(new)

    def _write_consent(self, planned: list[_Planned]) -> None:
        """Write the chunk's consent states and a history row per channel that changed.

        New contacts were inserted with their states: each state other than unknown is a change.
        Existing contacts' states are read again with their rows locked (one query), and each
        (channel, state) is one UPDATE of the contacts it changes: at most nine per chunk."""
        changes: list[tuple[int, str, str]] = [
            (item.contact.pk, CONSENT_COLUMNS[field], state)
            for item in planned
            if not item.existing
            for field, state in item.consent.items()
            if state != ConsentState.UNKNOWN
        ]
        wanted = {item.contact.pk: item.consent for item in planned if item.existing and item.consent}
        if wanted:
            current = (
                Contact.objects.select_for_update()
                .filter(pk__in=list(wanted))
                .order_by("pk")
                .values_list("pk", *CONSENT_COLUMNS)
            )
            to_write: dict[tuple[str, str], list[int]] = defaultdict(list)
            for pk, *states in current:
                stored = dict(zip(CONSENT_COLUMNS, states, strict=True))
                for field, state in wanted[pk].items():
                    if stored[field] != state:
                        to_write[field, state].append(pk)
                        changes.append((pk, CONSENT_COLUMNS[field], state))
            for (field, state), ids in sorted(to_write.items()):
                Contact.objects.filter(pk__in=ids).update(**{field: state}, updated_at=self.now)
        if changes:
            self.consent_changes += record_bulk_changes(
                actor=self.user, changes=changes, source=self.source, at=self.now, batch_size=BATCH_SIZE
            )

    def _keep_old_company_values(self, updated: list[_Planned]) -> None:
        """Keep what the updated companies' persons followed before this import, for
        `propagate` (a few values per company whose inherited values changed)."""
        for item in updated:
            if item.contact.type != ContactType.COMPANY:
                continue
            new = company_inherited_values(item.contact)
            old = {field: value for field, value in zip(UPDATE_FIELDS, item.before, strict=True) if field in new}
            if old != new:
                self.company_old_values[item.contact.pk] = old

    def propagate(self) -> None:
        """Once the companies and persons of the file are written: the persons that followed an
        updated company's old values take its new ones (SPEC F1.1 "Inheritance"), a person of
        the file that gave the old values included."""
        if self.company_old_values:
            self.progress("moving the persons that follow the changed companies")
            company_propagate_inherited(old_values=self.company_old_values)

    def _write_classifications(self, planned: list[_Planned]) -> None:
        """Per kind in the header: replace the links of every contact whose set changed."""
        new_ids = {item.contact.pk for item in planned if not item.existing}
        existing_ids = [item.contact.pk for item in planned if item.existing]
        for kind in CLASSIFICATIONS:
            if kind.column not in self.header:
                continue
            wanted = {item.contact.pk: item.classifications.get(kind.column, []) for item in planned}
            current: dict[int, set[str]] = defaultdict(set)
            for contact_id, code in _select_links(kind, existing_ids):
                current[contact_id].add(code)
            stale = [pk for pk in existing_ids if current.get(pk, set()) != set(wanted[pk])]
            _delete_links(kind, stale)
            rewrite = new_ids.union(stale)
            _insert_rows(
                kind.link_model,
                ["contact", kind.field],
                ((pk, code) for pk, codes in wanted.items() if pk in rewrite for code in codes),
            )


# The import writes with plain prepared statements run by `executemany` in batches. Django's
# `bulk_create` spends most of its time compiling SQL for each batch (about 0.3 ms a contact),
# and `bulk_update` writes `CASE WHEN pk = … THEN …` per column, whose cost grows with the
# square of the batch: 100,000 contacts took minutes. The values are checked before they get
# here, and the statements are still one per batch.


def _connection(model: type[models.Model]):
    return connections[router.db_for_write(model)]


def _db_value(field: models.Field, value: Any, connection) -> Any:
    # Strings, booleans, integers and None go to both backends as they are.
    if value is None or isinstance(value, str | bool | int):
        return value
    return field.get_db_prep_save(value, connection)


def _insert_rows(model: type[models.Model], fields: list[str], rows: Iterable[tuple]) -> None:
    """INSERT `rows` (tuples of values for `fields`, ready for the database) in batches."""
    connection = _connection(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        for chunk in batched(rows, BATCH_SIZE):
            cursor.executemany(sql, chunk)


# Field types whose Python values (str, bool, int, None) both backends take as they are.
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "EmailField",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "SmallIntegerField",
        "TextField",
    }
)


def _is_plain(field: models.Field) -> bool:
    return (field.target_field if field.is_relation else field).get_internal_type() in _PLAIN_TYPES


def _insert_contacts(contacts: list[Contact], now: datetime.datetime, statistics: _StatisticsRefresher) -> None:
    """Insert new contacts and set their primary keys (read back by number).

    A row is built with one `attrgetter` call for the plain values; the timestamps, the same
    for every contact, are adapted once; any other value goes through `_db_value`.
    """
    connection = _connection(Contact)
    for contact in contacts:
        contact.created_at = contact.updated_at = now
    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    stamps = [f for f in fields if f.attname in ("created_at", "updated_at")]
    plain = [f for f in fields if f not in stamps and _is_plain(f)]
    other = [f for f in fields if f not in stamps and not _is_plain(f)]
    read = operator.attrgetter(*(f.attname for f in plain))
    prepared = tuple(f.get_db_prep_save(now, connection) for f in stamps)
    names = [f.name for f in (*plain, *other, *stamps)]
    for chunk in batched(contacts, BATCH_SIZE):
        rows = [
            (*read(contact), *(_db_value(f, getattr(contact, f.attname), connection) for f in other), *prepared)
            for contact in chunk
        ]
        _insert_rows(Contact, names, rows)
        statistics.inserted(len(rows))
    ids = dict(chunked_in(Contact.objects.values_list("no", "pk"), "no", [c.no for c in contacts]))
    for contact in contacts:
        contact.pk = ids[contact.no]


class _StatisticsRefresher:
    """On PostgreSQL, ANALYZE a table each time an import has doubled it.

    The integrity triggers (migration 0002) look a contact up by key for every contact and
    classification written. Their cached plans are made with the table's statistics: when a
    first import fills an empty table, the plan still thinks the table tiny and scans it, so
    every row costs more than the one before (27,000 persons took minutes). ANALYZE counts the
    rows this transaction inserted and makes the triggers plan again; doubling keeps it to a
    few runs per import.
    """

    MINIMUM = 1000

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.connection = _connection(model)
        self.enabled = self.connection.vendor == "postgresql"
        self.known = model._default_manager.count() if self.enabled else 0
        self.pending = 0

    def inserted(self, count: int) -> None:
        if not self.enabled:
            return
        self.pending += count
        if self.pending >= max(self.known, self.MINIMUM):
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.connection.ops.quote_name(self.model._meta.db_table)}")
            self.known += self.pending
            self.pending = 0


def _update_rows(objects: list[models.Model], fields: list[str]) -> None:
    """UPDATE each object's `fields` by primary key: one prepared statement per batch."""
    model = type(objects[0])
    connection = _connection(model)
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"
    with connection.cursor() as cursor:
        for chunk in batched(objects, BATCH_SIZE):
            cursor.executemany(
                sql,
                [
                    (*(_db_value(field, getattr(obj, field.attname), connection) for field in columns), obj.pk)
                    for obj in chunk
                ],
            )


def _link_sql(kind: Classification, verb: str, ids: tuple[int, ...]) -> str:
    connection = _connection(kind.link_model)
    quote = connection.ops.quote_name
    table = quote(kind.link_model._meta.db_table)
    contact = quote(kind.link_model._meta.get_field("contact").column)
    code = quote(kind.link_model._meta.get_field(kind.field).column)
    what = f"SELECT {contact}, {code} FROM" if verb == "select" else "DELETE FROM"
    return f"{what} {table} WHERE {contact} IN ({', '.join(['%s'] * len(ids))})"


def _select_links(kind: Classification, contact_ids: list[int]) -> Iterator[tuple[int, str]]:
    """(contact id, code) of the contacts' links of one kind; one query per BATCH_SIZE contacts."""
    with _connection(kind.link_model).cursor() as cursor:
        for chunk in batched(contact_ids, BATCH_SIZE):
            cursor.execute(_link_sql(kind, "select", chunk), chunk)
            yield from cursor.fetchall()


def _delete_links(kind: Classification, contact_ids: list[int]) -> None:
    with _connection(kind.link_model).cursor() as cursor:
        for chunk in batched(contact_ids, BATCH_SIZE):
            cursor.execute(_link_sql(kind, "delete", chunk), chunk)


def contacts_import_csv(
    *,
    data: bytes | None = None,
    file: BinaryIO | None = None,
    user,
    encoding: str = "utf-8-sig",
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    file_name: str = "",
) -> ImportResult:
    """Create or update contacts by `no` from a CSV file (CONTRACT.md `import_contacts`).

    The file is `file`, a binary file object that can seek (an open file, an upload), or `data`.
    Any size: the upload page limits what it accepts, a batch job does not.

    Guarantees:
    - All or nothing: every row is checked, and any problem raises `ImportFailed` with one line
      per problem in file order (`line 7: email: Enter a valid email address.`) and leaves the
      database as it was, the contact number series included. Reading, checking and writing are
      one `transaction.atomic(durable=True)`; once a problem is found, nothing more is written
      and the rest of the file is still checked.
    - Streaming, memory bounded: the file is read three times, `READ_BYTES` at a time, never
      held whole (see `_ContactImport`): once to check its shape and keep each row's number,
      line and kind, so a person's `company_no` may name a company anywhere in the file; then
      the companies and then the other rows in chunks of CHUNK_ROWS, each checked and written
      before the next is read. What stays is a few dozen bytes per row (1,000,000 rows:
      about 400 MB peak, see bench/README.md).
    - Idempotent for numbered rows: importing the same file again updates the same contacts and
      writes nothing that is already as the file says (rows with a blank `no` get new numbers
      each time, as the contract says).
    - Set-based: no Django form or `save()` per row. A fixed number of queries per chunk of
      2,000 rows (their existing contacts by number, one INSERT and one UPDATE batch run with
      `executemany`, the classification links of each kind), plus one per reference table.
    - Contacts whose imported values equal the stored ones are not written (`updated_at`
      stays); `updated` counts every existing contact the file names.
    - An updated company's inherited values move the persons that followed its old ones, in
      the file or not (`company_propagate_inherited`, after every row is written).
    - The actor `user` (a web user, or COMMAND_LINE) must hold `crm.import_contacts` (checked
      again here, not only in the page).

    `encoding` defaults to UTF-8 with or without BOM; pass e.g. "cp1252" for a file Excel saved
    in the Windows code page. `dry_run` does everything, reports the counts, and rolls back.
    `progress`, when given, receives short phase messages. `file_name` (the file's own name,
    without its folder) goes into the source of the consent changes the import makes
    (`import_source`).
    """
    require(user, "crm.import_contacts")
    if (data is None) == (file is None):
        raise TypeError("contacts_import_csv takes data or file, not both")
    run = _ContactImport(
        _CsvFile(io.BytesIO(data) if file is None else file, encoding),
        progress,
        user=user,
        source=import_source(file_name),
    )
    try:
        with transaction.atomic(durable=True):
            run.progress("reading the file")
            run.scan()
            run.prepare()
            run.import_rows(companies=True)
            run.import_rows(companies=False)
            run.problems.raise_if_any()
            run.propagate()
            if dry_run:
                transaction.set_rollback(True)
            return ImportResult(
                created=run.created, updated=run.updated, numbers=run.numbers, consent_changes=run.consent_changes
            )
    except IntegrityError as exc:
        raise ImportFailed(
            [
                _(
                    "the database refused the import: "
                    "%(error)s. Nothing was imported; another import may have run at the same time, try again"
                )
                % {"error": exc}
            ]
        ) from exc


# --------------------------------------------------------------------------------------------
# Export

EXPORT_VALUES = (
    "id",
    "no",
    "type",
    "company__no",
    "name",
    "first_name",
    "middle_name",
    "surname",
    "job_title",
    "address",
    "address_2",
    "post_code",
    "city",
    "country_id",
    "territory_id",
    "language_id",
    "salutation_id",
    "email",
    "phone",
    "correspondence_type",
    "exclude_from_segment",
    "salesperson_id",
    *CONSENT_COLUMNS,
)


def _export_rows(queryset: QuerySet | None) -> Iterator[dict[str, Any]]:
    """Contacts ordered by `no` as dicts keyed by COLUMNS: 1 + 4 queries per 2,000 contacts."""
    queryset = Contact.objects.all() if queryset is None else queryset
    rows = queryset.order_by("no").values(*EXPORT_VALUES).iterator(chunk_size=BATCH_SIZE)
    for chunk in batched(rows, BATCH_SIZE):
        ids = [row["id"] for row in chunk]
        links: dict[str, dict[int, list[str]]] = {}
        for kind in CLASSIFICATIONS:
            by_contact: dict[int, list[str]] = defaultdict(list)
            for contact_id, code in (
                kind.link_model.objects.filter(contact_id__in=ids)
                .order_by(f"{kind.field}_id")
                .values_list("contact_id", f"{kind.field}_id")
            ):
                by_contact[contact_id].append(code)
            links[kind.column] = by_contact
        for row in chunk:
            company_no = row["no"] if row["type"] == ContactType.COMPANY else row["company__no"]
            record = {
                "no": row["no"],
                "type": row["type"],
                "company_no": company_no or None,
                **{column: row[column] for column in TEXT_COLUMNS},
                **{column: row[f"{column}_id"] or None for column in CODE_COLUMNS},
                "correspondence_type": row["correspondence_type"] or None,
                "exclude_from_segment": row["exclude_from_segment"],
                **{column: row[column] for column in CONSENT_COLUMNS},
            }
            for kind in CLASSIFICATIONS:
                record[kind.column] = links[kind.column].get(row["id"], [])
            yield {column: record[column] for column in COLUMNS}


def contacts_export_csv(*, out: TextIO, queryset: QuerySet | None = None) -> int:
    """Write contacts (default: all) as CSV with the import's columns, ordered by `no`.

    Every cell is formula-escaped (`csv_escape`), so a spreadsheet never runs a value as a
    formula, and the file imports back unchanged. Read-only: 1 + 4 queries per 2,000 contacts.
    Returns the number of contacts written.
    """
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for record in _export_rows(queryset):
        cells = []
        for column in COLUMNS:
            value = record[column]
            if isinstance(value, list):
                value = ";".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif value is None:
                value = ""
            cells.append(csv_escape(value))
        writer.writerow(cells)
        count += 1
    return count


def contacts_export_json(*, out: TextIO, queryset: QuerySet | None = None) -> int:
    """Write contacts (default: all) as one JSON array of objects keyed by the import's columns.

    Values are never prefixed; a blank code, enum or reference is null; classifications are
    lists of codes; `exclude_from_segment` is a boolean. Streams in chunks: 1 + 4 queries per
    2,000 contacts. Returns the number of contacts written.
    """
    out.write("[")
    count = 0
    for record in _export_rows(queryset):
        out.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
