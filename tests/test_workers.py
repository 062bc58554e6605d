"""Worker death heals itself, and a worker stops gracefully (RELIABILITY 21, 22; crm.worker).

Two real `manage.py worker` processes share the test database (a SQLite file, or PostgreSQL)
and send to a real SMTP server on localhost in this process (so what it received survives a
killed worker). The job lease is 3 s and the workers beat every 0.3 s, so healing happens in
seconds instead of minutes; nothing here clicks Resume or runs a command:

- 21: the worker running a delivery of 1,000 e-mails is killed with SIGKILL while the server
  holds its reply to one message: the other worker takes the delivery over once the lease has
  passed and finishes it — every entry sent or error, each sent one received once, the one in
  flight "outcome unknown" — and closes the killed worker's task row. The same for a merge job:
  started again, one result file; and for a log job killed inside its Log's transaction: rolled
  back, logged again by the other worker, one logged segment; and for a print file's PDF whose
  worker is killed while LibreOffice converts: made again by the other worker, one stored PDF.
- 22: SIGTERM to the worker in the middle of a delivery: it finishes its batch, hands the rest
  back and exits (code 0) well within 30 s; the other worker goes on; nothing is sent twice.
  A worker asked to stop in the middle of a Log finishes the Log (one transaction), then exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.tasks import TaskResultStatus
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from crm.models import Contact, ContactType, WorkerProcess
from crm.permissions import COMMAND_LINE
from interactions.delivery import OUTCOME_UNKNOWN, delivery_start
from interactions.models import (
    Delivery,
    DeliveryItem,
    DeliveryItemStatus,
    Document,
    InteractionLogEntry,
    LoggedSegment,
    PdfState,
)
from interactions.pdf import soffice_program
from interactions.print_pdf import print_pdf_request
from segments import log_jobs, merge
from segments import services as segment_services
from segments.models import LogJob, LogJobState, MergeJob, MergeState
from tests.conftest import make_user
from tests.factories import attach_word_template, make_salesperson, make_template
from tests.interactions import test_delivery_crash as crash
from tests.interactions.smtp_server import running_smtp_server
from tests.interactions.test_views_deliveries import build_segment
from tests.pdf_tools import pdf_page_count, require_libreoffice

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[1]
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
LEASE_SECONDS = 3


class Workers:
    """Two worker processes, w1 and w2, with their logs."""

    def __init__(self, tmp_path: Path, environment: dict[str, str], names: tuple[str, ...] = ("w1", "w2")) -> None:
        self.logs = {name: tmp_path / f"{name}.log" for name in names}
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="tests.settings",
            DATABASE_URL=crash.database_url(),
            DJANGO_TASKS_BACKEND="django_tasks_db.DatabaseBackend",
            CRM_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
            CRM_WORKER_BEAT_SECONDS="0.3",
            **environment,
        )
        self.processes: dict[str, subprocess.Popen] = {}
        for name, log in self.logs.items():
            with log.open("ab") as out:
                self.processes[name] = subprocess.Popen(
                    [sys.executable, "manage.py", "worker", "--worker-id", name, "--interval", "0.1", "-v", "2"],
                    cwd=PROJECT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

    def output(self) -> str:
        return "\n".join(f"--- {name}\n{log.read_text()[-2500:]}" for name, log in self.logs.items())

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and process.returncode not in (0, -signal.SIGKILL):
                pytest.fail(f"worker {name} ended ({process.returncode}):\n{self.output()}")

    def running(self, task_name: str) -> str:
        """The name of the worker running the task `task_name` (waits for one to claim it)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check_alive()
            # The oldest: when its lease passed, another worker may be running the job too.
            row = (
                DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, task_path__endswith=task_name)
                .order_by("started_at", "pk")
                .first()
            )
            if row is not None:
                return row.worker_ids[-1]
            time.sleep(0.02)
        pytest.fail(f"no worker took {task_name}:\n{self.output()}")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(condition, workers: Workers, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        workers.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {timeout} s:\n{workers.output()}")
        time.sleep(0.05)


def statuses(delivery) -> Counter:
    return Counter(DeliveryItem.objects.filter(delivery=delivery).values_list("status", flat=True))


def finished(delivery) -> bool:
    delivery.refresh_from_db()
    return delivery.state == "finished"


def no_task_left_running() -> bool:
    return not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()


def test_a_killed_workers_delivery_is_taken_over_without_a_click(tmp_path):
    logged = crash.build_logged_segment()
    entry_of = dict(InteractionLogEntry.objects.filter(logged_segment=logged).values_list("contact_via", "pk"))
    with running_smtp_server(delay=0.001) as smtp:
        smtp.hold_at = crash.KILL_AT
        with override_settings(TASKS=DATABASE_TASKS):
            delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
        # The held send must not time out before the kill, however slow the machine: the kill
        # lands on the worker in the middle of it (a busy CI machine took more than 10 s).
        workers = Workers(tmp_path, {**smtp.environment(), "EMAIL_TIMEOUT": "600"})
        try:
            wait_until(lambda: smtp.held.is_set(), workers, "the held message")
            victim = workers.running("delivery_task")
            os.kill(workers.processes[victim].pid, signal.SIGKILL)
            assert workers.processes[victim].wait(timeout=30) == -signal.SIGKILL
            smtp.release.set()
            in_flight = smtp.received()[crash.KILL_AT - 1].recipients[0]

            wait_until(lambda: finished(delivery), workers, "the delivery's end")
            wait_until(no_task_left_running, workers, "closing the killed worker's task row")
        finally:
            workers.stop_all()

    survivor = ({"w1", "w2"} - {victim}).pop()
    errors = dict(
        InteractionLogEntry.objects.filter(logged_segment=logged, delivery_status="error").values_list(
            "contact_via", "delivery_error"
        )
    )
    why = f"errors: {errors}\nin flight: {in_flight}\n{workers.output()}"
    assert (delivery.state, delivery.sent, delivery.failed) == ("finished", crash.ENTRIES - 3, 3), why
    assert statuses(delivery) == {DeliveryItemStatus.SENT: crash.ENTRIES - 3, DeliveryItemStatus.ERROR: 3}
    assert errors[in_flight] == OUTCOME_UNKNOWN and entry_of[in_flight]
    sent = set(
        InteractionLogEntry.objects.filter(logged_segment=logged, delivery_status="sent").values_list(
            "contact_via", flat=True
        )
    )
    received = smtp.per_recipient()
    assert all(received[address] == 1 for address in sent)  # each sent one received once
    assert received[in_flight] == 1  # it reached the server, but nobody could know: not sent again
    assert sum(received.values()) == crash.ENTRIES - 2
    # The killed worker's task row was closed; the survivor ran the delivery to its end.
    rows = {row.worker_ids[-1]: row for row in DBTaskResult.objects.filter(task_path__endswith="delivery_task")}
    assert rows[victim].status == TaskResultStatus.FAILED
    assert rows[victim].exception_class_path == "crm.worker.WorkerLost"
    assert rows[survivor].status == TaskResultStatus.SUCCESSFUL and rows[survivor].return_value["finished"] is True
    assert not WorkerProcess.objects.exists()  # the killed one's row went with its task; the other left


def big_merge(lines: int) -> MergeJob:
    template = make_template(correspondence_type="")
    attach_word_template(template, "Dear {{ contact.name }},", "{{ address_block }}", "With kind regards")
    Contact.objects.bulk_create(
        Contact(no=f"MW{i:04d}", name=f"Merge {i}", type=ContactType.COMPANY, city="MERGEKILL", address=f"Lane {i}")
        for i in range(lines)
    )
    segment = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Big letter run", "interaction_template": template}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=MERGEKILL")
    with override_settings(TASKS=DATABASE_TASKS):
        job = merge.merge_job_start(user=COMMAND_LINE, segment=segment, output="docx")
    assert job.state == MergeState.QUEUED
    return job


def test_a_killed_workers_merge_is_started_again_and_makes_one_file(tmp_path):
    lines = 600
    job = big_merge(lines)
    workers = Workers(tmp_path, {})
    try:
        victim = workers.running("merge_job_task")
        wait_until(lambda: MergeJob.objects.get(pk=job.pk).done >= merge.PROGRESS_EVERY, workers, "half a merge")
        os.kill(workers.processes[victim].pid, signal.SIGKILL)
        assert workers.processes[victim].wait(timeout=30) == -signal.SIGKILL
        assert MergeJob.objects.get(pk=job.pk).done < lines  # killed halfway

        wait_until(lambda: MergeJob.objects.get(pk=job.pk).state == MergeState.FINISHED, workers, "the merge's end")
        wait_until(no_task_left_running, workers, "closing the killed worker's task row")
    finally:
        workers.stop_all()

    job.refresh_from_db()
    assert (job.done, job.total, job.error) == (lines, lines, "")
    assert Document.objects.filter(file_name=merge.merge_file_name(job.segment_no, "docx")).count() == 1
    assert Document.objects.count() == 1 + 1  # the template's Word document and the one result file
    rows = {row.worker_ids[-1]: row.status for row in DBTaskResult.objects.filter(task_path__endswith="merge_job_task")}
    assert rows[victim] == TaskResultStatus.FAILED
    assert TaskResultStatus.SUCCESSFUL in rows.values()


def test_sigterm_finishes_the_batch_and_another_worker_goes_on(tmp_path):
    logged = crash.build_logged_segment()
    with running_smtp_server(delay=0.004) as smtp:
        with override_settings(TASKS=DATABASE_TASKS):
            delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
        workers = Workers(tmp_path, smtp.environment())
        try:
            wait_until(lambda: smtp.count >= 150, workers, "the second batch")  # in the middle of a batch
            stopping = workers.running("delivery_task")
            asked = time.monotonic()
            workers.processes[stopping].send_signal(signal.SIGTERM)
            code = workers.processes[stopping].wait(timeout=30)
            took = time.monotonic() - asked
            assert code == 0, workers.output()
            wait_until(lambda: finished(delivery), workers, "the delivery's end")
        finally:
            workers.stop_all()

    assert took < 30
    rows = list(DBTaskResult.objects.filter(task_path__endswith="delivery_task").order_by("enqueued_at"))
    # It finished its batch and recorded it (as its task result says): nothing in flight, the
    # rest pending for the next worker.
    at_stop = rows[0].return_value["items"]
    assert "sending" not in at_stop
    assert (at_stop.get("sent", 0) + at_stop.get("error", 0)) % 100 == 0
    assert at_stop["pending"] > 0
    assert [row.status for row in rows] == [TaskResultStatus.SUCCESSFUL] * 2
    assert rows[0].worker_ids == [stopping] and rows[0].return_value["handed_back"] is True
    assert rows[1].worker_ids != [stopping] and rows[1].return_value["finished"] is True
    # The other worker went on; nothing was sent twice and no entry is "outcome unknown".
    assert (delivery.state, delivery.sent, delivery.failed) == ("finished", crash.ENTRIES - 2, 2)
    assert not InteractionLogEntry.objects.filter(logged_segment=logged, delivery_error=OUTCOME_UNKNOWN).exists()
    received = smtp.per_recipient()
    assert max(received.values()) == 1 and sum(received.values()) == crash.ENTRIES - 2
    assert "handed back to the queue" in workers.logs[stopping].read_text()


LOG_LINES = 30_000  # a Log of a second or more, even on PostgreSQL


def log_transaction_open() -> bool:
    """Whether a worker's Log is inside its transaction (not a fixed sleep: how long a Log takes
    depends on the machine). PostgreSQL: a backend in a transaction is running the entries'
    INSERT. SQLite: another connection holds the write lock, which the Log's IMMEDIATE
    transaction takes at BEGIN (nothing else writes for long)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND xact_start IS NOT NULL AND query LIKE %s",
                ['INSERT INTO "interactions_interactionlogentry"%'],
            )
            return cursor.fetchone()[0] > 0
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:  # "database is locked": a writer is inside its transaction
        return True
    finally:
        probe.close()
    return False


def big_log() -> LogJob:
    salesperson = make_salesperson("ANN")
    Contact.objects.bulk_create(
        Contact(no=f"LW{i:05d}", name=f"Log {i}", type=ContactType.COMPANY, city="LOGKILL", salesperson=salesperson)
        for i in range(LOG_LINES)
    )
    user = make_user("marketing")
    segment = segment_services.segment_create(
        user=user, values={"description": "Big Log", "interaction_template": make_template(correspondence_type="")}
    )
    segment_services.segment_add_contacts(user=user, segment=segment, query="city=LOGKILL")
    with override_settings(TASKS=DATABASE_TASKS):
        job = log_jobs.log_job_start(user=user, segment=segment)
    assert job.state == LogJobState.QUEUED and job.lines == LOG_LINES
    return job


def job_state(job: LogJob) -> str:
    return LogJob.objects.values_list("state", flat=True).get(pk=job.pk)


def test_a_killed_workers_log_rolls_back_and_the_other_worker_logs_it_once(tmp_path):
    job = big_log()
    workers = Workers(tmp_path, {})
    try:
        victim = workers.running("log_job_task")
        wait_until(lambda: job_state(job) == LogJobState.RUNNING, workers, "the Log's start")
        deadline = time.monotonic() + 60
        while not log_transaction_open():  # polled closely: a quiet machine logs 30,000 lines in 0.3 s
            assert time.monotonic() < deadline, f"the Log's transaction never seen open:\n{workers.output()}"
            time.sleep(0.005)
        os.kill(workers.processes[victim].pid, signal.SIGKILL)
        assert workers.processes[victim].wait(timeout=30) == -signal.SIGKILL
        assert not LoggedSegment.objects.exists()  # killed inside the Log: rolled back

        wait_until(lambda: job_state(job) == LogJobState.FINISHED, workers, "the Log's end")
        wait_until(no_task_left_running, workers, "closing the killed worker's task row")
    finally:
        workers.stop_all()

    job.refresh_from_db()
    logged = LoggedSegment.objects.get()
    assert (job.logged_segment, job.error) == (logged, "")
    assert logged.no_of_interactions == LOG_LINES == InteractionLogEntry.objects.count()
    rows = {row.worker_ids[-1]: row.status for row in DBTaskResult.objects.filter(task_path__endswith="log_job_task")}
    assert rows[victim] == TaskResultStatus.FAILED
    assert TaskResultStatus.SUCCESSFUL in rows.values()


def test_sigterm_in_the_middle_of_a_log_finishes_the_log_then_the_worker_exits(tmp_path):
    job = big_log()
    # One worker: a Log handed back instead of finished would stay unfinished. (A second worker
    # paused with SIGSTOP could be frozen holding SQLite's write lock: the first then fails
    # with "database is locked".)
    workers = Workers(tmp_path, {}, names=("w1",))
    try:
        stopping = workers.running("log_job_task")
        wait_until(lambda: job_state(job) == LogJobState.RUNNING, workers, "the Log's start")
        time.sleep(0.3)
        workers.processes[stopping].send_signal(signal.SIGTERM)
        code = workers.processes[stopping].wait(timeout=120)
        assert code == 0, workers.output()
        assert job_state(job) == LogJobState.FINISHED  # by the worker asked to stop: nobody else runs
    finally:
        workers.stop_all()

    assert LoggedSegment.objects.get().no_of_interactions == LOG_LINES
    rows = list(DBTaskResult.objects.filter(task_path__endswith="log_job_task"))
    assert [(row.worker_ids, row.status) for row in rows] == [([stopping], TaskResultStatus.SUCCESSFUL)]


def test_a_killed_workers_print_file_pdf_is_made_again_by_the_other_worker(tmp_path):
    require_libreoffice()
    real = soffice_program()
    logged = segment_services.segment_log(user=COMMAND_LINE, segment=build_segment(emails=0, letters=2), deliver=True)
    delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged.logged_segment)  # run at once
    assert delivery.print_document_id is not None
    # The first LibreOffice run hangs (as one on a huge print file) until its worker is killed;
    # the next one converts.
    fake = tmp_path / "bin"
    fake.mkdir()
    hung = tmp_path / "hung.pid"
    (fake / "soffice").write_text(
        f'#!/bin/sh\n[ -e "{hung}" ] || {{ echo $$ > "{hung}"; exec sleep 600; }}\nexec "{real}" "$@"\n'
    )
    (fake / "soffice").chmod(0o755)
    with override_settings(TASKS=DATABASE_TASKS):
        print_pdf_request(user=COMMAND_LINE, delivery_id=delivery.pk)
    workers = Workers(tmp_path, {"PATH": f"{fake}:{os.environ['PATH']}"})
    try:
        victim = workers.running("print_pdf_task")
        wait_until(hung.exists, workers, "the first conversion")
        os.kill(workers.processes[victim].pid, signal.SIGKILL)
        assert workers.processes[victim].wait(timeout=30) == -signal.SIGKILL
        assert Delivery.objects.get(pk=delivery.pk).pdf_state == PdfState.MAKING

        wait_until(lambda: Delivery.objects.get(pk=delivery.pk).pdf_state == PdfState.READY, workers, "the PDF")
        wait_until(no_task_left_running, workers, "closing the killed worker's task row")
    finally:
        workers.stop_all()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(hung.read_text()), signal.SIGKILL)  # the killed worker's LibreOffice

    delivery.refresh_from_db()
    assert delivery.pdf_error == "" and Document.objects.filter(content_type="application/pdf").count() == 1
    path = tmp_path / "print.pdf"
    path.write_bytes(delivery.print_pdf.open().read())
    assert pdf_page_count(path) == 2
    rows = {row.worker_ids[-1]: row.status for row in DBTaskResult.objects.filter(task_path__endswith="print_pdf_task")}
    assert rows[victim] == TaskResultStatus.FAILED
    assert TaskResultStatus.SUCCESSFUL in rows.values()
