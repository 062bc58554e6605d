"""What every batch command shares (CONTRACT.md, "General rules"): the error contract, the
parsers of option values and the shapers of JSON rows.

`BatchCommand` runs the command — `do_<subcommand>(options)` for a command with subcommands,
else `run(**options)` — and turns bad input into the contract's answer: every problem on
stderr on its own line, nothing written, exit status 1 (argparse's own rejections exit 2).
Bad input is `Failed` (the problems, one line each), a ValidationError from a service (whose
transaction it rolled back) or PermissionDenied. Each command names what was not done in
`nothing_done` ("nothing was imported (2 problem(s))" is Django's last stderr line).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Failed(Exception):
    """Bad input: the problems, one line each; `about` says where, in the exit message."""

    def __init__(self, problems: Iterable[str], *, about: str = ""):
        self.problems = list(problems)
        self.about = about
        super().__init__("; ".join(self.problems))


def validation_problems(exc: ValidationError) -> list[str]:
    """One line per message; a model field's messages are prefixed with the field name."""
    if hasattr(exc, "error_dict"):
        return [
            message if field == NON_FIELD_ERRORS else f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return list(exc.messages)


class BatchCommand(BaseCommand):
    """Runs `do_<subcommand>(options)` (or `run(**options)`) and turns bad input into stderr
    lines and exit status 1."""

    #: What the exit message says was not done: "<nothing_done> (N problem(s))".
    nothing_done = "nothing was written"
    #: No system checks before each run: they import every URL module and view and check every
    #: model (0.3–0.4 s), more than most steps cost, and a script runs these commands many times.
    #: `migrate`, the web server and `check --deploy` (scripts/production-check.sh) still run them.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if "subcommand" in options:
                subcommand = options.pop("subcommand")
                getattr(self, "do_" + subcommand.replace("-", "_"))(options)
            else:
                self.run(*args, **options)
        except Failed as exc:
            self.fail(exc.problems, about=exc.about)
        except ValidationError as exc:
            self.fail(validation_problems(exc))
        except PermissionDenied as exc:
            self.fail([f"permission denied: {exc}"])

    def run(self, *args: Any, **options: Any) -> None:
        raise NotImplementedError("a BatchCommand without subcommands defines run()")

    def fail(self, problems: list[str], *, about: str = "") -> None:
        for problem in problems:
            self.stderr.write(problem)
        about = f" {about}" if about else ""
        raise CommandError(f"{self.nothing_done} ({len(problems)} problem(s){about})", returncode=1)

    def out(self, value) -> None:
        """A number, id or line of a listing, alone on its line."""
        self.stdout.write(str(value))


# --- Option values ------------------------------------------------------------------------------


def parse_date(name: str, value: str) -> datetime.date:
    """A YYYY-MM-DD option value; Failed naming the option otherwise."""
    if DATE_RE.match(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise Failed([f'{name}: invalid date "{value}" (use YYYY-MM-DD)'])


def parse_amount(name: str, value: str) -> Decimal:
    """A finite decimal, 0 or more; Failed naming the option otherwise."""
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise Failed([f'{name}: invalid number "{value}"'])
    if amount < 0:
        raise Failed([f'{name}: must be 0 or more, not "{value}"'])
    return amount


# --- JSON rows (CONTRACT.md shapes) ---------------------------------------------------------------


def json_null(value):
    """A blank code, enum or reference is null, never ""."""
    return value if value not in ("", None) else None


def json_decimal(value: Decimal | None) -> str | None:
    """An amount with two decimals, as a string (exact); null when there is none."""
    return None if value is None else f"{value:.2f}"


def json_date(value: datetime.date | None) -> str | None:
    """YYYY-MM-DD; null when there is none."""
    return value.isoformat() if value else None
