"""What `segment log --deliver`, `logged_segment resend` and `logged_segment resume` share:
starting a delivery and reporting it (CONTRACT.md, "Environment").

With a queue backend (DJANGO_TASKS_BACKEND) the delivery task's id is printed alone on its line
and a worker delivers; with the default immediate backend the delivery has run when the command
exits, and its summary (counts, then each failure with its reason) goes to stderr. Not a command
itself: Django skips modules whose name starts with "_".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import connections
from django.db.models import Max

from crm.permissions import COMMAND_LINE
from interactions.delivery import delivery_runs_inline, delivery_start, delivery_summary_lines
from interactions.models import Delivery, LoggedSegment

PROGRESS_INTERVAL = 0.5


@contextmanager
def progress_on_terminal(command, logged_segment_id) -> Iterator[None]:
    """While a delivery runs in this process (immediate backend) and stderr is a terminal,
    show "Delivering: done / total" on stderr, read from the delivery's counters by a thread
    with its own database connection (CONTRACT: long runs show progress on a terminal)."""
    if not (delivery_runs_inline() and command.stderr.isatty()):
        yield
        return
    # Only the delivery this command starts: an earlier one's counts are not its progress.
    earlier = Delivery.objects.filter(logged_segment_id=logged_segment_id).aggregate(last=Max("pk"))["last"] or 0
    stop = threading.Event()

    def show() -> None:
        row = (
            Delivery.objects.filter(logged_segment_id=logged_segment_id, pk__gt=earlier)
            .order_by("-pk")
            .values("total", "sent", "printed", "failed", "skipped")
            .first()
        )
        if row:
            done = row["sent"] + row["printed"] + row["failed"] + row["skipped"]
            command.stderr.write(f"\rDelivering: {done:,} / {row['total']:,}", ending="")
            command.stderr.flush()

    def watch() -> None:
        try:
            while not stop.wait(PROGRESS_INTERVAL):
                show()
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch, name="delivery-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        show()
        command.stderr.write("")


def report(command, delivery: Delivery) -> None:
    """The task id on stdout (queue backend), or the summary on stderr (immediate backend)."""
    if delivery_runs_inline():
        for line in delivery_summary_lines(delivery):
            command.stderr.write(line)
    else:
        command.stdout.write(delivery.task_id)


def start_and_report(command, logged: LoggedSegment, *, deliverable: int) -> None:
    """Deliver a segment that was just logged (its id is already printed)."""
    if not deliverable:
        command.stderr.write("nothing to deliver: no entry is an e-mail or hard copy")
        return
    try:
        with progress_on_terminal(command, logged.pk):
            delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
    except ValidationError as exc:
        for message in exc.messages:
            command.stderr.write(message)
        raise CommandError(
            f"logged segment {logged.pk} was logged, but its delivery did not start", returncode=1
        ) from exc
    report(command, delivery)
