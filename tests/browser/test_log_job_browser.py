"""A big Log in a real browser (issue 13): above CRM_LOG_INLINE_LINES the Log page queues a log
job; its page shows the phase with an indeterminate progress bar polled by htmx while no worker
has run, then, once a worker logged the segment, goes by itself to the logged segment with the
Log's message.

Set CRM_SCREENSHOTS=DIR to keep screenshots of the pages (1280×800) for a look at the layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from playwright.sync_api import expect

from interactions.models import LoggedSegment
from segments.models import LogJob, LogJobState
from tests.conftest import make_user
from tests.segments.test_views_log import build

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_a_big_log_shows_its_job_and_then_the_logged_segment(page, login):
    user = make_user("marketing", username="mia")
    segment = build(n_persons=3, user=user)
    with override_settings(TASKS=DATABASE_TASKS, CRM_LOG_INLINE_LINES=2):
        login(user)
        page.goto(f"/segments/{segment.no}/log/")
        expect(page.locator(".log-summary")).to_contain_text("creates 4 interaction log entries")
        with page.expect_navigation():
            page.click(f"button:has-text('Log {segment.no}')")

        job = LogJob.objects.get()
        page.wait_for_url(re.compile(rf".*/log-jobs/{job.pk}/$"))
        progress = page.locator("#log-progress")
        expect(progress).to_contain_text("Waiting for a worker to log 4 lines")
        expect(progress.locator("progress")).not_to_have_attribute("value", re.compile(".*"))  # indeterminate
        assert not LoggedSegment.objects.exists()
        shot(page, "log-job-queued")

        # The worker, here in the test's own thread; the browser keeps polling the live server.
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

        logged = LoggedSegment.objects.get()
        page.wait_for_url(re.compile(rf".*{re.escape(logged.get_absolute_url())}$"), timeout=15_000)
    assert LogJob.objects.get().state == LogJobState.FINISHED
    expect(page.locator(".messages")).to_contain_text(
        f"Logged {segment.no}: 4 interaction log entries, 0 campaign entries."
    )
    shot(page, "log-job-done")
