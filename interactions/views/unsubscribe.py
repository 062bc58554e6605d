"""The public unsubscribe page, /u/<token>/ (CONTRACT.md "Consent per channel and unsubscribe";
interactions.unsubscribe): the one page besides the login page and /healthz that needs no
login, and the one view exempt from CSRF.

- GET (and HEAD) shows "Unsubscribe a***@example.com from our e-mails?" with one form and one
  button, and changes nothing: mail scanners fetch links before anyone reads the e-mail.
- POST, from that button or from a mail client's one-click unsubscribe (RFC 8058: the form
  body `List-Unsubscribe=One-Click`, no cookies, no CSRF token, no login), withdraws the
  contact's e-mail consent and answers 200 "You are unsubscribed"; a repeat answers the same
  and changes nothing. A contact that is gone answers the same page, revealing nothing.
- A token this CRM did not sign answers 404 and changes nothing.
- Every request counts against its client address's rate limit (CRM_UNSUBSCRIBE_RATE_LIMIT a
  minute, database-backed): beyond it, 429 with Retry-After, and nothing changes.

The pages use their own layout (templates/interactions/unsubscribe/base.html): our company's
name and the message, nothing of the CRM; no cookie is set and no session is read. Strings are
marked for translation and shown in the contact's language when Django has a catalogue for it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crm.throttle import client_ip

from .. import unsubscribe as service

TEMPLATE = "interactions/unsubscribe/{}.html"
# What the request log shows instead of the path: the token is the power to unsubscribe someone.
LOG_PATH = "/u/***/"


def _page(request, name: str, context: dict | None = None, *, status: int = 200, language: str = ""):
    # Rendered without the request: no context processor runs, so no session is read and no
    # CSRF cookie is made; the page holds no script (the CSP needs no nonce).
    with translation.override(language or settings.LANGUAGE_CODE):
        content = render_to_string(
            TEMPLATE.format(name), {"company_name": settings.CRM_COMPANY.get("name", ""), **(context or {})}
        )
    response = HttpResponse(content, status=status)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@login_not_required
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    request.log_path = LOG_PATH
    if service.over_limit(service.count_request(client_ip(request))):
        response = _page(request, "too_many", status=429)
        response["Retry-After"] = str(service.seconds_to_next_minute())
        return response
    try:
        link = service.read_token(token)
    except service.InvalidToken:
        return _page(request, "invalid", status=404)
    if link.logged_segment_id == service.TEST_LOGGED_SEGMENT:  # a test e-mail's link: nothing to do
        return _page(request, "test")
    recipient = service.recipient(link)
    if request.method == "POST":
        service.unsubscribe(link)
        return _page(request, "done", {"recipient": recipient}, language=recipient.language)
    return _page(request, "confirm", {"recipient": recipient}, language=recipient.language)
