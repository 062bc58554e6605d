"""`manage.py import_setup FILE.json` (CONTRACT.md, "Set-up and contacts")."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

from crm.importing import ImportFailed
from crm.management.batch import BatchCommand, Failed
from crm.permissions import COMMAND_LINE
from interactions.setup_import import setup_import


class Command(BatchCommand):
    nothing_done = "nothing was imported"

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

    def run(self, *args, file: str, dry_run: bool, verbosity: int, **options) -> None:
        try:
            text = Path(file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=1) from exc
        except UnicodeDecodeError as exc:
            raise Failed([f"the file is not valid UTF-8 (byte {exc.start}); save it as UTF-8"]) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Failed([f"line {exc.lineno} column {exc.colno}: not valid JSON: {exc.msg}"]) from exc
        try:
            counts = setup_import(user=COMMAND_LINE, data=data, dry_run=dry_run)
        except ImportFailed as exc:
            raise Failed(exc.errors) from exc
        if verbosity >= 1:
            summary = ", ".join(f"{section} {count}" for section, count in counts.items()) or "nothing"
            self.stdout.write(("dry run, nothing written: " if dry_run else "imported: ") + summary)
