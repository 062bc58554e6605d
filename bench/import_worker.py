"""A process of the batch-import benchmark (bench/import_operations.py): one import, then its figures.

    python -m bench.import_worker import FILE.csv    # manage.py import_contacts FILE.csv, in this process
    python -m bench.import_worker floor FILE.csv     # the same rows with raw executemany INSERTs

It sets Django up from its environment (the benchmark's scratch database), does the work and
prints one JSON line: {"rows", "seconds", "cpu_seconds", "rss_before_mib", "peak_rss_mib"}.
"seconds" is the work alone (wall clock); the peak resident memory (VmHWM) is the whole
process's, which a new program starts afresh, and rss_before_mib what it held before the work.

The floor reads the file as a stream too (csv.DictReader) and writes in one transaction: the
companies, then the persons with their company's key looked up by number in the INSERT
itself, then each classification link with its contact's key looked up the same way; in
batches of 2,000 rows, one `executemany` per statement (on PostgreSQL an ANALYZE each time
the table doubled, as the import does); then one UPDATE per inherited field
fills what persons left blank from their company. No checks, no numbering: the least the
database needs for the same end state, in a contact table that was empty.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
from itertools import batched

CONTACT_COLUMNS = (
    "no, type, company_id, name, name_2, first_name, middle_name, surname, initials, job_title, address,"
    " address_2, post_code, city, county, country_id, territory_id, phone, mobile_phone, email, salesperson_id,"
    " language_id, salutation_id, correspondence_type, exclude_from_segment, created_at, updated_at"
)
COMPANY_INSERT = (
    f"INSERT INTO crm_contact ({CONTACT_COLUMNS}) VALUES (%s, %s, NULL, %s, '', %s, %s, %s, '', %s, %s, %s, %s,"
    " %s, '', %s, %s, %s, '', %s, %s, %s, %s, %s, %s, %s, %s)"
)
PERSON_INSERT = (
    f"INSERT INTO crm_contact ({CONTACT_COLUMNS}) VALUES (%s, %s, (SELECT id FROM crm_contact WHERE no = %s),"
    " %s, '', %s, %s, %s, '', %s, %s, %s, %s, %s, '', %s, %s, %s, '', %s, %s, %s, %s, %s, %s, %s, %s)"
)
LINKS = (
    ("industry_groups", "crm_contactindustrygroup", "industry_group_id"),
    ("business_relations", "crm_contactbusinessrelation", "business_relation_id"),
    ("mailing_groups", "crm_contactmailinggroup", "mailing_group_id"),
    ("job_responsibilities", "crm_contactjobresponsibility", "job_responsibility_id"),
)
BATCH = 2000


def _values(row: dict, now, *, person: bool) -> tuple:
    return (
        row["no"],
        row["type"],
        *([row["company_no"] or ""] if person else []),
        row["name"],
        row["first_name"],
        row["middle_name"],
        row["surname"],
        row["job_title"],
        row["address"],
        row["address_2"],
        row["post_code"],
        row["city"],
        row["country"] or None,
        row["territory"] or None,
        row["phone"],
        row["email"],
        row["salesperson"] or None,
        row["language"] or None,
        row["salutation"] or None,
        row["correspondence_type"],
        row["exclude_from_segment"] == "true",
        now,
        now,
    )


def import_floor(path: str) -> int:
    """Write the file's contacts and links with raw SQL in one transaction; the number of rows."""
    from django.db import connection, transaction
    from django.utils import timezone

    now = connection.ops.adapt_datetimefield_value(timezone.now())
    count = analyzed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for person in (False, True):
            with open(path, newline="", encoding="utf-8") as stream:
                rows = (row for row in csv.DictReader(stream) if (row["type"] == "person") == person)
                for chunk in batched(rows, BATCH):
                    cursor.executemany(
                        PERSON_INSERT if person else COMPANY_INSERT, [_values(r, now, person=person) for r in chunk]
                    )
                    for column, table, code_column in LINKS:
                        links = [(code, r["no"]) for r in chunk if r[column] for code in r[column].split(";")]
                        if links:
                            cursor.executemany(
                                f"INSERT INTO {table} (contact_id, {code_column}) "
                                "SELECT id, %s FROM crm_contact WHERE no = %s",
                                links,
                            )
                    count += len(chunk)
                    if connection.vendor == "postgresql" and count >= max(2 * analyzed, 1000):
                        # As the import does (crm.transfer._StatisticsRefresher): without it the
                        # plans of the lookups and triggers take the table for empty and scan it.
                        cursor.execute("ANALYZE crm_contact")
                        analyzed = count
        for sql in _fill_from_company():
            cursor.execute(sql)
    return count


def _fill_from_company() -> list[str]:
    """A person takes what it left blank from its company (CONTRACT.md): one UPDATE per
    inherited field, one for the address block (only where every address field is blank)."""
    from crm.models import Contact
    from crm.services import ADDRESS_FIELDS, INHERITED_FIELDS

    def blank(attname: str) -> str:
        null = Contact._meta.get_field(attname.removesuffix("_id")).null
        return f"{attname} IS NULL" if null else f"{attname} = ''"

    def company(columns: str) -> str:
        return f"(SELECT {columns} FROM crm_contact c WHERE c.id = crm_contact.company_id)"

    statements = [
        f"UPDATE crm_contact SET {f} = {company('c.' + f)} WHERE company_id IS NOT NULL AND {blank(f)}"
        for f in INHERITED_FIELDS
    ]
    columns = ", ".join(ADDRESS_FIELDS)
    statements.append(
        f"UPDATE crm_contact SET ({columns}) = {company(', '.join('c.' + f for f in ADDRESS_FIELDS))} "
        f"WHERE company_id IS NOT NULL AND {' AND '.join(blank(f) for f in ADDRESS_FIELDS)}"
    )
    return statements


def import_ours(path: str) -> int:
    """`manage.py import_contacts FILE` (the command, as a batch job runs it); the contacts it created."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("import_contacts", path, stdout=out)
    match = re.match(r"created (\d+), updated (\d+)", out.getvalue())
    if match is None:
        raise SystemExit(f"import_contacts printed {out.getvalue()!r}")
    return int(match[1]) + int(match[2])


def main(argv: list[str]) -> None:
    import django

    from bench.merge_worker import _rss_mib

    mode, path = argv
    work = {"import": import_ours, "floor": import_floor}.get(mode)
    if work is None:
        raise SystemExit(f"unknown mode {mode!r}")
    django.setup()
    before = _rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    rows = work(path)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "rss_before_mib": before}
    result["peak_rss_mib"] = _rss_mib()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    main(sys.argv[1:])
