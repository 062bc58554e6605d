"""GET /healthz: the probe of load balancers and container health checks (issue 12)."""

from __future__ import annotations

import json
import socket

import pytest
from django.test import override_settings

from tests.crm.test_settings import PRODUCTION_ENV, _manage


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthz_answers_ok_to_anyone_without_a_cookie(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"database": "ok"}
    assert not response.cookies
    assert "Set-Cookie" not in response
    assert "Cookie" not in response.get("Vary", "")  # the session was never touched
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_needs_no_csrf_token_and_takes_head(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405  # answers probes, takes nothing


@pytest.mark.django_db
def test_healthz_is_not_redirected_to_https_when_the_rest_is(client):
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/healthz").status_code == 200
        assert client.get("/login/").status_code == 301


@pytest.mark.django_db
def test_healthz_keeps_the_host_check(client):
    assert client.get("/healthz", HTTP_HOST="evil.example").status_code == 400


PROBE = (
    "from django.test import Client; r = Client().get('/healthz', HTTP_HOST='crm.example.com'); "
    "print('STATUS', r.status_code, r.content.decode(), sorted(r.cookies))"
)


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param(lambda: f"postgres://crm:secret@127.0.0.1:{closed_port()}/crm", id="postgresql-closed-port"),
        pytest.param(lambda: "sqlite:////nonexistent-folder/crm.sqlite3", id="sqlite-unopenable"),
    ],
)
def test_healthz_answers_503_and_nothing_more_when_the_database_is_down(database_url):
    # A real process with production settings and a database it cannot reach; plain http,
    # as a load balancer probes (the https redirect is on in production).
    result = _manage("shell", "-c", PROBE, env={**PRODUCTION_ENV, "DATABASE_URL": database_url()})
    assert result.returncode == 0, result.stderr
    status_line = [line for line in result.stdout.splitlines() if line.startswith("STATUS")]
    assert status_line == ['STATUS 503 {"database": "unavailable"} []'], result.stdout
    assert "health check: the database is unavailable" in result.stderr  # the reason is logged


@pytest.mark.django_db
def test_healthz_answers_even_when_the_sessions_cannot_be_read(client, settings):
    """A signed-in browser (or probe) sends its session cookie; with the database down the
    language middleware cannot read the session, and /healthz must still give its own answer."""
    settings.SESSION_ENGINE = "tests.crm.broken_sessions"
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-session-key"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert json.loads(response.content) == {"database": "ok"}
