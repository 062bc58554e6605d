"""`manage.py import_setup FILE.json` (CONTRACT.md, "Set-up and contacts")."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.importing import ImportFailed
from interactions.setup_import import setup_import


class Command(BaseCommand):
    help = (
        "Upsert reference data by code from a JSON file (countries, languages, …, salutations, "
        "interaction groups and templates, campaigns). Idempotent; all or nothing: on bad input every "
        "problem is written to stderr, one line each, and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="JSON file: an object whose keys are sections (see CONTRACT.md).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and count its entries, then roll back."
        )

    def handle(self, *args, file: str, dry_run: bool, verbosity: int, **options) -> None:
        try:
            text = Path(file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=1) from exc
        except UnicodeDecodeError as exc:
            self._fail([f"the file is not valid UTF-8 (byte {exc.start}); save it as UTF-8"])
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self._fail([f"line {exc.lineno} column {exc.colno}: not valid JSON: {exc.msg}"])
        try:
            counts = setup_import(data=data, dry_run=dry_run)
        except ImportFailed as exc:
            self._fail(exc.errors)
        if verbosity >= 1:
            summary = ", ".join(f"{section} {count}" for section, count in counts.items()) or "nothing"
            self.stdout.write(("dry run, nothing written: " if dry_run else "imported: ") + summary)

    def _fail(self, errors: list[str]) -> None:
        for line in errors:
            self.stderr.write(line)
        raise CommandError(f"nothing was imported ({len(errors)} problem(s))", returncode=1)
