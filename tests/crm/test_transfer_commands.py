"""import_contacts, export_contacts and import_setup: the batch interface of CONTRACT.md."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.management.commands import export_contacts, import_contacts
from crm.models import Contact, NumberSeries
from crm.transfer import COLUMNS
from tests.factories import make_company, make_country, make_mailing_group, make_person

pytestmark = pytest.mark.django_db


def call(name: str, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def call_failing(name: str, *args) -> tuple[str, str, CommandError]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), info.value


@pytest.fixture
def exit_status(monkeypatch):
    """Run a command as manage.py does (argv, CommandError -> exit status) and return the status."""
    from django.core.management import base

    # run_from_argv closes every connection when done, which would close the test's database.
    monkeypatch.setattr(base.connections, "close_all", lambda: None)

    def run(command_module, name: str, *args: str) -> int:
        try:
            command_module.Command().run_from_argv(["manage.py", name, *args])
        except SystemExit as exc:
            return exc.code
        return 0

    return run


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


# --- import_contacts -------------------------------------------------------------------------


def test_import_contacts_prints_the_counts_alone_on_stdout(tmp_path):
    make_country("NL")
    path = write(tmp_path, "c.csv", "no,type,company_no,name,country\nC1,company,,Acme,NL\nP1,person,C1,Ann Smith,\n")

    out, err = call("import_contacts", path)

    assert out == "created 2, updated 0\n"
    assert err == ""
    assert Contact.objects.get(no="P1").country_id == "NL"


def test_import_contacts_bad_input_writes_one_line_per_problem_and_nothing_else(tmp_path):
    make_company(no="C0", name="Existing")
    path = write(tmp_path, "c.csv", "no,type,name,email,salesperson\nC1,company,Acme,bad,\nC2,company,Bolt,,NOSUCH\n")

    out, err, error = call_failing("import_contacts", path)

    assert out == ""
    assert err.splitlines() == [
        "line 2: email: Enter a valid email address.",
        'line 3: salesperson: unknown code "NOSUCH"',
    ]
    assert error.returncode == 1 and "nothing was imported" in str(error)
    assert list(Contact.objects.values_list("no", flat=True)) == ["C0"]


def test_import_contacts_exits_with_status_1_on_bad_input(tmp_path, capsys, exit_status):
    path = write(tmp_path, "c.csv", "no,type,fax\nC1,company,1\n")

    status = exit_status(import_contacts, "import_contacts", path)

    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.splitlines()[0] == 'line 1: unknown column "fax"'
    assert captured.out == ""
    assert not Contact.objects.exists()


def test_import_contacts_of_a_missing_file_exits_1(tmp_path, capsys, exit_status):
    assert exit_status(import_contacts, "import_contacts", str(tmp_path / "nope.csv")) == 1
    assert "cannot read" in capsys.readouterr().err


def test_import_contacts_without_a_file_argument_is_an_argparse_error(capsys, exit_status):
    assert exit_status(import_contacts, "import_contacts") == 2


def test_import_contacts_takes_a_file_over_the_upload_limit(tmp_path, settings):
    # Issue 11: CRM_CSV_MAX_BYTES limits the upload page only; a batch job imports any size.
    settings.CRM_CSV_MAX_BYTES = 10
    path = write(tmp_path, "c.csv", "no,type,name\nC1,company,Acme\n")

    out, err = call("import_contacts", path)

    assert out == "created 1, updated 0\n" and err == ""
    assert Contact.objects.get(no="C1").name == "Acme"


def contacts_csv(persons: int, prefix: str) -> str:
    """Persons first, each naming a company listed after them, and one row with a blank no."""
    companies = max(persons // 10, 1)
    lines = ["no,type,company_no,name,city,mailing_groups"]
    lines += [f"{prefix}P{n:05d},person,{prefix}C{n % companies:05d},Ann Person{n},,NEWS" for n in range(persons)]
    lines += [f"{prefix}C{n:05d},company,,Company {n},Utrecht,NEWS" for n in range(companies)]
    lines.append(",company,,Numbered,Delft,")
    return "\n".join(lines) + "\n"


def test_import_contacts_runs_as_many_queries_for_900_rows_as_for_50(tmp_path, django_assert_max_num_queries):
    # Under 1,000 new rows, so that PostgreSQL's ANALYZE (crm.transfer._StatisticsRefresher, once
    # each time the table doubles) does not run in either.
    make_mailing_group("NEWS")
    small = write(tmp_path, "small.csv", contacts_csv(50, "S"))
    large = write(tmp_path, "large.csv", contacts_csv(900, "L"))
    with CaptureQueriesContext(connection) as captured:
        call("import_contacts", small)

    with django_assert_max_num_queries(len(captured)):
        out, _err = call("import_contacts", large)

    assert out == f"created {900 + 90 + 1}, updated 0\n"
    person = Contact.objects.get(no="LP00899")
    assert (person.company.no, person.city) == ("LC00089", "Utrecht")


def test_import_contacts_reads_cp1252_when_told(tmp_path):
    path = write(tmp_path, "c.csv", "no,type,name\nC1,company,Café\n".encode("cp1252"))

    _out, err, _error = call_failing("import_contacts", path)
    assert err.startswith("line 2: the file is not valid UTF-8")

    call("import_contacts", path, "--encoding", "cp1252")
    assert Contact.objects.get(no="C1").name == "Café"


def test_import_contacts_dry_run_writes_nothing(tmp_path):
    path = write(tmp_path, "c.csv", "no,type,name\n,company,Acme\n")

    out, _err = call("import_contacts", path, "--dry-run")

    assert out == "dry run, nothing written: would have created 1, updated 0\n"
    assert not Contact.objects.exists()
    assert NumberSeries.objects.get(code="CONTACT").last_no == 0


# --- export_contacts -------------------------------------------------------------------------


def test_export_contacts_writes_csv_to_stdout_with_the_import_columns():
    company = make_company(no="C1", name="=Acme", city="Utrecht")
    make_person(company=company, no="P1", name="Ann Smith")

    out, err = call("export_contacts")

    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == list(COLUMNS)
    assert [row[0] for row in rows[1:]] == ["C1", "P1"]
    assert rows[1][COLUMNS.index("name")] == "'=Acme"
    assert err == ""


def test_export_contacts_json_is_one_document_with_nulls():
    make_company(no="C1", name="=Acme")

    out, _err = call("export_contacts", "--json")

    data = json.loads(out)
    assert data[0]["no"] == "C1" and data[0]["name"] == "=Acme" and data[0]["country"] is None


def test_export_contacts_to_a_file_then_import_it_back_changes_nothing(tmp_path):
    company = make_company(no="C1", name="@Acme", address="Main 1\nB")
    make_person(company=company, no="P1", name="Ann Smith", phone="+31 20 555", address="Home 2")
    path = str(tmp_path / "out.csv")

    out, err = call("export_contacts", "--output", path)
    before = sorted(map(repr, Contact.objects.values_list()))
    import_out, _ = call("import_contacts", path)

    assert out == "" and err == f"2 contacts written to {path}\n"
    assert import_out == "created 0, updated 2\n"
    assert sorted(map(repr, Contact.objects.values_list())) == before


def test_export_contacts_filter_selects_and_a_bad_filter_exits_1(capsys, exit_status):
    make_company(no="C1", city="Utrecht")
    make_company(no="C2", city="Delft")

    out, _err = call("export_contacts", "--filter", "city=Delft")
    assert [row[0] for row in csv.reader(io.StringIO(out))][1:] == ["C2"]

    assert exit_status(export_contacts, "export_contacts", "--filter", "colour=red&country=XX") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert 'unknown filter name "colour"' in captured.err and 'country: unknown code "XX"' in captured.err
