"""One-click unsubscribe (CONTRACT.md "Consent per channel and unsubscribe"; RELIABILITY 24).

Every e-mail a delivery sends carries its contact's unsubscribe link (the `List-Unsubscribe`
header, RFC 8058's `List-Unsubscribe-Post`, and a line at the end of its text and HTML parts,
interactions.mail), and a letter made for an e-mail gets it as the `unsubscribe_url` field.

- The link is `CRM_PUBLIC_URL` + `/u/<token>/`. The token names the contact and the logged
  segment the e-mail came from, signed with django.core.signing (HMAC-SHA256 of SECRET_KEY with
  its own salt, `SALT`): `<contact id>-<logged segment id>.<signature>`, the ids in base 62. It
  never expires (links in old e-mails keep working); a token signed with a key in
  SECRET_KEY_FALLBACKS is still read. Anything else, one character changed, is `InvalidToken`.
- `unsubscribe` withdraws the contact's e-mail consent through
  `crm.consent.withdraw_by_unsubscribe_link` (source "unsubscribe link", the logged segment in
  its history); a repeat changes nothing. A contact that no longer exists changes nothing and
  says nothing about it.
- `count_request` is the public page's rate limit: requests per client address per minute,
  counted in the database (one upsert statement), so every web process shares the count.
"""

from __future__ import annotations

import string
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.translation import gettext_noop

from crm.consent import withdraw_by_unsubscribe_link
from crm.languages import language_of_code
from crm.models import Contact

from .models import InteractionLogEntry, UnsubscribeRequestCount

SALT = "crm.unsubscribe"
SEPARATOR = "."  # between the value and the signature (not in the base-62 or base-64 alphabets)
ALPHABET = string.digits + string.ascii_letters
MAX_ID = 2**63 - 1


class InvalidToken(ValueError):
    """A token this CRM did not sign (altered, truncated, made up)."""


@dataclass(frozen=True)
class Link:
    """What an unsubscribe token names."""

    contact_id: int
    logged_segment_id: int


def _b62(number: int) -> str:
    if number < 0:
        raise ValueError("ids are not negative")
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = ALPHABET[rest] + digits
        if not number:
            return digits


def _from_b62(text: str) -> int:
    if not text or len(text) > 11 or any(ch not in ALPHABET for ch in text) or (len(text) > 1 and text[0] == "0"):
        raise InvalidToken(text)
    number = 0
    for ch in text:
        number = number * 62 + ALPHABET.index(ch)
    if number > MAX_ID:
        raise InvalidToken(text)
    return number


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT, sep=SEPARATOR, algorithm="sha256")


def make_token(*, contact_id: int, logged_segment_id: int) -> str:
    """The signed, never-expiring token naming a contact and a logged segment (URL-safe)."""
    return _signer().sign(f"{_b62(int(contact_id))}-{_b62(int(logged_segment_id))}")


def read_token(token: str) -> Link:
    """The contact and logged segment a token names; InvalidToken unless this CRM signed it."""
    try:
        value = _signer().unsign(token)
    except signing.BadSignature as exc:
        raise InvalidToken("bad signature") from exc
    contact, dash, logged = value.partition("-")
    if not dash:
        raise InvalidToken(value)
    return Link(contact_id=_from_b62(contact), logged_segment_id=_from_b62(logged))


def unsubscribe_path(*, contact_id: int, logged_segment_id: int) -> str:
    """The link's path, without the script prefix a request may have set (CRM_PUBLIC_URL holds it)."""
    path = reverse(
        "interactions:unsubscribe", args=[make_token(contact_id=contact_id, logged_segment_id=logged_segment_id)]
    )
    prefix = get_script_prefix()
    return "/" + path.removeprefix(prefix) if prefix != "/" and path.startswith(prefix) else path


def unsubscribe_url(*, contact_id: int, logged_segment_id: int) -> str:
    """The contact's unsubscribe link in an e-mail of the logged segment: CRM_PUBLIC_URL + path."""
    return settings.CRM_PUBLIC_URL + unsubscribe_path(contact_id=contact_id, logged_segment_id=logged_segment_id)


# The logged segment a test e-mail's link names ("Send a test to me", segments.services.test_mail):
# no logged segment has this id, and its link changes nothing (the page says it came from a test).
TEST_LOGGED_SEGMENT = 0


def entry_unsubscribe_url(entry) -> str:
    """The unsubscribe link of an e-mail made for `entry` (an interaction log entry of a logged
    segment); "" for anything else (a segment line's preview, a single interaction): only an
    e-mail a delivery sends names the mailing it came from."""
    logged_segment_id = getattr(entry, "logged_segment_id", None)
    contact_id = getattr(entry, "contact_id", None)
    if logged_segment_id is None or not contact_id or contact_id < 0:  # the sample line's contact is made up
        return ""
    return unsubscribe_url(contact_id=contact_id, logged_segment_id=logged_segment_id)


# --- The page ----------------------------------------------------------------------------------


def masked_email(address: str) -> str:
    """An address as the public page shows it: "a***@example.com" (who gets the e-mail knows it;
    whoever else holds the link learns little)."""
    local, at, domain = (address or "").strip().rpartition("@")
    if not at or not local or not domain:
        return ""
    return f"{local[0]}***@{domain}"


@dataclass(frozen=True)
class Recipient:
    """What the page shows of the link's contact: the address the e-mail went to, masked ("" when
    the contact is gone or has no address), and the Django language code of the contact's
    language when Django knows it ("" otherwise)."""

    masked_email: str
    language: str


def recipient(link: Link) -> Recipient:
    """Two small reads by key: the address the logged segment's e-mail went to (its entry's
    `contact_via`, else the contact's e-mail) and the contact's language."""
    contact = Contact.objects.filter(pk=link.contact_id).values("email", "language_id").first()
    if contact is None:
        return Recipient(masked_email="", language="")
    sent_to = (
        InteractionLogEntry.objects.filter(contact_id=link.contact_id, logged_segment_id=link.logged_segment_id)
        .exclude(contact_via="")
        .order_by("pk")
        .values_list("contact_via", flat=True)
        .first()
    )
    # An anonymised contact has no e-mail any more: nothing of the old address is shown.
    address = (sent_to or contact["email"]) if contact["email"] else ""
    return Recipient(masked_email=masked_email(address), language=page_language(contact["language_id"]))


# A string of the page: a language whose catalogue translates it is one the page speaks.
PROBE = gettext_noop("You are unsubscribed")


def page_language(language_id: str | None) -> str:
    """The Django language code the page is shown in for a contact's language (a language code
    of the CRM, "NL"): that language once a catalogue translates the page's strings, else ""
    (the default language: the page never claims a language it does not speak)."""
    code = language_of_code(language_id)
    if code is None:
        return ""
    with translation.override(code):
        return code if translation.gettext(PROBE) != PROBE else ""


def unsubscribe(link: Link) -> bool:
    """Withdraw the link's contact's e-mail consent (source "unsubscribe link", with the logged
    segment); True when it changed, False for a repeat, a contact that no longer exists or a
    test e-mail's link."""
    if link.logged_segment_id == TEST_LOGGED_SEGMENT:
        return False
    return withdraw_by_unsubscribe_link(contact_id=link.contact_id, logged_segment_id=link.logged_segment_id)


# --- Rate limit ----------------------------------------------------------------------------------

# Counts of minutes older than this are removed as requests come.
KEEP_MINUTES = 2


def clock() -> float:
    """Seconds since the epoch (the tests move it)."""
    return time.time()


def count_request(address: str | None, *, now: float | None = None) -> int:
    """Count one request of `address` (a client IP; None counts under "unknown") in the current
    minute and return the minute's count so far, this one included. One INSERT … ON CONFLICT
    DO UPDATE … RETURNING (SQLite 3.35+ and PostgreSQL alike), so concurrent requests in any
    process count exactly; the past minutes' rows are deleted in the same transaction."""
    minute = int((clock() if now is None else now) // 60)
    table, address_column, minute_column, count_column = map(
        connection.ops.quote_name, (UnsubscribeRequestCount._meta.db_table, "address", "minute", "count")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({address_column}, {minute_column}, {count_column}) VALUES (%s, %s, 1) "
            f"ON CONFLICT ({address_column}, {minute_column}) "
            f"DO UPDATE SET {count_column} = {table}.{count_column} + 1 RETURNING {count_column}",
            [(address or "unknown")[:64], minute],
        )
        (count,) = cursor.fetchone()
        UnsubscribeRequestCount.objects.filter(minute__lt=minute - KEEP_MINUTES).delete()
    return count


def over_limit(count: int) -> bool:
    return count > settings.CRM_UNSUBSCRIBE_RATE_LIMIT


def seconds_to_next_minute(now: float | None = None) -> int:
    now = clock() if now is None else now
    return max(1, 60 - int(now % 60))
