"""How every import checks its input: one record at a time, every problem collected, nothing written on error.

Both imports use it: the contact CSV import (`crm.transfer`, a record is a CSV row, located
by its line) and the set-up import (`crm.setup_import`, `interactions.setup_import`, a record
is an object of a JSON section, located by its path). One way to check and report:

- a `RecordCheck` per record checks its values with the shared rules (text length and control
  characters, known codes) and reports each problem to the import's `ProblemLog`, naming the
  field: `line 7: email: Enter a valid email address.` or `countries[2].code: required`;
- the import checks every record, whatever it found before, so the person who fixes the file
  sees every problem at once;
- the import writes nothing when the log holds a problem: it raises `ImportFailed` (with the
  problems in file order) inside its one transaction, which rolls back what it had written.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from itertools import batched
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .counts import grouped
from .models import CONTROL_CHARACTERS

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from django.db import models
    from django.db.models import QuerySet

# Rows per INSERT/UPDATE batch and values per `IN (…)` list: far below SQLite's 32,766 bound
# parameters, so every lookup and write runs in a fixed number of statements per 2,000 rows.
BATCH_SIZE = 2000

# A file whose every line is wrong (a batch job run before its reference data) must not hold a
# million messages in memory: the log keeps the first MAX_PROBLEMS by position and counts the rest.
MAX_PROBLEMS = 100_000


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One reason an import was refused, located by CSV line or JSON path.

    `line 7: email: Enter a valid email address.`, `countries[2].code: required`, or the message
    alone for the file as a whole.
    """

    message: str
    line: int | None = None
    field: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            where = f"{self.path}.{self.field}" if self.field else self.path
            return f"{where}: {self.message}"
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


def too_long(limit: int, length: int) -> str:
    """The problem of a value of `length` characters where `limit` fit."""
    return _("longer than %(limit)s characters (%(length)s)") % {"limit": limit, "length": length}


class ImportFailed(ValidationError):
    """The file was refused and nothing was written.

    `errors` holds one line per problem (CONTRACT.md's format); `problems` holds the same as
    `Problem`s (line, field, message) for a page that shows them as a table; `count` is the
    number of problems found, which is more than those listed when the log had to leave some out.
    """

    def __init__(self, errors: Iterable[Problem | str], *, count: int | None = None):
        self.problems = [e if isinstance(e, Problem) else Problem(str(e)) for e in errors]
        self.count = len(self.problems) if count is None else count
        self.errors = [str(p) for p in self.problems]
        if self.count > len(self.problems):
            hidden = self.count - len(self.problems)
            self.errors.append(
                ngettext(
                    "… and %(hidden)s more problem (the first %(listed)s are listed)",
                    "… and %(hidden)s more problems (the first %(listed)s are listed)",
                    hidden,
                )
                % {
                    "hidden": grouped(hidden),
                    "listed": grouped(len(self.problems)),
                }
            )
        super().__init__(self.errors, code="invalid_import")


class ProblemLog:
    """The problems of one import run: in file order (by line; unlined first, in the order found).

    Keeps at most `limit` problems, those earliest in the file, and counts every one.
    """

    def __init__(self, limit: int | None = None):
        self.limit = MAX_PROBLEMS if limit is None else limit
        self.count = 0
        self._heap: list[tuple[int, int, Problem]] = []  # (-line, -sequence, problem): the worst kept on top
        self._sequence = itertools.count()

    def add(self, problem: Problem) -> None:
        self.count += 1
        entry = (-(problem.line or 0), -next(self._sequence), problem)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heappushpop(self._heap, entry)

    def __bool__(self) -> bool:
        return self.count > 0

    def __len__(self) -> int:
        return self.count

    def problems(self) -> list[Problem]:
        return [problem for _line, _order, problem in sorted(self._heap, reverse=True)]

    def failure(self) -> ImportFailed:
        return ImportFailed(self.problems(), count=self.count)

    def raise_if_any(self) -> None:
        if self:
            raise self.failure()


class RecordCheck:
    """Checks the values of one record (a CSV row, a JSON object) and reports what is wrong.

    Subclasses read their own format (cells are strings, JSON values have types); the rules
    that both share are here. `ok` turns False at the record's first problem.
    """

    def __init__(self, problems: ProblemLog, *, line: int | None = None, path: str | None = None):
        self.problems = problems
        self.line = line
        self.path = path
        self.ok = True

    def error(self, field: str | None, message: str) -> None:
        self.ok = False
        self.problems.add(Problem(message, line=self.line, field=field, path=self.path))

    def check_text(self, field: str, value: str, max_length: int, *, line_breaks: bool | None = False) -> str | None:
        """`value` when it fits `max_length` and holds no control characters, else None after a report.

        A tab is allowed. `line_breaks=True` also allows newlines and carriage returns; False
        refuses them saying where they are allowed (CSV), None refuses them without a hint (JSON).
        """
        if len(value) > max_length:
            self.error(field, too_long(max_length, len(value)))
            return None
        probe = value.replace("\n", "").replace("\r", "") if line_breaks else value
        if CONTROL_CHARACTERS.search(probe) or "\n" in probe or "\r" in probe:
            hint = False
            if line_breaks is False and ("\n" in probe or "\r" in probe):
                hint = True
            self.error(
                field,
                _("control characters are not allowed (a line break is allowed in address and address_2 only)")
                if hint
                else _("control characters are not allowed"),
            )
            return None
        return value

    def check_code(
        self, field: str, value: str, known: set[str], *, max_length: int | None = None, label: str | None = None
    ) -> str | None:
        """`value` when it is one of the `known` codes, else None after a report.

        With `max_length`, a value that cannot be a code at all (too long, control characters)
        is reported as such rather than as unknown.
        """
        label = _("code") if label is None else label
        if max_length is not None and (
            len(value) > max_length or CONTROL_CHARACTERS.search(value) or "\n" in value or "\r" in value
        ):
            self.error(
                field,
                _("not a valid %(label)s (at most %(limit)s characters, no control characters)")
                % {"label": label, "limit": max_length},
            )
            return None
        if value not in known:
            self.error(field, _('unknown %(label)s "%(value)s"') % {"label": label, "value": short(value)})
            return None
        return value


def short(value: str, limit: int = 40) -> str:
    """A value to quote in a message, cut short so a huge cell never floods the report."""
    return value if len(value) <= limit else value[:limit] + "…"


def chunked_in(queryset: QuerySet, field: str, values: Iterable) -> Iterator:
    """Rows of `queryset` whose `field` is in `values`, one query per BATCH_SIZE values."""
    for chunk in batched(sorted(set(values), key=str), BATCH_SIZE):
        yield from queryset.filter(**{f"{field}__in": chunk})


def known_codes(model: type[models.Model]) -> set[str]:
    """Every primary key of a code table (reference data: a few thousand rows at most)."""
    return set(model.objects.values_list("pk", flat=True))
