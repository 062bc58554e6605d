"""Delivery pages (interactions.views.deliveries) and the Log page's delivery option: SPEC D8, D9,
R70–R73.

Log with "Send the e-mails and make the letters" from the page (Django's locmem mail backend:
the real SMTP conversation is tested with the delivery service), the delivery page's progress,
stalled state and summary, resume and resend with their refusals, the print file download, the
logged segment's delivery panel, and who may do what.
"""

from __future__ import annotations

import datetime
import io
import re
from urllib.parse import quote

import docx
import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from crm.models import CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions.models import (
    Delivery,
    DeliveryItem,
    DeliveryItemStatus,
    DeliveryKind,
    DeliveryState,
    DeliveryStatus,
    InteractionLogEntry,
    LoggedSegment,
)
from interactions.ooxml import DOCX_CONTENT_TYPE
from segments import services as segment_services
from segments.models import Segment
from segments.services import log as log_services
from tests.conftest import make_user
from tests.factories import attach_word_template, make_company, make_person, make_salesperson, make_template
from tests.interactions.log_patch import after_entries

# Transactional: the delivery is enqueued when the log's (and the start's) transaction commits,
# and the default ImmediateBackend runs it right then, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


# --- Builders -------------------------------------------------------------------------------------


def build_segment(emails: int = 2, letters: int = 1, *, bad_emails: int = 0, no_address: int = 0) -> Segment:
    """A segment of persons of one company (the company itself has no correspondence type):
    `emails` e-mail persons, `bad_emails` e-mail persons with an invalid address (their e-mail
    fails), `no_address` e-mail persons without an address, `letters` hard-copy persons. The
    template's Word document says "Dear <name>" and "Text of <no>"."""
    salesperson = make_salesperson("ANN")
    template = make_template(correspondence_type="")
    attach_word_template(template, "Dear {{ contact.name }}", "Text of {{ contact.no }}")
    company = make_company(name="Acme", salesperson=salesperson)
    for i in range(emails):
        make_person(
            company,
            name=f"Emma Mail{i}",
            salesperson=salesperson,
            email=f"emma{i}@acme.test",
            correspondence_type=CorrespondenceType.EMAIL,
        )
    for i in range(bad_emails):
        make_person(
            company,
            name=f"Bad Mail{i}",
            salesperson=salesperson,
            email=f"bad{i}@@acme",
            correspondence_type=CorrespondenceType.EMAIL,
        )
    for i in range(no_address):
        make_person(
            company, name=f"No Mail{i}", salesperson=salesperson, email="", correspondence_type=CorrespondenceType.EMAIL
        )
    for i in range(letters):
        make_person(
            company, name=f"Paul Paper{i}", salesperson=salesperson, correspondence_type=CorrespondenceType.HARD_COPY
        )
    segment = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Spring mailing", "interaction_template": template}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"company_no={company.no}")
    return segment


def log_and_deliver(client: Client, segment: Segment, **data):
    return client.post(
        reverse("segments:segment_log", args=[segment.no]),
        {"segment_uuid": str(segment.uuid), "deliver": "on", **data},
    )


def logged_with_errors(client, bad_emails: int = 2, emails: int = 1, letters: int = 1) -> LoggedSegment:
    segment = build_segment(emails=emails, letters=letters, bad_emails=bad_emails)
    response = log_and_deliver(client, segment)
    assert response.status_code == 302, text_of(response)
    return LoggedSegment.objects.latest("pk")


def url(name: str, *args) -> str:
    return reverse(f"interactions:{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    return re.sub(r"\s+", " ", strip_tags(response.content.decode()))


def state() -> dict:
    models = (LoggedSegment, InteractionLogEntry, Delivery, DeliveryItem, Segment)
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in models}


def plain_logged(user=COMMAND_LINE) -> LoggedSegment:
    """A logged segment without delivery, for deliveries made by hand in a state to show."""
    segment = build_segment(emails=2, letters=1)
    return log_services.segment_log(user=user, segment=segment).logged_segment


def make_delivery(logged: LoggedSegment, **values) -> Delivery:
    return Delivery.objects.create(logged_segment=logged, **values)


# --- Log with delivery, from the Log page ---------------------------------------------------------


def test_log_page_offers_delivery_ticked_with_the_numbers(marketing_client):
    segment = build_segment(emails=2, letters=1)

    response = marketing_client.get(reverse("segments:segment_log", args=[segment.no]))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<input type="checkbox" name="deliver"[^>]*checked', html)
    text = text_of(response)
    assert "Send the e-mails and make the letters after logging" in text
    assert "after logging it sends 2 e-mails and makes 1 letter to print (4 entries in all" in text


def test_log_page_without_deliverable_lines_has_no_delivery_option(marketing_client):
    segment = build_segment(emails=0, letters=0)

    response = marketing_client.get(reverse("segments:segment_log", args=[segment.no]))

    assert 'name="deliver"' not in response.content.decode()


def test_log_with_delivery_sends_the_emails_and_lands_on_the_delivery_page(marketing_client, marketing):
    segment = build_segment(emails=2, letters=1)

    response = log_and_deliver(marketing_client, segment)

    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("delivery_detail", delivery.pk)
    assert f"Logged {segment.no}: 4 interaction log entries" in messages_of(response)[0]
    assert sorted(message.to[0] for message in mail.outbox) == ["emma0@acme.test", "emma1@acme.test"]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.total, delivery.sent, delivery.printed, delivery.failed) == (
        DeliveryState.FINISHED,
        3,
        2,
        1,
        0,
    )
    page = marketing_client.get(response["Location"])
    text = text_of(page)
    assert "2 e-mails sent, 1 letter made for print, 0 failed" in text
    assert "hx-trigger" not in page.content.decode()  # finished: no more polling
    assert url("delivery_print_document", delivery.pk) in page.content.decode()


def test_a_queued_delivery_is_polled_until_a_worker_has_run_it(marketing_client):
    segment = build_segment(emails=2, letters=1)
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        response = log_and_deliver(marketing_client, segment)

        delivery = Delivery.objects.get()
        assert response["Location"] == url("delivery_detail", delivery.pk)
        page = marketing_client.get(response["Location"])
        poll = f'hx-get="{url("delivery_detail", delivery.pk)}" hx-trigger="every 1s"'
        assert poll in page.content.decode()
        assert "Queued" in text_of(page) and "0 of 3 · 0%" in text_of(page) and not mail.outbox

        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

        page = marketing_client.get(response["Location"], headers={"HX-Request": "true"})
    assert "hx-trigger" not in page.content.decode()
    assert "2 e-mails sent, 1 letter made for print, 0 failed" in text_of(page)
    assert len(mail.outbox) == 2


def test_log_without_the_delivery_option_sends_nothing(marketing_client):
    segment = build_segment(emails=2, letters=1)

    response = marketing_client.post(
        reverse("segments:segment_log", args=[segment.no]), {"segment_uuid": str(segment.uuid)}
    )

    logged = LoggedSegment.objects.get()
    assert response["Location"] == logged.get_absolute_url()
    assert not Delivery.objects.exists() and not mail.outbox
    assert not InteractionLogEntry.objects.exclude(delivery_status="").exists()


def test_delivery_problems_are_shown_before_anything_is_written(marketing_client):
    segment = build_segment(emails=1, letters=1, no_address=2)
    before = state()

    page = marketing_client.get(reverse("segments:segment_log", args=[segment.no]))
    response = log_and_deliver(marketing_client, segment)

    for shown in (page, response):
        text = text_of(shown)
        assert "2 e-mail lines have no e-mail address" in text
        assert f"The e-mails and letters of {segment.no} cannot be sent until" in text
        assert "cannot be logged" not in text and "Nothing was logged" not in text
        assert f"{reverse('segments:segment_log', args=[segment.no])}?deliver=0" in shown.content.decode()
    assert response.status_code == 400
    assert state() == before and not mail.outbox


def test_log_without_sending_link_offers_the_option_unticked(marketing_client):
    segment = build_segment(emails=1, letters=1, no_address=1)

    response = marketing_client.get(reverse("segments:segment_log", args=[segment.no]) + "?deliver=0")

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<input type="checkbox" name="deliver"(?![^>]*checked)[^>]*>', html)
    assert re.search(r'<button type="submit" class="primary">Log ' + segment.no, html)


def test_a_refused_start_of_the_delivery_keeps_the_log_and_says_why(marketing_client, monkeypatch):
    """The log commits first (D8); a delivery that cannot start is reported on the logged segment."""
    segment = build_segment(emails=1, letters=0)
    # Another run of the same logged segment appears inside the log's transaction (right after
    # its entries), so the delivery service refuses to start a second one.
    monkeypatch.setattr(
        log_services,
        "insert_select",
        after_entries(lambda logged: make_delivery(logged, state=DeliveryState.RUNNING, total=1)),
    )

    response = log_and_deliver(marketing_client, segment)

    logged = LoggedSegment.objects.get()
    assert response["Location"] == logged.get_absolute_url()
    assert any(
        "The delivery did not start: logged segment" in message and "under way" in message
        for message in messages_of(response)
    )
    assert Delivery.objects.count() == 1 and not mail.outbox
    assert InteractionLogEntry.objects.filter(logged_segment=logged).count() == 2


# --- The delivery page ----------------------------------------------------------------------------


def test_running_delivery_polls_with_its_counts(marketing_client):
    logged = plain_logged()
    delivery = make_delivery(
        logged,
        state=DeliveryState.RUNNING,
        total=40,
        sent=10,
        printed=4,
        failed=2,
        lease_until=timezone.now() + datetime.timedelta(minutes=2),
    )

    response = marketing_client.get(url("delivery_detail", delivery.pk))

    html = response.content.decode()
    assert response.status_code == 200
    poll = f'hx-get="{url("delivery_detail", delivery.pk)}" hx-trigger="every 1s" hx-swap="outerHTML"'
    assert poll in html
    assert '<progress max="40" value="16"' in html
    text = text_of(response)
    assert "16 of 40 · 40%" in text
    assert "Running" in text and "Stalled" not in text
    assert "E-mails sent 10" in text and "Letters made for print 4" in text and "Failed 2" in text


def test_the_poll_gets_only_the_status_fragment(marketing_client):
    logged = plain_logged()
    delivery = make_delivery(logged, state=DeliveryState.QUEUED, total=3)

    response = marketing_client.get(url("delivery_detail", delivery.pk), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="delivery-status"')
    assert "<html" not in html and "Waiting for a worker" in html


def test_a_stalled_delivery_offers_resume_to_marketing_only(marketing_client, viewer_client):
    logged = plain_logged()
    delivery = make_delivery(
        logged,
        state=DeliveryState.RUNNING,
        total=3,
        sent=1,
        lease_until=timezone.now() - datetime.timedelta(minutes=1),
    )

    response = marketing_client.get(url("delivery_detail", delivery.pk))
    seen_by_viewer = viewer_client.get(url("delivery_detail", delivery.pk))

    assert "Stalled" in text_of(response) and "its worker may have died" in text_of(response)
    assert f'action="{url("delivery_resume", delivery.pk)}"' in response.content.decode()
    assert "Goes on with the 2 entries not done yet" in text_of(response)
    assert url("delivery_resume", delivery.pk) not in seen_by_viewer.content.decode()
    assert "by itself" not in text_of(response)  # no workers (tasks run immediately): nobody takes it over


def test_with_workers_a_stalled_delivery_page_says_it_is_taken_over_by_itself(marketing_client):
    delivery = make_delivery(
        plain_logged(), state=DeliveryState.RUNNING, total=3, lease_until=timezone.now() - datetime.timedelta(minutes=1)
    )
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        text = text_of(marketing_client.get(url("delivery_detail", delivery.pk)))
        with override_settings(CRM_JOB_LEASE_SECONDS=20, CRM_WORKER_BEAT_SECONDS=5):
            short = text_of(marketing_client.get(url("delivery_detail", delivery.pk)))

    assert "A running worker takes it over by itself within 3 minutes (no click needed)" in text
    assert "within 25 seconds" in short


def test_resume_runs_a_stalled_delivery_to_its_end(marketing_client):
    segment = build_segment(emails=2, letters=0)
    logged = log_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True).logged_segment
    # A delivery whose worker died before sending anything: its items are pending.
    delivery = make_delivery(
        logged, state=DeliveryState.RUNNING, total=2, lease_until=timezone.now() - datetime.timedelta(seconds=5)
    )
    DeliveryItem.objects.bulk_create(
        DeliveryItem(delivery=delivery, entry=entry)
        for entry in InteractionLogEntry.objects.filter(logged_segment=logged)
        .exclude(delivery_status="")
        .order_by("pk")
    )

    response = marketing_client.post(url("delivery_resume", delivery.pk))

    assert response.status_code == 302 and response["Location"] == url("delivery_detail", delivery.pk)
    assert f"Resumed delivery {delivery.pk}" in messages_of(response)[0]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.sent) == (DeliveryState.FINISHED, 2)
    assert len(mail.outbox) == 2


def test_resume_of_a_finished_or_live_delivery_is_refused(marketing_client):
    logged = plain_logged()
    finished = make_delivery(logged, state=DeliveryState.FINISHED, total=1, sent=1)
    other = plain_logged_second()
    live = make_delivery(
        other, state=DeliveryState.RUNNING, total=1, lease_until=timezone.now() + datetime.timedelta(minutes=2)
    )
    before = state()

    refused_finished = marketing_client.post(url("delivery_resume", finished.pk))
    refused_live = marketing_client.post(url("delivery_resume", live.pk))

    assert refused_finished["Location"] == url("delivery_detail", finished.pk)
    assert f"Delivery {finished.pk} has finished: nothing to resume" in messages_of(refused_finished)[0]
    assert f"Delivery {live.pk} is running: its worker holds it until" in messages_of(refused_live)[-1]
    assert state() == before


def plain_logged_second() -> LoggedSegment:
    template = make_template(correspondence_type="")
    company = make_company(salesperson=make_salesperson("BOB"))
    segment = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Second", "interaction_template": template}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"company_no={company.no}")
    return log_services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment


def test_summary_lists_each_failure_with_entry_contact_and_reason(marketing_client):
    logged = logged_with_errors(marketing_client, bad_emails=2)
    delivery = Delivery.objects.get()

    response = marketing_client.get(url("delivery_detail", delivery.pk))

    text = text_of(response)
    assert "1 e-mail sent, 1 letter made for print, 2 failed" in text
    failed = InteractionLogEntry.objects.filter(logged_segment=logged, delivery_status=DeliveryStatus.ERROR)
    assert failed.count() == 2
    rows = re.findall(r"<tr>\s*<td class=\"num\">.*?</tr>", response.content.decode(), re.S)
    assert len(rows) == 2
    for entry, row in zip(failed.order_by("pk").select_related("contact"), rows, strict=True):
        row_text = re.sub(r"\s+", " ", strip_tags(row))
        assert str(entry.pk) in row_text and entry.contact.name in row_text
        assert "invalid e-mail address" in row_text
    assert "Resend failed e-mails (2)" in text


def test_summary_shows_the_first_50_failures_and_links_to_all_errors(marketing_client):
    logged = plain_logged()
    delivery = make_delivery(logged, state=DeliveryState.FINISHED, total=60, failed=60)
    entry = InteractionLogEntry.objects.filter(logged_segment=logged).first()
    # 60 items need 60 entries: copy the entry (test data, inserted in one statement).
    copies = []
    for i in range(59):
        entry_copy = InteractionLogEntry.objects.get(pk=entry.pk)
        entry_copy.pk = None
        entry_copy.segment_line_id = 10_000 + i
        copies.append(entry_copy)
    InteractionLogEntry.objects.bulk_create(copies)
    DeliveryItem.objects.bulk_create(
        DeliveryItem(delivery=delivery, entry_id=pk, status=DeliveryItemStatus.ERROR, error=f"reason {pk}")
        for pk in InteractionLogEntry.objects.filter(logged_segment=logged)
        .order_by("pk")
        .values_list("pk", flat=True)[:60]
    )

    response = marketing_client.get(url("delivery_detail", delivery.pk))

    assert len(response.context["failures"]) == 50
    text = text_of(response)
    assert "The first 50 of 60 failures." in text
    link = f"{url('entry_list')}?logged_segment={logged.pk}&amp;delivery_status=error"
    assert link in response.content.decode()


def test_print_file_downloads_as_an_attachment_with_one_letter_per_hard_copy_line(marketing_client):
    segment = build_segment(emails=1, letters=2)
    log_and_deliver(marketing_client, segment)
    delivery = Delivery.objects.get()

    response = marketing_client.get(url("delivery_print_document", delivery.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == DOCX_CONTENT_TYPE
    assert response["Content-Disposition"].startswith("attachment;")
    assert f'filename="Segment {segment.no} letters.docx"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    document = docx.Document(io.BytesIO(response.getvalue()))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert text.count("Dear Paul Paper") == 2 and "Emma" not in text


def test_print_file_of_a_delivery_without_letters_is_404(marketing_client):
    logged = plain_logged()
    delivery = make_delivery(logged, state=DeliveryState.FINISHED, total=1, sent=1)

    assert marketing_client.get(url("delivery_print_document", delivery.pk)).status_code == 404
    assert marketing_client.get(url("delivery_detail", 999999)).status_code == 404


def test_delivery_page_is_a_constant_number_of_queries(marketing_client, django_assert_max_num_queries):
    logged = logged_with_errors(marketing_client, bad_emails=1)
    first = Delivery.objects.get()
    with CaptureQueriesContext(connection) as few:
        marketing_client.get(url("delivery_detail", first.pk))
    expected = len(few.captured_queries)  # read now: the next request clears the query log
    logged = logged_with_errors(marketing_client, bad_emails=12, emails=5, letters=5)
    big = Delivery.objects.get(logged_segment=logged)
    with django_assert_max_num_queries(expected):
        response = marketing_client.get(url("delivery_detail", big.pk))
    assert len(response.context["failures"]) == 12


# --- Resend ---------------------------------------------------------------------------------------


def test_resend_confirmation_says_how_many(marketing_client):
    logged = logged_with_errors(marketing_client, bad_emails=2)

    response = marketing_client.get(url("logged_segment_resend", logged.pk))

    assert response.status_code == 200
    assert "Resend 2 entries whose delivery failed." in text_of(response)
    assert f'action="{url("logged_segment_resend", logged.pk)}"' in response.content.decode()


def test_resend_retries_the_errors_only_and_a_double_post_makes_one_delivery(marketing_client):
    logged = logged_with_errors(marketing_client, bad_emails=2)
    InteractionLogEntry.objects.filter(logged_segment=logged, delivery_status=DeliveryStatus.ERROR).update(
        contact_via="fixed@acme.test"
    )
    mail.outbox.clear()

    first = marketing_client.post(url("logged_segment_resend", logged.pk))

    resend = Delivery.objects.get(kind=DeliveryKind.RESEND)
    assert first["Location"] == url("delivery_detail", resend.pk)
    assert f"Resending 2 failed entries of logged segment {logged.pk}." in messages_of(first)[-1]
    assert [message.to for message in mail.outbox] == [["fixed@acme.test"], ["fixed@acme.test"]]
    assert (resend.total, Delivery.objects.get(pk=resend.pk).sent) == (2, 2)

    second = marketing_client.post(url("logged_segment_resend", logged.pk))

    assert Delivery.objects.filter(kind=DeliveryKind.RESEND).count() == 1
    assert second["Location"] == logged.get_absolute_url()
    assert "has no entries with a delivery error to resend" in messages_of(second)[-1]
    assert len(mail.outbox) == 2


def test_resend_while_a_delivery_is_unfinished_is_refused(marketing_client):
    logged = logged_with_errors(marketing_client, bad_emails=1)
    running = make_delivery(
        logged, state=DeliveryState.RUNNING, total=1, lease_until=timezone.now() + datetime.timedelta(minutes=2)
    )
    before = state()

    page = marketing_client.get(url("logged_segment_resend", logged.pk))
    response = marketing_client.post(url("logged_segment_resend", logged.pk))

    assert f"A delivery of this logged segment is still running: delivery {running.pk}." in text_of(page)
    assert "<button" not in page.content.decode().split("<main", 1)[1]
    assert response["Location"] == url("delivery_detail", running.pk)
    assert "already has a delivery under way" in messages_of(response)[-1]
    assert state() == before


def test_resend_with_nothing_failed_says_so(marketing_client):
    logged = plain_logged()

    response = marketing_client.get(url("logged_segment_resend", logged.pk))

    assert "has a delivery error: there is nothing to resend" in text_of(response)
    assert "<button" not in response.content.decode().split("<main", 1)[1]


# --- The logged segment's delivery panel ---------------------------------------------------------


def test_logged_segment_lists_its_deliveries_latest_first(marketing_client):
    logged = logged_with_errors(marketing_client, bad_emails=1)
    marketing_client.post(url("logged_segment_resend", logged.pk))
    deliver, resend = Delivery.objects.order_by("pk")

    response = marketing_client.get(logged.get_absolute_url())

    html = response.content.decode()
    ids = [int(pk) for pk in re.findall(r'<tr id="delivery-(\d+)">', html)]
    assert ids == [resend.pk, deliver.pk]
    row = re.search(rf'<tr id="delivery-{deliver.pk}">.*?</tr>', html, re.S).group(0)
    cells = [strip_tags(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[0] == str(deliver.pk) and cells[1] == "Delivery" and cells[3] == "Finished"
    assert cells[4:] == ["1", "1", "1", "3"]
    assert f'href="{url("delivery_detail", deliver.pk)}"' in row
    assert "Resend failed e-mails (1)" in text_of(response)


def test_logged_segment_without_deliveries_has_no_panel(marketing_client):
    logged = plain_logged()

    response = marketing_client.get(logged.get_absolute_url())

    assert 'id="deliveries"' not in response.content.decode()


# --- Who may do what -------------------------------------------------------------------------------


@pytest.fixture
def world(marketing):
    """A logged segment with a finished delivery that has a print file and one failed e-mail."""
    client = Client()
    client.force_login(marketing)
    logged = logged_with_errors(client, bad_emails=1)
    return logged, Delivery.objects.get(logged_segment=logged)


def paths(world) -> dict[str, str]:
    logged, delivery = world
    return {
        "delivery_detail": url("delivery_detail", delivery.pk),
        "delivery_print_document": url("delivery_print_document", delivery.pk),
        "logged_segment_resend": url("logged_segment_resend", logged.pk),
        "delivery_resume": url("delivery_resume", delivery.pk),
    }


READ = ("delivery_detail", "delivery_print_document")
POSTS = ("logged_segment_resend", "delivery_resume")


def test_anonymous_is_sent_to_login(client, world):
    for path in paths(world).values():
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 302
            assert response["Location"] == f"{reverse('login')}?next={quote(path)}"


def test_viewer_reads_but_may_not_resend_or_resume(viewer_client, world):
    before = state()
    for name, path in paths(world).items():
        if name in READ:
            assert viewer_client.get(path).status_code == 200, name
        else:
            assert viewer_client.post(path).status_code == 403, name
    assert viewer_client.get(paths(world)["logged_segment_resend"]).status_code == 403
    assert state() == before


def test_viewer_sees_no_resend_button(viewer_client, world):
    logged, delivery = world
    for path in (url("delivery_detail", delivery.pk), logged.get_absolute_url()):
        assert url("logged_segment_resend", logged.pk) not in viewer_client.get(path).content.decode()


@pytest.mark.parametrize("role", ["marketing", "admin"])
def test_marketing_and_admin_open_every_page(role, world):
    client = Client()
    client.force_login(make_user(role, username=f"{role}-2"))
    for name in (*READ, "logged_segment_resend"):
        assert client.get(paths(world)[name]).status_code == 200, name


def test_gets_change_nothing(marketing_client, world):
    before = state()
    for path in paths(world).values():
        marketing_client.get(path)
    assert state() == before


def test_resume_and_resend_answer_only_post(marketing_client, world):
    assert marketing_client.get(paths(world)["delivery_resume"]).status_code == 405


@pytest.mark.parametrize("name", POSTS)
def test_posts_without_csrf_token_are_refused(world, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    before = state()

    response = client.post(paths(world)[name])

    assert response.status_code == 403
    assert state() == before


def test_a_user_without_any_role_is_refused(world):
    client = Client()
    client.force_login(make_user(None, username="nobody"))
    for name in READ:
        assert client.get(paths(world)[name]).status_code == 403
