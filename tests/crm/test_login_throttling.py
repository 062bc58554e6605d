"""Login throttling (RELIABILITY 26; crm/throttle.py, django-axes in the database).

Failures count per username and per address separately; from CRM_LOGIN_SLOWDOWN_AFTER failures on a
try too soon after the last one is refused without checking the password; at AXES_FAILURE_LIMIT
the username or address is locked out (429) until the cool-off has passed or an admin clears it.
Time is moved by moving the failures' attempt_time back, never by sleeping.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from crm.throttle import LoginFailures, client_ip, login_wait_seconds
from tests.conftest import make_user
from tests.interactions.test_attach_command import manage

INVALID_LOGIN = "Please enter a correct username and password"
LOCKED = "Ask an administrator to clear the lock-out"
CHANGELIST = reverse("admin:axes_accessattempt_changelist")


def login(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, usernames, address: str = "127.0.0.1") -> list:
    """One wrong password for each of `usernames`; the responses."""
    return [login(client, username, "wrong-password", address) for username in usernames]


def move_back(seconds: float) -> None:
    """Make every recorded failure `seconds` older."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=seconds))


@pytest.fixture
def no_slowdown(settings):
    """Failures may follow each other at once (the slowing has its own tests)."""
    settings.CRM_LOGIN_DELAY_SECONDS = 0


@pytest.fixture
def vera(db):
    return make_user("viewer", "vera")


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    assert "registration/locked_out.html" in [template.name for template in response.templates]
    assert LOCKED in response.content.decode()


# --- locked per username ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_n_wrong_passwords_for_one_user_lock_it_and_then_the_right_password_fails(client, vera, no_slowdown):
    limit = settings.AXES_FAILURE_LIMIT
    responses = fail(client, ["vera"] * limit)

    for response in responses[:-1]:
        assert response.status_code == 200 and INVALID_LOGIN in response.content.decode()
    assert_locked_out(responses[-1])

    right = login(client, "vera", "pw-vera")
    assert_locked_out(right)
    assert not logged_in(client)
    # The lock is the account's: the right password from another address is refused as well.
    assert_locked_out(login(Client(), "vera", "pw-vera", address="10.0.0.9"))
    # Knocking during the lock-out neither counts nor moves its end (AXES_RESET_COOL_OFF_...=False).
    assert AccessAttempt.objects.get(username="vera").failures_since_start == limit


@pytest.mark.django_db
def test_the_locked_out_page_says_when_the_lock_ends(client, vera, no_slowdown):
    fail(client, ["vera"] * settings.AXES_FAILURE_LIMIT)
    move_back(60)

    response = login(client, "vera", "pw-vera")

    assert_locked_out(response)
    cool_off = settings.AXES_COOLOFF_TIME.total_seconds()
    assert cool_off - 62 <= int(response["Retry-After"]) <= cool_off - 59
    minutes = int(cool_off // 60) - 1
    assert f"in about {minutes} minutes" in response.content.decode()
    assert 'name="password"' not in response.content.decode()  # no log-in form on it


@pytest.mark.django_db
def test_the_lock_ends_once_the_cool_off_has_passed(client, vera, no_slowdown):
    fail(client, ["vera"] * settings.AXES_FAILURE_LIMIT)
    cool_off = settings.AXES_COOLOFF_TIME.total_seconds()

    move_back(cool_off - 5)
    assert_locked_out(login(client, "vera", "pw-vera"))

    move_back(6)
    response = login(client, "vera", "pw-vera")
    assert response.status_code == 302 and logged_in(client)
    assert not AccessAttempt.objects.filter(username="vera").exists()


@pytest.mark.django_db
def test_an_unknown_username_is_answered_exactly_like_a_real_one(no_slowdown, vera):
    """Nothing in the answers tells whether an account exists: same statuses, same messages."""

    def answers(username):
        client = Client()
        responses = [*fail(client, [username] * settings.AXES_FAILURE_LIMIT), login(client, username, "pw-vera")]
        return [(r.status_code, INVALID_LOGIN in r.content.decode(), LOCKED in r.content.decode()) for r in responses]

    real = answers("vera")
    AccessAttempt.objects.all().delete()
    assert answers("no-such-user") == real


# --- locked per address -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_passwords_from_one_address_across_usernames_lock_the_address(client, vera, no_slowdown):
    make_user("viewer", "walt")
    usernames = [f"guess-{n}" for n in range(settings.AXES_FAILURE_LIMIT - 1)] + ["walt"]

    responses = fail(client, usernames, address="10.0.0.5")

    assert [r.status_code for r in responses[:-1]] == [200] * (len(usernames) - 1)
    assert_locked_out(responses[-1])
    # Any account from that address is locked out, with the right password too ...
    assert_locked_out(login(Client(), "vera", "pw-vera", address="10.0.0.5"))
    # ... while the same account from elsewhere logs in.
    other = Client()
    assert login(other, "vera", "pw-vera", address="10.0.0.6").status_code == 302 and logged_in(other)


@pytest.mark.django_db
def test_logging_in_to_ones_own_account_does_not_wipe_the_addresss_failures(client, vera, no_slowdown):
    """axes would clear the whole address on a success; then an insider could guess forever."""
    make_user("viewer", "mallory")
    fail(client, ["vera"] * (settings.AXES_FAILURE_LIMIT - 1), address="10.0.0.7")
    fail(client, ["mallory"], address="10.0.0.8")

    assert login(Client(), "mallory", "pw-mallory", address="10.0.0.7").status_code == 302

    assert AccessAttempt.objects.get(username="vera").failures_since_start == settings.AXES_FAILURE_LIMIT - 1
    assert AccessAttempt.objects.filter(username="mallory", ip_address="10.0.0.8").exists()  # another address
    assert_locked_out(fail(client, ["vera"], address="10.0.0.7")[0])


# --- slowed before the lock-out ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_try_too_soon_after_a_failure_is_refused_without_checking_the_password(client, vera):
    free = settings.CRM_LOGIN_SLOWDOWN_AFTER
    assert [r.status_code for r in fail(client, ["vera"] * free)] == [200] * free
    wait = settings.CRM_LOGIN_DELAY_SECONDS

    early = login(client, "vera", "pw-vera")  # the right password, too soon

    assert early.status_code == 429
    assert early.context["form"].non_field_errors() == [
        f"Too many failed attempts: wait {wait} seconds before trying again."
    ]
    assert not logged_in(client)
    assert AccessAttempt.objects.get(username="vera").failures_since_start == free  # not counted

    move_back(wait)
    response = login(client, "vera", "pw-vera")
    assert response.status_code == 302 and logged_in(client)


@pytest.mark.django_db
def test_the_wait_grows_with_each_failure_for_the_account_and_for_the_address(client, vera):
    free = settings.CRM_LOGIN_SLOWDOWN_AFTER
    base = settings.CRM_LOGIN_DELAY_SECONDS
    fail(client, ["vera"] * free)
    for extra in range(3):
        wait = base * 2**extra
        move_back(wait - 1)
        refused = login(Client(), "vera", "wrong", address="10.9.9.9")  # the account is slowed everywhere
        assert refused.status_code == 429, extra
        assert "wait 1 second before" in refused.content.decode()
        move_back(1)
        assert fail(client, ["vera"])[0].status_code == 200  # counted: the next wait doubles

    # The address is slowed for any username.
    assert login(Client(), "someone-else", "wrong").status_code == 429


def test_login_wait_seconds():
    now = timezone.now()
    free, base, cap = settings.CRM_LOGIN_SLOWDOWN_AFTER, settings.CRM_LOGIN_DELAY_SECONDS, 60

    def wait(count, ago=0.0, locked_until=None):
        return login_wait_seconds(LoginFailures(count, now - timedelta(seconds=ago), locked_until), now)

    assert wait(free - 1) == 0
    assert [wait(free + n) for n in range(7)] == [min(base * 2**n, cap) for n in range(7)]
    assert wait(free, ago=0.5) == base  # rounded up
    assert wait(free, ago=base) == 0
    assert wait(free + 3, locked_until=now) == 0  # locked out: axes answers, not the wait
    assert login_wait_seconds(LoginFailures(0, None, None), now) == 0


# --- the client address -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behind_proxy", "meta", "expected"),
    [
        (False, {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6"}, "10.0.0.1"),
        (True, {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.4"}, "203.0.113.4"),
        (True, {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "not-an-address"}, "10.0.0.1"),
        (True, {"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),
        (False, {"REMOTE_ADDR": "2001:DB8:0:0::1"}, "2001:db8::1"),
        (False, {"REMOTE_ADDR": ""}, None),
    ],
)
def test_the_client_address_trusts_only_what_our_proxy_appended(settings, behind_proxy, meta, expected):
    settings.CRM_BEHIND_PROXY = behind_proxy
    request = RequestFactory().post("/login/", **meta)
    assert client_ip(request) == expected


@pytest.mark.django_db
def test_a_hostile_username_is_a_form_error_not_a_500(client):
    response = login(client, "nul\x00name", "x")
    assert response.status_code == 200 and not AccessAttempt.objects.exists()


# --- admins see and clear lock-outs -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_sees_the_lockout_and_clears_it_in_django_admin(client, vera, admin_client_crm, no_slowdown):
    fail(client, ["vera"] * settings.AXES_FAILURE_LIMIT)
    attempt = AccessAttempt.objects.get(username="vera")

    listing = admin_client_crm.get(CHANGELIST)
    assert listing.status_code == 200
    row = listing.context["cl"].result_list.get(pk=attempt.pk)
    assert listing.context["cl"].model_admin.locked_out(row) is True
    assert "clear_lockouts" in listing.context["cl"].model_admin.get_actions(listing.wsgi_request)

    cleared = admin_client_crm.post(CHANGELIST, {"action": "clear_lockouts", "_selected_action": [attempt.pk]})

    assert cleared.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert login(client, "vera", "pw-vera").status_code == 302 and logged_in(client)


@pytest.mark.django_db
def test_clearing_an_address_unlocks_it_for_every_username(client, vera, admin_client_crm, no_slowdown):
    fail(client, [f"guess-{n}" for n in range(settings.AXES_FAILURE_LIMIT)], address="10.0.0.5")
    one = AccessAttempt.objects.filter(username="guess-0").get()

    admin_client_crm.post(CHANGELIST, {"action": "clear_lockouts", "_selected_action": [one.pk]})

    assert not AccessAttempt.objects.exists()
    assert login(client, "vera", "pw-vera", address="10.0.0.5").status_code == 302


@pytest.mark.django_db
def test_viewer_staff_can_neither_see_nor_clear_lockouts(client, vera, no_slowdown):
    fail(client, ["vera"] * settings.AXES_FAILURE_LIMIT)
    staff = Client()
    staff.force_login(make_user("viewer", "viewer-staff", is_staff=True))

    assert staff.get(CHANGELIST).status_code == 403
    attempt = AccessAttempt.objects.get()
    response = staff.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"})
    assert response.status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


# --- across web processes ---------------------------------------------------------------------------

SCRIPT = """
import json
from django.test.utils import setup_test_environment
setup_test_environment()
from django.test import Client
client = Client()
statuses = [
    client.post("/login/", {"username": "vera", "password": password}).status_code for password in %(passwords)r
]
print(json.dumps({"statuses": statuses, "logged_in": "_auth_user_id" in client.session}))
"""


def other_process(monkeypatch, passwords: list[str]) -> dict:
    """Log in from another process (its own Django, its own connection) to this test database."""
    monkeypatch.setenv("CRM_LOGIN_FAILURE_LIMIT", str(settings.AXES_FAILURE_LIMIT))
    monkeypatch.setenv("CRM_LOGIN_DELAY_SECONDS", "0")
    done = manage("shell", "-c", SCRIPT % {"passwords": passwords})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_a_lockout_made_in_one_process_holds_in_another(monkeypatch, no_slowdown):
    make_user("viewer", "vera")
    client = Client()
    fail(client, ["vera"] * settings.AXES_FAILURE_LIMIT)

    there = other_process(monkeypatch, ["pw-vera"])

    assert there == {"statuses": [429], "logged_in": False}


@pytest.mark.django_db(transaction=True)
def test_failures_made_in_another_process_lock_this_one(monkeypatch):
    make_user("viewer", "vera")

    there = other_process(monkeypatch, ["wrong"] * settings.AXES_FAILURE_LIMIT)

    assert there["statuses"][-1] == 429
    client = Client()
    assert_locked_out(login(client, "vera", "pw-vera"))
    assert not logged_in(client)


@pytest.mark.django_db
def test_django_admins_own_login_is_slowed_and_locked_the_same_way(client, admin_user, settings):
    def admin_login(password):
        return client.post(reverse("admin:login"), {"username": admin_user.username, "password": password})

    for _ in range(settings.CRM_LOGIN_SLOWDOWN_AFTER):
        admin_login("wrong")
    early = admin_login("pw-" + admin_user.username)
    assert "Too many failed attempts: wait" in early.content.decode() and not logged_in(client)

    settings.CRM_LOGIN_DELAY_SECONDS = 0
    for _ in range(settings.AXES_FAILURE_LIMIT - settings.CRM_LOGIN_SLOWDOWN_AFTER - 1):
        admin_login("wrong")
    assert_locked_out(admin_login("wrong"))
    assert_locked_out(admin_login("pw-" + admin_user.username))
