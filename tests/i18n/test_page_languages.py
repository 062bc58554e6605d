"""Every page in Danish, Norwegian and Finnish (issue 17, part 5).

Every page of the every-page walk (tests/browser/test_every_page_browser.py finds them in the
URLconf and fills their URLs from a small world with one of everything; the log-in page seen
logged out) and Django admin's index, contact list and contact page are rendered as an admin in
each language. A page fails when it is not `<html lang="…">` of the language, or when a text
it shows (a text node, a placeholder, title, aria-label or alt, a button's value) is exactly an
English msgid that the language's catalogue (ours, or Django's own) translates to something
else: the string is not marked, or marked without the catalogue being used. Texts stored in the
database (names, descriptions, codes) are data and stay as they are.

The language comes from the browser's Accept-Language, and a user's own language (their
profile) wins over it. Dates and numbers follow the language in pages; a date input keeps ISO.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from crm.models import Contact, ContactType, Profile
from segments.models import Segment
from tests.browser.test_every_page_browser import ANONYMOUS
from tests.conftest import make_user
from tests.factories import make_campaign, make_language
from tests.i18n.texts import (
    FRAGMENTS,
    UPSTREAM,
    admin_client,
    all_pages,
    language_words,
    page_texts,
    render,
    stored_texts,
    translations,
)

pytestmark = pytest.mark.django_db

LANGUAGES = ("da", "nb", "fi")

# Shown as they are in every language: each language's own name on the profile page (a user
# finds theirs whatever the page speaks).
OWN_NAMES = {"English", "Dansk", "Norsk bokmål", "Suomi"}


def english_left(html: str, language: str, data: set[str], catalogue: dict[str, str], page: bool = True) -> list[str]:
    """What is wrong with a page (or a fragment of one) in `language`: its <html lang>, and each
    text shown in English that the catalogue translates."""
    found = page_texts(html)
    problems = [] if found.lang == language or not page else [f'<html lang="{found.lang}">, not "{language}"']
    for where, text in found.texts:
        if text in catalogue and text not in data and text not in OWN_NAMES:
            problems.append(f"{where} {text!r} is English (the catalogue has {catalogue[text]!r})")
    return problems


def walk(found_pages: dict[str, str], client: Client, language: str, accept_language: str) -> dict[str, list[str]]:
    """{page: problems} of every page rendered by `client` (logged out for the log-in page)."""
    # Data, and the words of the language (a translation spelt like an English msgid).
    data, catalogue = stored_texts() | language_words(language), translations(language)
    failures = {}
    for name, path in all_pages(found_pages).items():
        response = render(client, name, path, accept_language)
        if response.status_code != 200:
            failures[f"{name} {path}"] = [f"answers {response.status_code}"]
            continue
        problems = english_left(response.content.decode(), language, data, catalogue, name not in FRAGMENTS)
        problems = [problem for problem in problems if not upstream(name, problem)]
        if problems:
            failures[f"{name} {path}"] = problems
    return failures


def contacts_speak(language: str) -> None:
    """The world's contacts speak `language` (their language code "DA", "NB", "FI"): the public
    unsubscribe page speaks its contact's language, not the browser's."""
    Contact.objects.update(language=make_language(language.upper()))


def upstream(name: str, problem: str) -> bool:
    return any(name == page and problem.startswith(f"{where} {text!r} ") for page, where, text in UPSTREAM)


def report(failures: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_speaks_the_language_the_browser_asks_for(pages, language):
    contacts_speak(language)
    failures = walk(pages, admin_client(), language, f"{language},en;q=0.5")

    assert not failures, report(failures)


def test_every_page_speaks_the_users_own_language_whatever_the_browser_asks(pages):
    ada = User.objects.get(username="ada")  # the walk's admin
    Profile.objects.create(user=ada, language="fi")
    contacts_speak("fi")
    client = Client()
    client.force_login(ada)  # the log-in keeps the profile's language in the session

    failures = walk({k: v for k, v in pages.items() if k not in ANONYMOUS}, client, "fi", "da")

    assert not failures, report(failures)


# --- The checks find what they should (the walk's own tests) ---------------------------------------


def test_an_english_text_node_title_or_button_where_the_catalogue_translates_fails_data_does_not():
    catalogue = {"Save": "Gem", "Contacts": "Kontakter", "Search": "Søg", "Delete": "Slet"}
    html = (
        '<html lang="da"><title>Kontakter</title><p> Save </p><a title="Contacts">x</a>'
        '<input type="submit" value="Search"><input name="q" value="Delete"><script>"Save"</script>'
        "<p>Delete</p><option>English</option></html>"
    )

    problems = english_left(html, "da", {"Delete"}, catalogue)

    assert problems == [
        "text 'Save' is English (the catalogue has 'Gem')",
        "@title 'Contacts' is English (the catalogue has 'Kontakter')",
        "@value 'Search' is English (the catalogue has 'Søg')",
    ]
    assert english_left('<html lang="en"><p>Hej</p></html>', "da", set(), catalogue) == ['<html lang="en">, not "da"']


def test_the_catalogue_of_a_language_has_djangos_own_translations():
    assert translations("da")["This field is required."] == "Dette felt er påkrævet."
    assert "This field is required." in translations("fi")


# --- Dates, numbers and date inputs ------------------------------------------------------------------


@pytest.fixture
def admin_in(db):
    user = make_user("admin", username="ada")

    def client(language: str) -> Client:
        logged_in = Client(headers={"accept-language": language})
        logged_in.force_login(user)
        return logged_in

    return client


@pytest.mark.parametrize(
    ("language", "shown"), [("en", "2026-12-06"), ("da", "06.12.2026"), ("nb", "06.12.2026"), ("fi", "6.12.2026")]
)
def test_a_date_in_a_page_is_shown_in_the_language(admin_in, language, shown):
    campaign = make_campaign(no="CP0612", starting_date=datetime.date(2026, 12, 6))

    page = admin_in(language).get(reverse("crm:campaign_detail", args=[campaign.pk])).content.decode()

    assert f"<dd>{shown}</dd>" in page


@pytest.mark.parametrize(
    ("language", "shown"), [("en", "1,001"), ("da", "1.001"), ("nb", "1\xa0001"), ("fi", "1\xa0001")]
)
def test_a_count_in_a_page_is_grouped_in_the_language(admin_in, language, shown):
    Contact.objects.bulk_create(
        Contact(no=f"C{n:05d}", name=f"Company {n}", type=ContactType.COMPANY) for n in range(1001)
    )

    page = admin_in(language).get(reverse("crm:contact_list")).content.decode()

    assert f"<strong>{shown}</strong>" in page


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_date_input_takes_and_shows_iso_in_every_language(admin_in, language):
    client = admin_in(language)

    response = client.post(reverse("segments:segment_create"), {"description": "Julebrev", "date": "2026-12-06"})

    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(description="Julebrev")
    assert segment.date == datetime.date(2026, 12, 6)
    page = client.get(segment.get_absolute_url()).content.decode()
    assert 'name="header-date" value="2026-12-06"' in page  # the worksheet's header form
