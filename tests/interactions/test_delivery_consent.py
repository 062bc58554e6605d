"""A delivery checks consent at the moment of sending (CONTRACT "Consent per channel and
unsubscribe"; RELIABILITY 24): an e-mail whose contact has withdrawn e-mail consent when it
would go out is not sent, its entry becomes `skipped`, the delivery counts it and still
finishes. A hard-copy letter is a send too: postal consent withdrawn when the letter would be
made leaves it out of the print file, skipped.

E-mail goes to a real SMTP server on localhost (aiosmtpd, tests/interactions/smtp_server.py).
"""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from django.urls import reverse

from crm.consent import contact_set_consent
from crm.models import Contact, CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions.delivery import delivery_run, delivery_start, delivery_summary_lines
from interactions.models import Delivery, DeliveryItem, DeliveryItemStatus, DeliveryState, DeliveryStatus
from tests.interactions.docx_builders import paragraph_texts
from tests.interactions.smtp_server import running_smtp_server
from tests.interactions.test_delivery import IMMEDIATE, QUEUE, build, deliver, entries, log

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp():
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=IMMEDIATE):
        yield server


def withdraw(contact: Contact, channel: str = "email") -> None:
    contact_set_consent(actor=COMMAND_LINE, contact=contact, states={channel: "withdrawn"}, source="phone call")


def statuses(logged) -> dict[str, str]:
    return dict(entries(logged).values_list("contact__no", "delivery_status"))


def item_statuses(delivery) -> dict[str, str]:
    return dict(DeliveryItem.objects.filter(delivery=delivery).values_list("entry__contact__no", "status"))


# --- Between the Log and the delivery ---------------------------------------------------------------


def test_a_withdrawal_between_log_and_delivery_skips_that_entry_and_sends_the_others(
    smtp, django_capture_on_commit_callbacks
):
    """RELIABILITY 24: the withdrawn contact's entry is skipped and no message for them arrives."""
    segment, (company, first, second) = build(n_persons=2)
    logged = log(segment)
    withdraw(first)

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert smtp.per_recipient() == {company.email: 1, second.email: 1}
    assert (delivery.state, delivery.total, delivery.sent, delivery.failed, delivery.skipped) == (
        DeliveryState.FINISHED,
        3,
        2,
        0,
        1,
    )
    assert statuses(logged) == {company.no: "sent", first.no: "skipped", second.no: "sent"}
    assert item_statuses(delivery)[first.no] == DeliveryItemStatus.SKIPPED
    skipped = entries(logged).get(contact=first)
    assert skipped.document_id is None and skipped.delivery_error == ""  # nothing made, nothing sent
    assert delivery_summary_lines(delivery)[:2] == [
        f"delivery {delivery.pk}: 2 sent, 0 made for print, 0 failed of 3 (finished)",
        "1 skipped: consent withdrawn",
    ]


def test_only_e_mail_consent_stops_an_e_mail(smtp, django_capture_on_commit_callbacks):
    segment, (company, first) = build(n_persons=1)
    logged = log(segment)
    withdraw(first, "postal")
    withdraw(company, "phone")

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.sent, delivery.skipped) == (2, 0) and smtp.count == 2


def test_a_delivery_whose_every_contact_withdrew_sends_nothing_and_finishes(smtp, django_capture_on_commit_callbacks):
    segment, contacts = build(n_persons=2)
    logged = log(segment)
    for contact in contacts:
        withdraw(contact)

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert smtp.count == 0
    assert (delivery.state, delivery.sent, delivery.skipped, delivery.done) == (DeliveryState.FINISHED, 0, 3, 3)
    assert set(statuses(logged).values()) == {DeliveryStatus.SKIPPED}


def test_a_contact_who_withdrew_is_skipped_before_their_e_mail_is_made(smtp, django_capture_on_commit_callbacks):
    """Skipped, not an error, even when the e-mail could not have been made: nothing is made
    for a contact who had withdrawn when the batch was read."""
    segment, (company, first) = build(n_persons=1)
    logged = log(segment)
    entries(logged).filter(contact=first).update(contact_via="not-an-address")
    withdraw(first)

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.sent, delivery.failed, delivery.skipped) == (1, 0, 1)
    assert statuses(logged)[first.no] == DeliveryStatus.SKIPPED


def test_a_resend_never_sends_a_skipped_entry(smtp, django_capture_on_commit_callbacks):
    segment, (company, first, refused) = build(n_persons=2)
    logged = log(segment)
    withdraw(first)
    smtp.refuse.add(refused.email)
    deliver(logged, django_capture_on_commit_callbacks)
    smtp.refuse.clear()

    resend = deliver(logged, django_capture_on_commit_callbacks, kind="resend")

    assert resend.total == 1 and resend.sent == 1
    assert first.email not in smtp.per_recipient()
    assert statuses(logged)[first.no] == "skipped"


# --- During the delivery ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_during_the_delivery_is_honoured_for_every_e_mail_not_yet_sent():
    """The batch's entries were read before the withdrawal: the claim of each item checks
    consent as it stands when its e-mail would go out."""
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=QUEUE):
        segment, (company, *persons) = build(n_persons=3)
        logged = log(segment)
        delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
        server.hold_at = 1  # the first e-mail is in flight when the last contact withdraws
        last = persons[-1]

        def run() -> None:
            try:
                delivery_run(delivery.pk)
            finally:
                connections.close_all()

        worker = threading.Thread(target=run)
        worker.start()
        assert server.held.wait(30)
        withdraw(last)
        server.release.set()
        worker.join(30)

        delivery.refresh_from_db()
        assert (delivery.state, delivery.sent, delivery.skipped) == (DeliveryState.FINISHED, 3, 1)
        assert last.email not in server.per_recipient() and server.count == 3
        assert statuses(logged)[last.no] == DeliveryStatus.SKIPPED


# --- Hard copy ------------------------------------------------------------------------------------------


def test_a_letter_whose_contact_withdrew_postal_consent_is_left_out_of_the_print_file(
    smtp, django_capture_on_commit_callbacks
):
    segment, (company, first, second) = build(n_persons=2, correspondence_type=CorrespondenceType.HARD_COPY)
    logged = log(segment)
    withdraw(first, "postal")
    withdraw(second, "email")  # a letter: e-mail consent does not matter

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.state, delivery.printed, delivery.skipped) == (DeliveryState.FINISHED, 2, 1)
    texts = paragraph_texts(delivery.print_document.read_bytes())
    assert texts.count("Re: Spring offer") == 2
    assert f"Dear Pat {first.surname}," not in texts and f"Dear Pat {second.surname}," in texts
    assert statuses(logged) == {company.no: "sent", first.no: "skipped", second.no: "sent"}


# --- Pages and commands ------------------------------------------------------------------------------


def test_the_delivery_page_counts_the_skipped(smtp, django_capture_on_commit_callbacks, marketing_client):
    segment, (company, first, second) = build(n_persons=2)
    logged = log(segment)
    withdraw(first)
    withdraw(second)
    delivery = deliver(logged, django_capture_on_commit_callbacks)

    page = marketing_client.get(reverse("interactions:delivery_detail", args=[delivery.pk])).content.decode()

    assert "2 skipped: consent withdrawn" in page
    assert '<dd class="skipped">2</dd>' in page


@pytest.mark.django_db(transaction=True)
def test_segment_log_deliver_then_a_withdrawal_then_the_worker_export_shows_skipped(capsys):
    """`segment log --deliver` on a queue backend; the contact withdraws before a worker sends."""
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=QUEUE):
        segment, (company, first) = build(n_persons=1)
        call_command("segment", "log", segment.no, "--deliver")
        logged_id = capsys.readouterr().out.split()[0]
        withdraw(first)

        summary = delivery_run(Delivery.objects.get(logged_segment_id=logged_id).pk)

        assert (summary["sent"], summary["skipped"]) == (1, 1) and server.per_recipient() == {company.email: 1}
        out = StringIO()
        call_command("interactions", "export", "--json", "--logged-segment", logged_id, stdout=out)
        exported = {row["contact_no"]: row["delivery_status"] for row in json.loads(out.getvalue())}
        assert exported == {company.no: "sent", first.no: "skipped"}


@pytest.mark.django_db(transaction=True)
def test_the_segment_log_deliver_summary_counts_the_skipped(capsys):
    """A contact withdraws while the Log runs (after its check): the delivery after it skips them."""
    from segments.services import log as log_service
    from tests.interactions.log_patch import after_entries

    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=IMMEDIATE):
        segment, (company, first) = build(n_persons=1)

        def withdraw_inside(_logged) -> None:
            withdraw(first)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(log_service, "insert_select", after_entries(withdraw_inside))
            call_command("segment", "log", segment.no, "--deliver")

        err = capsys.readouterr().err
        assert "1 sent, 0 made for print, 0 failed of 2 (finished)" in err
        assert "1 skipped: consent withdrawn" in err
        assert server.per_recipient() == {company.email: 1}
