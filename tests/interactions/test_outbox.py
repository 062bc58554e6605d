"""`make run` shows its e-mails (issue 14, part 6): under DEBUG, with Django's file backend, the
Outbox pages list and show what a delivery sent; without DEBUG they are not routed at all."""

from __future__ import annotations

import importlib
import io

import docx
import pytest
from django.core.mail import EmailMultiAlternatives, mailers
from django.urls import clear_url_caches

import crm.urls
import interactions.urls
from crm.models import CorrespondenceType
from interactions.outbox import FILE_BACKEND, outbox_messages
from tests.interactions.test_delivery import IMMEDIATE, build, deliver, log

pytestmark = pytest.mark.django_db


def _reload_urls() -> None:
    importlib.reload(interactions.urls)
    importlib.reload(crm.urls)
    clear_url_caches()


@pytest.fixture
def outbox(settings, tmp_path):
    """DEBUG on (the outbox routes exist) and e-mails written to files in `tmp_path`."""
    settings.DEBUG = True
    settings.MAILERS = {"default": {"BACKEND": FILE_BACKEND, "OPTIONS": {"file_path": str(tmp_path)}}}
    settings.TASKS = IMMEDIATE
    _reload_urls()
    yield tmp_path
    settings.DEBUG = False
    _reload_urls()


def _send(subject: str, *, html: str | None = None, attachment: tuple[str, bytes, str] | None = None) -> None:
    message = EmailMultiAlternatives(subject, f"Text of {subject}", "Ann <ann@example.org>", ["bo@example.org"])
    if html is not None:
        message.attach_alternative(html, "text/html")
    if attachment is not None:
        message.attach(*attachment)
    message.send()


def test_not_routed_without_debug(marketing_client, settings, tmp_path):
    settings.MAILERS = {"default": {"BACKEND": FILE_BACKEND, "OPTIONS": {"file_path": str(tmp_path)}}}
    _send("Hello")
    assert marketing_client.get("/outbox/").status_code == 404
    assert b"Outbox" not in marketing_client.get("/contacts/").content


def test_delivery_shows_in_the_list_and_the_message_page(outbox, marketing_client, django_capture_on_commit_callbacks):
    segment, contacts = build(2, correspondence_type=CorrespondenceType.EMAIL, send_as_attachment=True)
    deliver(log(segment), django_capture_on_commit_callbacks)
    # Another connection: usually a second file, but the file backend names its files by the
    # time (to the second) and the connection object's id, so within one second a new
    # connection may append to the same file; the listing is the same either way.
    _send("A later one")

    listed = outbox_messages(outbox)
    assert len(listed) == 4  # three from the delivery (separated by dashes), one here
    assert listed[0].message["Subject"] == "A later one"

    page = marketing_client.get("/outbox/")
    assert page.status_code == 200
    html = page.content.decode()
    for contact in contacts:
        assert contact.email in html
    assert html.count("Spring offer") == 3 and "A later one" in html
    assert html.index("A later one") < html.index("Spring offer")  # newest first
    assert b'href="/outbox/"' in marketing_client.get("/contacts/").content  # in the navigation

    item = next(item for item in listed if item.message["To"] == contacts[1].email)
    assert len(item.attachments) == 1
    detail = marketing_client.get(f"/outbox/{item.file_name}/{item.index}/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "Spring offer" in body and contacts[1].email in body and "Message-ID" in body
    assert "Please find the letter attached: Spring offer.docx" in body  # the text part
    assert f'<iframe class="outbox-html" sandbox src="/outbox/{item.file_name}/{item.index}/html/"' in body
    assert "default-src 'self'" in detail["Content-Security-Policy"]  # the page keeps its own CSP

    frame = marketing_client.get(f"/outbox/{item.file_name}/{item.index}/html/")
    assert frame.status_code == 200
    assert frame["Content-Type"] == "text/html; charset=utf-8"
    assert frame.content.decode() == item.html
    csp = frame["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'unsafe-inline'" in csp and "sandbox" in csp
    assert "script-src" not in csp
    assert frame["X-Content-Type-Options"] == "nosniff"
    assert frame["X-Frame-Options"] == "SAMEORIGIN"

    download = marketing_client.get(f"/outbox/{item.file_name}/{item.index}/attachments/0/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert 'filename="Spring offer.docx"' in download["Content-Disposition"]
    assert docx.Document(io.BytesIO(download.content)).paragraphs  # the letter, whole


def test_several_messages_in_one_file(outbox, marketing_client):
    # One connection writes one file; a body line of dashes is encoded, never a separator.
    messages = [EmailMultiAlternatives(f"Number {n}", "-" * 79 + "\nbody", "a@x.org", ["b@x.org"]) for n in range(3)]
    assert mailers.default.send_messages(messages) == 3
    (name,) = [path.name for path in outbox.iterdir()]
    assert [item.message["Subject"] for item in outbox_messages(outbox)] == ["Number 2", "Number 1", "Number 0"]
    page = marketing_client.get(f"/outbox/{name}/1/")
    assert "Number 1" in page.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/outbox/{name}/5/",  # no such index
        "/outbox/other.log/0/",  # no such file
        "/outbox/..%2F..%2Fetc%2Fpasswd/0/",
        "/outbox/../0/",
        "/outbox/{name}/0/attachments/3/",
        "/outbox/{name}/0/html/",  # text only: no HTML part
    ],
)
def test_a_bad_id_is_404(outbox, marketing_client, url):
    _send("Plain")
    (name,) = [path.name for path in outbox.iterdir()]
    (outbox.parent / "outside.log").write_text("From: x\n\nsecret")
    assert marketing_client.get(url.format(name=name)).status_code == 404
    assert marketing_client.get("/outbox/..%2Foutside.log/0/").status_code == 404


def test_viewer_may_not_see_the_outbox(outbox, viewer_client):
    _send("Plain", html="<p>Hi</p>")
    (name,) = [path.name for path in outbox.iterdir()]
    for url in ("/outbox/", f"/outbox/{name}/0/", f"/outbox/{name}/0/html/"):
        assert viewer_client.get(url).status_code == 403
    assert b'href="/outbox/"' not in viewer_client.get("/contacts/").content


def test_anonymous_goes_to_login(outbox, client):
    response = client.get("/outbox/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
