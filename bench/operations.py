"""The operations `manage.py bench` measures, each beside its raw-SQL floor.

Importing this module registers them (bench.harness.REGISTRY), in table order.
"""

from __future__ import annotations

import csv
import io

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm.permissions import COMMAND_LINE
from segments.demo import CSV_COLUMNS, demo_csv_rows

from .harness import Context, operation

IMPORT_SHARE = 0.10  # the CSV holds this share of N new contacts
IMPORT_PREFIX = "BI"  # their numbers: BI0000001…, apart from the seeded CT… numbers
IMPORT_SEED = 99
LIST_FILTER = {"city": "Amsterdam", "industry_group": "IT"}
PAGE_SIZE = 50

# --- contact import ------------------------------------------------------------------------

CONTACT_INSERT = (
    "INSERT INTO crm_contact (no, type, company_id, name, name_2, first_name, middle_name, surname, initials,"
    " job_title, address, address_2, post_code, city, county, country_id, territory_id, phone, mobile_phone,"
    " email, salesperson_id, language_id, salutation_id, correspondence_type, exclude_from_segment,"
    " created_at, updated_at) VALUES (%s, %s, %s, %s, '', %s, %s, %s, '', %s, %s, %s, %s, %s, '', %s, %s, %s,"
    " '', %s, %s, %s, %s, %s, %s, %s, %s)"
)
LINKS = (
    ("industry_groups", "crm_contactindustrygroup", "industry_group_id"),
    ("business_relations", "crm_contactbusinessrelation", "business_relation_id"),
    ("mailing_groups", "crm_contactmailinggroup", "mailing_group_id"),
    ("job_responsibilities", "crm_contactjobresponsibility", "job_responsibility_id"),
)
NUMBER_RANGE = [IMPORT_PREFIX, IMPORT_PREFIX[:-1] + chr(ord(IMPORT_PREFIX[-1]) + 1)]  # BI <= no < BJ


def prepare_import(ctx: Context) -> None:
    count = max(1, round(ctx.contacts * IMPORT_SHARE))
    rows = list(demo_csv_rows(count, seed=IMPORT_SEED, prefix=IMPORT_PREFIX))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    ctx.data["import_rows"] = rows
    ctx.data["import_csv"] = buffer.getvalue().encode("utf-8")


def cleanup_import(ctx: Context) -> None:
    """Remove the imported contacts (untimed), so every run imports into the same data."""
    imported = "SELECT id FROM crm_contact WHERE no >= %s AND no < %s"
    with transaction.atomic(), connection.cursor() as cursor:
        for _, table, _ in LINKS:
            cursor.execute(f"DELETE FROM {table} WHERE contact_id IN ({imported})", NUMBER_RANGE)
        cursor.execute("DELETE FROM crm_contact WHERE no >= %s AND no < %s", NUMBER_RANGE)


def import_floor(ctx: Context) -> None:
    """The same contacts and classification rows with executemany INSERTs, in one transaction."""
    rows = ctx.data["import_rows"]
    now = connection.ops.adapt_datetimefield_value(timezone.now())

    def values(row: dict, company_id: int | None) -> tuple:
        return (
            row["no"],
            row["type"],
            company_id,
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

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(CONTACT_INSERT, [values(row, None) for row in rows if row["type"] == "company"])
        cursor.execute("SELECT no, id FROM crm_contact WHERE no >= %s AND no < %s", NUMBER_RANGE)
        ids = dict(cursor.fetchall())
        persons = [values(row, ids.get(row["company_no"])) for row in rows if row["type"] == "person"]
        cursor.executemany(CONTACT_INSERT, persons)
        cursor.execute("SELECT no, id FROM crm_contact WHERE no >= %s AND no < %s", NUMBER_RANGE)
        ids = dict(cursor.fetchall())
        for column, table, code_column in LINKS:
            links = [(ids[row["no"]], code) for row in rows if row[column] for code in row[column].split(";")]
            if links:
                cursor.executemany(f"INSERT INTO {table} (contact_id, {code_column}) VALUES (%s, %s)", links)


@operation(
    f"contact import (CSV, {IMPORT_SHARE:.0%} of N new)",
    floor=import_floor,
    prepare=prepare_import,
    cleanup=cleanup_import,
)
def contact_import(ctx: Context) -> None:
    from crm.transfer import contacts_import_csv

    result = contacts_import_csv(user=COMMAND_LINE, data=ctx.data["import_csv"])
    expected = len(ctx.data["import_rows"])
    if result.created != expected:
        raise AssertionError(f"the import created {result.created} contacts, expected {expected}")


# --- contact list page -------------------------------------------------------------------------

LIST_COLUMNS = (
    "SELECT c.id, c.no, c.type, c.name, co.no, co.name, c.post_code, c.city, c.country_id, c.email, c.phone,"
    " c.salesperson_id FROM crm_contact c LEFT JOIN crm_contact co ON co.id = c.company_id"
)
LIST_WHERE = (
    " WHERE c.city = %s AND (EXISTS (SELECT 1 FROM crm_contactindustrygroup g"
    " WHERE g.contact_id = c.id AND g.industry_group_id = %s) OR EXISTS (SELECT 1 FROM crm_contactindustrygroup g"
    " WHERE g.contact_id = c.company_id AND g.industry_group_id = %s))"
)


def _get_list(ctx: Context, query: dict) -> None:
    url = reverse("crm:contact_list")
    response = ctx.client.get(url, query, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def _list_floor(where: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM crm_contact c{where}", params)
        cursor.fetchone()
        cursor.execute(f"{LIST_COLUMNS}{where} ORDER BY c.no LIMIT {PAGE_SIZE}", params)
        cursor.fetchall()


def list_floor(ctx: Context) -> None:
    _list_floor("", [])


def list_filtered_floor(ctx: Context) -> None:
    _list_floor(LIST_WHERE, [LIST_FILTER["city"], LIST_FILTER["industry_group"], LIST_FILTER["industry_group"]])


@operation("contact list, first page", floor=list_floor)
def contact_list(ctx: Context) -> None:
    _get_list(ctx, {})


@operation(
    "contact list, first page, city={city}&industry_group={industry_group}".format(**LIST_FILTER),
    floor=list_filtered_floor,
)
def contact_list_filtered(ctx: Context) -> None:
    _get_list(ctx, LIST_FILTER)


# The segment steps (add, preview, reduce, refine, undo), then logging (issue 5: the log, the
# logged segments list, the interaction log) register themselves after the above
# (log_operations imports segment_operations, so the segment rows come first), then the Word
# mail merge beside docxtpl (issue 6), then the worksheet's Log and Print letters pages (issue 13),
# then the Log page's drift check (issue 15; last: it changes contacts).
from . import log_operations, merge_operations, page_operations, search_operations, segment_operations  # noqa: E402,F401

from . import drift_operations  # noqa: E402,F401  isort: skip
