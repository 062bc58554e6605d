"""Bulk e-mail is resumable and never sends twice on its own (RELIABILITY 13; SPEC D8).

1,000 e-mail entries are delivered by the real worker (`manage.py db_worker`, django-tasks-db's
DatabaseBackend) in a separate process, to a real SMTP server on localhost in this process (so
what it received survives the worker). The server holds its reply to the 300th message, so the
worker is surely in the middle of that send when it is killed with SIGKILL. Then the delivery
is resumed (`logged_segment resume`) and a new worker finishes it:

- every entry ends `sent` or `error`; the server received exactly one message per sent entry;
- the entry in flight at the kill is `error` "outcome unknown" (the server did get it: nobody
  can tell) and goes out again only by the explicit `logged_segment resend`;
- two entries with an invalid address are `error` with the reason and listed in the report;
  resending them fails the same way and sends nothing.

Real commits (`transaction=True`): the worker process reads the test database (a SQLite file,
or PostgreSQL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from crm.models import Contact, ContactType, CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions.delivery import OUTCOME_UNKNOWN, delivery_progress, delivery_start
from interactions.models import Delivery, DeliveryItem, DeliveryItemStatus, DeliveryStatus, InteractionLogEntry
from segments import services as segment_services
from tests.factories import attach_word_template, make_salesperson, make_template
from tests.interactions.smtp_server import running_smtp_server

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]
ENTRIES = 1000
KILL_AT = 300  # the message in flight when the worker is killed
INVALID = {10: "broken-address", 900: "also@@broken"}  # contact index → its e-mail
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def database_url() -> str:
    """The running test database (not the development one) as a DATABASE_URL for a child."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def address(i: int) -> str:
    return INVALID.get(i, f"c{i:04d}@crash.test")


def build_logged_segment():
    """1,000 committed e-mail entries waiting for delivery (logged with deliver)."""
    salesperson = make_salesperson("CRASH")
    Contact.objects.bulk_create(
        Contact(
            no=f"DC{i:04d}",
            name=f"Crash {i}",
            type=ContactType.COMPANY,
            city="DELIVERCRASH",
            email=address(i),
            salesperson=salesperson,
        )
        for i in range(ENTRIES)
    )
    template = make_template(correspondence_type="")
    attach_word_template(template, "Hello {{ contact.name }}", "{{ address_block }}")
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Crash mailing",
            "interaction_template": template,
            "correspondence_type": CorrespondenceType.EMAIL,
            "ignore_contact_correspondence_type": True,
            "subject": "Our offer",
        },
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=DELIVERCRASH")
    result = segment_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True)
    assert result.deliveries == ENTRIES
    return result.logged_segment


def start_worker(smtp, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url(),
        DJANGO_TASKS_BACKEND="django_tasks_db.DatabaseBackend",
        **{**smtp.environment(), "EMAIL_TIMEOUT": "600"},  # the held send outlasts any slow kill
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--batch",
                "--no-startup-delay",
                "--interval",
                "0.05",
                "--no-reload",
            ],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait(worker: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    try:
        code = worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        pytest.fail(f"the worker did not finish in {timeout} s: {log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]


def test_a_killed_worker_leaves_every_entry_true_and_nothing_is_sent_twice(tmp_path, capsys):
    log = tmp_path / "worker.log"
    logged = build_logged_segment()
    entry_of = dict(InteractionLogEntry.objects.filter(logged_segment=logged).values_list("contact_via", "pk"))

    with running_smtp_server(delay=0.001) as smtp:
        smtp.hold_at = KILL_AT
        with override_settings(TASKS=DATABASE_TASKS):
            delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
        assert delivery.task_id and delivery.state == "queued"  # for the worker

        worker = start_worker(smtp, log)
        try:
            deadline = time.monotonic() + 45
            while not smtp.held.wait(timeout=0.1):
                if worker.poll() is not None:
                    pytest.fail(f"the worker ended ({worker.returncode}) early: {log.read_text()[-3000:]}")
                assert time.monotonic() < deadline, f"the server got {smtp.count} messages"
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(timeout=30) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        smtp.release.set()

        # As the kill left it: one item in flight, the messages before it recorded as sent.
        in_flight = smtp.received()[KILL_AT - 1].recipients[0]
        delivery.refresh_from_db()
        assert delivery.state == "running"
        items = Counter(DeliveryItem.objects.filter(delivery=delivery).values_list("status", flat=True))
        assert items[DeliveryItemStatus.SENDING] == 1
        assert (
            DeliveryItem.objects.get(delivery=delivery, status=DeliveryItemStatus.SENDING).entry_id
            == entry_of[in_flight]
        )
        assert items[DeliveryItemStatus.SENT] == KILL_AT - 1 == delivery.sent
        assert items[DeliveryItemStatus.ERROR] == 1  # the invalid address among the first 300

        # Its lease runs out (two minutes; here at once), then it is resumed and a new worker finishes.
        Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        capsys.readouterr()
        with override_settings(TASKS=DATABASE_TASKS):
            call_command("logged_segment", "resume", str(delivery.pk))
        task_id = capsys.readouterr().out.strip()
        assert task_id and task_id != delivery.task_id
        worker = start_worker(smtp, log)
        wait(worker, log)

        delivery.refresh_from_db()
        assert (delivery.state, delivery.sent, delivery.failed) == ("finished", ENTRIES - 3, 3)
        statuses = dict(InteractionLogEntry.objects.filter(logged_segment=logged).values_list("pk", "delivery_status"))
        assert set(statuses.values()) == {DeliveryStatus.SENT, DeliveryStatus.ERROR}
        errors = dict(
            InteractionLogEntry.objects.filter(logged_segment=logged, delivery_status=DeliveryStatus.ERROR).values_list(
                "contact_via", "delivery_error"
            )
        )
        assert errors == {
            in_flight: OUTCOME_UNKNOWN,
            "broken-address": 'invalid e-mail address "broken-address"',
            "also@@broken": 'invalid e-mail address "also@@broken"',
        }
        report = {failure["reason"] for failure in delivery_progress(delivery)["failures"]}
        assert report == set(errors.values())
        received = smtp.per_recipient()
        sent = set(
            InteractionLogEntry.objects.filter(logged_segment=logged, delivery_status=DeliveryStatus.SENT).values_list(
                "contact_via", flat=True
            )
        )
        assert len(sent) == ENTRIES - 3
        assert all(received[address] == 1 for address in sent)  # one message per sent entry
        assert received[in_flight] == 1  # it did reach the server, but nobody could know
        assert sum(received.values()) == ENTRIES - 2

        # Only an explicit resend sends it again; the invalid addresses fail again, nothing else goes out.
        with override_settings(TASKS=IMMEDIATE, MAILERS=smtp.mailers()):
            call_command("logged_segment", "resend", str(logged.pk))
        assert capsys.readouterr().out == "3\n"
        received = smtp.per_recipient()
        assert received[in_flight] == 2
        assert all(received[address] == 1 for address in sent)
        assert sum(received.values()) == ENTRIES - 1
        statuses = Counter(
            InteractionLogEntry.objects.filter(logged_segment=logged).values_list("delivery_status", flat=True)
        )
        assert statuses == {DeliveryStatus.SENT: ENTRIES - 2, DeliveryStatus.ERROR: 2}
