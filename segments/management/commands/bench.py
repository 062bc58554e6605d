"""`manage.py bench`: time our operations beside a raw-SQL floor in a scratch database.

The measurement runs in a child process (`bench --child`) whose DATABASE_URL points at the
scratch database, so the configured database is never touched and the child sets Django up
against the scratch database from the start. The child prints its results as JSON; this
process prints the table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench.harness import REGISTRY, RUNS, Context, format_table, run_operations
from bench.scratch import ScratchError, scratch_database
from segments.demo import DEFAULT_SEED, demo_seed

SCRATCH_FLAG = "CRM_BENCH_SCRATCH"
CHILD_ONLY = "--child measures only in the scratch database that `manage.py bench` creates"


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a whole number: "{value}"') from None
    if number < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1: "{value}"')
    return number


class Command(BaseCommand):
    help = (
        "Build N demo contacts in a scratch database (a temporary SQLite file, or a fresh database on the "
        "PostgreSQL server of --database-url, dropped afterwards), then time each operation of the project "
        "beside a raw-SQL floor on the same data and print a table: operation | N | ours (s) | floor (s) | "
        "ratio. Each time is the median of 3 runs after a warm-up. Exit 1 if an operation fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=positive_int, default=100_000, help="contacts to build (default 100000)")
        parser.add_argument(
            "--database-url",
            help="sqlite:////path/new.sqlite3 (a file that does not exist yet) or postgres://user@host:port/db "
            "(a server on which a scratch database is created); default: a temporary SQLite file",
        )
        parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="demo data seed")
        parser.add_argument("--runs", type=positive_int, default=RUNS, help=f"timed runs per side (default {RUNS})")
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="TEXT",
            help="measure only the operations whose name contains TEXT (repeatable; the seed always runs)",
        )
        parser.add_argument(
            "--import",
            dest="batch_import",
            action="store_true",
            help="measure only the batch import: write a CSV file of N contacts, import it with import_contacts in a "
            "child process into an empty contact table, report its time and peak memory beside a raw-SQL floor",
        )
        parser.add_argument(
            "--commands",
            action="store_true",
            help="measure only whole segment commands (count, add, undo, reduce, log) run as processes, less an "
            "empty command's start-up, beside a lean floor: the same rows in plain SQL on tables with only the "
            "indexes they need",
        )
        parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args, contacts, database_url, keep, seed, runs, only, batch_import, commands, child, **options):
        if child:
            return self.measure(
                contacts=contacts, seed=seed, runs=runs, only=only, batch_import=batch_import, commands=commands
            )
        try:
            with scratch_database(database_url, keep=keep, log=self.stderr.write) as url:
                self.stderr.write(f"Scratch database: {url}")
                completed = subprocess.run(
                    [sys.executable, str(settings.BASE_DIR / "manage.py"), "bench", "--child"]
                    + ["--contacts", str(contacts), "--seed", str(seed), "--runs", str(runs)]
                    + [argument for text in only for argument in ("--only", text)]
                    + (["--import"] if batch_import else [])
                    + (["--commands"] if commands else []),
                    env={
                        **os.environ,
                        "DATABASE_URL": url,
                        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
                        SCRATCH_FLAG: "1",
                    },
                    stdout=subprocess.PIPE,
                    text=True,
                    check=False,
                )
        except ScratchError as error:
            raise CommandError(str(error)) from None
        if completed.returncode != 0:
            raise CommandError(f"the measurement failed (exit {completed.returncode}); see the messages above")
        result = json.loads(completed.stdout)
        if batch_import:
            heading = f"{contacts:,} contacts imported from a CSV file into an empty contact table; one run (seconds)"
        else:
            heading = f"{contacts:,} contacts; median of {runs} runs after one warm-up (seconds)"
        self.stdout.write(f"{result['database']}, {heading}")
        if commands:
            self.stdout.write(format_table(result["rows"], name="command", floor="lean floor"))
        else:
            self.stdout.write(format_table(result["rows"]))
        failed = [row["operation"] for row in result["rows"] if row.get("error")]
        if failed:
            raise CommandError(f"{len(failed)} operation(s) failed: {', '.join(failed)}")

    def measure(
        self, *, contacts: int, seed: int, runs: int, only: list[str], batch_import: bool, commands: bool
    ) -> None:
        """The child: migrate, seed, measure every registered operation, print JSON."""
        if os.environ.get(SCRATCH_FLAG) != "1":
            raise CommandError(CHILD_ONLY)
        if batch_import:
            from bench.import_operations import measure_import

            self.stderr.write("Migrating the scratch database…")
            call_command("migrate", verbosity=0, interactive=False)
            rows = measure_import(contacts, log=self.stderr.write)
            return self._print_result(rows)
        from django.contrib.auth.models import Group, User
        from django.test import Client
        from django.test.utils import setup_test_environment

        import bench.operations  # noqa: F401 - registers the operations

        setup_test_environment(debug=False)  # the test client's host, no query log
        logging.getLogger("crm.requests").disabled = True  # its lines on stdout would break the JSON
        log = self.stderr.write
        log("Migrating the scratch database…")
        call_command("migrate", verbosity=0, interactive=False)
        log(f"Seeding {contacts:,} contacts…")
        progress = self._progress if self.stderr.isatty() else None
        summary = demo_seed(contacts=contacts, seed=seed, progress=progress)
        log(f"\n{summary.line()}")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # what autovacuum would soon do
                cursor.execute("VACUUM ANALYZE")
        user = User.objects.create_user("bench-admin", is_staff=True)
        user.groups.add(Group.objects.get(name="Admin"))
        client = Client()
        client.force_login(user)
        rows = [{"operation": "seed demo data (segments.demo)", "n": contacts, "ours": summary.seconds, "floor": None}]
        ctx = Context(contacts=contacts, client=client)
        registry = REGISTRY
        if commands:
            from bench.command_operations import COMMANDS, STARTUP, measure_startup

            registry = COMMANDS
            log("measuring: the empty command's start-up")
            startup = measure_startup(ctx, max(runs, 5))
            rows.append(
                {
                    "operation": f"empty command (manage.py {' '.join(STARTUP)})",
                    "n": contacts,
                    "ours": startup,
                    "floor": None,
                }
            )
        operations = [op for op in registry if not only or any(text in op.name for text in only)]
        rows += run_operations(ctx, operations, runs=runs, log=log)
        self._print_result(rows)

    def _print_result(self, rows: list[dict]) -> None:
        database = f"{connection.display_name} {'.'.join(map(str, connection.get_database_version()))}"
        self.stdout.write(json.dumps({"database": database, "rows": rows}))

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"\rSeeding contacts: {done:,} / {total:,}", ending="")
        self.stderr.flush()
