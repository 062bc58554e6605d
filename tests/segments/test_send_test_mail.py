"""A test e-mail before the real thing (issue 14, part 5; segments.services.test_mail and
segments.test_mail_views): "Send a test to me" on the Log page and on a line's letter page
sends that line's e-mail, built as the delivery builds it, with "[Test] " before the subject, to
the user's own address, through a real SMTP server on localhost (aiosmtpd). It writes no entry,
no delivery and changes no line; each refusal says why and sends nothing."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.html import escape

from crm.models import ConsentChange, Contact, CorrespondenceType, SalutationFormula
from interactions.models import Delivery, DeliveryItem, Document, InteractionLogEntry
from interactions.unsubscribe import TEST_LOGGED_SEGMENT, read_token
from segments.models import Segment, SegmentLine
from segments.services import segment_line_test_mail
from tests.conftest import make_user
from tests.interactions.smtp_server import free_port, running_smtp_server
from tests.interactions.test_delivery import IMMEDIATE, build, deliver, log

pytestmark = pytest.mark.django_db

VERA = "vera@example.com"
SENDING = "Newsletter <news@mail.example.org>"
COMPANY = {"name": "Nordlys Marketing ApS"}


@pytest.fixture
def smtp(settings):
    settings.DEFAULT_FROM_EMAIL = SENDING
    settings.CRM_COMPANY = {**settings.CRM_COMPANY, **COMPANY}
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=IMMEDIATE):
        yield server


@pytest.fixture
def vera(db):
    return make_user("marketing", username="vera", email=VERA)


@pytest.fixture
def vera_client(vera) -> Client:
    client = Client()
    client.force_login(vera)
    return client


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def log_url(segment: Segment) -> str:
    return reverse("segments:segment_log", args=[segment.no])


def log_test_url(segment: Segment) -> str:
    return reverse("segments:segment_test_mail", args=[segment.no])


def letter_url(segment: Segment, line_no: int) -> str:
    return reverse("segments:line_letter", args=[segment.no, line_no])


def letter_test_url(segment: Segment, line_no: int) -> str:
    return reverse("segments:line_test_mail", args=[segment.no, line_no])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def line_of(segment: Segment, contact: Contact) -> SegmentLine:
    return SegmentLine.objects.select_related("contact").get(segment=segment, contact=contact)


def snapshot(segment: Segment) -> tuple:
    """Everything the test e-mail must leave as it was: the segment, its lines, and that there
    is no entry, delivery, delivery item or document."""
    return (
        Segment.objects.filter(pk=segment.pk).values().get(),
        list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values()),
        InteractionLogEntry.objects.count(),
        Delivery.objects.count(),
        DeliveryItem.objects.count(),
        Document.objects.count(),
    )


def post(client: Client, url: str, data: dict | None = None) -> tuple[str, list[str]]:
    """POST, check it redirects (post/redirect/get) to a page that shows the messages, and
    return where to and the messages."""
    response = client.post(url, data or {}, follow=True)
    assert response.status_code == 200, response.content.decode()[:2000]
    ((location, status),) = response.redirect_chain
    assert status == 302
    said = messages_of(response)
    page = response.content.decode()
    for message in said:
        assert escape(message) in page
    return location, said


# --- Sent -----------------------------------------------------------------------------------------


def test_the_log_page_sends_the_first_e_mail_line_as_the_delivery_builds_it_to_the_user_and_writes_nothing(
    smtp, vera_client, django_capture_on_commit_callbacks
):
    segment, (company, *persons) = build()
    first = SegmentLine.objects.filter(segment=segment).order_by("line_no").select_related("contact").first()
    before = snapshot(segment)

    location, said = post(vera_client, log_test_url(segment))

    assert location == log_url(segment)
    assert said == [f"Test e-mail sent to {VERA} (line {first.line_no}, {first.contact.no})"]
    (got,) = smtp.received()
    assert got.recipients == [VERA]
    test = parsed(got.raw)
    assert test["Subject"] == "[Test] Spring offer"
    assert [address.addr_spec for address in test["To"].addresses] == [VERA]
    assert test["Cc"] is None and test["Bcc"] is None
    assert test.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in test.iter_parts()] == ["text/plain", "text/html"]
    assert snapshot(segment) == before  # no entry, no delivery, no document, lines unchanged

    # The real e-mail to the same contact is the same message but for Subject, To, Message-ID, Date
    # and its unsubscribe link: the test's names no mailing and changes nothing when used.
    deliver(log(segment), django_capture_on_commit_callbacks)
    (real_got,) = smtp.to(first.contact.email)
    real = parsed(real_got.raw)
    assert real["Subject"] == "Spring offer"
    for header in ("From", "Reply-To", "MIME-Version", "List-Unsubscribe-Post"):
        assert test[header] == real[header], header
    assert test["From"] == "Sam Seller via Nordlys Marketing ApS <news@mail.example.org>"
    assert test["Message-ID"].endswith("@mail.example.org>") and test["Message-ID"] != real["Message-ID"]
    test_link, real_link = (link_of(message) for message in (test, real))
    assert read_token(token_of(test_link)).logged_segment_id == TEST_LOGGED_SEGMENT
    assert read_token(token_of(real_link)).logged_segment_id == Delivery.objects.get().logged_segment_id
    assert [(p.get_content_type(), p.get_content().replace(test_link, "LINK")) for p in test.iter_parts()] == [
        (p.get_content_type(), p.get_content().replace(real_link, "LINK")) for p in real.iter_parts()
    ]
    assert "Smith &amp; &lt;Sons&gt;" in test.get_body(("html",)).get_content()
    # Only the real delivery counts: one delivery, one item per real e-mail, none for the test.
    delivery = Delivery.objects.get()
    assert (delivery.sent, DeliveryItem.objects.count()) == (len(persons) + 1, len(persons) + 1)


def link_of(message) -> str:
    (url,) = re.findall(r"<([^<>]+)>", str(message["List-Unsubscribe"]))
    return url


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_the_test_e_mails_unsubscribe_link_says_so_and_changes_nothing(smtp, vera_client):
    segment, _contacts = build()
    first = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    post(vera_client, log_test_url(segment))
    (got,) = smtp.received()
    link = link_of(parsed(got.raw))
    anonymous = Client()

    page = anonymous.get(link)
    done = anonymous.post(link, {"List-Unsubscribe": "One-Click"})

    assert page.status_code == done.status_code == 200
    assert "This link came from a test e-mail" in done.content.decode()
    assert Contact.objects.get(pk=first.contact_id).email_consent == "unknown"
    assert not ConsentChange.objects.exists()


def test_the_letter_page_sends_its_own_line(smtp, vera_client):
    segment, (company, person, *_rest) = build()
    line = line_of(segment, person)
    before = snapshot(segment)

    location, said = post(vera_client, letter_test_url(segment, line.line_no))

    assert location == letter_url(segment, line.line_no)
    assert said == [f"Test e-mail sent to {VERA} (line {line.line_no}, {person.no})"]
    (got,) = smtp.received()
    assert got.recipients == [VERA] and got.subject == "[Test] Spring offer"
    assert f"Dear {person.first_name} {person.surname}," in got.text  # this line's letter, channel email
    assert snapshot(segment) == before


def test_the_log_page_sends_the_line_the_user_picks(smtp, vera_client):
    segment, (company, person, *_rest) = build()
    line = line_of(segment, person)

    _location, said = post(vera_client, log_test_url(segment), {"line": str(line.line_no)})

    assert said == [f"Test e-mail sent to {VERA} (line {line.line_no}, {person.no})"]
    assert f"Dear {person.first_name} {person.surname}," in smtp.received()[0].text


def test_a_letter_sent_as_attachment_comes_as_the_real_one_does_with_the_docx(smtp, vera_client):
    segment, _contacts = build(n_persons=1, send_as_attachment=True, subject="Offer 2026")

    post(vera_client, log_test_url(segment))

    (got,) = smtp.received()
    assert got.subject == "[Test] Offer 2026"
    assert list(got.attachments) == ["Offer 2026.docx"]
    assert "Please find the letter attached: Offer 2026.docx" in got.text
    message = parsed(got.raw)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None


def test_the_user_s_address_gets_it_even_when_the_contact_is_refused(smtp, vera_client):
    """The test goes to the user alone: the contact's address is never a recipient."""
    segment, (company, *_persons) = build()
    smtp.refuse = {company.email}

    _location, said = post(vera_client, letter_test_url(segment, line_of(segment, company).line_no))

    assert said[0].startswith("Test e-mail sent to")
    assert smtp.per_recipient() == {VERA: 1}


# --- Refused: nothing sent ------------------------------------------------------------------------


def assert_refused(smtp, segment, before, said: list[str], message: str) -> None:
    assert said == [message]
    assert smtp.count == 0
    assert snapshot(segment) == before


def test_a_user_without_an_e_mail_address_is_told_to_add_one(smtp):
    segment, _contacts = build()
    client = Client()
    client.force_login(make_user("marketing", username="noaddress"))
    before = snapshot(segment)

    _location, said = post(client, log_test_url(segment))

    assert_refused(smtp, segment, before, said, "Your user has no e-mail address: add one in your profile/admin.")


def test_a_hard_copy_line_goes_out_as_a_letter_not_an_e_mail(smtp, vera_client):
    segment, (company, person, *_rest) = build()
    line = line_of(segment, person)
    SegmentLine.objects.filter(pk=line.pk).update(correspondence_type=CorrespondenceType.HARD_COPY)
    before = snapshot(segment)

    _location, on_letter = post(vera_client, letter_test_url(segment, line.line_no))
    _location, on_log = post(vera_client, log_test_url(segment), {"line": str(line.line_no)})

    message = f"No test e-mail was sent: line {line.line_no} goes out as a letter, not an e-mail."
    assert on_letter == on_log == [message]
    assert_refused(smtp, segment, before, on_log, message)


def test_a_line_without_correspondence_type_sends_nothing(smtp, vera_client):
    segment, (company, *_persons) = build()
    line = line_of(segment, company)
    SegmentLine.objects.filter(pk=line.pk).update(correspondence_type="")
    before = snapshot(segment)

    _location, said = post(vera_client, letter_test_url(segment, line.line_no))

    message = f"No test e-mail was sent: line {line.line_no} has no correspondence type: nothing goes out for it."
    assert_refused(smtp, segment, before, said, message)


def test_a_segment_without_e_mail_lines_has_no_button_and_says_why_when_posted(smtp, vera_client):
    segment, _contacts = build(correspondence_type=CorrespondenceType.HARD_COPY)
    before = snapshot(segment)

    page = vera_client.get(log_url(segment)).content.decode()
    _location, said = post(vera_client, log_test_url(segment))

    assert "Send a test to me" not in page and log_test_url(segment) not in page
    assert_refused(smtp, segment, before, said, f"No test e-mail was sent: {segment.no} has no e-mail line.")


def test_a_line_that_does_not_exist(smtp, vera_client):
    segment, _contacts = build()
    before = snapshot(segment)

    _location, said = post(vera_client, log_test_url(segment), {"line": "99"})

    assert_refused(smtp, segment, before, said, f"No test e-mail was sent: {segment.no} has no line 99.")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("three", "No test e-mail was sent: give the line's number."),
        ("0", "No test e-mail was sent: lines are numbered from 1."),
    ],
)
def test_a_line_that_is_not_a_line_number(smtp, vera_client, value, message):
    segment, _contacts = build()
    before = snapshot(segment)

    _location, said = post(vera_client, log_test_url(segment), {"line": value})

    assert_refused(smtp, segment, before, said, message)


def test_a_contact_without_e_mail_address_gets_no_e_mail_from_the_log_either(smtp, vera_client):
    segment, (company, *_persons) = build()
    Contact.objects.filter(pk=company.pk).update(email="")
    line = line_of(segment, company)
    before = snapshot(segment)

    _location, said = post(vera_client, letter_test_url(segment, line.line_no))

    message = (
        f"No test e-mail was sent: line {line.line_no}'s contact {company.no} has no e-mail address: "
        "the Log would send it nothing."
    )
    assert_refused(smtp, segment, before, said, message)


def test_a_letter_that_cannot_be_made_says_why(smtp, vera_client):
    segment, (company, *_persons) = build()
    SalutationFormula.objects.all().delete()
    line = line_of(segment, company)
    before = snapshot(segment)

    _location, said = post(vera_client, letter_test_url(segment, line.line_no))

    assert len(said) == 1 and said[0].startswith(f"No test e-mail was sent: line {line.line_no}: {company.no} ")
    assert "no formal salutation formula" in said[0]
    assert smtp.count == 0 and snapshot(segment) == before


def test_an_unreachable_mail_server_is_named_by_the_pre_flight(vera_client):
    segment, _contacts = build()
    port = free_port()
    mailers = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    before = snapshot(segment)

    with override_settings(MAILERS=mailers):
        _location, said = post(vera_client, log_test_url(segment))

    assert said == [f"No test e-mail was sent: cannot reach the mail server 127.0.0.1:{port}: Connection refused."]
    assert snapshot(segment) == before


def test_a_refusal_by_the_mail_server_is_shown_not_a_500(smtp, vera_client):
    segment, _contacts = build()
    smtp.refuse = {VERA}
    before = snapshot(segment)

    _location, said = post(vera_client, log_test_url(segment))

    message = f"No test e-mail was sent: the mail server refused the recipient ({VERA}: 550 5.1.1 mailbox unavailable)."
    assert_refused(smtp, segment, before, said, message)
    assert smtp.sessions == 3  # the test's pre-flight and send, then the Log page's own pre-flight


# --- Who may, and how ---------------------------------------------------------------------------


def test_a_viewer_gets_403_and_nothing_is_sent(smtp, viewer_client):
    segment, _contacts = build()

    responses = [
        viewer_client.post(log_test_url(segment)),
        viewer_client.post(letter_test_url(segment, 1)),
    ]

    assert [response.status_code for response in responses] == [403, 403]
    assert smtp.count == 0


def test_anonymous_users_are_sent_to_log_in(smtp):
    segment, _contacts = build()

    for url in (log_test_url(segment), letter_test_url(segment, 1)):
        response = Client().post(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert smtp.count == 0


def test_get_does_nothing(smtp, vera_client):
    segment, _contacts = build()

    responses = [vera_client.get(log_test_url(segment)), vera_client.get(letter_test_url(segment, 1))]

    assert [response.status_code for response in responses] == [405, 405]
    assert smtp.count == 0


def test_a_post_without_the_csrf_token_is_refused(smtp, vera):
    segment, _contacts = build()
    client = Client(enforce_csrf_checks=True)
    client.force_login(vera)

    assert client.post(log_test_url(segment)).status_code == 403
    assert smtp.count == 0


def test_a_logged_segment_leads_to_its_logged_segment_and_sends_nothing(smtp, vera_client):
    segment, _contacts = build()
    logged = log(segment)

    response = vera_client.post(log_test_url(segment))

    assert response.status_code == 302 and response["Location"] == logged.get_absolute_url()
    assert smtp.count == 0


# --- The buttons ----------------------------------------------------------------------------------


def test_the_log_page_offers_the_test_with_the_first_e_mail_line(smtp, vera_client):
    segment, (company, person, *_rest) = build()
    SegmentLine.objects.filter(segment=segment, contact=company).update(
        correspondence_type=CorrespondenceType.HARD_COPY
    )
    first_email = SegmentLine.objects.filter(segment=segment, correspondence_type="email").order_by("line_no")[0]

    page = vera_client.get(log_url(segment)).content.decode()

    assert f'action="{log_test_url(segment)}"' in page
    assert f'name="line" id="id_test_line" value="{first_email.line_no}"' in page
    assert "Send a test to me" in page and f"to you ({VERA})" in page


def test_the_letter_page_offers_the_test_on_e_mail_lines_to_who_may_log(smtp, vera_client, viewer_client):
    segment, (company, person, *_rest) = build()
    SegmentLine.objects.filter(segment=segment, contact=company).update(
        correspondence_type=CorrespondenceType.HARD_COPY
    )
    email_line, letter_line = line_of(segment, person).line_no, line_of(segment, company).line_no

    on_email = vera_client.get(letter_url(segment, email_line)).content.decode()
    on_letter = vera_client.get(letter_url(segment, letter_line)).content.decode()
    for_viewer = viewer_client.get(letter_url(segment, email_line)).content.decode()

    assert f'action="{letter_test_url(segment, email_line)}"' in on_email and "Send a test to me" in on_email
    assert "Send a test to me" not in on_letter
    assert "Send a test to me" not in for_viewer


def test_the_service_checks_the_permission_itself(smtp, viewer):
    segment, _contacts = build()
    viewer.email = "viewer@example.com"

    with pytest.raises(PermissionDenied, match="segments.log_segment needed"):
        segment_line_test_mail(user=viewer, segment=segment)
    assert smtp.count == 0


def test_the_profile_s_test_address_gets_it_and_the_pages_name_it(smtp, vera, vera_client):
    from crm.profile import save_profile

    save_profile(user=vera, language="", test_email="proofs@example.com")
    segment, (company, person, *_rest) = build()
    line = line_of(segment, person)

    page = vera_client.get(letter_url(segment, line.line_no)).content.decode()
    location, said = post(vera_client, letter_test_url(segment, line.line_no))

    assert "to you (proofs@example.com)" in page and VERA not in page
    assert said == [f"Test e-mail sent to proofs@example.com (line {line.line_no}, {person.no})"]
    (got,) = smtp.received()
    assert got.recipients == ["proofs@example.com"]
