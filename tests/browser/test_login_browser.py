"""The log-in form slowed and then locked by wrong passwords (RELIABILITY 26), in the browser."""

from __future__ import annotations

import pytest

from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_wrong_passwords_slow_the_form_then_lock_it_out(page, settings):
    make_user("viewer", username="vera")

    def try_password(password):
        page.goto("/login/")
        page.fill("input[name=username]", "vera")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")

    for _ in range(settings.CRM_LOGIN_SLOWDOWN_AFTER):
        try_password("wrong")
    try_password("pw-vera")
    assert "Too many failed attempts: wait" in page.locator(".errorbox").inner_text()

    settings.CRM_LOGIN_DELAY_SECONDS = 0  # the rest of the way to the lock-out at once
    for _ in range(settings.AXES_FAILURE_LIMIT - settings.CRM_LOGIN_SLOWDOWN_AFTER):
        try_password("wrong")
    try_password("pw-vera")

    assert page.locator("h1").inner_text() == "Log-in locked"
    assert "Ask an administrator to clear the lock-out" in page.locator("main").inner_text()
    assert "/login/" in page.url
