"""Which language a user reads the pages in (issue 17, part 3): their own (the profile page),
else the browser's Accept-Language, else English. The profile's language is kept in the session
at log-in (no query per request); log-out forgets it. Reference data's language codes map to the
pages' languages; batch commands keep English (CONTRACT is a machine interface)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from crm.languages import SESSION_KEY, language_of_code, letter_language, own_language
from crm.languages import test_email_address as address_for_tests
from crm.models import Contact, Profile
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PAGE = "/campaigns/"  # any page of the CRM


def lang(response) -> str:
    return re.search(r'<html lang="([^"]*)">', response.content.decode())[1]


def log_in(client: Client, user, accept_language: str = "en"):
    """The log-in page's form, as a browser sends it."""
    return client.post(
        reverse("login"),
        {"username": user.username, "password": f"pw-{user.username}"},
        headers={"Accept-Language": accept_language},
    )


@pytest.fixture
def finn(db):
    user = make_user("marketing", username="finn", email="finn@example.test")
    Profile.objects.create(user=user, language="fi")
    return user


# --- The user's own language, the browser's, English ---------------------------------------------------


def test_the_profiles_language_wins_over_the_browsers_and_stays_for_the_session(finn):
    client = Client()
    assert log_in(client, finn, "da").status_code == 302

    first = client.get(PAGE, headers={"Accept-Language": "da"})
    again = client.get(PAGE, headers={"Accept-Language": "nb,da;q=0.8"})

    assert (lang(first), lang(again)) == ("fi", "fi")
    assert client.session[SESSION_KEY] == "fi"


def test_a_users_own_language_costs_no_query_per_request(finn):
    plain = make_user("marketing", username="plain")
    own, browser = Client(), Client()
    log_in(own, finn)
    log_in(browser, plain)
    own.get(PAGE)
    browser.get(PAGE)  # warm: the first request may fill caches

    with CaptureQueriesContext(connection) as with_language:
        assert lang(own.get(PAGE, headers={"Accept-Language": "da"})) == "fi"
    with CaptureQueriesContext(connection) as without:
        assert lang(browser.get(PAGE, headers={"Accept-Language": "da"})) == "da"

    assert len(with_language) == len(without), [q["sql"] for q in with_language]
    assert not [q for q in with_language if "crm_profile" in q["sql"]]


@pytest.mark.parametrize("profile", [None, ""], ids=["no profile", "blank language"])
def test_without_a_language_of_their_own_the_user_follows_the_browser(profile):
    user = make_user("viewer", username="vera")
    if profile is not None:
        Profile.objects.create(user=user, language=profile)
    client = Client()
    log_in(client, user)

    assert lang(client.get(PAGE, headers={"Accept-Language": "nb"})) == "nb"
    assert lang(client.get(PAGE, headers={"Accept-Language": "fi-FI,en;q=0.5"})) == "fi"
    assert lang(client.get(PAGE)) == "en"
    assert SESSION_KEY not in client.session


def test_after_log_out_the_login_page_follows_the_browser(finn):
    client = Client()
    log_in(client, finn)
    assert lang(client.get(PAGE, headers={"Accept-Language": "da"})) == "fi"

    client.post(reverse("logout"))
    page = client.get(reverse("login"), headers={"Accept-Language": "da"})

    assert lang(page) == "da"
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("da", "da"),
        ("da-DK,da;q=0.9,en;q=0.5", "da"),
        ("nb-NO", "nb"),
        ("no", "nb"),  # what many browsers send for Norwegian
        ("fi", "fi"),
        ("de-DE,de;q=0.9", "en"),
        ("xx", "en"),
        ("", "en"),
    ],
)
def test_the_login_page_speaks_the_browsers_language_or_english(accept_language, expected):
    page = Client().get(reverse("login"), headers={"Accept-Language": accept_language})

    assert page.status_code == 200
    assert lang(page) == expected


# --- The profile page ---------------------------------------------------------------------------------


def test_the_profile_page_saves_the_language_and_test_address_and_the_next_page_speaks_it():
    user = make_user("viewer", username="vera", email="vera@example.test")
    client = Client()
    log_in(client, user)

    response = client.post(reverse("crm:profile"), {"language": "da", "test_email": "tests@example.test"})

    assert response.status_code == 302 and response["Location"] == reverse("crm:profile")
    assert Profile.objects.filter(user=user).values_list("language", "test_email").get() == (
        "da",
        "tests@example.test",
    )
    page = client.get(reverse("crm:profile"), headers={"Accept-Language": "en"})
    assert lang(page) == "da"
    assert 'value="da" selected' in page.content.decode()
    assert address_for_tests(user) == "tests@example.test"

    client.post(reverse("crm:profile"), {"language": "", "test_email": ""})

    assert lang(client.get(PAGE, headers={"Accept-Language": "nb"})) == "nb"
    assert Profile.objects.filter(user=user).count() == 1
    assert address_for_tests(user) == "vera@example.test"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"language": "da", "test_email": "not an address"}, "Enter a valid email address."),
        ({"language": "xx", "test_email": ""}, "Select a valid choice. %(value)s is not one of the available choices."),
    ],
    ids=["bad e-mail", "unknown language"],
)
def test_the_profile_page_refuses_bad_values_with_400_and_writes_nothing(finn, data, message):
    client = Client()
    log_in(client, finn)

    response = client.post(reverse("crm:profile"), data, headers={"Accept-Language": "en"})

    assert response.status_code == 400
    with translation.override("fi"):  # the page speaks the user's own language
        assert translation.gettext(message) % {"value": "xx"} in response.content.decode()
    assert Profile.objects.filter(user=finn).values_list("language", "test_email").get() == ("fi", "")
    assert client.session[SESSION_KEY] == "fi"


def test_the_profile_page_is_any_signed_in_users_own_and_needs_a_login():
    assert Client().get(reverse("crm:profile"))["Location"].startswith(reverse("login"))
    client = Client()
    client.force_login(make_user(None, username="nobody"))
    assert client.get(reverse("crm:profile")).status_code == 200


# --- Language codes of reference data, a user's language outside a request, test addresses -----------


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("DAN", "da"),
        ("DA", "da"),
        ("da-DK", "da"),
        ("NOR", "nb"),
        ("NO", "nb"),
        ("NB", "nb"),
        ("FIN", "fi"),
        ("fi", "fi"),
        ("ENU", "en"),
        ("", "en"),
        (None, "en"),
        ("XX", "en"),
        ("DEU", "en"),
    ],
)
def test_a_reference_language_code_maps_to_a_language_of_the_pages(code, language):
    assert (language_of_code(code) or "en") == language  # no language of ours: English


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("DAN", "da"),
        ("NOR", "nb"),
        ("FIN", "fi"),
        ("ENU", "en"),
        ("DEU", "de"),  # not a language of the pages, but Django names its months
        ("NLD", "nl"),
        ("NL", "nl"),
        ("nl-BE", "nl"),
        ("FRA", "fr"),
        ("SVE", "sv"),
        ("XX", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_a_letters_language_is_its_reference_code_s_wherever_django_knows_it(code, language):
    assert letter_language(code) == language


def test_a_users_language_outside_a_request_is_their_own_else_english(finn):
    assert (own_language(finn) or "en") == "fi"
    assert (own_language(make_user(None, username="nobody")) or "en") == "en"


def test_test_e_mails_go_to_the_profiles_address_else_the_users_else_nowhere(finn):
    assert address_for_tests(finn) == "finn@example.test"
    Profile.objects.filter(user=finn).update(test_email="finn.tests@example.test")
    assert address_for_tests(finn) == "finn.tests@example.test"
    assert address_for_tests(make_user(None, username="noaddress")) == ""


# --- Batch commands keep English -----------------------------------------------------------------------


def test_a_batch_command_speaks_english_whatever_the_environment_and_the_users_languages(finn, tmp_path, monkeypatch):
    for name, value in {"LANG": "da_DK.UTF-8", "LANGUAGE": "da", "LC_ALL": "da_DK.UTF-8", "LC_MESSAGES": "da"}.items():
        monkeypatch.setenv(name, value)
    Profile.objects.create(user=make_user("admin", username="dorte"), language="da")
    path = tmp_path / "contacts.csv"
    path.write_text("no,type,name,email\nC1,company,Acme,not an address\n", encoding="utf-8")
    err = io.StringIO()
    translation.deactivate()  # as in a new manage.py process: no language activated

    with pytest.raises(CommandError):
        call_command("import_contacts", str(path), stdout=io.StringIO(), stderr=err)

    assert "line 2: email: Enter a valid email address." in err.getvalue()
    assert translation.get_language() == "en"  # the command activated no language of a user
    assert not Contact.objects.exists()
