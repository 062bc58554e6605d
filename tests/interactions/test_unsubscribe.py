"""One-click unsubscribe (interactions.unsubscribe, interactions.views.unsubscribe; CONTRACT
"Consent per channel and unsubscribe"): the signed token, the public page at /u/<token>/ (GET
changes nothing, POST without cookies or CSRF token withdraws e-mail consent, a repeat changes
nothing, an altered token is a 404), its rate limit per client address, and what the page shows
(and does not show) to an outsider. The whole path over real SMTP and HTTP is in
test_unsubscribe_path.py."""

from __future__ import annotations

import logging
import re
import string

import pytest
from django.core import signing
from django.test import Client

from crm.consent import contact_set_consent
from crm.models import ConsentChange, ConsentState, Contact
from crm.permissions import COMMAND_LINE
from interactions import services as interaction_services
from interactions import unsubscribe
from interactions.models import UnsubscribeRequestCount
from interactions.unsubscribe import InvalidToken, Link, make_token, read_token, unsubscribe_url
from tests.conftest import make_user
from tests.factories import make_company, make_language, make_person

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"
TOKEN = re.compile(r"[1-9A-Za-z][0-9A-Za-z]*-[1-9A-Za-z][0-9A-Za-z]*\.[A-Za-z0-9_-]{43}")


def path_of(contact, logged_segment_id: int = 7) -> str:
    return f"/u/{make_token(contact_id=contact.pk, logged_segment_id=logged_segment_id)}/"


def consent_state() -> list:
    """Every contact's consent and every history row: what an unsubscribe may change."""
    return [
        list(Contact.objects.order_by("pk").values_list("pk", "email_consent", "postal_consent", "phone_consent")),
        list(ConsentChange.objects.order_by("pk").values_list()),
    ]


def one_click(client: Client, path: str, **extra):
    """A mail client's RFC 8058 POST: the form body, no cookies, no CSRF token."""
    return client.post(path, ONE_CLICK, content_type=FORM, **extra)


@pytest.fixture
def anon() -> Client:
    """A client without cookies that enforces CSRF checks as a browser would meet them."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def contact():
    return make_person(make_company(name="Acme"), email="anna.devries@example.com")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """All requests of a test fall in one minute of the rate limit (10 s into it)."""
    now = [1_800_000_010.0]
    monkeypatch.setattr(unsubscribe, "clock", lambda: now[0])
    return now


# --- The token ----------------------------------------------------------------------------------


def test_a_token_names_the_contact_and_the_logged_segment_compactly_and_reads_back():
    token = make_token(contact_id=123456789, logged_segment_id=42)

    assert TOKEN.fullmatch(token), token  # URL-safe: base 62 ids, base 64 signature
    assert len(token) < 60
    assert read_token(token) == Link(contact_id=123456789, logged_segment_id=42)
    assert read_token(make_token(contact_id=2**63 - 1, logged_segment_id=1)).contact_id == 2**63 - 1


def test_a_token_never_expires_and_is_the_same_whenever_it_is_made(fixed_clock):
    first = make_token(contact_id=5, logged_segment_id=9)
    fixed_clock[0] += 10 * 365 * 86400  # ten years on

    assert make_token(contact_id=5, logged_segment_id=9) == first  # no timestamp in it
    assert read_token(first) == Link(5, 9)


def test_every_altered_character_of_a_token_is_refused():
    token = make_token(contact_id=1234, logged_segment_id=56)
    alphabet = string.ascii_letters + string.digits + "-_."
    for i, ch in enumerate(token):
        altered = token[:i] + next(c for c in alphabet if c != ch) + token[i + 1 :]
        with pytest.raises(InvalidToken):
            read_token(altered)
    for bad in (token[:-1], token + "A", "", ".", "1-1", token.replace(".", ":"), "1-1." + token.split(".")[1]):
        with pytest.raises(InvalidToken):
            read_token(bad)


def test_a_token_of_another_salt_or_key_is_refused_and_an_old_key_in_the_fallbacks_still_works(settings):
    value = make_token(contact_id=3, logged_segment_id=4).split(".")[0]
    other_salt = signing.Signer(salt="crm.other", sep=".", algorithm="sha256").sign(value)
    with pytest.raises(InvalidToken):
        read_token(other_salt)

    old = make_token(contact_id=3, logged_segment_id=4)
    settings.SECRET_KEY = "a-new-secret-key-" + "n" * 50
    with pytest.raises(InvalidToken):
        read_token(old)
    settings.SECRET_KEY_FALLBACKS = ["test-only-secret-key-" + "k" * 50]  # tests/settings.py's key
    assert read_token(old) == Link(3, 4)


def test_a_signed_value_that_names_no_ids_is_refused():
    signer = signing.Signer(salt=unsubscribe.SALT, sep=".", algorithm="sha256")
    for value in ("1", "1-", "-1", "01-1", "1-1-1", "a b-1", "zzzzzzzzzzzz-1", "1-" + "z" * 11):
        with pytest.raises(InvalidToken):
            read_token(signer.sign(value))


def test_the_url_is_under_crm_public_url(settings):
    settings.CRM_PUBLIC_URL = "https://crm.example.com/mail"

    url = unsubscribe_url(contact_id=10, logged_segment_id=20)

    assert url.startswith("https://crm.example.com/mail/u/") and url.endswith("/")
    assert read_token(url.split("/u/")[1].rstrip("/")) == Link(10, 20)


# --- GET: a page, no change ----------------------------------------------------------------------


def test_get_shows_one_form_with_one_button_and_changes_nothing(anon, contact):
    before = consent_state()

    response = anon.get(path_of(contact))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Unsubscribe a***@example.com from our e-mails?</h1>" in page
    assert "anna.devries" not in page
    assert page.count("<form") == 1 and page.count("<button") == 1
    assert re.search(r'<form method="post">', page)  # posts to its own URL
    assert consent_state() == before
    assert not response.cookies  # no session, no CSRF cookie


def test_the_page_shows_nothing_of_the_crm_even_to_a_signed_in_user(contact, settings):
    settings.CRM_COMPANY = {**settings.CRM_COMPANY, "name": "Nordlys ApS"}
    client = Client()
    client.force_login(make_user("admin"))

    page = client.get(path_of(contact)).content.decode()

    assert '<span class="brand">Nordlys ApS</span>' in page
    assert "<a " not in page and "<nav" not in page and "<script" not in page  # no link, menu or script
    for crm_text in ("Contacts", "Segments", "Log out", "admin", "Marketing CRM", "csrf"):
        assert crm_text not in page, crm_text


def test_the_page_keeps_the_content_security_policy_and_is_not_cached_or_indexed(anon, contact):
    response = anon.get(path_of(contact))

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    assert " style=" not in response.content.decode()  # no inline style for the CSP to refuse
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_page_masks_the_address_the_mailing_went_to(anon, contact):
    assert unsubscribe.masked_email("anna.devries@example.com") == "a***@example.com"
    assert unsubscribe.masked_email("x@y.z") == "x***@y.z"
    assert unsubscribe.masked_email("") == unsubscribe.masked_email("no-at-sign") == ""


# --- POST: withdraw, once ------------------------------------------------------------------------


def test_a_one_click_post_without_cookies_or_csrf_token_withdraws_email_consent(anon, contact):
    contact_set_consent(actor=COMMAND_LINE, contact=contact, states={"email": "granted", "postal": "granted"})

    response = one_click(anon, path_of(contact, logged_segment_id=31))

    assert response.status_code == 200
    assert "<h1>You are unsubscribed</h1>" in response.content.decode()
    contact.refresh_from_db()
    assert (contact.email_consent, contact.postal_consent) == (ConsentState.WITHDRAWN, ConsentState.GRANTED)
    last = ConsentChange.objects.filter(contact=contact).latest("pk")
    assert (last.channel, last.state, last.source, last.logged_segment_id, last.user_id) == (
        "email",
        "withdrawn",
        "unsubscribe link",
        31,
        None,
    )
    assert not response.cookies


def test_a_repeated_post_answers_the_same_and_changes_nothing_more(anon, contact):
    path = path_of(contact)
    first = one_click(anon, path)
    after_first = consent_state()

    again = [one_click(anon, path), anon.post(path)]  # the mail client again, then the page's button

    assert [r.status_code for r in again] == [200, 200]
    assert all(r.content == first.content for r in again)
    assert consent_state() == after_first
    assert ConsentChange.objects.filter(contact=contact).count() == 1


def test_the_pages_button_withdraws_too(anon, contact):
    page = anon.get(path_of(contact)).content.decode()
    (name, value) = re.search(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', page).groups()

    response = anon.post(path_of(contact), {name: value})

    assert (name, value, response.status_code) == ("List-Unsubscribe", "One-Click", 200)
    contact.refresh_from_db()
    assert contact.email_consent == ConsentState.WITHDRAWN


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_altered_token_is_a_404_and_changes_nothing(anon, contact, method):
    path = path_of(contact)
    token = path.split("/")[2]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    before = consent_state()

    for bad in (f"/u/{altered}/", f"/u/{token[:-3]}/", "/u/1-1.abc/", f"/u/{token.replace('-', '-1', 1)}/"):
        response = getattr(anon, method)(bad, ONE_CLICK, content_type=FORM) if method == "post" else anon.get(bad)
        assert response.status_code == 404, bad
        assert "This link is not valid" in response.content.decode()

    assert consent_state() == before


def test_a_contact_that_is_gone_answers_the_same_pages_and_nothing_is_written(anon):
    missing = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    path = f"/u/{make_token(contact_id=missing + 1000, logged_segment_id=1)}/"

    get, post = anon.get(path), one_click(anon, path)

    assert get.status_code == 200 and "<h1>Unsubscribe from our e-mails?</h1>" in get.content.decode()
    assert post.status_code == 200 and "<h1>You are unsubscribed</h1>" in post.content.decode()
    assert not ConsentChange.objects.exists()


def test_an_anonymised_contact_shows_no_address(anon, contact):
    interaction_services.contact_anonymise(user=COMMAND_LINE, contact=contact)

    page = anon.get(path_of(contact)).content.decode()

    assert "<h1>Unsubscribe from our e-mails?</h1>" in page and "***" not in page


def test_other_methods_are_refused(anon, contact):
    assert anon.put(path_of(contact), ONE_CLICK, content_type=FORM).status_code == 405
    assert anon.delete(path_of(contact)).status_code == 405
    contact.refresh_from_db()
    assert contact.email_consent == ConsentState.UNKNOWN


def test_the_page_speaks_the_default_language_while_no_catalogue_has_its_strings(anon):
    dutch = make_person(email="jan@example.nl", language=make_language("NL"))

    page = anon.get(path_of(dutch)).content.decode()

    assert unsubscribe.page_language("NL") == "" and unsubscribe.page_language("XX") == ""
    assert '<html lang="en">' in page and "Unsubscribe j***@example.nl from our e-mails?" in page


def test_the_request_log_leaves_the_token_out(anon, contact, caplog):
    logger = logging.getLogger("crm.requests")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="crm.requests")
    try:
        anon.get(path_of(contact))
    finally:
        logger.removeHandler(caplog.handler)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "crm.requests"]
    assert line.startswith("GET /u/***/ 200 ")
    assert path_of(contact).split("/")[2] not in line


# --- Rate limit ---------------------------------------------------------------------------------


def test_a_few_repeats_within_a_minute_answer_2xx_and_past_the_limit_429_changing_nothing(
    anon, contact, settings, fixed_clock
):
    assert settings.CRM_UNSUBSCRIBE_RATE_LIMIT == 30
    path = path_of(contact)
    statuses = [anon.get(path, REMOTE_ADDR="203.0.113.7").status_code for _ in range(29)]
    statuses.append(one_click(anon, path, REMOTE_ADDR="203.0.113.7").status_code)
    after = consent_state()

    over = [one_click(anon, path, REMOTE_ADDR="203.0.113.7"), anon.get(path, REMOTE_ADDR="203.0.113.7")]

    assert statuses == [200] * 30
    assert [r.status_code for r in over] == [429, 429]
    assert over[0]["Retry-After"] == "50"  # the rest of the minute
    assert "Too many requests" in over[0].content.decode()
    assert consent_state() == after
    assert anon.get(path, REMOTE_ADDR="198.51.100.1").status_code == 200  # another address
    fixed_clock[0] += 60
    assert anon.get(path, REMOTE_ADDR="203.0.113.7").status_code == 200  # the next minute


def test_the_limit_counts_altered_tokens_too(anon, contact, settings):
    settings.CRM_UNSUBSCRIBE_RATE_LIMIT = 3
    for _ in range(3):
        assert anon.get("/u/1-1.forged/").status_code == 404
    assert anon.get(path_of(contact)).status_code == 429


def test_counts_of_past_minutes_are_removed(fixed_clock):
    unsubscribe.count_request("192.0.2.1")
    fixed_clock[0] += 60 * (unsubscribe.KEEP_MINUTES + 1)

    assert unsubscribe.count_request("192.0.2.1") == 1
    assert unsubscribe.count_request("192.0.2.1") == 2
    assert unsubscribe.count_request(None) == 1
    assert sorted(UnsubscribeRequestCount.objects.values_list("address", "count")) == [
        ("192.0.2.1", 2),
        ("unknown", 1),
    ]


# --- Settings -----------------------------------------------------------------------------------


def test_crm_public_url_is_read_without_its_trailing_slash_and_must_be_http_or_https():
    from tests.crm.test_settings import PRODUCTION_ENV, _manage

    show = "from django.conf import settings; print(settings.CRM_PUBLIC_URL, settings.SECRET_KEY_FALLBACKS)"
    result = _manage(
        "shell",
        "-c",
        show,
        env={
            **PRODUCTION_ENV,
            "CRM_PUBLIC_URL": "https://crm.example.com/",
            "DJANGO_SECRET_KEY_FALLBACKS": "old1,old2",
        },
    )
    assert result.stdout.split("\n")[-2] == "https://crm.example.com ['old1', 'old2']", result.stderr

    refused = _manage("check", env={**PRODUCTION_ENV, "CRM_PUBLIC_URL": "crm.example.com"})
    assert refused.returncode != 0
    assert "CRM_PUBLIC_URL must be an https:// or http:// address, not 'crm.example.com'" in refused.stderr
