"""E-mails are e-mails (issue 14, part 3): every message a delivery hands to a real SMTP server
on localhost (aiosmtpd) is parsed with Python's `email` package (policy `default`) and each part
is checked: the MIME structure, charsets, a text part without markup, an HTML part styled inline
without external references, From with a display name on the sending address, Reply-To the
salesperson, a Message-ID on the sending domain, Date, the attachment's file name; and the
contact's one-click unsubscribe link (CONTRACT "Consent per channel and unsubscribe"): the
`List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 8058) and the same URL, under
CRM_PUBLIC_URL, as the last line of the text part and a link in the HTML part, the only URL in it."""

from __future__ import annotations

import datetime
import email
import email.policy
import re
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
from django.test import override_settings
from django.utils import timezone

from crm.models import Salesperson
from interactions.mail import email_html, plain_text, sender
from interactions.models import InteractionLogEntry
from interactions.unsubscribe import Link, read_token
from tests.interactions.smtp_server import running_smtp_server
from tests.interactions.test_delivery import IMMEDIATE, build, deliver, log

pytestmark = pytest.mark.django_db

SENDING = {"DEFAULT_FROM_EMAIL": "Newsletter <news@mail.example.org>"}
COMPANY = {"name": "Nordlys Marketing ApS", "email": "info@nordlys.example"}
PUBLIC_URL = "https://crm.nordlys.example"


@pytest.fixture
def smtp(settings):
    settings.DEFAULT_FROM_EMAIL = SENDING["DEFAULT_FROM_EMAIL"]
    settings.CRM_PUBLIC_URL = PUBLIC_URL
    settings.CRM_COMPANY = {**settings.CRM_COMPANY, **COMPANY}
    with running_smtp_server() as server, override_settings(MAILERS=server.mailers(), TASKS=IMMEDIATE):
        yield server


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


# Elements that letter_html writes and that must carry their own style; nothing may load from
# elsewhere or rely on a stylesheet.
STYLED = {"body", "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "td", "strong", "em", "a"}
FORBIDDEN_TAGS = {"style", "link", "script", "img", "iframe", "object", "embed", "base", "form"}
FORBIDDEN_ATTRIBUTES = {"class", "id", "src", "href", "background", "srcset", "action"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_html_part(part: EmailMessage, *texts: str, unsubscribe_url: str) -> None:
    """The HTML part: styled inline, nothing to fetch; its one link, and its only URL, is the
    unsubscribe link, in the last paragraph."""
    assert part.get_content_type() == "text/html"
    assert part.get_content_charset() == "utf-8"
    assert part.get_content_disposition() is None  # shown, not an attachment
    content = part.get_content()
    assert content.startswith("<!DOCTYPE html>")
    assert '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">' in content
    audit = _Audit()
    audit.feed(content)
    names = [tag for tag, _ in audit.tags]
    assert names[:3] == ["html", "head", "meta"] and "title" in names and "body" in names
    for tag, attributes in audit.tags:
        assert tag not in FORBIDDEN_TAGS, tag
        if tag == "a":
            assert attributes.keys() == {"href", "style"} and attributes["href"] == unsubscribe_url
        else:
            assert not FORBIDDEN_ATTRIBUTES & set(attributes), (tag, attributes)
        if tag in STYLED:
            assert attributes.get("style"), f"<{tag}> has no inline style"
    assert [tag for tag, _ in audit.tags].count("a") == 1
    assert re.findall(r"https?:[^\s<\"]*", content, re.IGNORECASE) == [unsubscribe_url] * 2  # href and text
    assert not re.search(r"url\(|@import|cid:", content, re.IGNORECASE)  # nothing to fetch
    assert f'Unsubscribe from these e-mails: <a href="{unsubscribe_url}"' in content
    assert content.index(unsubscribe_url) > max(content.index(text) for text in texts if "<title>" not in text)
    for text in texts:
        assert text in content


def assert_text_part(part: EmailMessage, *texts: str, unsubscribe_url: str) -> None:
    """The text part: no markup; it ends with the unsubscribe line."""
    assert part.get_content_type() == "text/plain"
    assert part.get_content_charset() == "utf-8"
    assert part.get_content_disposition() is None
    content = part.get_content()
    assert not re.search(r"</?(p|br|html|body|table|tr|td|strong|em|h\d|div|span|meta|title)\b", content)
    assert not re.search(r"&(amp|lt|gt|quot|#\d+);", content)  # no HTML escapes left over
    assert content.replace("\r\n", "\n").endswith(f"\n\nUnsubscribe from these e-mails: {unsubscribe_url}\n")
    for text in texts:
        assert text in content


def assert_headers(message: EmailMessage, to: str, subject: str, from_name: str, reply_name: str) -> None:
    assert message["To"].addresses[0].addr_spec == to
    assert message["Subject"] == subject
    (sender_address,) = message["From"].addresses
    assert (sender_address.display_name, sender_address.addr_spec) == (from_name, "news@mail.example.org")
    (reply,) = message["Reply-To"].addresses
    assert (reply.display_name, reply.addr_spec) == (reply_name, "sam@example.com")
    assert re.fullmatch(r"<[^@<>\s]+@mail\.example\.org>", message["Message-ID"])
    sent_at = message["Date"].datetime
    assert sent_at.tzinfo is not None and abs(sent_at - timezone.now()) < datetime.timedelta(minutes=5)
    assert message["MIME-Version"] == "1.0"


def unsubscribe_link(message: EmailMessage, contact, logged) -> str:
    """The message's List-Unsubscribe URL, checked: one https URL under CRM_PUBLIC_URL whose
    token names the contact and the logged segment, with RFC 8058's one-click header."""
    (url,) = re.fullmatch(r"<([^<>,\s]+)>", message["List-Unsubscribe"].strip()).groups()  # strip: a folded header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url.startswith(PUBLIC_URL + "/u/") and url.endswith("/")
    assert read_token(url.removeprefix(PUBLIC_URL + "/u/").rstrip("/")) == Link(
        contact_id=contact.pk, logged_segment_id=logged.pk
    )
    return url


def test_a_letter_as_body_is_text_and_html_alternatives_with_sender_reply_to_message_id_and_date(
    smtp, django_capture_on_commit_callbacks
):
    segment, (company, *persons) = build()
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    received = smtp.received()
    assert len(received) == 3
    message_ids, urls = set(), set()
    for got in received:
        message = parsed(got.raw)
        (to,) = got.recipients
        contact = company if to == company.email else next(p for p in persons if p.email == to)
        assert_headers(message, to, "Spring offer", "Sam Seller via Nordlys Marketing ApS", "Sam Seller")
        message_ids.add(message["Message-ID"])
        assert message.get_content_type() == "multipart/alternative"
        text, html = message.iter_parts()
        greeting = f"Dear {contact.first_name} {contact.surname}," if contact.first_name else None
        url = unsubscribe_link(message, contact, logged)
        urls.add(url)
        assert_text_part(
            text, "Smith & <Sons>", "Re: Spring offer", *([greeting] if greeting else []), unsubscribe_url=url
        )
        assert_html_part(
            html, "Smith &amp; &lt;Sons&gt;", "Re: Spring offer", "<title>Spring offer</title>", unsubscribe_url=url
        )
        assert "<Sons>" not in html.get_content()
        assert not list(message.iter_attachments())
    assert len(message_ids) == 3  # one per e-mail
    assert len(urls) == 3  # one link per contact


def test_a_letter_that_shows_the_unsubscribe_link_in_its_own_words_gets_no_second_footer(
    smtp, django_capture_on_commit_callbacks
):
    """A template may write the link itself (the demo letters do, in the letter's language):
    the e-mail then shows it there once, and the headers still carry it."""
    segment, (company, *_persons) = build(
        n_persons=0, paragraphs=("Hello,", "{% if unsubscribe_url %}Afmeld dig her: {{ unsubscribe_url }}{% endif %}")
    )
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    (got,) = smtp.received()
    message = parsed(got.raw)
    url = unsubscribe_link(message, company, logged)
    text, html = message.iter_parts()
    assert text.get_content().count(url) == 1
    assert f"Afmeld dig her: {url}" in text.get_content()
    assert "Unsubscribe from these e-mails" not in text.get_content() + html.get_content()
    assert url in html.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_letter_as_attachment_comes_with_a_text_and_html_note_and_the_docx_named_after_the_subject(
    smtp, django_capture_on_commit_callbacks
):
    segment, (company, person) = build(n_persons=1, send_as_attachment=True, subject="Offer: 2026/27")
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    (got,) = smtp.to(person.email)
    message = parsed(got.raw)
    assert_headers(message, person.email, "Offer: 2026/27", "Sam Seller via Nordlys Marketing ApS", "Sam Seller")
    assert message.get_content_type() == "multipart/mixed"
    body, attachment = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    text, html = body.iter_parts()
    url = unsubscribe_link(message, person, logged)
    assert_text_part(text, "Please find the letter attached: Offer_ 2026_27.docx", unsubscribe_url=url)
    assert_html_part(html, "Please find the letter attached: Offer_ 2026_27.docx", unsubscribe_url=url)
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "Offer_ 2026_27.docx"
    assert attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    entry = InteractionLogEntry.objects.get(logged_segment=logged, contact=person)
    assert attachment.get_content() == entry.document.read_bytes()


def test_a_salesperson_name_with_a_comma_and_accents_stays_one_display_name(smtp, django_capture_on_commit_callbacks):
    segment, (company, person) = build(n_persons=1)
    Salesperson.objects.filter(code="ANN").update(name="Møller, Jürgen")
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    for got in smtp.received():
        message = parsed(got.raw)
        assert_headers(
            message, got.recipients[0], "Spring offer", "Møller, Jürgen via Nordlys Marketing ApS", "Møller, Jürgen"
        )


def test_without_a_salesperson_name_the_sender_is_our_company(settings):
    settings.DEFAULT_FROM_EMAIL = "news@mail.example.org"
    settings.CRM_COMPANY = {**settings.CRM_COMPANY, **COMPANY}
    assert sender("") == "Nordlys Marketing ApS <news@mail.example.org>"
    # A line break cannot start another header: the name stays one quoted display name.
    assert sender("Ann\r\nBcc: x@y.z") == '"Ann Bcc: x@y.z via Nordlys Marketing ApS" <news@mail.example.org>'


def test_the_html_document_styles_every_element_of_a_letter_inline():
    body = (
        "<h1>Offer</h1>\n<p>Dear <strong>Ann</strong>,<br>see <em>below</em>.</p>\n"
        "<table><tr><td><p>A</p></td></tr></table>"
    )
    document = email_html(body, title="Offer & more", language="NB")
    audit = _Audit()
    audit.feed(document)
    for tag, attributes in audit.tags:
        assert tag not in STYLED or attributes.get("style"), tag
    assert '<html lang="nb">' in document and "<title>Offer &amp; more</title>" in document
    assert "<html>" in email_html(body, title="x", language="A_B")  # not a language tag: left out
    assert plain_text(body) == "Offer\n\nDear Ann,\nsee below.\n\nA\n"


def test_the_words_the_crm_adds_speak_the_entry_s_language(smtp):
    from django.utils import translation

    from interactions.delivery import entry_email
    from interactions.unsubscribe import entry_unsubscribe_url
    from tests.factories import make_language
    from tests.interactions.docx_builders import docx_bytes

    footer = "Unsubscribe from these e-mails: %(url)s"
    with translation.override("da"):
        danish = translation.gettext(footer)
    assert danish != footer, "the Danish catalogue is compiled (manage.py compilemessages)"
    segment, _contacts = build(n_persons=1)
    entry = InteractionLogEntry.objects.filter(logged_segment=log(segment)).order_by("pk").first()
    letter = docx_bytes("Kære læser")

    with translation.override("fi"):  # the sender's (or the worker's) language does not matter
        english = entry_email(entry, letter).body
        entry.language = make_language("DAN")
        in_danish = entry_email(entry, letter).body

    url = entry_unsubscribe_url(entry)
    assert in_danish.endswith(danish % {"url": url} + "\n") and "Kære læser" in in_danish
    assert english.endswith(footer % {"url": url} + "\n")  # an entry without a language: English
