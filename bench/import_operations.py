"""`manage.py bench --import`: a batch import of N contacts from a CSV file, beside its floor.

Unlike the operations of the table (bench/operations.py), this one runs once per side: at a
million contacts one run takes minutes. The measuring child (`bench --child --import`) migrates
the scratch database, adds the demo reference data, writes a CSV file of N demo contacts
(`segments.demo.demo_csv_rows`: companies, persons with their `company_no`, codes of every kind of
reference data; each company is written after its persons, so those persons name a company
later in the file), then starts two worker processes one after the other (bench/import_worker.py):

- ours: `manage.py import_contacts FILE` (call_command in the worker), into an empty contact table;
- floor: the same rows with raw `executemany` INSERTs in one transaction, into the contact table
  emptied again.

Each reports its time and its peak resident memory (VmHWM of its own process).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from segments.demo import CSV_COLUMNS, demo_csv_rows, demo_reference_data

from .import_worker import LINKS

IMPORT_PREFIX = "IM"
IMPORT_SEED = 7


def write_import_csv(path: Path, count: int, *, seed: int = IMPORT_SEED) -> dict[str, int]:
    """Write `count` demo contacts as an import_contacts CSV, streaming; each company after its persons.

    Returns the counts: rows, companies, persons, forward (persons whose company comes later).
    """
    counts = {"rows": 0, "companies": 0, "persons": 0, "forward": 0}
    held = None  # the latest company, written when the next one comes (after its persons)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for row in demo_csv_rows(count, seed=seed, prefix=IMPORT_PREFIX):
            counts["rows"] += 1
            if row["type"] == "company":
                counts["companies"] += 1
                if held is not None:
                    writer.writerow(held)
                held = row
                continue
            counts["persons"] += 1
            if held is not None and row["company_no"] == held["no"]:
                counts["forward"] += 1
            writer.writerow(row)
        if held is not None:
            writer.writerow(held)
    return counts


def empty_contacts() -> None:
    """Delete every contact and its links (untimed), so both sides start from the same data.

    On PostgreSQL a TRUNCATE (of the tables that refer to contacts too: in the scratch
    database only the links hold rows): a DELETE of a million contacts checks every foreign
    key that refers to them, which takes longer than the import.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # in a test's transaction: check what is pending
            cursor.execute("TRUNCATE crm_contact CASCADE")
        else:
            for _, table, _ in LINKS:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("DELETE FROM crm_contact")
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:  # what autovacuum would soon do
            cursor.execute("VACUUM ANALYZE crm_contact")


def run_worker(mode: str, path: Path) -> dict:
    """Run bench/import_worker.py in a new process against this database; its JSON result."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.import_worker", mode, str(path)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the {mode} worker failed (exit {completed.returncode}); see the messages above")
    return json.loads(completed.stdout.splitlines()[-1])


def measure_import(contacts: int, *, log: Callable[[str], None]) -> list[dict]:
    """The table row of the import of `contacts` contacts, with its note (memory, rates)."""
    from crm.models import Contact

    demo_reference_data()
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    try:
        path = folder / "contacts.csv"
        log(f"Writing a CSV file of {contacts:,} contacts…")
        counts = write_import_csv(path, contacts)
        size = path.stat().st_size
        log(
            f"{size / 1e6:.0f} MB: {counts['companies']:,} companies, {counts['persons']:,} persons "
            f"({counts['forward']:,} naming a company later in the file)"
        )
        sides = {}
        for side, mode in (("ours", "import"), ("floor", "floor")):
            log(f"measuring: {side} ({mode})")
            result = run_worker(mode, path)
            stored = Contact.objects.count()
            if result["rows"] != contacts or stored != contacts:
                raise AssertionError(
                    f"{side}: {result['rows']:,} rows imported, {stored:,} stored; expected {contacts:,}"
                )
            sides[side] = result
            log(f"{side}: {result['seconds']:.1f} s, peak memory {result['peak_rss_mib']:.0f} MiB")
            empty_contacts()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours, floor = sides["ours"], sides["floor"]
    note = (
        f"a {size / 1e6:.0f} MB file; peak memory of the process: ours {ours['peak_rss_mib']:.0f} MiB "
        f"({ours['rss_before_mib']:.0f} MiB before the import), floor {floor['peak_rss_mib']:.0f} MiB; "
        f"ours {contacts / ours['seconds']:,.0f} contacts/s, floor {contacts / floor['seconds']:,.0f} contacts/s"
    )
    return [
        {
            "operation": "import_contacts of a CSV file (child process; floor: executemany INSERTs)",
            "n": contacts,
            "ours": ours["seconds"],
            "floor": floor["seconds"],
            "note": note,
            "ours_peak_rss_mib": ours["peak_rss_mib"],
            "floor_peak_rss_mib": floor["peak_rss_mib"],
            "bytes": size,
        }
    ]
