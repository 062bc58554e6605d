"""One log line per request on "crm.requests", to stdout (crm/middleware.py, LOGGING)."""

from __future__ import annotations

import logging
import re

import pytest
from django.conf import settings

from tests.crm.test_settings import PRODUCTION_ENV, _manage

LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms$")


@pytest.fixture
def request_log(caplog):
    """The crm.requests records (the logger does not propagate to the root, where caplog listens)."""
    logger = logging.getLogger("crm.requests")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="crm.requests")
    yield lambda: [r for r in caplog.records if r.name == "crm.requests"]
    logger.removeHandler(caplog.handler)


@pytest.mark.django_db
def test_each_request_logs_method_path_without_query_status_and_duration(client, request_log):
    client.get("/login/?next=/secret-search/")
    client.get("/healthz")
    records = request_log()
    assert len(records) == 2
    first = LINE.match(records[0].getMessage())
    assert first, records[0].getMessage()
    assert (first["method"], first["path"], first["status"]) == ("GET", "/login/", "200")
    assert float(first["ms"]) > 0
    assert "secret-search" not in records[0].getMessage()
    assert records[0].levelno == logging.INFO


@pytest.mark.django_db
def test_redirects_and_not_found_are_logged_with_their_status(client, request_log):
    client.get("/contacts/")  # anonymous: to the login page
    client.get("/no-such-page/")
    statuses = [LINE.match(r.getMessage())["status"] for r in request_log()]
    assert statuses == ["302", "404"]


@pytest.mark.django_db
def test_a_hostile_path_cannot_forge_a_second_line(client, request_log):
    client.get("/login/%0AGET /admin/ 200 1.0ms\r")
    (record,) = request_log()
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message
    assert LINE.match(message), message
    assert "%0A" in message


def test_request_lines_go_to_stdout_at_info_by_default():
    config = settings.LOGGING["loggers"]["crm.requests"]
    handler = settings.LOGGING["handlers"][config["handlers"][0]]
    assert handler == {**handler, "class": "logging.StreamHandler", "stream": "ext://sys.stdout"}
    assert config["propagate"] is False


def test_a_production_process_writes_the_line_to_stdout_and_django_log_level_filters_it():
    # /login/ fails (500) in this process: its static files were never collected.
    probe = (
        "from django.test import Client; c = Client(raise_request_exception=False, HTTP_HOST='crm.example.com'); "
        "c.get('/contacts/?q=x', secure=True); c.get('/login/', secure=True)"
    )
    result = _manage("shell", "-c", probe, env=PRODUCTION_ENV)
    assert re.search(r"^\S+ \S+ GET /contacts/ 302 \d+\.\dms$", result.stdout, re.M), result.stdout + result.stderr
    assert re.search(r"^\S+ \S+ GET /login/ 500 \d+\.\dms$", result.stdout, re.M), result.stdout + result.stderr
    assert "GET /contacts/" not in result.stderr
    quiet = _manage("shell", "-c", probe, env={**PRODUCTION_ENV, "DJANGO_LOG_LEVEL": "WARNING"})
    assert "GET /contacts/" not in quiet.stdout + quiet.stderr
    assert "GET /login/ 500" in quiet.stdout  # server errors are logged at WARNING
