"""Browser tests: Playwright driving Debian's Chromium (no browser download) against live_server.

A failing test leaves a full-page screenshot in test-artifacts/<test name>.png.

A test fails on any console error of the browser (`console` messages of type error, and
uncaught exceptions, `pageerror`): a Content Security Policy violation (an inline script or
style, an `eval`) is one, and so is a failed load (a 404 for a script, a style, an image).
What is no fault of the page is told apart in `console_errors` (BROWSER_NOISE holds what is
outside our control). `axe_violations` gives axe-core's serious and critical findings on a page.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls in the test body are
# still plain synchronous calls on their own connection.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("CRM_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Console errors that are no fault of the pages, each with its reason. Keep it short.
BROWSER_NOISE: list[tuple[re.Pattern, str]] = []


# Impacts that fail a page (axe-core's are minor, moderate, serious and critical).
FAILING_IMPACTS = ("serious", "critical")


def axe_script() -> str:
    """axe-core's script (axe-playwright-python's copy); give it to `context.add_init_script`
    to have it in every page, or let `axe_violations` inject it."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().axe_script


def axe_violations(page, selector: str | None = None) -> list[str]:
    """axe-core's violations of impact serious or critical on `page` (or the part that
    `selector` names), one line each: "<impact> <rule>: <first elements>"."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_script())
    response = page.evaluate("(selector) => axe.run(selector || document, {resultTypes: ['violations']})", selector)
    found = []
    for violation in response["violations"]:
        if violation["impact"] in FAILING_IMPACTS:
            nodes = violation["nodes"]
            targets = ", ".join(" ".join(map(str, node["target"])) for node in nodes[:3])
            more = f" (+{len(nodes) - 3} more)" if len(nodes) > 3 else ""
            found.append(f"{violation['impact']} {violation['id']}: {targets}{more}")
    return found


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = console_errors(page)
    in_flight = requests_in_flight(page)
    yield page
    # A request the page still has running (an htmx load of the last page) would hold its table
    # locks while the transactional test's flush truncates them: PostgreSQL then finds a deadlock.
    deadline = time.monotonic() + 10
    while in_flight and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    if errors and (report is None or not report.failed):
        pytest.fail("the browser logged console errors:\n" + "\n".join(errors), pytrace=False)


def requests_in_flight(page) -> set:
    """The requests of `page` sent and not yet answered (or failed), kept up to date."""
    pending: set = set()
    page.on("request", lambda request: pending.add(request))
    page.on("requestfinished", lambda request: pending.discard(request))
    page.on("requestfailed", lambda request: pending.discard(request))
    return pending


def console_errors(page) -> list[str]:
    """The console errors and uncaught exceptions of `page` from now on, as they come ("<url>:
    <text>"), but those that are no fault of the page:

    - the "Failed to load resource" line Chromium logs for a document answered with an error
      status (a form shown again with its errors is a 400, the lock-out page a 429, a refusal a
      403): the status is the page's answer, and the test checks what the page says;
    - the same line for an htmx request answered 400: the app's answer to invalid input, swapped
      into the page by design (the htmx-config of templates/base.html);
    - BROWSER_NOISE.

    A script, style sheet or image that fails to load, a CSP violation, an uncaught exception,
    an htmx request answered 403, 404 or 500: all count."""
    errors: list[str] = []
    answered: set[str] = set()  # the URLs whose error status is the page's own answer

    def on_response(response):
        kind = response.request.resource_type
        if (kind == "document" and response.frame == page.main_frame and response.status >= 400) or (
            kind in ("xhr", "fetch") and response.status == 400
        ):
            answered.add(response.url)

    def on_console(message):
        if message.type != "error":
            return
        url = message.location.get("url") or page.url
        if message.text.startswith("Failed to load resource") and url in answered:
            return
        add(f"{url}: {message.text}")

    def add(text: str) -> None:
        if not any(pattern.search(text) for pattern, _reason in BROWSER_NOISE):
            errors.append(text)

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: add(f"{page.url}: uncaught {error.name}: {error.message}"))
    return errors


@pytest.fixture
def login(page):
    """Log `user` in through the login page (its password is pw-<username>, tests/conftest.py)."""

    def _login(user):
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "pw-" + user.username)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"^https?://[^/]+/$"))  # the start page
        return page

    return _login
