"""Contact import/export (CSV, JSON) and the reference-data import (CONTRACT.md, "Set-up and contacts").

Three services share this module because they share one column list and one escaping rule:

- `contacts_import_csv` creates or updates contacts by `no` from a CSV file, all or nothing;
- `contacts_export_csv` / `contacts_export_json` write contacts with the same columns;
- `setup_import` upserts reference data (countries … campaigns, interaction templates) by code.

The management commands (import_contacts, export_contacts, import_setup) and the import/export
pages are thin wrappers around these functions, so a file behaves the same in the browser and in
a batch job.

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
- The JSON export gives the four classification columns as lists of codes.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from itertools import batched
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Max
from django.utils import timezone

from interactions.models import (
    InformationFlow,
    InitiatedBy,
    InteractionGroup,
    InteractionTemplate,
    InteractionTemplateLanguage,
)

from .models import (
    CODE_VALIDATOR,
    CONTROL_CHARACTERS,
    PHONE_VALIDATOR,
    BusinessRelation,
    Campaign,
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
    SalutationFormula,
    SalutationType,
    Territory,
)
from .permissions import require
from .services import CONTACT_SERIES, contact_fill_from_company, number_series_next

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import TextIO

    from django.db.models import QuerySet

# Rows per INSERT/UPDATE batch and codes per `IN (…)` list: far below SQLite's 32,766 bound
# parameters, so every lookup and write runs in a fixed number of statements per 2,000 rows.
BATCH_SIZE = 2000

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


CLASSIFICATIONS = (
    Classification(
        "industry_groups", ContactIndustryGroup, "industry_group", IndustryGroup, "company", "industry groups"
    ),
    Classification(
        "business_relations",
        ContactBusinessRelation,
        "business_relation",
        BusinessRelation,
        "company",
        "business relations",
    ),
    Classification("mailing_groups", ContactMailingGroup, "mailing_group", MailingGroup, None, "mailing groups"),
    Classification(
        "job_responsibilities",
        ContactJobResponsibility,
        "job_responsibility",
        JobResponsibility,
        "person",
        "job responsibilities",
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


# --------------------------------------------------------------------------------------------
# Errors and results


@dataclasses.dataclass(frozen=True)
class Problem:
    """One reason an import was refused: `line 7: email: Enter a valid email address.`"""

    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class ImportFailed(ValidationError):
    """The file was refused and nothing was written.

    `errors` holds one line per problem (CONTRACT.md's format); `problems` holds the same as
    `Problem`s (line, field, message) for a page that shows them as a table.
    """

    def __init__(self, errors: Iterable[Problem | str]):
        self.problems = [e if isinstance(e, Problem) else Problem(str(e)) for e in errors]
        self.errors = [str(p) for p in self.problems]
        super().__init__(self.errors, code="invalid_import")


class SetupImportFailed(ValidationError):
    """The set-up file was refused and nothing was written; `errors` has one line per problem."""

    def __init__(self, errors: Iterable[str]):
        self.errors = list(errors)
        super().__init__(self.errors, code="invalid_setup")


@dataclasses.dataclass
class ImportResult:
    """What an import did. `numbers` are the contact numbers of the file's rows, in file order
    (blank numbers replaced by the numbers drawn for them)."""

    created: int
    updated: int
    numbers: list[str]


# --------------------------------------------------------------------------------------------
# Reading the CSV file


@dataclasses.dataclass
class _Record:
    line: int
    cells: dict[str, str]


def _format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def csv_size_problem(size: int) -> str | None:
    """The message for a file of `size` bytes over `settings.CRM_CSV_MAX_BYTES`, else None."""
    limit = settings.CRM_CSV_MAX_BYTES
    if size > limit:
        return f"the file is {_format_size(size)}; the limit is {_format_size(limit)}"
    return None


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except LookupError:
        raise ImportFailed([f'unknown encoding "{encoding}"']) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex().upper()
        name = "UTF-8" if encoding.lower().replace("_", "-") in {"utf-8", "utf-8-sig", "utf8"} else encoding
        raise ImportFailed(
            [
                Problem(
                    f"the file is not valid {name} (byte 0x{byte}); save it as UTF-8 "
                    f'(in Excel: "CSV UTF-8") and import it again, or choose the encoding it was saved in',
                    line=line,
                )
            ]
        ) from None


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;").delimiter
    except csv.Error:
        return ";" if header.count(";") > header.count(",") else ","


def _read_records(text: str) -> tuple[list[str], list[_Record]]:
    """Header and records; a record's line is the physical line it starts on (header = line 1)."""
    # A cell may be as long as the whole file; our own length checks then say which field.
    csv.field_size_limit(max(csv.field_size_limit(), settings.CRM_CSV_MAX_BYTES + 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text), quotechar='"', strict=False)
    header: list[str] | None = None
    header_line = 1
    records: list[_Record] = []
    problems: list[Problem] = []
    previous_end = 0
    try:
        for cells in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in cells]
                header_line = start
                continue
            if len(cells) != len(header):
                problems.append(Problem(f"{len(cells)} cells, but the header has {len(header)} columns", line=start))
                continue
            values = dict(zip(header, cells, strict=True))
            # Spreadsheets often save empty columns at the end; they may stay as long as they are empty.
            if any(cell.strip() for name, cell in zip(header, cells, strict=True) if not name):
                problems.append(Problem("a value in a column without a name in the header", line=start))
            values.pop("", None)
            records.append(_Record(start, values))
    except csv.Error as exc:
        problems.append(Problem(f"the file is not valid CSV ({exc})", line=reader.line_num))
    if header is None:
        raise ImportFailed(["the file is empty: expected a header line naming the columns"])
    problems[:0] = _header_problems(header, header_line)
    if problems:
        raise ImportFailed(problems)
    return header, records


def _header_problems(header: list[str], line: int) -> list[Problem]:
    problems = []
    seen = set()
    for name in header:
        if not name:
            continue
        if name not in COLUMNS:
            problems.append(Problem(f'unknown column "{_short(name)}"', line=line))
        elif name in seen:
            problems.append(Problem(f'duplicate column "{name}"', line=line))
        seen.add(name)
    problems.extend(Problem(f'missing column "{name}"', line=line) for name in REQUIRED_COLUMNS if name not in seen)
    return problems


# --------------------------------------------------------------------------------------------
# Import: validation


def _field_max_length(name: str) -> int:
    return Contact._meta.get_field(name).max_length


MAX_LENGTHS = {name: _field_max_length(name) for name in ("no", *TEXT_COLUMNS)}


class _RowChecker:
    """Validates one record's cells and turns them into Contact attribute values."""

    def __init__(self, record: _Record, problems: list[Problem]):
        self.record = record
        self.problems = problems
        self.ok = True

    def error(self, field: str | None, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(message, line=self.record.line, field=field))

    def has(self, column: str) -> bool:
        return column in self.record.cells

    def cell(self, column: str) -> str:
        return self.record.cells.get(column, "")

    def text(self, column: str) -> str | None:
        """A checked text value, or None after reporting a problem."""
        value = self.cell(column)
        limit = MAX_LENGTHS[column]
        if len(value) > limit:
            self.error(column, f"longer than {limit} characters ({len(value)})")
            return None
        probe = value.replace("\n", "").replace("\r", "") if column in MULTILINE_COLUMNS else value
        if CONTROL_CHARACTERS.search(probe) or "\n" in probe or "\r" in probe:
            allowed = (
                " (a line break is allowed in address and address_2 only)" if "\n" in probe or "\r" in probe else ""
            )
            self.error(column, f"control characters are not allowed{allowed}")
            return None
        return value

    def code(self, column: str, known: set[str], max_length: int, label: str = "code") -> str | None:
        """A known code, '' for blank, or None after reporting a problem."""
        value = self.cell(column)
        if not value:
            return ""
        if len(value) > max_length or CONTROL_CHARACTERS.search(value) or "\n" in value or "\r" in value:
            self.error(column, f"not a valid {label} (at most {max_length} characters, no control characters)")
            return None
        if value not in known:
            self.error(column, f'unknown {label} "{value}"')
            return None
        return value


def _clean_cells(record: _Record) -> None:
    record.cells = {name: csv_unescape(value.strip()) for name, value in record.cells.items()}


def _chunked_in(queryset: QuerySet, field: str, values: Iterable) -> Iterator:
    """Rows of `queryset` whose `field` is in `values`, one query per BATCH_SIZE values."""
    for chunk in batched(sorted(set(values), key=str), BATCH_SIZE):
        yield from queryset.filter(**{f"{field}__in": chunk})


def _known_codes(model: type[models.Model]) -> set[str]:
    return set(model.objects.values_list("pk", flat=True))


def _snapshot(contact: Contact) -> tuple:
    return tuple(getattr(contact, field) for field in UPDATE_FIELDS)


@dataclasses.dataclass
class _Planned:
    record: _Record
    contact: Contact
    existing: bool
    before: tuple | None
    company: Contact | None
    classifications: dict[str, list[str]]


class _ContactImport:
    """One run of `contacts_import_csv`: validation, then the set-based writes."""

    def __init__(self, header: list[str], records: list[_Record], progress: Callable[[str], None] | None):
        self.header = header
        self.records = records
        self.progress = progress or (lambda message: None)
        self.problems: list[Problem] = []

    # -- validation ---------------------------------------------------------------------

    def validate(self) -> list[_Planned]:
        for record in self.records:
            _clean_cells(record)
        nos = self._check_numbers_and_types()
        company_nos = {r.cells["company_no"] for r in self.records if r.cells.get("company_no")}
        self.progress("reading existing contacts and codes")
        self.existing = {c.no: c for c in _chunked_in(Contact.objects.all(), "no", (nos | company_nos))}
        self.known = {column: _known_codes(model) for column, model in CODE_COLUMNS.items() if column in self.header}
        self.known_classifications = {
            c.column: _known_codes(c.code_model) for c in CLASSIFICATIONS if c.column in self.header
        }
        self._load_companies_of_existing_persons()

        self.progress("checking rows")
        planned: dict[int, _Planned] = {}
        self.file_companies: dict[str, Contact] = {}
        # Companies first: a person takes blank values from its company's new values.
        for record in self.records:
            if record.cells.get("type", "").lower() == ContactType.COMPANY:
                item = self._plan(record)
                if item is not None:
                    planned[record.line] = item
                    if item.contact.no:
                        self.file_companies[item.contact.no] = item.contact
        for record in self.records:
            if record.cells.get("type", "").lower() != ContactType.COMPANY:
                item = self._plan(record)
                if item is not None:
                    planned[record.line] = item
        return [planned[r.line] for r in self.records if r.line in planned]

    def _check_numbers_and_types(self) -> set[str]:
        """Report duplicate numbers; remember each number's type for `company_no` checks."""
        first_line: dict[str, int] = {}
        self.file_types: dict[str, str] = {}
        for record in self.records:
            no = record.cells.get("no", "")
            if not no:
                continue
            if no in first_line:
                self.problems.append(
                    Problem(
                        f'"{_short(no)}" appears more than once (first on line {first_line[no]})', record.line, "no"
                    )
                )
                continue
            first_line[no] = record.line
            self.file_types[no] = record.cells.get("type", "").lower()
        return set(first_line)

    def _load_companies_of_existing_persons(self) -> None:
        """Companies of updated persons whose company_no is not in the file (for inheritance)."""
        self.existing_by_id = {c.pk: c for c in self.existing.values()}
        if "company_no" in self.header:
            return
        missing = {
            c.company_id for c in self.existing.values() if c.company_id and c.company_id not in self.existing_by_id
        }
        for company in _chunked_in(Contact.objects.all(), "pk", missing):
            self.existing_by_id[company.pk] = company

    def _plan(self, record: _Record) -> _Planned | None:
        row = _RowChecker(record, self.problems)
        cells = record.cells
        no = cells.get("no", "")
        if len(no) > MAX_LENGTHS["no"]:
            row.error("no", f"longer than {MAX_LENGTHS['no']} characters ({len(no)})")
        elif no and (CONTROL_CHARACTERS.search(no) or "\n" in no or "\r" in no or "\t" in no):
            row.error("no", "control characters are not allowed")
        contact_type = cells.get("type", "").lower()
        if contact_type not in CONTACT_TYPES:
            row.error(
                "type",
                f'unknown type "{_short(cells.get("type", ""))}" (use company or person)'
                if cells.get("type")
                else "required (company or person)",
            )
            return None
        existing = self.existing.get(no) if no else None
        if existing is not None and existing.type != contact_type:
            row.error(
                "type",
                f'"{no}" is a {existing.type}; an import does not change the type of a contact '
                f"(change it on the contact page)",
            )
            return None
        contact = existing if existing is not None else Contact(no=no, type=contact_type)
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
                max_length = model._meta.pk.max_length
                values[f"{column}_id"] = row.code(column, self.known[column], max_length) or None
        if row.has("correspondence_type"):
            value = row.cell("correspondence_type").lower()
            if value and value not in CORRESPONDENCE_TYPES:
                row.error(
                    "correspondence_type",
                    f'unknown value "{_short(row.cell("correspondence_type"))}" '
                    "(use hard_copy, email or leave it blank)",
                )
            values["correspondence_type"] = value
        if row.has("exclude_from_segment"):
            value = row.cell("exclude_from_segment").lower()
            if value not in {"", "true", "false"}:
                row.error(
                    "exclude_from_segment",
                    f'not a yes/no value "{_short(row.cell("exclude_from_segment"))}" (use true or false)',
                )
            values["exclude_from_segment"] = value == "true"
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
                row.error("name", f"longer than {MAX_LENGTHS['name']} characters when built from the name parts")
            for part in NAME_PARTS:
                if len(getattr(contact, part)) > MAX_LENGTHS[part]:
                    row.error(part, f"longer than {MAX_LENGTHS[part]} characters when split from the name")
        if not contact.name:
            what = (
                "required (the name, or first_name and surname)" if contact_type == ContactType.PERSON else "required"
            )
            row.error("name", what)
        if company is not None:
            contact_fill_from_company(contact=contact, company=company)
        if not row.ok:
            return None
        return _Planned(record, contact, existing is not None, before, company, classifications)

    def _company(self, row: _RowChecker, contact: Contact, contact_type: str) -> Contact | None | bool:
        """The person's company (None for a private person), or False to leave it unchanged."""
        value = row.cell("company_no")
        if contact_type == ContactType.COMPANY:
            if value and value != contact.no:
                row.error("company_no", f'"{_short(value)}": a company\'s company_no is blank or its own no.')
            return None
        if not row.has("company_no"):
            return self.existing_by_id.get(contact.company_id) if contact.company_id else None
        if not value:
            return None
        if value == contact.no and contact.no:
            row.error("company_no", f'"{_short(value)}" is this person itself, not a company')
            return False
        file_type = self.file_types.get(value)
        if file_type is not None:
            if file_type != ContactType.COMPANY:
                row.error("company_no", f'"{_short(value)}" is not a company')
                return False
            # A company of the file that failed its own checks is reported on its own line.
            return self.file_companies.get(value) or self.existing.get(value) or False
        company = self.existing.get(value)
        if company is None:
            row.error("company_no", f'unknown company "{_short(value)}"')
            return False
        if company.type != ContactType.COMPANY:
            row.error("company_no", f'"{_short(value)}" is not a company')
            return False
        return company

    def _classifications(self, row: _RowChecker, contact_type: str) -> dict[str, list[str]]:
        result = {}
        for kind in CLASSIFICATIONS:
            if not row.has(kind.column):
                continue
            codes = list(dict.fromkeys(code.strip() for code in row.cell(kind.column).split(";") if code.strip()))
            if codes and kind.only_for and kind.only_for != contact_type:
                owner = "companies" if kind.only_for == ContactType.COMPANY else "persons"
                row.error(kind.column, f"{kind.label} belong to {owner} only (this row is a {contact_type})")
                continue
            max_length = kind.code_model._meta.pk.max_length
            known = self.known_classifications[kind.column]
            for code in codes:
                if len(code) > max_length or CONTROL_CHARACTERS.search(code):
                    row.error(kind.column, f"not a valid code (at most {max_length} characters, no control characters)")
                elif code not in known:
                    row.error(kind.column, f'unknown code "{code}"')
            result[kind.column] = codes
        return result

    # -- writing ------------------------------------------------------------------------

    def write(self, planned: list[_Planned]) -> ImportResult:
        self.planned_without_no = [item for item in planned if not item.contact.no]
        self._assign_numbers([item.contact for item in self.planned_without_no])
        now = timezone.now()
        # Companies before persons: the database refuses a person whose company does not exist yet.
        for contact_type in (ContactType.COMPANY, ContactType.PERSON):
            group = [item for item in planned if item.contact.type == contact_type]
            for item in group:
                item.contact.company_id = item.company.pk if item.company is not None else None
            new = [item.contact for item in group if not item.existing]
            if new:
                self.progress(f"creating {len(new)} contacts")
                _insert_contacts(new, now)
            changed = [item.contact for item in group if item.existing and _snapshot(item.contact) != item.before]
            if changed:
                self.progress(f"updating {len(changed)} contacts")
                for contact in changed:
                    contact.updated_at = now
                _update_rows(changed, [*UPDATE_FIELDS, "updated_at"])
        self.progress("writing classifications")
        self._write_classifications(planned)
        return ImportResult(
            created=sum(1 for item in planned if not item.existing),
            updated=sum(1 for item in planned if item.existing),
            numbers=[item.contact.no for item in planned],
        )

    def _assign_numbers(self, contacts: list[Contact]) -> None:
        """Give each contact the next free number of the contact series.

        Numbers already used (typed by hand in an earlier import or in this file) are skipped:
        after a collision the series moves past the highest number of its own pattern, so the
        cost stays at a handful of queries whatever the file.
        """
        if not contacts:
            return
        taken = set(self.file_types)
        try:
            numbers = number_series_next(code=CONTACT_SERIES, count=len(contacts))
        except NumberSeries.DoesNotExist:
            lines = ", ".join(str(item.record.line) for item in self.planned_without_no[:10])
            lines += ", …" if len(self.planned_without_no) > 10 else ""
            raise ImportFailed(
                [
                    f"the number series {CONTACT_SERIES} is missing, so rows with a blank no cannot be "
                    f"numbered (lines {lines}): give them a no, or ask an admin to set the series up"
                ]
            ) from None
        used = taken | set(_chunked_in(Contact.objects.values_list("no", flat=True), "no", numbers))
        free = [number for number in numbers if number not in used]
        if len(free) < len(contacts):
            series = NumberSeries.objects.get(code=CONTACT_SERIES)
            pattern = rf"^{re.escape(series.prefix)}[0-9]{{{series.digits}}}$"
            highest_db = Contact.objects.filter(no__regex=pattern).aggregate(m=Max("no"))["m"]
            highest = max(
                [int(n[len(series.prefix) :]) for n in [highest_db, *taken] if n and re.match(pattern, n)] or [0]
            )
            NumberSeries.objects.filter(code=CONTACT_SERIES, last_no__lt=highest).update(last_no=highest)
            free += number_series_next(code=CONTACT_SERIES, count=len(contacts) - len(free))
        for contact, number in zip(contacts, free, strict=True):
            contact.no = number

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


def _short(value: str, limit: int = 40) -> str:
    """A value to quote in a message, cut short so a huge cell never floods the report."""
    return value if len(value) <= limit else value[:limit] + "…"


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


def _insert_contacts(contacts: list[Contact], now: datetime.datetime) -> None:
    """Insert new contacts and set their primary keys (read back by number)."""
    connection = _connection(Contact)
    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    names = [f.name for f in fields]
    for contact in contacts:
        contact.created_at = contact.updated_at = now
    statistics = _StatisticsRefresher(Contact)
    for chunk in batched(contacts, BATCH_SIZE):
        rows = [tuple(_db_value(f, getattr(contact, f.attname), connection) for f in fields) for contact in chunk]
        _insert_rows(Contact, names, rows)
        statistics.inserted(len(rows))
    ids = dict(_chunked_in(Contact.objects.values_list("no", "pk"), "no", [c.no for c in contacts]))
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
    data: bytes,
    user,
    encoding: str = "utf-8-sig",
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Create or update contacts by `no` from CSV bytes (CONTRACT.md `import_contacts`).

    Guarantees:
    - All or nothing: every row is checked before anything is written, and the writes are one
      `transaction.atomic(durable=True)`. Any problem raises `ImportFailed` with one line per
      problem (`line 7: email: Enter a valid email address.`) and leaves the database as it was,
      the contact number series included.
    - Idempotent for numbered rows: importing the same file again updates the same contacts and
      writes nothing that is already as the file says (rows with a blank `no` get new numbers
      each time, as the contract says).
    - Set-based: no Django form or `save()` per row. A fixed number of queries per 2,000 rows
      (each reference table read once, existing contacts by number, classifications once per
      kind); inserts and updates are one prepared statement run with `executemany` per batch
      of 2,000 (see `_insert_rows`), companies before persons so the integrity triggers pass.
      100,000 rows take about 15 s on SQLite and 30 s on PostgreSQL.
    - Contacts whose imported values equal the stored ones are not written (`updated_at`
      stays); `updated` counts every existing contact the file names.
    - The actor `user` (a web user, or COMMAND_LINE) must hold `crm.import_contacts` (checked
      again here, not only in the page).

    `encoding` defaults to UTF-8 with or without BOM; pass e.g. "cp1252" for a file Excel saved
    in the Windows code page. `dry_run` does everything, reports the counts, and rolls back.
    `progress`, when given, receives short phase messages.
    """
    require(user, "crm.import_contacts")
    too_big = csv_size_problem(len(data))
    if too_big:
        raise ImportFailed([too_big])
    text = _decode(data, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    header, records = _read_records(text)
    run = _ContactImport(header, records, progress)
    try:
        with transaction.atomic(durable=True):
            planned = run.validate()
            if run.problems:
                raise ImportFailed(sorted(run.problems, key=lambda p: p.line or 0))
            result = run.write(planned)
            if dry_run:
                transaction.set_rollback(True)
            return result
    except IntegrityError as exc:
        raise ImportFailed(
            [
                f"the database refused the import: "
                f"{exc}. Nothing was imported; another import may have run at the same time, try again"
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


# --------------------------------------------------------------------------------------------
# Set-up import (reference data)

CODED_SECTIONS: dict[str, type[models.Model]] = {
    "countries": Country,
    "languages": Language,
    "territories": Territory,
    "industry_groups": IndustryGroup,
    "business_relations": BusinessRelation,
    "mailing_groups": MailingGroup,
    "job_responsibilities": JobResponsibility,
    "salespeople": Salesperson,
}
SECTIONS = (*CODED_SECTIONS, "salutations", "interaction_groups", "campaigns", "interaction_templates")
# What `setup_import` writes: its actor needs to add and change each of these.
SETUP_PERMISSIONS = tuple(
    f"{model._meta.app_label}.{action}_{model._meta.model_name}"
    for model in (
        *CODED_SECTIONS.values(),
        Salutation,
        SalutationFormula,
        InteractionGroup,
        Campaign,
        InteractionTemplate,
        InteractionTemplateLanguage,
    )
    for action in ("add", "change")
)
SALESPERSON_EXTRA = ("email", "phone", "job_title", "blocked")
TEMPLATE_KEYS = (
    "code",
    "group",
    "description",
    "unit_cost",
    "unit_duration",
    "information_flow",
    "initiated_by",
    "correspondence_type",
    "ignore_contact_correspondence_type",
    "language",
    "campaign",
    "campaign_target",
    "campaign_response",
)
TEMPLATE_FIELDS = (
    "group_id",
    "description",
    "unit_cost",
    "unit_duration",
    "information_flow",
    "initiated_by",
    "correspondence_type",
    "ignore_contact_correspondence_type",
    "language_id",
    "campaign_id",
    "campaign_target",
    "campaign_response",
)

_MISSING = object()  # a key left out of an object: keep the current value


def _max_length(model: type[models.Model], field: str) -> int:
    return model._meta.get_field(field).max_length


class _Item:
    """One object of a set-up section; problems are reported by path (`countries[2].code`)."""

    def __init__(self, errors: list[str], path: str, data: Any, allowed: Iterable[str]):
        self.errors = errors
        self.path = path
        self.is_object = isinstance(data, dict)
        self.ok = self.is_object
        self.data = data if self.is_object else {}
        if not self.is_object:
            errors.append(f"{path}: expected an object")
            return
        for key in data:
            if key not in allowed:
                self.error(None, f'unknown field "{_short(str(key))}"')

    def error(self, key: str | None, message: str) -> None:
        self.ok = False
        self.errors.append(f"{self.path}.{key}: {message}" if key else f"{self.path}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, max_length: int, *, required: bool = False) -> Any:
        """A one-line string ('' for null), or _MISSING when left out or refused."""
        if key not in self.data:
            if required:
                self.error(key, "required")
            return _MISSING
        value = self.data[key]
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.error(key, "expected a string")
            return _MISSING
        value = value.strip()
        if required and not value:
            self.error(key, "required")
            return _MISSING
        if len(value) > max_length:
            self.error(key, f"longer than {max_length} characters ({len(value)})")
            return _MISSING
        if CONTROL_CHARACTERS.search(value) or "\n" in value or "\r" in value:
            self.error(key, "control characters are not allowed")
            return _MISSING
        return value

    def code(self, key: str, max_length: int) -> Any:
        value = self.string(key, max_length, required=True)
        if value is _MISSING:
            return _MISSING
        try:
            CODE_VALIDATOR(value)
        except ValidationError as exc:
            self.error(key, f'"{value}": {exc.messages[0]}')
            return _MISSING
        return value

    def reference(self, key: str, known: set[str], *, label: str = "code") -> Any:
        """A code the database or the file holds, None for null, or _MISSING."""
        if key not in self.data:
            return _MISSING
        value = self.data[key]
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.error(key, "expected a string or null")
            return _MISSING
        if value not in known:
            self.error(key, f'unknown {label} "{_short(value)}"')
            return _MISSING
        return value

    def boolean(self, key: str) -> Any:
        if key not in self.data:
            return _MISSING
        value = self.data[key]
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, not {_short(json.dumps(value))}")
            return _MISSING
        return value

    def choice(self, key: str, choices: list[str], *, nullable: bool = True) -> Any:
        """One of `choices` ('' for null when `nullable`), or _MISSING."""
        if key not in self.data:
            return _MISSING
        value = self.data[key]
        if nullable and value in (None, ""):
            return ""
        if value not in choices:
            options = " or ".join([*choices, "null"] if nullable else choices)
            self.error(key, f"unknown value {_short(json.dumps(value))} (use {options})")
            return _MISSING
        return value

    def decimal(self, key: str, field: models.DecimalField) -> Any:
        """A number or decimal string, 0 or more, fitting the field; or _MISSING."""
        if key not in self.data:
            return _MISSING
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.error(key, "expected a number or a decimal string")
            return _MISSING
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.error(key, f"not a number {_short(json.dumps(value))}")
            return _MISSING
        whole_digits = field.max_digits - field.decimal_places
        step = Decimal(1).scaleb(-field.decimal_places)
        if not number.is_finite() or number < 0:
            self.error(key, "must be a number of 0 or more")
        elif number >= Decimal(10) ** whole_digits:
            self.error(key, f"at most {whole_digits} digits before the decimal point")
        elif number != number.quantize(step):
            self.error(key, f"at most {field.decimal_places} decimal places")
        else:
            return number.quantize(step)
        return _MISSING

    def date(self, key: str) -> Any:
        """A YYYY-MM-DD date, None for null, or _MISSING."""
        if key not in self.data:
            return _MISSING
        value = self.data[key]
        if value is None or value == "":
            return None
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.error(key, f"not a date {_short(json.dumps(value))} (use YYYY-MM-DD)")
            return _MISSING


def _formula_problem(text: str, exc: ValidationError) -> str:
    # The model's error names the placeholders through params it cannot apply to a
    # field-keyed error, so the names are listed here.
    unknown = sorted(set(re.findall(r"%([a-z_]+)", text)) - set(SalutationFormula.PLACEHOLDERS))
    if unknown:
        known = " ".join(f"%{name}" for name in SalutationFormula.PLACEHOLDERS)
        return f"unknown placeholder(s) {', '.join('%' + name for name in unknown)} (use {known})"
    return " ".join(exc.messages)


def _apply(obj: models.Model, values: dict[str, Any]) -> bool:
    """Set the values that were given (not _MISSING) on `obj`; True when one differed."""
    changed = False
    for attname, value in values.items():
        if value is not _MISSING and getattr(obj, attname) != value:
            setattr(obj, attname, value)
            changed = True
    return changed


def _strings(items: list, key: str) -> list[str]:
    return [item[key] for item in items if isinstance(item, dict) and isinstance(item.get(key), str)]


class _SetupImport:
    """One run of `setup_import`: each section is planned (checked) first, then written."""

    def __init__(self, data: Any):
        self.data = data
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}

    def section(self, name: str) -> list:
        value = self.data.get(name, [])
        if not isinstance(value, list):
            self.errors.append(f"{name}: expected a list")
            return []
        if name in self.data:
            self.counts[name] = len(value)
        return value

    def file_codes(self, name: str, key: str = "code") -> set[str]:
        items = self.data.get(name)
        return set(_strings(items, key)) if isinstance(items, list) else set()

    def run(self) -> dict[str, int]:
        if not isinstance(self.data, dict):
            raise SetupImportFailed(["expected a JSON object whose keys are sections (countries, languages, …)"])
        self.errors.extend(f'unknown section "{_short(str(key))}"' for key in self.data if key not in SECTIONS)
        # What a reference may name: what the database holds plus what the file adds, so the
        # order of the sections in the file does not matter.
        self.known = {
            "languages": _known_codes(Language) | self.file_codes("languages"),
            "salespeople": _known_codes(Salesperson) | self.file_codes("salespeople"),
            "interaction_groups": _known_codes(InteractionGroup) | self.file_codes("interaction_groups"),
            "campaigns": set(Campaign.objects.values_list("no", flat=True)) | self.file_codes("campaigns", "no"),
        }
        writes = [self.plan_coded(name, model) for name, model in CODED_SECTIONS.items()]
        writes.append(self.plan_salutations())
        writes.append(self.plan_coded("interaction_groups", InteractionGroup, name_key="description"))
        writes.append(self.plan_campaigns())
        writes.append(self.plan_templates())
        if self.errors:
            raise SetupImportFailed(self.errors)
        # In this order: templates point at groups, languages and campaigns written before them.
        for write in writes:
            write()
        return self.counts

    @staticmethod
    def _duplicate(seen: dict[str, int], item: _Item, key: str, value: Any, index: int) -> bool:
        if value is _MISSING:
            return False
        if value in seen:
            item.error(key, f'"{value}" appears more than once (first at index {seen[value]})')
            return True
        seen[value] = index
        return False

    def plan_coded(self, name: str, model: type[models.Model], name_key: str = "name") -> Callable[[], None]:
        items = self.section(name)
        extra = SALESPERSON_EXTRA if model is Salesperson else ()
        existing = model.objects.in_bulk(_strings(items, "code"))
        new, changed, seen = [], [], {}
        for index, data in enumerate(items):
            item = _Item(self.errors, f"{name}[{index}]", data, ("code", name_key, *extra))
            if not item.is_object:
                continue
            code = item.code("code", model._meta.pk.max_length)
            values = {"name": item.string(name_key, _max_length(model, "name"))}
            for key in ("email", "phone", "job_title"):
                if key in extra:
                    values[key] = item.string(key, _max_length(model, key))
            if "blocked" in extra:
                values["blocked"] = item.boolean("blocked")
            for key, validator in (("email", validate_email), ("phone", PHONE_VALIDATOR)):
                if values.get(key) not in (None, _MISSING, ""):
                    try:
                        validator(values[key])
                    except ValidationError as exc:
                        item.error(key, exc.messages[0])
            if self._duplicate(seen, item, "code", code, index) or not item.ok:
                continue
            obj = existing.get(code)
            if obj is None:
                obj = model(pk=code)
                _apply(obj, values)
                new.append(obj)
            elif _apply(obj, values):
                changed.append(obj)
        fields = ["name", *extra]

        def write() -> None:
            model.objects.bulk_create(new, batch_size=BATCH_SIZE)
            if changed:
                model.objects.bulk_update(changed, fields, batch_size=BATCH_SIZE)

        return write

    def plan_salutations(self) -> Callable[[], None]:
        items = self.section("salutations")
        codes = _strings(items, "code")
        existing = Salutation.objects.in_bulk(codes)
        formulas = {
            (f.salutation_id, f.language_id, f.type): f for f in SalutationFormula.objects.filter(salutation__in=codes)
        }
        new, changed, new_formulas, changed_formulas, seen = [], [], [], [], {}
        formula_length = _max_length(SalutationFormula, "formula")
        for index, data in enumerate(items):
            path = f"salutations[{index}]"
            item = _Item(self.errors, path, data, ("code", "description", "formulas"))
            if not item.is_object:
                continue
            code = item.code("code", Salutation._meta.pk.max_length)
            values = {"name": item.string("description", _max_length(Salutation, "name"))}
            raw_formulas = item.data.get("formulas", [])
            if not isinstance(raw_formulas, list):
                item.error("formulas", "expected a list")
                raw_formulas = []
            planned, first_index = [], {}
            for f_index, f_data in enumerate(raw_formulas):
                f_item = _Item(self.errors, f"{path}.formulas[{f_index}]", f_data, ("language", "type", "formula"))
                if not f_item.is_object:
                    item.ok = False
                    continue
                language = f_item.reference("language", self.known["languages"])
                kind = f_item.choice("type", SalutationType.values, nullable=False)
                if not f_item.has("type"):
                    f_item.error("type", "required (formal or informal)")
                text = f_item.string("formula", formula_length, required=True)
                if text is not _MISSING:
                    try:
                        SalutationFormula(formula=text).clean()
                    except ValidationError as exc:
                        f_item.error("formula", _formula_problem(text, exc))
                language = None if language is _MISSING else language
                if f_item.ok and (language, kind) in first_index:
                    f_item.error(
                        None,
                        f"a second {kind} formula for language {language or 'blank'} "
                        f"(first at index {first_index[(language, kind)]})",
                    )
                first_index.setdefault((language, kind), f_index)
                if not f_item.ok:
                    item.ok = False
                    continue
                planned.append((language, kind, text))
            if self._duplicate(seen, item, "code", code, index) or not item.ok:
                continue
            obj = existing.get(code)
            if obj is None:
                obj = Salutation(pk=code)
                _apply(obj, values)
                new.append(obj)
            elif _apply(obj, values):
                changed.append(obj)
            for language, kind, text in planned:
                formula = formulas.get((code, language, kind))
                if formula is None:
                    new_formulas.append(
                        SalutationFormula(salutation_id=code, language_id=language, type=kind, formula=text)
                    )
                elif formula.formula != text:
                    formula.formula = text
                    changed_formulas.append(formula)

        def write() -> None:
            Salutation.objects.bulk_create(new, batch_size=BATCH_SIZE)
            if changed:
                Salutation.objects.bulk_update(changed, ["name"], batch_size=BATCH_SIZE)
            SalutationFormula.objects.bulk_create(new_formulas, batch_size=BATCH_SIZE)
            if changed_formulas:
                SalutationFormula.objects.bulk_update(changed_formulas, ["formula"], batch_size=BATCH_SIZE)

        return write

    def plan_campaigns(self) -> Callable[[], None]:
        items = self.section("campaigns")
        existing = {c.no: c for c in Campaign.objects.filter(no__in=_strings(items, "no"))}
        new, changed, seen = [], [], {}
        keys = ("no", "description", "starting_date", "ending_date", "salesperson")
        for index, data in enumerate(items):
            item = _Item(self.errors, f"campaigns[{index}]", data, keys)
            if not item.is_object:
                continue
            no = item.string("no", _max_length(Campaign, "no"), required=True)
            obj = existing.get(no) if no is not _MISSING else None
            values = {
                "description": item.string(
                    "description", _max_length(Campaign, "description"), required=obj is None or item.has("description")
                ),
                "starting_date": item.date("starting_date"),
                "ending_date": item.date("ending_date"),
                "salesperson_id": item.reference("salesperson", self.known["salespeople"]),
            }
            start = values["starting_date"]
            end = values["ending_date"]
            start = getattr(obj, "starting_date", None) if start is _MISSING else start
            end = getattr(obj, "ending_date", None) if end is _MISSING else end
            if item.ok and start and end and start > end:
                item.error("ending_date", f"{end.isoformat()} is before the starting date {start.isoformat()}")
            if self._duplicate(seen, item, "no", no, index) or not item.ok:
                continue
            if obj is None:
                obj = Campaign(no=no)
                _apply(obj, values)
                new.append(obj)
            elif _apply(obj, values):
                obj.updated_at = timezone.now()
                changed.append(obj)

        def write() -> None:
            Campaign.objects.bulk_create(new, batch_size=BATCH_SIZE)
            if changed:
                fields = ["description", "starting_date", "ending_date", "salesperson", "updated_at"]
                Campaign.objects.bulk_update(changed, fields, batch_size=BATCH_SIZE)

        return write

    def plan_templates(self) -> Callable[[], None]:
        items = self.section("interaction_templates")
        existing = InteractionTemplate.objects.in_bulk(_strings(items, "code"))
        campaign_nos = dict(
            Campaign.objects.filter(pk__in={t.campaign_id for t in existing.values() if t.campaign_id}).values_list(
                "pk", "no"
            )
        )
        language_rows = set(
            InteractionTemplateLanguage.objects.filter(template__in=list(existing)).values_list(
                "template_id", "language_id"
            )
        )
        cost_field = InteractionTemplate._meta.get_field("unit_cost")
        duration_field = InteractionTemplate._meta.get_field("unit_duration")
        planned: list[tuple[InteractionTemplate, bool, Any]] = []
        seen: dict[str, int] = {}
        for index, data in enumerate(items):
            item = _Item(self.errors, f"interaction_templates[{index}]", data, TEMPLATE_KEYS)
            if not item.is_object:
                continue
            code = item.code("code", InteractionTemplate._meta.pk.max_length)
            obj = existing.get(code) if code is not _MISSING else None
            group = item.reference("group", self.known["interaction_groups"])
            if group is None or (obj is None and not item.has("group")):
                item.error("group", "required: every template belongs to an interaction group")
            values = {
                "group_id": group,
                "description": item.string(
                    "description",
                    _max_length(InteractionTemplate, "description"),
                    required=obj is None or item.has("description"),
                ),
                "unit_cost": item.decimal("unit_cost", cost_field),
                "unit_duration": item.decimal("unit_duration", duration_field),
                "information_flow": item.choice("information_flow", InformationFlow.values),
                "initiated_by": item.choice("initiated_by", InitiatedBy.values),
                "correspondence_type": item.choice("correspondence_type", CorrespondenceType.values),
                "ignore_contact_correspondence_type": item.boolean("ignore_contact_correspondence_type"),
                "language_id": item.reference("language", self.known["languages"]),
                "campaign_target": item.boolean("campaign_target"),
                "campaign_response": item.boolean("campaign_response"),
            }
            campaign_no = item.reference("campaign", self.known["campaigns"], label="campaign")
            if self._duplicate(seen, item, "code", code, index) or not item.ok:
                continue
            is_new = obj is None
            if is_new:
                obj = InteractionTemplate(code=code)
            before = None if is_new else _template_snapshot(obj, campaign_nos)
            _apply(obj, values)
            if campaign_no is not _MISSING:
                obj.campaign_id = None
                obj._import_campaign_no = campaign_no
            else:
                obj._import_campaign_no = campaign_nos.get(obj.campaign_id) if obj.campaign_id else None
            if is_new or _template_snapshot(obj, campaign_nos) != before:
                planned.append((obj, is_new, before))

        def write() -> None:
            # Campaigns of the file exist by now: resolve numbers to keys with one query.
            nos = {obj._import_campaign_no for obj, _, _ in planned if obj._import_campaign_no}
            campaign_ids = dict(Campaign.objects.filter(no__in=nos).values_list("no", "pk"))
            now = timezone.now()
            for obj, _, _ in planned:
                obj.campaign_id = campaign_ids.get(obj._import_campaign_no)
                obj.updated_at = now
            InteractionTemplate.objects.bulk_create([obj for obj, is_new, _ in planned if is_new])
            changed = [obj for obj, is_new, _ in planned if not is_new]
            if changed:
                fields = [InteractionTemplate._meta.get_field(f).name for f in TEMPLATE_FIELDS]
                InteractionTemplate.objects.bulk_update(changed, [*fields, "updated_at"], batch_size=BATCH_SIZE)
            rows = []
            for obj, _, _ in planned:
                if obj.language_id and (obj.pk, obj.language_id) not in language_rows:
                    language_rows.add((obj.pk, obj.language_id))
                    rows.append(
                        InteractionTemplateLanguage(
                            template_id=obj.pk, language_id=obj.language_id, description=obj.description
                        )
                    )
            InteractionTemplateLanguage.objects.bulk_create(rows, batch_size=BATCH_SIZE)

        return write


def _template_snapshot(template: InteractionTemplate, campaign_nos: dict[int, str]) -> tuple:
    """The template's imported values, with its campaign by number (file campaigns have no key yet)."""
    values = [getattr(template, field) for field in TEMPLATE_FIELDS if field != "campaign_id"]
    campaign_no = getattr(template, "_import_campaign_no", _MISSING)
    if campaign_no is _MISSING:
        campaign_no = campaign_nos.get(template.campaign_id) if template.campaign_id else None
    return (*values, campaign_no)


def setup_import(*, user, data: dict, dry_run: bool = False) -> dict[str, int]:
    """Upsert reference data by code from a parsed JSON document (CONTRACT.md `import_setup`).

    Guarantees:
    - All or nothing: every section is checked before anything is written; any problem raises
      `SetupImportFailed` with one line per problem naming section, index (0-based) and field
      (`interaction_templates[2].group: unknown code "XX"`). The writes are one
      `transaction.atomic(durable=True)`.
    - References resolve whatever the order of the keys: a template may name a group, language
      or campaign that the same file lists before or after it, or that the database holds.
    - Idempotent: a row is written only when one of its values differs, so running the same file
      twice changes nothing the second time. Upsert only: rows and salutation formulas the file
      does not mention are kept; a key left out of an object keeps the current value (the
      model's default on a new row); `null` clears an optional value.
    - A template whose language has no language row (InteractionTemplateLanguage) gets one,
      described with the template's description.
    - A fixed number of queries per section (plus one per 2,000 new rows), whatever the file.

    Returns, per section present in the file, the number of its entries. `dry_run` checks and
    writes as usual, then rolls back. Needs SETUP_PERMISSIONS (add and change of every section).
    """
    require(user, SETUP_PERMISSIONS)
    run = _SetupImport(data)
    with transaction.atomic(durable=True):
        counts = run.run()
        if dry_run:
            transaction.set_rollback(True)
        return counts
