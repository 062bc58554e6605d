"""`manage.py import_contacts FILE.csv` (CONTRACT.md, "Set-up and contacts")."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from crm.management.batch import BatchCommand, Failed
from crm.permissions import COMMAND_LINE
from crm.transfer import ImportFailed, contacts_import_csv


class Command(BatchCommand):
    nothing_done = "nothing was imported"

    help = (
        "Create or update contacts by `no` from a CSV file of any size, all or nothing, streaming it. On bad "
        "input every problem is written to stderr, one line each, nothing is imported and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="CSV file with a header line; comma or semicolon separated.")
        parser.add_argument(
            "--encoding",
            default="utf-8-sig",
            help='Text encoding of the file (default: UTF-8, with or without BOM; e.g. "cp1252" for old Excel files).',
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what it would do, then roll everything back.",
        )

    def run(self, *args, file: str, encoding: str, dry_run: bool, verbosity: int, **options) -> None:
        progress = self.stderr.write if self.stderr.isatty() else None
        try:
            with Path(file).open("rb") as stream:
                result = contacts_import_csv(
                    user=COMMAND_LINE,
                    file=stream,
                    encoding=encoding,
                    dry_run=dry_run,
                    progress=progress,
                    file_name=Path(file).name,
                )
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=1) from exc
        except ImportFailed as exc:
            raise Failed(exc.errors) from exc
        if verbosity >= 1:
            prefix = "dry run, nothing written: would have " if dry_run else ""
            self.stdout.write(f"{prefix}created {result.created}, updated {result.updated}")
