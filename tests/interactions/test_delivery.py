"""Delivery after the log (interactions.delivery; SPEC D8, D9, R70, R72, R73; RELIABILITY 13).

E-mail goes to a real SMTP server on localhost (aiosmtpd, tests/interactions/smtp_server.py),
and the tests count and open what it received. The kill-the-worker case is in
test_delivery_crash.py.
"""

from __future__ import annotations

import datetime
import io
import threading
from datetime import timedelta

import docx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from crm.models import ContactAltAddress, ContactAltAddressDateRange, CorrespondenceType, SalutationFormula
from crm.permissions import COMMAND_LINE
from interactions import delivery as delivery_module
from interactions import services
from interactions.delivery import (
    OUTCOME_UNKNOWN,
    DeliveryRefused,
    NothingToDeliver,
    delivery_progress,
    delivery_resend,
    delivery_resume,
    delivery_run,
    delivery_start,
    entry_letter,
)
from interactions.models import (
    Delivery,
    DeliveryItem,
    DeliveryItemStatus,
    DeliveryKind,
    DeliveryState,
    DeliveryStatus,
    Document,
    InteractionLogEntry,
)
from segments import services as segment_services
from segments.models import SegmentLine
from tests.factories import (
    attach_word_template,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_salutation,
    make_template,
)
from tests.interactions.docx_builders import paragraph_texts
from tests.interactions.smtp_server import running_smtp_server

pytestmark = pytest.mark.django_db

LETTER = ("{{ salutation_formal }},", "{{ address_block }}", "Re: {{ line.subject }}", "{{ line.personal_text }}")
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
QUEUE = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def smtp():
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=IMMEDIATE):
        yield server


def build(
    n_persons: int = 2,
    *,
    correspondence_type: str = CorrespondenceType.EMAIL,
    send_as_attachment: bool = False,
    subject: str = "Spring offer",
    paragraphs: tuple[str, ...] = LETTER,
    languages: tuple[str, ...] = (),
):
    """A segment of a company "Smith & <Sons>" and `n_persons` persons with a Word template
    (also for each language code of `languages`)."""
    salesperson = make_salesperson("ANN")
    template = make_template(correspondence_type="")
    attach_word_template(template, *paragraphs)
    for code in languages:
        attach_word_template(template, *paragraphs, language=make_language(code))
    salutation = make_salutation(None, {(None, "formal"): "Dear %first_name %surname"})
    company = make_company(
        name="Smith & <Sons>",
        email="info@smith.test",
        address="1 Main St",
        post_code="2611 AB",
        city="Delft",
        salutation=salutation,
        salesperson=salesperson,
    )
    persons = [
        make_person(
            company,
            email=f"p{i}@smith.test",
            salutation=salutation,
            salesperson=salesperson,
            address="1 Main St",
            post_code="2611 AB",
            city="Delft",
        )
        for i in range(n_persons)
    ]
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Spring mailing",
            "interaction_template": template,
            "correspondence_type": correspondence_type,
            "ignore_contact_correspondence_type": True,
            "subject": subject,
            "send_as_attachment": send_as_attachment,
        },
    )
    contacts = [company, *persons]
    query = "&".join(f"no={contact.no}" for contact in contacts)
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=query)
    return segment, contacts


def log(segment):
    return segment_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True).logged_segment


def deliver(logged, django_capture_on_commit_callbacks, kind=DeliveryKind.DELIVER) -> Delivery:
    """Start a delivery and run the task enqueued after the commit (the test's transaction
    never commits, so the on-commit callbacks are run by hand)."""
    with django_capture_on_commit_callbacks(execute=True):
        delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged, kind=kind)
    delivery.refresh_from_db()
    return delivery


def entries(logged):
    return InteractionLogEntry.objects.filter(logged_segment=logged).select_related("contact", "document")


# --- e-mail -----------------------------------------------------------------------------------


def test_email_as_body_sends_one_letter_per_entry_with_salutation_and_address_escaped(
    smtp, django_capture_on_commit_callbacks
):
    segment, (company, *persons) = build()
    logged = log(segment)
    assert (smtp.sessions, smtp.count) == (1, 0)  # the Log's pre-flight asked the mail server

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.state, delivery.total, delivery.sent, delivery.failed) == (DeliveryState.FINISHED, 3, 3, 0)
    assert delivery.finished_at is not None and delivery.lease_until is None
    assert smtp.per_recipient() == {"info@smith.test": 1, "p0@smith.test": 1, "p1@smith.test": 1}
    assert smtp.sessions == 1 + 1  # one connection for the batch
    for person in persons:
        (message,) = smtp.to(person.email)
        assert message.subject == "Spring offer"
        assert f"Dear {person.first_name} {person.surname}," in message.html
        assert "1 Main St" in message.html and "2611 AB Delft" in message.html
        assert "Smith &amp; &lt;Sons&gt;" in message.html and "<Sons>" not in message.html
        assert f"Dear {person.first_name} {person.surname}," in message.text
        assert "Smith & <Sons>" in message.text
        assert not message.attachments
        assert b'From: "Sam Seller via Cronus Marketing Ltd." <marketing@localhost>' in message.raw
        assert b"Reply-To: Sam Seller <sam@example.com>" in message.raw  # the salesperson the letter names
    for entry in entries(logged):
        assert (entry.delivery_status, entry.delivery_error) == (DeliveryStatus.SENT, "")
        assert entry.document is not None and entry.document.file_name == "Spring offer.docx"
        texts = paragraph_texts(entry.document.read_bytes())
        assert "Re: Spring offer" in texts
    assert set(DeliveryItem.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"sent"}


def test_email_as_attachment_sends_the_stored_document(smtp, django_capture_on_commit_callbacks):
    segment, (company, person) = build(n_persons=1, send_as_attachment=True, subject="Offer: 2026/27")
    SegmentLine.objects.filter(contact=person).update(personal_text="See you in Delft")
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    (message,) = smtp.to(person.email)
    assert message.subject == "Offer: 2026/27"
    assert list(message.attachments) == ["Offer_ 2026_27.docx"]  # safe file name from the subject
    attached = message.attachments["Offer_ 2026_27.docx"]
    entry = entries(logged).get(contact=person)
    assert attached == entry.document.read_bytes()  # R72: the entry keeps exactly what was sent
    texts = [p.text for p in docx.Document(io.BytesIO(attached)).paragraphs]
    assert f"Dear {person.first_name} {person.surname}," in texts and "See you in Delft" in texts
    assert "Offer_ 2026_27.docx" in message.text and "Offer_ 2026_27.docx" in message.html


def test_email_goes_to_the_alternate_address_active_on_the_entry_date(smtp, django_capture_on_commit_callbacks):
    segment, (company, person) = build(n_persons=1)
    alt = ContactAltAddress.objects.create(
        contact=person, code="HOLIDAY", email="beach@home.test", address="9 Dune Road", city="Zandvoort"
    )
    ContactAltAddressDateRange.objects.create(
        contact=person, alt_address=alt, starting_date=datetime.date(2026, 5, 1), ending_date=datetime.date(2026, 7, 1)
    )
    line = SegmentLine.objects.get(segment=segment, contact=person)
    segment_services.segment_set_line(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, values={"date": datetime.date(2026, 6, 2)}
    )
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    assert smtp.per_recipient() == {"info@smith.test": 1, "beach@home.test": 1}
    (message,) = smtp.to("beach@home.test")
    assert "9 Dune Road" in message.html and "Zandvoort" in message.html and "1 Main St" not in message.html


# --- hard copy ---------------------------------------------------------------------------------


def test_hard_copy_makes_one_print_document_with_one_letter_per_entry(smtp, django_capture_on_commit_callbacks):
    segment, contacts = build(n_persons=3, correspondence_type=CorrespondenceType.HARD_COPY)
    logged = log(segment)

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert smtp.count == 0
    assert (delivery.state, delivery.total, delivery.printed, delivery.sent, delivery.failed) == (
        "finished",
        4,
        4,
        0,
        0,
    )
    assert delivery.print_document.file_name == f"Segment {segment.no} letters.docx"
    texts = paragraph_texts(delivery.print_document.read_bytes())
    assert texts.count("Re: Spring offer") == 4  # one letter per entry, each its own section (page)
    assert len(docx.Document(io.BytesIO(delivery.print_document.read_bytes())).sections) == 4
    ordered = list(entries(logged).order_by("pk"))
    greetings = [text for text in texts if text.startswith("Dear Pat")]
    assert greetings == [f"Dear Pat {e.contact.surname}," for e in ordered if e.contact.first_name]  # entry order
    for entry in ordered:
        assert entry.delivery_status == DeliveryStatus.SENT and entry.document_id is not None
    assert set(DeliveryItem.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"printed"}


# --- one entry fails, the others go out ---------------------------------------------------------


def test_invalid_and_refused_addresses_fail_with_the_reason_and_the_others_are_sent(
    smtp, django_capture_on_commit_callbacks
):
    segment, (company, bad, refused, good) = build(n_persons=3)
    logged = log(segment)
    entries(logged).filter(contact=bad).update(contact_via="not-an-address")
    smtp.refuse.add(refused.email)

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.sent, delivery.failed, delivery.state) == (2, 2, "finished")
    assert smtp.per_recipient() == {"info@smith.test": 1, good.email: 1}
    assert smtp.sessions == 1 + 1  # the Log's check, then one: a refused recipient costs no new connection
    bad_entry = entries(logged).get(contact=bad)
    assert bad_entry.delivery_status == DeliveryStatus.ERROR
    assert bad_entry.delivery_error == 'invalid e-mail address "not-an-address"'
    assert bad_entry.document_id is None  # nothing was sent, nothing is kept
    refused_entry = entries(logged).get(contact=refused)
    assert refused_entry.delivery_status == DeliveryStatus.ERROR
    assert "550" in refused_entry.delivery_error and refused.email in refused_entry.delivery_error
    progress = delivery_progress(delivery)
    assert (progress["total"], progress["done"], progress["failed"], progress["percent"]) == (4, 4, 2, 100)
    assert {(f["contact_no"], f["reason"]) for f in progress["failures"]} == {
        (bad.no, bad_entry.delivery_error),
        (refused.no, refused_entry.delivery_error),
    }


def test_a_subject_with_a_line_break_fails_that_entry_only(smtp, django_capture_on_commit_callbacks):
    segment, (company, person, other) = build(n_persons=2)
    logged = log(segment)
    entries(logged).filter(contact=person).update(subject="Hello\nBcc: evil@attacker.test")

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.sent, delivery.failed) == (2, 1)
    entry = entries(logged).get(contact=person)
    assert entry.delivery_status == DeliveryStatus.ERROR
    assert "linefeed" in entry.delivery_error and entry.delivery_error.startswith("the e-mail cannot be built")
    assert smtp.per_recipient() == {"info@smith.test": 1, other.email: 1}
    assert all(b"evil@attacker.test" not in message.raw for message in smtp.received())


def test_a_letter_that_cannot_be_made_fails_that_entry_with_the_reason(smtp, django_capture_on_commit_callbacks):
    segment, (company, person) = build(n_persons=1)
    other = make_salutation("MS", {(None, "formal"): "Dear Ms %surname"})
    person.salutation = other
    person.save()
    logged = log(segment)
    SalutationFormula.objects.filter(salutation=other).delete()  # gone between the log and the delivery

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    assert (delivery.sent, delivery.failed) == (1, 1)
    entry = entries(logged).get(contact=person)
    assert entry.delivery_status == DeliveryStatus.ERROR
    assert person.no in entry.delivery_error and "no formal salutation formula" in entry.delivery_error
    assert smtp.per_recipient() == {"info@smith.test": 1}


def test_entry_letter_merges_the_entry_fields():
    segment, (company, person) = build(n_persons=1)
    SegmentLine.objects.filter(contact=person).update(personal_text="Thanks for coming")
    logged = log(segment)
    entry = entries(logged).get(contact=person)

    texts = paragraph_texts(entry_letter(entry))

    assert texts[0] == f"Dear {person.first_name} {person.surname},"
    assert "Re: Spring offer" in texts and "Thanks for coming" in texts


def test_a_letters_month_names_are_in_the_letters_language_not_the_senders():
    """The entry's language names the months of its letter (Danish "marts", German "März"),
    whoever sends it in whatever language; a language the CRM does not know: English."""
    dated = ("{{ line.date|date('j F Y') }}",)
    segment, (company, person, other) = build(n_persons=2, paragraphs=dated, languages=("DAN", "DEU", "XYZ"))
    languages = {company: "DAN", person: "DEU", other: "XYZ"}
    for contact, code in languages.items():
        SegmentLine.objects.filter(segment=segment, contact=contact).update(
            language_id=code, date=datetime.date(2026, 3, 5)
        )
    logged = log(segment)

    with translation.override("fi"):  # the sender reads Finnish
        dates = {
            contact: paragraph_texts(entry_letter(entries(logged).get(contact=contact)))[0] for contact in languages
        }

    assert dates == {company: "5 marts 2026", person: "5 März 2026", other: "5 March 2026"}


# --- resend, double start, resume -----------------------------------------------------------------


def test_resend_sends_the_entries_in_error_only(smtp, django_capture_on_commit_callbacks):
    segment, (company, bad, good) = build(n_persons=2)
    logged = log(segment)
    entries(logged).filter(contact=bad).update(contact_via="broken")
    first = deliver(logged, django_capture_on_commit_callbacks)
    assert (first.sent, first.failed) == (2, 1)
    entries(logged).filter(contact=bad).update(contact_via=bad.email)  # the address was corrected

    with django_capture_on_commit_callbacks(execute=True):
        again = delivery_resend(user=COMMAND_LINE, logged_segment_id=logged.pk)
    again.refresh_from_db()

    assert (again.kind, again.total, again.sent, again.failed, again.state) == ("resend", 1, 1, 0, "finished")
    assert list(again.items.values_list("entry__contact_id", flat=True)) == [bad.pk]
    assert smtp.per_recipient() == {"info@smith.test": 1, bad.email: 1, good.email: 1}  # nobody twice
    assert set(entries(logged).values_list("delivery_status", flat=True)) == {DeliveryStatus.SENT}
    with pytest.raises(NothingToDeliver):
        delivery_resend(user=COMMAND_LINE, logged_segment_id=logged.pk)
    assert smtp.count == 3


def test_resend_leaves_hard_copy_entries_in_error_alone(smtp, django_capture_on_commit_callbacks):
    segment, (company, bad, good) = build(n_persons=2)
    logged = log(segment)
    entries(logged).filter(contact=bad).update(contact_via="broken")
    deliver(logged, django_capture_on_commit_callbacks)
    entries(logged).filter(contact=company).update(
        correspondence_type=CorrespondenceType.HARD_COPY, delivery_status=DeliveryStatus.ERROR
    )

    with django_capture_on_commit_callbacks(execute=True):
        again = delivery_resend(user=COMMAND_LINE, logged_segment_id=logged.pk)

    assert list(again.items.values_list("entry__contact_id", flat=True)) == [bad.pk]
    assert entries(logged).get(contact=company).delivery_status == DeliveryStatus.ERROR


def test_resend_rewrites_the_document_of_the_failed_attempt(smtp, django_capture_on_commit_callbacks):
    segment, (company, person) = build(n_persons=1)
    logged = log(segment)
    smtp.refuse.add(person.email)
    deliver(logged, django_capture_on_commit_callbacks)
    failed_attempt = entries(logged).get(contact=person).document_id
    assert failed_attempt is not None  # it was handed to the server, which refused it
    failed_file = Document.objects.get(pk=failed_attempt).file.name
    documents = Document.objects.count()
    smtp.refuse.clear()

    deliver(logged, django_capture_on_commit_callbacks, kind=DeliveryKind.RESEND)

    entry = entries(logged).get(contact=person)
    assert entry.delivery_status == DeliveryStatus.SENT and entry.document_id == failed_attempt
    assert Document.objects.count() == documents  # rewritten in place, no orphan left
    assert entry.document.file.name != failed_file and not default_storage.exists(failed_file)  # removed at commit
    assert "Dear" in " ".join(paragraph_texts(entry.document.read_bytes()))
    (message,) = smtp.to(person.email)
    assert f"Dear {person.first_name} {person.surname}," in message.html


def test_a_second_start_while_one_is_unfinished_is_refused(django_capture_on_commit_callbacks):
    segment, _contacts = build(n_persons=2)
    logged = log(segment)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = delivery_start(user=COMMAND_LINE, logged_segment=logged)
    assert len(callbacks) == 1 and first.state == DeliveryState.QUEUED and first.total == 3

    with pytest.raises(DeliveryRefused) as error:
        delivery_start(user=COMMAND_LINE, logged_segment=logged)
    assert f"already has a delivery under way (delivery {first.pk}, Queued)" in error.value.messages[0]
    with pytest.raises(DeliveryRefused):
        delivery_resend(user=COMMAND_LINE, logged_segment_id=logged.pk)
    assert Delivery.objects.count() == 1 and DeliveryItem.objects.count() == 3
    # the database's backstop, bypassing the service
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(logged_segment=logged, kind=DeliveryKind.RESEND)


def test_starting_resending_and_resuming_need_permissions(viewer, marketing, django_capture_on_commit_callbacks):
    segment, _contacts = build(n_persons=1)
    logged = log(segment)
    with pytest.raises(PermissionDenied):
        delivery_start(user=viewer, logged_segment=logged)
    with pytest.raises(PermissionDenied):
        delivery_resend(user=viewer, logged_segment_id=logged.pk)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = delivery_start(user=marketing, logged_segment=logged)
    with pytest.raises(PermissionDenied):
        delivery_resume(user=viewer, delivery_id=delivery.pk)
    assert delivery.created_by == marketing and Delivery.objects.count() == 1


def test_nothing_to_deliver_writes_nothing():
    segment, _contacts = build(n_persons=1)
    logged = segment_services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment  # logged without deliver

    with pytest.raises(NothingToDeliver):
        delivery_start(user=COMMAND_LINE, logged_segment=logged)
    assert not Delivery.objects.exists()


def test_resume_settles_the_item_in_flight_as_outcome_unknown_and_sends_the_rest(
    smtp, django_capture_on_commit_callbacks
):
    segment, (company, *persons) = build(n_persons=3)
    logged = log(segment)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
    # As a killed worker leaves it: running, one item "sending", one sent, its lease still held.
    in_flight, done = entries(logged).order_by("pk")[:2]
    DeliveryItem.objects.filter(delivery=delivery, entry=in_flight).update(status=DeliveryItemStatus.SENDING)
    DeliveryItem.objects.filter(delivery=delivery, entry=done).update(status=DeliveryItemStatus.SENT)
    InteractionLogEntry.objects.filter(pk=done.pk).update(delivery_status=DeliveryStatus.SENT)
    live = timezone.now() + timedelta(seconds=60)
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.RUNNING, lease_until=live, sent=1)

    assert delivery_run(delivery.pk) == {"delivery": delivery.pk, "claimed": False}  # the lease is held
    with pytest.raises(DeliveryRefused, match="is running: its worker holds it until"):
        delivery_resume(user=COMMAND_LINE, delivery_id=delivery.pk)
    assert delivery_progress(delivery)["stalled"] is False

    Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert delivery_progress(delivery)["stalled"] is True
    with django_capture_on_commit_callbacks(execute=True):
        delivery_resume(user=COMMAND_LINE, delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.sent, delivery.failed) == ("finished", 3, 1)
    in_flight.refresh_from_db()
    assert (in_flight.delivery_status, in_flight.delivery_error) == (DeliveryStatus.ERROR, OUTCOME_UNKNOWN)
    assert smtp.count == 2 and in_flight.contact.email not in smtp.per_recipient()
    assert done.contact.email not in smtp.per_recipient()  # sent before: never again
    with pytest.raises(DeliveryRefused, match="has finished"):
        delivery_resume(user=COMMAND_LINE, delivery_id=delivery.pk)
    with pytest.raises(DeliveryRefused, match="unknown delivery"):
        delivery_resume(user=COMMAND_LINE, delivery_id=delivery.pk + 100)

    deliver(logged, django_capture_on_commit_callbacks, kind=DeliveryKind.RESEND)  # only an explicit resend
    assert smtp.per_recipient()[in_flight.contact.email] == 1
    assert max(smtp.per_recipient().values()) == 1


def test_a_run_that_lost_its_lease_stops(smtp, django_capture_on_commit_callbacks):
    segment, _contacts = build(n_persons=2)
    logged = log(segment)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
    run = delivery_module._claim(delivery.pk)
    assert run is not None and delivery_module._claim(delivery.pk) is None  # one run at a time
    # Its lease ran out and another worker took over.
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    other = delivery_module._claim(delivery.pk)
    assert other is not None

    assert delivery_module._Delivering(run)() == delivery_module.LOST
    assert smtp.count == 0
    assert delivery_module._Delivering(other)() == delivery_module.DONE
    assert smtp.count == 3


def test_reads_are_per_batch_and_writes_a_fixed_number_per_entry(django_capture_on_commit_callbacks):
    def measure(n_persons: int) -> tuple[int, int]:
        segment, _contacts = build(n_persons=n_persons)
        logged = log(segment)
        with django_capture_on_commit_callbacks(execute=False):
            delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged)
        with CaptureQueriesContext(connection) as queries:
            delivery_run(delivery.pk)
        assert Delivery.objects.get(pk=delivery.pk).sent == n_persons + 1
        statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
        statements = [sql for sql in statements if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        return sum(1 for sql in statements if sql.startswith("SELECT")), len(statements)

    small_selects, small = measure(4)  # 5 entries
    big_selects, big = measure(49)  # 50 entries, still one batch

    assert big_selects == small_selects  # the entries, their templates and formulas: once per batch
    # per e-mail: claim the item, store the letter, point the entry at it; then item, entry and
    # counter "sent" (each transaction's own statements; the test's savepoints are left out)
    per_entry, rest = divmod(big - small, 45)
    assert rest == 0 and per_entry == 6, (small, big)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_make_one_delivery():
    with override_settings(TASKS=QUEUE):
        segment, _contacts = build(n_persons=3)
        logged = log(segment)
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def start():
            try:
                barrier.wait(timeout=10)
                outcomes.append(delivery_start(user=COMMAND_LINE, logged_segment=logged.pk))
            except Exception as exc:  # the loser's refusal
                outcomes.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=start) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    started = [o for o in outcomes if isinstance(o, Delivery)]
    refused = [o for o in outcomes if isinstance(o, DeliveryRefused)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert "already has a delivery under way" in refused[0].messages[0]
    assert Delivery.objects.count() == 1 and DeliveryItem.objects.count() == 4


# --- commands ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_segment_log_deliver_command_delivers_before_it_exits(smtp, capsys):
    segment, (company, bad) = build(n_persons=1)
    bad.email = "broken@"
    bad.save()

    call_command("segment", "log", segment.no, "--deliver")

    out, err = capsys.readouterr()
    logged = InteractionLogEntry.objects.get(contact=company).logged_segment
    assert out.splitlines() == [str(logged.pk)]
    assert smtp.per_recipient() == {"info@smith.test": 1}
    assert "1 sent, 0 made for print, 1 failed of 2 (finished)" in err
    assert f'({bad.no} {bad.name}): invalid e-mail address "broken@"' in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db(transaction=True)
def test_segment_log_deliver_command_shows_progress_on_a_terminal_only(smtp, monkeypatch):
    from interactions.management.commands import _delivery

    monkeypatch.setattr(_delivery, "PROGRESS_INTERVAL", 0.01)
    segment, _contacts = build(n_persons=4)
    other, _others = build(n_persons=1)
    terminal, pipe = Terminal(), io.StringIO()

    call_command("segment", "log", segment.no, "--deliver", stdout=io.StringIO(), stderr=terminal)
    call_command("segment", "log", other.no, "--deliver", stdout=io.StringIO(), stderr=pipe)

    assert "\rDelivering: 5 / 5" in terminal.getvalue()
    assert "Delivering" not in pipe.getvalue()


@pytest.mark.django_db(transaction=True)
def test_segment_log_deliver_command_on_a_queue_backend_prints_the_task_id(capsys):
    segment, _contacts = build(n_persons=1)

    with override_settings(TASKS=QUEUE):
        call_command("segment", "log", segment.no, "--follow-up", "--deliver")

    out = capsys.readouterr().out.splitlines()
    delivery = Delivery.objects.get()
    assert len(out) == 3 and out[0] == str(delivery.logged_segment_id) and out[1].startswith("SEG")
    assert out[2] == delivery.task_id != "" and delivery.state == DeliveryState.QUEUED


def test_logged_segment_resend_command_prints_the_count(smtp, django_capture_on_commit_callbacks, capsys):
    segment, (company, bad) = build(n_persons=1)
    logged = log(segment)
    entries(logged).filter(contact=bad).update(contact_via="broken")
    deliver(logged, django_capture_on_commit_callbacks)
    entries(logged).filter(contact=bad).update(contact_via=bad.email)
    capsys.readouterr()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("logged_segment", "resend", str(logged.pk))
    assert capsys.readouterr().out == "1\n"
    assert smtp.per_recipient() == {"info@smith.test": 1, bad.email: 1}

    call_command("logged_segment", "resend", str(logged.pk))
    assert capsys.readouterr().out == "0\n"
    with pytest.raises(CommandError):
        call_command("logged_segment", "resend", "999999")
    assert 'unknown logged segment "999999"' in capsys.readouterr().err


def test_logged_segment_resume_command_refuses_a_finished_delivery(smtp, django_capture_on_commit_callbacks, capsys):
    segment, _contacts = build(n_persons=1)
    delivery = deliver(log(segment), django_capture_on_commit_callbacks)
    capsys.readouterr()

    with pytest.raises(CommandError):
        call_command("logged_segment", "resume", str(delivery.pk))
    out, err = capsys.readouterr()
    assert out == "" and f"delivery {delivery.pk} has finished" in err


# --- Deleting delivered history ------------------------------------------------------------------


def test_deleting_a_canceled_logged_segment_takes_its_deliveries_along(smtp, django_capture_on_commit_callbacks):
    segment, _contacts = build(n_persons=2, correspondence_type=CorrespondenceType.HARD_COPY)
    logged = log(segment)
    assert deliver(logged, django_capture_on_commit_callbacks).print_document_id is not None
    services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[logged.pk], canceled=True)

    template_document = InteractionLogEntry.objects.values_list("word_template_id", flat=True).first()

    services.logged_segment_delete(user=COMMAND_LINE, logged_segment_id=logged.pk)

    assert not Delivery.objects.exists() and not DeliveryItem.objects.exists()
    assert not InteractionLogEntry.objects.exists()
    # The letters stored for the entries and the print file go too; the Word template stays.
    assert list(Document.objects.values_list("pk", flat=True)) == [template_document]


def test_deleting_canceled_entries_with_delivery_items_is_a_few_statements(
    smtp, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    segment, _contacts = build(n_persons=6)
    logged = log(segment)
    deliver(logged, django_capture_on_commit_callbacks)
    letters = set(InteractionLogEntry.objects.values_list("document_id", flat=True))
    kept = InteractionLogEntry.objects.order_by("pk").first()
    InteractionLogEntry.objects.exclude(pk=kept.pk).update(canceled=True)

    files = dict(Document.objects.filter(pk__in=letters).values_list("pk", "file"))

    # one more than before storage: the names of the letters' files, removed at commit
    with django_assert_max_num_queries(10), django_capture_on_commit_callbacks(execute=True):
        deleted = services.interactions_delete_canceled(user=COMMAND_LINE, entries=InteractionLogEntry.objects.all())

    assert deleted == 6 and list(DeliveryItem.objects.values_list("entry_id", flat=True)) == [kept.pk]
    remaining = set(Document.objects.values_list("pk", flat=True))
    assert kept.document_id in remaining and not (letters - {kept.document_id}) & remaining
    assert [pk for pk, name in files.items() if default_storage.exists(name)] == [kept.document_id]
    assert Delivery.objects.get().logged_segment_id == logged.pk  # the run's record stays


def test_a_logged_segment_with_a_delivery_under_way_cannot_be_deleted(django_capture_on_commit_callbacks):
    segment, _contacts = build(n_persons=1)
    logged = log(segment)
    with override_settings(TASKS=QUEUE), django_capture_on_commit_callbacks(execute=True):
        delivery_start(user=COMMAND_LINE, logged_segment=logged)  # queued: no worker has run it
    services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[logged.pk], canceled=True)

    with pytest.raises(ValidationError, match="has a delivery under way"):
        services.logged_segment_delete(user=COMMAND_LINE, logged_segment_id=logged.pk)

    assert InteractionLogEntry.objects.filter(logged_segment=logged).count() == 2
    assert DeliveryItem.objects.count() == 2
