"""The whole unsubscribe path (CONTRACT "Consent per channel and unsubscribe"; RELIABILITY 24,
"Unsubscribe is final and safe"): a logged segment is delivered to a real SMTP server on
localhost (aiosmtpd), the received messages are parsed with the `email` package, and the link
from their `List-Unsubscribe` header (or their text body) is used over HTTP against a running
server (pytest-django's live_server) with urllib: no cookies, no CSRF token, no login.
"""

from __future__ import annotations

import email
import email.policy
import inspect
import re
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

import interactions.delivery
import segments.services.worksheet
from crm.consent import consent_history
from crm.models import ConsentState, Contact
from crm.permissions import COMMAND_LINE
from interactions.delivery import delivery_start
from interactions.models import DeliveryStatus, InteractionLogEntry
from segments import services as segment_services
from tests.interactions.smtp_server import running_smtp_server
from tests.interactions.test_delivery import IMMEDIATE, build

pytestmark = pytest.mark.django_db(transaction=True)

ONE_CLICK = b"List-Unsubscribe=One-Click"

# Two parts of RELIABILITY 24 are another piece of work of the consent issue (the delivery's
# check at the moment of sending; every selection path leaving withdrawn contacts out). Until
# they are there, their tests are expected to fail; the marks go away by themselves once the
# code mentions them, and the tests must then pass.
SKIP_AT_SENDING_PENDING = "SKIPPED" not in inspect.getsource(interactions.delivery)
REUSE_RULE_PENDING = "consent" not in inspect.getsource(segments.services.worksheet)


@pytest.fixture
def smtp():
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=IMMEDIATE):
        yield server


@pytest.fixture
def public_url(settings, live_server) -> str:
    """CRM_PUBLIC_URL is the running server: the links in the e-mails point at it."""
    settings.CRM_PUBLIC_URL = live_server.url
    return live_server.url


def log_and_deliver(segment):
    """Log with delivery and run the delivery (immediate tasks: it has sent when this returns)."""
    logged = segment_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True).logged_segment
    delivery_start(user=COMMAND_LINE, logged_segment=logged)
    return logged


def segment_of(contacts, description: str):
    """A new e-mail segment of `contacts` (the template and settings of `build`'s)."""
    first = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": description,
            "interaction_template": InteractionLogEntry.objects.select_related("interaction_template")
            .first()
            .interaction_template,
            "correspondence_type": "email",
            "ignore_contact_correspondence_type": True,
            "subject": description,
        },
    )
    query = "&".join(f"no={contact.no}" for contact in contacts)
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=first, query=query)
    return first


def messages_by_recipient(smtp) -> dict[str, email.message.EmailMessage]:
    return {
        got.recipients[0]: email.message_from_bytes(got.raw, policy=email.policy.default) for got in smtp.received()
    }


def header_link(message) -> str:
    """The one-click URL of a received message, from its headers as a mail client reads them (a
    long header is folded before its value: the unfolded value keeps that white space)."""
    value = message["List-Unsubscribe"].strip()
    (url,) = re.fullmatch(r"<(https?://[^<>,\s]+)>(?:,\s*<mailto:[^<>]+>)?", value).groups()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return url


def body_link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    (url,) = re.findall(r"Unsubscribe from these e-mails: (\S+)", text)
    return url


def http(url: str, data: bytes | None = None) -> tuple[int, dict, str]:
    """One request with urllib's plain opener: no cookie jar, no CSRF token, no login."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def email_consent(contact) -> str:
    return Contact.objects.values_list("email_consent", flat=True).get(pk=contact.pk)


def history(contact) -> list[tuple]:
    return [(c.channel, c.state, c.source, c.logged_segment_id) for c in consent_history(contact)]


@pytest.fixture
def mailing(smtp, public_url):
    """A company and two persons, e-mailed: (logged segment, contacts, received messages by address)."""
    segment, contacts = build(n_persons=2)
    logged = log_and_deliver(segment)
    smtp.wait_for(3)
    return logged, contacts, messages_by_recipient(smtp)


def test_the_whole_path_smtp_headers_then_one_click_post_over_http_then_the_text_body_link(mailing, public_url):
    logged, (company, first, second), received = mailing
    assert set(received) == {company.email, first.email, second.email}
    links = {address: header_link(message) for address, message in received.items()}
    assert len(set(links.values())) == 3  # one link per contact
    for address, message in received.items():
        assert links[address].startswith(public_url + "/u/")
        assert body_link(message) == links[address]  # the same URL visibly in the text part
        html = message.get_body(preferencelist=("html",)).get_content()
        assert f'<a href="{links[address]}"' in html  # and in the HTML part

    # The mail client's one-click POST to the header's URL.
    status, headers, page = http(links[first.email], ONE_CLICK)

    assert status == 200 and "You are unsubscribed" in page
    assert "Set-Cookie" not in headers
    assert email_consent(first) == ConsentState.WITHDRAWN
    assert history(first) == [("email", "withdrawn", "unsubscribe link", logged.pk)]
    assert email_consent(second) == email_consent(company) == ConsentState.UNKNOWN

    # The link in the text body works too: its page first (nothing changes), then its button.
    status, _headers, page = http(body_link(received[second.email]))
    assert status == 200 and "Unsubscribe p***@smith.test from our e-mails?" in page
    assert email_consent(second) == ConsentState.UNKNOWN
    form_body = "&".join(
        f"{n}={v}" for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', page)
    )
    status, _headers, page = http(body_link(received[second.email]), form_body.encode())
    assert status == 200 and "You are unsubscribed" in page
    assert history(second) == [("email", "withdrawn", "unsubscribe link", logged.pk)]


def test_reliability_24_one_click_post_without_cookies_withdraws_email_consent(mailing):
    logged, (company, first, second), received = mailing

    status, headers, _page = http(header_link(received[company.email]), ONE_CLICK)

    assert status == 200 and "Set-Cookie" not in headers
    assert email_consent(company) == ConsentState.WITHDRAWN
    assert history(company) == [("email", "withdrawn", "unsubscribe link", logged.pk)]


def test_reliability_24_a_repeat_changes_nothing(mailing):
    logged, (company, first, second), received = mailing
    url = header_link(received[first.email])
    http(url, ONE_CLICK)

    repeats = [http(url, ONE_CLICK) for _ in range(3)]

    assert [status for status, _h, _p in repeats] == [200, 200, 200]
    assert history(first) == [("email", "withdrawn", "unsubscribe link", logged.pk)]


def test_reliability_24_a_get_changes_nothing(mailing):
    logged, (company, first, second), received = mailing

    for _ in range(3):  # a mail scanner fetching the links
        for message in received.values():
            assert http(header_link(message))[0] == 200

    assert {email_consent(c) for c in (company, first, second)} == {ConsentState.UNKNOWN}
    assert not any(history(c) for c in (company, first, second))


def test_reliability_24_an_altered_token_answers_4xx_and_changes_nothing(mailing):
    logged, (company, first, second), received = mailing
    url = header_link(received[first.email])
    token = url.rstrip("/").rsplit("/", 1)[1]
    other = header_link(received[second.email]).rstrip("/").rsplit("/", 1)[1]
    forged = [
        url.replace(token, token[:-1] + ("x" if token[-1] != "x" else "y")),  # the signature
        url.replace(token, token.split("-")[0] + "-" + token.split("-")[1].replace(token.split("-")[1][0], "Z", 1)),
        url.replace(token, other.split(".")[0] + "." + token.split(".")[1]),  # another contact's ids, this signature
    ]

    for bad in forged:
        status, _headers, _page = http(bad, ONE_CLICK)
        assert 400 <= status < 500, bad

    assert {email_consent(c) for c in (company, first, second)} == {ConsentState.UNKNOWN}


@pytest.mark.xfail(SKIP_AT_SENDING_PENDING, reason="the delivery's consent check is not merged yet", strict=True)
def test_reliability_24_a_withdrawal_between_log_and_delivery_skips_the_entry_and_sends_nothing(mailing, smtp):
    logged, (company, first, second), received = mailing
    second_segment = segment_of([company, first, second], "Summer offer")
    second_logged = segment_services.segment_log(user=COMMAND_LINE, segment=second_segment, deliver=True).logged_segment

    # Between the Log and its delivery, the first person uses the link of the earlier e-mail.
    assert http(header_link(received[first.email]), ONE_CLICK)[0] == 200
    delivery_start(user=COMMAND_LINE, logged_segment=second_logged)

    assert len(smtp.to(first.email)) == 1  # the earlier e-mail only
    assert len(smtp.to(second.email)) == len(smtp.to(company.email)) == 2
    entry = InteractionLogEntry.objects.get(logged_segment=second_logged, contact=first)
    assert entry.delivery_status == DeliveryStatus.SKIPPED


@pytest.mark.xfail(REUSE_RULE_PENDING, reason="the selection paths' consent rule is not merged yet", strict=True)
def test_reliability_24_reusing_the_logged_segment_later_leaves_the_contact_out(mailing):
    logged, (company, first, second), received = mailing
    assert http(header_link(received[second.email]), ONE_CLICK)[0] == 200
    # the follow-up mailing goes out by e-mail again (a line without a channel sends nothing, so
    # no consent rule would apply to it: CONTRACT "Consent per channel")
    reuse = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Again",
            "interaction_template": logged.interactions.first().interaction_template,
            "correspondence_type": "email",
            "ignore_contact_correspondence_type": True,
        },
    )

    segment_services.segment_reuse_logged(user=COMMAND_LINE, segment=reuse, logged_segment_id=logged.pk)

    assert set(reuse.lines.values_list("contact_id", flat=True)) == {company.pk, first.pk}
