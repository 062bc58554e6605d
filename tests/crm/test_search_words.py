"""The search box's status words come from the server, in the page's language (static/js/search.js
holds none): the number found in the listbox fragment (templates/includes/search_status.html),
with the plural form of the active language, and the worksheet's "Chosen: …" sentence."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.catalog import translated
from tests.factories import make_person

pytestmark = pytest.mark.django_db

URL = reverse("crm:contact_search")
HTMX = {"HTTP_HX_REQUEST": "true"}
FOUND = "%(shown)s contact found"


@pytest.fixture
def people():
    make_person(no="P100", name="Jan Jansen", city="Delft")
    make_person(no="P101", name="Marie Janssen", city="Delft")
    make_person(no="P102", name="Janet Dorsey", city="Utrecht")


def test_the_listbox_says_how_many_it_found_with_the_plural_form(people, viewer_client):
    two = viewer_client.get(URL, {"q": "jans"}, **HTMX).content.decode()
    one = viewer_client.get(URL, {"q": "janet"}, **HTMX).content.decode()
    assert '<p class="search-status" hidden>2 contacts found</p>' in two
    assert '<p class="search-status" hidden>1 contact found</p>' in one
    assert "data-chosen" not in one  # the navigation's box opens a contact: nothing is chosen
    none = viewer_client.get(URL, {"q": "zzz"}, **HTMX).content.decode()
    assert "search-status" not in none and "No contact matches “zzz”." in none


def test_the_worksheets_look_up_gets_its_chosen_sentence_with_a_placeholder(people, viewer_client):
    html = viewer_client.get(URL, {"contact_no": "janet", "for": "add"}, **HTMX).content.decode()
    assert 'data-chosen="Chosen: %(contact)s. Press Enter to add."' in html


def test_the_count_is_said_in_the_users_language_with_its_plural_form(people, viewer_client):
    entries = {(FOUND, 0): "%(shown)s kontakti löytyi", (FOUND, 1): "%(shown)s kontaktia löytyi"}
    with translated("fi", entries):
        one = viewer_client.get(URL, {"q": "janet"}, HTTP_ACCEPT_LANGUAGE="fi", **HTMX).content.decode()
        two = viewer_client.get(URL, {"q": "jans"}, HTTP_ACCEPT_LANGUAGE="fi", **HTMX).content.decode()
    assert ">1 kontakti löytyi</p>" in one and ">2 kontaktia löytyi</p>" in two


def test_the_results_pages_are_numbered_in_the_users_language(viewer_client):
    for number in range(55):
        make_person(no=f"J{number:03}", name=f"Jan {number}", city="Delft")
    # pgettext("pagination", "Next") looks up "<context>\x04<msgid>".
    danish = {"Page %(number)s of %(pages)s": "Side %(number)s af %(pages)s", "pagination\x04Next": "Næste"}
    with translated("da", danish):
        html = viewer_client.get(URL, {"q": "jan"}, HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "Side 1 af 2" in html and ">Næste ›</a>" in html
