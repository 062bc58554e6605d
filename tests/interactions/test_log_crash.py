"""The Log transaction when it fails half-way, and the database's last guards (RELIABILITY 3, 5).

- Case 3a: a failure after the entries are inserted (`tests.interactions.log_patch`), or from
  the database in the log's last write (a trigger that refuses the segment's DELETE): the error
  reaches the caller and every table's rows are as before (rows compared, not bytes:
  PostgreSQL sequences advance on rollback).
- Case 3b: a separate process logging the segment is SIGKILLed while it holds the log's
  transaction open after inserting the entries: nothing of it remains, and a retry logs the
  segment exactly once. On SQLite the test database is a file (WAL, as in production; and in
  rollback-journal mode).
- Case 5: bypassing the services, the database refuses a second logged segment of one segment
  and a second entry of one line; a contact with entries cannot be deleted.

Real commits (`transaction=True`) except for the backstop tests, which need none.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError

from crm import services as crm_services
from crm.models import Campaign, Contact, ContactType, NumberSeries
from crm.permissions import COMMAND_LINE
from interactions.models import CampaignEntry, InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import CriteriaStep, RemovedSegmentLine, Segment, SegmentLanguage, SegmentLine
from segments.services import log as log_service
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_salesperson, make_template
from tests.interactions.log_patch import after_entries

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
LINES = 20
SNAPSHOT_MODELS = (
    Segment,
    SegmentLine,
    CriteriaStep,
    RemovedSegmentLine,
    SegmentLanguage,
    LoggedSegment,
    CampaignEntry,
    InteractionLogEntry,
    Contact,
    Campaign,
    NumberSeries,
)


def build_segment(lines: int = LINES) -> Segment:
    """A committed, loggable segment of `lines` lines with a campaign (one campaign entry)."""
    Contact.objects.bulk_create(
        Contact(no=f"CR{i:04d}", name=f"Crash company {i}", type=ContactType.COMPANY, city="CRASH")
        for i in range(lines)
    )
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Crash test",
            "interaction_template": make_template(correspondence_type=""),
            "salesperson": make_salesperson("ANN"),
            "campaign": make_campaign(),
        },
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=CRASH")
    # a removed line and an override too, so undo data and line values are compared as well
    first = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    segment_services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=first.line_no, values={"subject": "Hi"}
    )
    last = SegmentLine.objects.filter(segment=segment).order_by("-line_no").first()
    segment_services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=last.line_no)
    assert SegmentLine.objects.filter(segment=segment).count() == lines - 1
    return Segment.objects.get(pk=segment.pk)


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table the log reads or writes, by primary key."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in SNAPSHOT_MODELS}


def assert_nothing_logged(segment: Segment) -> None:
    assert Segment.objects.filter(pk=segment.pk, uuid=segment.uuid).exists()
    assert LoggedSegment.objects.count() == 0
    assert InteractionLogEntry.objects.count() == 0
    assert CampaignEntry.objects.count() == 0


def assert_logged_once(segment: Segment, lines: int) -> None:
    logged = LoggedSegment.objects.get()
    assert logged.source_uuid == segment.uuid and logged.no_of_interactions == lines
    assert (
        InteractionLogEntry.objects.filter(logged_segment=logged).count()
        == lines
        == InteractionLogEntry.objects.count()
    )
    assert CampaignEntry.objects.filter(logged_segment=logged).count() == 1 == CampaignEntry.objects.count()
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not SegmentLine.objects.filter(segment_id=segment.pk).exists()


# --- case 3a: a failure inside the transaction -------------------------------------------------


class Crash(Exception):
    pass


def test_a_failure_after_the_entries_are_inserted_leaves_every_row_unchanged(monkeypatch):
    segment = build_segment()
    before = snapshot()
    seen: list[int] = []

    def crash(logged):
        seen.append(InteractionLogEntry.objects.filter(logged_segment=logged).count())
        raise Crash("injected after the entries")

    monkeypatch.setattr(log_service, "insert_select", after_entries(crash))
    with pytest.raises(Crash):
        segment_services.segment_log(user=COMMAND_LINE, segment=segment, follow_up=True)

    assert seen == [LINES - 1]  # the entries were there when it failed
    assert snapshot() == before
    assert_nothing_logged(segment)
    monkeypatch.undo()
    result = segment_services.segment_log(user=COMMAND_LINE, segment=segment)
    assert result.entries == LINES - 1
    assert_logged_once(segment, LINES - 1)


TRIGGER = "crm_test_refuse_segment_delete"


def install_refusing_trigger() -> None:
    """Make the database refuse to delete a segment: the log's last write then fails."""
    table = connection.ops.quote_name(Segment._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION 'refused by the test trigger'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
            )


def drop_refusing_trigger() -> None:
    table = connection.ops.quote_name(Segment._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")


def test_a_database_error_in_the_last_write_leaves_every_row_unchanged():
    segment = build_segment()
    before = snapshot()
    install_refusing_trigger()
    try:
        with pytest.raises(DatabaseError, match="refused by the test trigger"):
            segment_services.segment_log(user=COMMAND_LINE, segment=segment, follow_up=True)
        after = snapshot()
    finally:
        drop_refusing_trigger()

    assert after == before  # no logged segment, entries, campaign entry or follow-up segment
    assert_nothing_logged(segment)
    segment_services.segment_log(user=COMMAND_LINE, segment=segment)
    assert_logged_once(segment, LINES - 1)


# --- case 3b: the process dies inside the transaction --------------------------------------------

CHILD = """
import json, os, sys, time
import django

django.setup()
from django.db import connection
from segments.services import log as services
from interactions.models import InteractionLogEntry
from crm.permissions import COMMAND_LINE
from tests.interactions.log_patch import after_entries

journal = os.environ.get("CRM_TEST_JOURNAL_MODE")
if journal:
    connection.settings_dict["OPTIONS"]["init_command"] = f"PRAGMA journal_mode={journal};"
marker = sys.argv[1]


def pause(logged):
    entries = InteractionLogEntry.objects.filter(logged_segment=logged).count()
    with open(marker + ".tmp", "w") as out:
        json.dump({"logged_segment": logged.pk, "entries": entries}, out)
    os.replace(marker + ".tmp", marker)
    time.sleep(120)


services.insert_select = after_entries(pause)
services.segment_log(user=COMMAND_LINE, segment=sys.argv[2])
print("the log finished: the test should have killed this process", file=sys.stderr)
sys.exit(3)
"""


def database_url() -> str:
    """The running test database (not the development one) as a DATABASE_URL for a child."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def sqlite_journal_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        return cursor.fetchone()[0].lower()


ON_SQLITE = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


@pytest.fixture(params=["wal", "delete"] if ON_SQLITE else ["postgresql"])
def journal_mode(request, monkeypatch, tmp_path):
    """SQLite: the test database file in WAL mode (production's) and in rollback-journal mode.
    PostgreSQL: one run, None.

    A database leaves WAL mode only while no other connection has it open, and the suite's
    live server keeps one open for the whole session; so the rollback-journal run works on a
    copy of the test database (SQLite's backup API), switched to DELETE mode, which this test
    and its child process use instead."""
    if not ON_SQLITE:
        yield None
        return
    name = connection.settings_dict["NAME"]
    assert name and "memory" not in name and Path(name).is_file(), f"test database is not a file: {name!r}"
    if request.param == "wal":
        assert sqlite_journal_mode() == "wal"
        yield "wal"
        return
    connection.close()
    copy = tmp_path / "rollback-journal.sqlite3"
    source, target = sqlite3.connect(name), sqlite3.connect(copy)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        source.close()
        target.close()
    options = dict(connection.settings_dict["OPTIONS"], init_command="PRAGMA journal_mode=DELETE;")
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    monkeypatch.setitem(connection.settings_dict, "NAME", str(copy))
    assert sqlite_journal_mode() == "delete"
    try:
        yield "delete"
    finally:
        connection.close()
        monkeypatch.undo()
        assert sqlite_journal_mode() == "wal"


def test_a_killed_log_process_leaves_nothing_and_a_retry_logs_once(journal_mode, tmp_path):
    segment = build_segment()
    before = snapshot()
    marker = tmp_path / "entries-inserted.json"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=database_url())
    if journal_mode:
        env["CRM_TEST_JOURNAL_MODE"] = journal_mode
    connection.close()  # SQLite: no connection of ours open while the child takes the write lock
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), segment.no],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"the child ended ({child.returncode}) before the hook: {child.stderr.read().decode()}")
            assert time.monotonic() < deadline, "the child never reached the hook"
            time.sleep(0.05)
        paused = json.loads(marker.read_text())
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert paused["entries"] == LINES - 1  # killed with every entry inserted, uncommitted
    assert snapshot() == before
    assert_nothing_logged(segment)
    if journal_mode:
        assert sqlite_journal_mode() == journal_mode
    result = segment_services.segment_log(user=COMMAND_LINE, segment=segment)
    assert result.entries == LINES - 1
    assert_logged_once(segment, LINES - 1)


# --- case 5: the database's last guards --------------------------------------------------------


def logged_segment_with_a_contact_on_two_lines():
    segment = build_segment(lines=2)
    twice = Contact.objects.filter(city="CRASH").order_by("no").first()
    segment_services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=twice, allow_existing=True)
    result = segment_services.segment_log(user=COMMAND_LINE, segment=segment)
    return segment, twice, result.logged_segment


@pytest.mark.django_db
def test_a_contact_on_two_lines_gets_two_entries_but_one_line_never_two():
    segment, twice, logged = logged_segment_with_a_contact_on_two_lines()
    entries = InteractionLogEntry.objects.filter(logged_segment=logged, contact=twice)
    assert entries.count() == 2
    assert len(set(entries.values_list("segment_line_id", flat=True))) == 2

    entry = entries.first()
    entry.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionLogEntry.objects.bulk_create([entry])
    assert InteractionLogEntry.objects.filter(logged_segment=logged).count() == 2


@pytest.mark.django_db
def test_a_second_logged_segment_of_one_segment_is_refused_by_the_database():
    segment, _twice, logged = logged_segment_with_a_contact_on_two_lines()
    with pytest.raises(IntegrityError), transaction.atomic():
        LoggedSegment.objects.create(segment_no=segment.no, source_uuid=segment.uuid, description="Again")
    with pytest.raises(IntegrityError), transaction.atomic():
        LoggedSegment.objects.create(segment_no="OTHER", source_uuid=logged.source_uuid, description="Other")
    assert LoggedSegment.objects.count() == 1


@pytest.mark.django_db
def test_a_contact_with_entries_cannot_be_deleted_and_the_reason_is_given():
    _segment, twice, _logged = logged_segment_with_a_contact_on_two_lines()
    company = make_company()  # no history: deletable

    with pytest.raises(ProtectedError), transaction.atomic():
        twice.delete()
    with pytest.raises(ValidationError) as error:
        crm_services.contact_delete(user=make_user("admin"), contact=twice)

    (message,) = error.value.messages  # D15: why, and what to do instead
    assert message.startswith(f"{twice.no} cannot be deleted")
    assert "2 interaction log entries" in message and "anonymise" in message
    assert Contact.objects.filter(pk=twice.pk).exists()
    assert InteractionLogEntry.objects.filter(contact=twice).count() == 2
    crm_services.contact_delete(user=make_user("marketing"), contact=company)
    assert not Contact.objects.filter(pk=company.pk).exists()
