"""A test e-mail before the real thing, in a real browser: "Send a test to me" on the Log page
sends the first e-mail line's e-mail to the user through a real SMTP server on localhost and the
page says where it went; nothing is logged.

Set CRM_SCREENSHOTS=DIR to keep a screenshot of the Log page with the button (1280×800).
"""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from interactions.models import InteractionLogEntry, LoggedSegment
from segments.models import SegmentLine
from tests.browser.test_logging_browser import SHOTS, messages_text, shot
from tests.conftest import make_user
from tests.interactions.smtp_server import running_smtp_server
from tests.interactions.test_delivery import build

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_a_test_to_me_from_the_log_page(page, login):
    segment, _contacts = build()
    first = SegmentLine.objects.filter(segment=segment).order_by("line_no").select_related("contact").first()
    user = make_user("marketing", username="vera", email="vera@example.com")
    with running_smtp_server() as smtp, override_settings(MAILERS=smtp.mailers()):
        login(user)
        page.goto(f"/segments/{segment.no}/log/")
        form = page.locator("form.test-mail-form")
        expect(form.locator("input[name=line]")).to_have_value(str(first.line_no))
        expect(page.locator(".test-mail")).to_contain_text("to you (vera@example.com)")
        shot(page, "log-confirm-test-mail")

        with page.expect_navigation():
            form.locator("button:has-text('Send a test to me')").click()

        page.wait_for_url(re.compile(rf".*/segments/{segment.no}/log/$"))
        assert f"Test e-mail sent to vera@example.com (line {first.line_no}, {first.contact.no})" in messages_text(page)
        (got,) = smtp.received()
        if SHOTS:  # the letter page's button, for a look
            page.goto(f"/segments/{segment.no}/lines/{first.line_no}/letter/")
            expect(page.locator(".test-mail button")).to_have_text("Send a test to me")
            shot(page, "line-letter-test-mail")
    assert got.recipients == ["vera@example.com"] and got.subject == "[Test] Spring offer"
    assert not LoggedSegment.objects.exists() and not InteractionLogEntry.objects.exists()
