"""Which pages need no login, and which views skip the CSRF check (CONTRACT "Consent per channel
and unsubscribe": the unsubscribe page "is the only page besides the login page and /healthz
that needs none"). Every URL pattern of the project is walked, so a new public or CSRF-exempt
view fails here until it is listed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from interactions.unsubscribe import make_token

# route → why it needs no login
PUBLIC = {
    "login/": "the login page",
    "admin/login/": "Django admin's login page",
    "healthz": "the load balancer's probe",
    "favicon.ico": "browsers ask for the icon before anyone logs in (a redirect to the static SVG)",
    "u/<str:token>/": "the one-click unsubscribe page of e-mails",
}
# route → why it needs no CSRF token
CSRF_EXEMPT = {
    "healthz": "a GET-only probe",
    "u/<str:token>/": "a mail client's RFC 8058 one-click POST carries no cookie and no token",
}


def patterns(resolver=None, prefix: str = ""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from patterns(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_the_login_pages_healthz_and_unsubscribe_need_no_login():
    public = {route for route, view in patterns() if getattr(view, "login_required", True) is False}
    assert public == set(PUBLIC)


def test_only_healthz_and_unsubscribe_skip_the_csrf_check():
    exempt = {route for route, view in patterns() if getattr(view, "csrf_exempt", False)}
    assert exempt == set(CSRF_EXEMPT)


@pytest.mark.django_db
def test_healthz_answers_no_post_and_unsubscribe_needs_no_login():
    client = Client(enforce_csrf_checks=True)
    assert client.post("/healthz").status_code == 405
    token = make_token(contact_id=1, logged_segment_id=1)
    assert client.get(f"/u/{token}/").status_code == 200  # not a redirect to the login page
    assert client.get("/interactions/statistics/").status_code == 302  # the rest still does
