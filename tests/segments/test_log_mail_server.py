"""Nothing is logged with delivery while the mail server cannot be reached (issue 14, part 4):
with "send the e-mails" and e-mail lines, the Log pre-flight talks to the default mailer's SMTP
server (connect, EHLO, STARTTLS/LOGIN when configured, NOOP, QUIT) and lists "cannot reach the
mail server HOST:PORT: reason" as a problem; the Log, its page and `segment log --deliver` then
write nothing. A backend that is not SMTP has nothing to check."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from crm.models import CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions.mail import mail_server_problem
from interactions.models import InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import Segment, SegmentLine
from segments.services.log import LogPreflightError, segment_log_preflight
from tests.interactions.smtp_server import free_port, running_smtp_server
from tests.interactions.test_delivery import IMMEDIATE, build

pytestmark = pytest.mark.django_db


def smtp_mailers(port: int, **options) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10, **options},
        }
    }


@pytest.fixture
def nothing_listening():
    """The default mailer points at a local port where nothing listens."""
    port = free_port()
    with override_settings(MAILERS=smtp_mailers(port), TASKS=IMMEDIATE):
        yield f"cannot reach the mail server 127.0.0.1:{port}: Connection refused"


def assert_nothing_written(segment: Segment, lines: int) -> None:
    assert not LoggedSegment.objects.exists() and not InteractionLogEntry.objects.exists()
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert SegmentLine.objects.filter(segment=segment).count() == lines


def test_the_preflight_lists_an_unreachable_mail_server_and_the_log_writes_nothing(nothing_listening):
    segment, contacts = build()

    preflight = segment_log_preflight(segment=segment, deliver=True)

    assert preflight.problems == [] and preflight.delivery_problems == [nothing_listening]
    with pytest.raises(LogPreflightError) as excinfo:
        segment_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True)
    assert excinfo.value.messages == [nothing_listening]
    assert_nothing_written(segment, len(contacts))


def test_without_delivery_or_without_e_mail_lines_the_mail_server_is_not_asked(nothing_listening):
    segment, contacts = build(correspondence_type=CorrespondenceType.HARD_COPY)
    assert segment_log_preflight(segment=segment, deliver=True).all_problems == []  # letters only
    SegmentLine.objects.filter(segment=segment).update(correspondence_type=CorrespondenceType.EMAIL)
    assert segment_log_preflight(segment=segment, deliver=False).all_problems == []

    logged = segment_services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment  # no delivery

    assert logged.no_of_interactions == len(contacts)


@pytest.mark.django_db(transaction=True)
def test_segment_log_deliver_exits_1_with_the_reason_and_writes_nothing(nothing_listening):
    segment, contacts = build()
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command("segment", "log", segment.no, "--deliver", stdout=out, stderr=err)

    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    assert nothing_listening in err.getvalue().splitlines()
    assert_nothing_written(segment, len(contacts))


def test_the_log_page_shows_the_problem_and_logs_nothing(nothing_listening, marketing_client):
    segment, contacts = build()
    url = reverse("segments:segment_log", args=[segment.no])

    page = marketing_client.get(url)
    posted = marketing_client.post(url, {"segment_uuid": str(segment.uuid), "deliver": "on"})

    assert nothing_listening in page.content.decode()
    assert posted.status_code == 400 and nothing_listening in posted.content.decode()
    assert_nothing_written(segment, len(contacts))


def test_a_server_that_answers_is_no_problem_and_the_log_delivers():
    segment, contacts = build()
    with running_smtp_server() as smtp, override_settings(MAILERS=smtp.mailers(), TASKS=IMMEDIATE):
        assert segment_log_preflight(segment=segment, deliver=True).all_problems == []
        assert (smtp.sessions, smtp.count) == (1, 0)  # one conversation, nothing sent

        logged = segment_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True).logged_segment

    assert logged.no_of_interactions == len(contacts)
    assert smtp.sessions == 2  # the Log asked once more, outside its transaction


def test_starttls_that_the_server_does_not_offer_is_a_problem():
    with running_smtp_server() as smtp, override_settings(MAILERS=smtp_mailers(smtp.port, use_tls=True)):
        assert mail_server_problem() == (
            f"cannot reach the mail server 127.0.0.1:{smtp.port}: STARTTLS extension not supported by server."
        )


def test_a_backend_that_is_not_smtp_has_nothing_to_check():
    for backend in ("locmem", "console", "dummy"):
        with override_settings(MAILERS={"default": {"BACKEND": f"django.core.mail.backends.{backend}.EmailBackend"}}):
            assert mail_server_problem() is None
