"""The benchmark harness (`manage.py bench`, bench/)."""

from __future__ import annotations

import io
import os
import re
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import bench.operations  # noqa: F401 - registers the operations
from bench.harness import REGISTRY, Context, format_table, median_time, operation, run_operations
from bench.import_operations import empty_contacts, write_import_csv
from bench.import_worker import import_floor, import_ours
from bench.operations import cleanup_import, contact_import, prepare_import
from bench.operations import import_floor as contact_import_floor
from crm.models import (
    Contact,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
)
from segments.demo import demo_reference_data, demo_seed
from segments.management.commands.bench import CHILD_ONLY, SCRATCH_FLAG


def table_rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith("| operation"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def assert_complete_table(output: str, contacts: int) -> None:
    rows = table_rows(output)
    assert list(rows) == ["seed demo data (segments.demo)", *(op.name for op in REGISTRY)]
    for name, (n, ours, floor, ratio) in rows.items():
        assert n == f"{contacts:,}", name
        assert float(ours) > 0, name
        if name != "seed demo data (segments.demo)":
            assert float(floor) > 0 and ratio.endswith("×"), name


def test_bench_runs_end_to_end_on_a_scratch_sqlite_file_and_prints_every_operation():
    out = io.StringIO()

    call_command("bench", "--contacts", "300", "--runs", "1", stdout=out, stderr=io.StringIO())

    assert out.getvalue().startswith("SQLite ")
    assert "| operation | N | ours (s) | floor (s) | ratio |" in out.getvalue()
    assert_complete_table(out.getvalue(), 300)
    assert "failed" not in out.getvalue()


def test_bench_only_measures_the_operations_named():
    out = io.StringIO()

    call_command(
        "bench", "--contacts", "200", "--runs", "1", "--only", "contact list", stdout=out, stderr=io.StringIO()
    )

    rows = table_rows(out.getvalue())
    assert list(rows) == ["seed demo data (segments.demo)", *(op.name for op in REGISTRY if "contact list" in op.name)]
    assert len(rows) == 5  # by no. (plain, filtered), by name (first, last page): issue 16


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs the PostgreSQL server of the suite"
)
def test_bench_creates_and_drops_a_scratch_postgresql_database():
    import psycopg

    url = os.environ["DATABASE_URL"]
    out = io.StringIO()

    call_command("bench", "--contacts", "300", "--runs", "1", "--database-url", url, stdout=out, stderr=io.StringIO())

    assert out.getvalue().startswith("PostgreSQL ")
    assert_complete_table(out.getvalue(), 300)
    server = urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(server) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'crm_bench_%'").fetchall()
    assert left == []


def test_bench_refuses_an_existing_sqlite_file(tmp_path):
    existing = tmp_path / "db.sqlite3"
    existing.write_bytes(b"precious")

    with pytest.raises(CommandError, match="exists"):
        call_command("bench", "--contacts", "10", "--database-url", f"sqlite:///{existing}", stderr=io.StringIO())

    assert existing.read_bytes() == b"precious"


def test_bench_refuses_an_unsupported_database():
    with pytest.raises(CommandError, match='unsupported database "django.db.backends.mysql"'):
        call_command("bench", "--database-url", "mysql://u@localhost/crm", stderr=io.StringIO())


@pytest.mark.parametrize("value", ["0", "x"])
def test_bench_rejects_a_bad_number_of_contacts(value):
    with pytest.raises(CommandError, match="--contacts"):
        call_command("bench", "--contacts", value)


def test_the_measuring_child_refuses_to_run_outside_a_scratch_database(monkeypatch):
    monkeypatch.delenv(SCRATCH_FLAG, raising=False)

    with pytest.raises(CommandError) as error:
        call_command("bench", "--child", "--contacts", "10")

    assert str(error.value) == CHILD_ONLY


# --- harness ---------------------------------------------------------------------------------


def test_median_time_warms_up_once_and_cleans_up_after_every_run():
    calls = []

    median_time(lambda ctx: calls.append("run"), Context(1), cleanup=lambda ctx: calls.append("clean"), runs=3)

    assert calls == ["run", "clean"] * 4


def test_a_failing_operation_gives_an_error_row_and_the_others_still_run():
    cleaned = []

    def broken(ctx):
        raise RuntimeError("GET /contacts/ answered 405\nmore detail")

    ops = [
        type(REGISTRY[0])("broken", broken, cleanup=lambda ctx: cleaned.append(True)),
        type(REGISTRY[0])("fine", lambda ctx: None, floor=lambda ctx: None),
    ]

    rows = run_operations(Context(5), ops, runs=1)

    assert rows[0]["error"] == "RuntimeError: GET /contacts/ answered 405"
    assert cleaned == [True]
    assert rows[1]["error"] is None and rows[1]["ours"] is not None and rows[1]["floor"] is not None
    table = format_table(rows)
    assert "| broken | 5 | failed: RuntimeError: GET /contacts/ answered 405 | | |" in table


def test_table_shows_ratio_and_dashes_without_floor():
    table = format_table(
        [
            {"operation": "seed", "n": 1000, "ours": 2.5, "floor": None},
            {"operation": "list", "n": 1000, "ours": 0.02, "floor": 0.004},
        ]
    )

    assert table.splitlines() == [
        "| operation | N | ours (s) | floor (s) | ratio |",
        "|---|---:|---:|---:|---:|",
        "| seed | 1,000 | 2.500 | – | – |",
        "| list | 1,000 | 0.0200 | 0.0040 | 5.0× |",
    ]


def test_an_operation_name_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        operation(REGISTRY[0].name)(lambda ctx: None)


# --- the import operation: ours and the floor write the same data ---------------------------------


def imported_state() -> tuple:
    contacts = list(
        Contact.objects.filter(no__startswith="BI")
        .order_by("no")
        .values_list("no", "type", "company__no", "name", "city", "post_code", "email", "salesperson", "language")
    )
    links = sorted(
        [(no, code) for no, code in ContactMailingGroup.objects.values_list("contact__no", "mailing_group")]
        + [(no, code) for no, code in ContactJobResponsibility.objects.values_list("contact__no", "job_responsibility")]
    )
    return contacts, links


@pytest.mark.django_db
def test_import_floor_writes_what_the_import_writes_and_cleanup_removes_it():
    demo_seed(contacts=50)
    ctx = Context(contacts=500)
    prepare_import(ctx)

    contact_import(ctx)
    ours = imported_state()
    cleanup_import(ctx)
    assert Contact.objects.count() == 50
    contact_import_floor(ctx)
    floor = imported_state()
    cleanup_import(ctx)

    assert len(ours[0]) == 50
    assert ours == floor
    assert Contact.objects.count() == 50


# --- the batch import (`bench --import`): ours and the floor write the same data -----------------


def contacts_state() -> tuple:
    columns = [f.attname for f in Contact._meta.concrete_fields if f.attname not in ("id", "created_at", "updated_at")]
    contacts = list(Contact.objects.order_by("no").values_list(*columns, "company__no"))
    links = [
        sorted(model.objects.values_list("contact__no", field))
        for model, field in (
            (ContactIndustryGroup, "industry_group"),
            (ContactBusinessRelation, "business_relation"),
            (ContactMailingGroup, "mailing_group"),
            (ContactJobResponsibility, "job_responsibility"),
        )
    ]
    return [row[:2] + row[3:] for row in contacts], links  # the company by number: keys may differ


@pytest.mark.django_db
def test_the_import_floor_writes_what_import_contacts_writes(tmp_path):
    demo_reference_data()
    path = tmp_path / "contacts.csv"
    counts = write_import_csv(path, 400)

    assert import_ours(str(path)) == 400
    ours = contacts_state()
    empty_contacts()
    assert not Contact.objects.exists()
    assert import_floor(str(path)) == 400
    floor = contacts_state()

    assert counts["forward"] > 0 and counts["companies"] > 0  # persons before their company in the file
    assert len(ours[0]) == 400 and sum(map(len, ours[1])) > 0
    assert ours == floor


def test_bench_import_reports_the_import_beside_its_floor_with_peak_memory():
    out = io.StringIO()

    call_command("bench", "--import", "--contacts", "300", stdout=out, stderr=io.StringIO())

    output = out.getvalue()
    assert output.startswith("SQLite ") and "300 contacts imported from a CSV file" in output
    (row,) = table_rows(output).values()
    n, ours, floor, ratio = row
    assert n == "300" and float(ours) > 0 and float(floor) > 0 and ratio.endswith("×")
    assert re.search(r"peak memory of the process: ours \d+ MiB \(\d+ MiB before the import\), floor \d+ MiB", output)
