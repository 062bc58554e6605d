"""The words the scripts show come from the server, in the page's language (static/js holds
none): the search box's status (how many found, with the language's plural form; "Chosen: …" on
the worksheet) and the contact list's ticked count. A few catalogue entries stand in for the
catalogues (tests/catalog.py): the live server runs in this process."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from segments import services
from tests.catalog import translated
from tests.conftest import make_user
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db(transaction=True)

FOUND = "%(shown)s contact found"
CHOSEN = "Chosen: %(contact)s. Press Enter to add."


@pytest.fixture
def contacts():
    acme = make_company(no="C100", name="Acme Delft", city="Delft", email="info@acme.example")
    make_person(acme, no="P100", name="Dora Delft", city="Delft", email="dora@acme.example")
    make_person(no="P101", name="Dorothea Jansen", city="Utrecht", email="dj@post.example")


def speaks(page, language: str) -> None:
    page.set_extra_http_headers({"Accept-Language": language})


def test_the_nav_box_says_how_many_it_found_in_the_users_language(page, login, contacts):
    speaks(page, "fi")
    with translated("fi", {(FOUND, 0): "%(shown)s kontakti löytyi", (FOUND, 1): "%(shown)s kontaktia löytyi"}):
        login(make_user("viewer", username="vera"))
        assert page.locator("html").get_attribute("lang") == "fi"
        box = page.locator("#nav-search-q")
        box.press_sequentially("dor", delay=20)
        page.locator("#nav-search-listbox [role=option]").nth(1).wait_for()
        status = page.locator("#nav-search-status")
        assert status.inner_text() == "2 kontaktia löytyi"
        box.press_sequentially("othea", delay=20)
        expect(page.locator("#nav-search-listbox [role=option]")).to_have_count(1)
        expect(status).to_have_text("1 kontakti löytyi")


def test_the_worksheets_look_up_says_what_was_chosen_in_the_users_language(page, login, contacts):
    user = make_user("marketing", username="mia")
    segment = services.segment_create(user=user, values={"description": "Spring mailing"})
    speaks(page, "da")
    with translated("da", {CHOSEN: "Valgt: %(contact)s. Tryk Enter for at tilføje."}):
        login(user)
        page.goto(f"/segments/{segment.no}/")
        box = page.locator("#id_contact_no")
        box.press_sequentially("dorothea", delay=20)
        page.locator("#add-contact-listbox [role=option]").first.wait_for()
        box.press("ArrowDown")
        box.press("Enter")
        assert box.input_value() == "P101"
        status = page.locator("form.add-contact [role=status]")
        assert (
            status.inner_text() == "Valgt: P101 Dorothea Jansen Utrecht · dj@post.example. Tryk Enter for at tilføje."
        )


def test_the_ticked_count_says_none_with_the_pages_own_word(page, login, contacts):
    # The page's word for "none" (its catalogue's, here put in by hand) is what the script shows
    # again once every box is unticked.
    def in_danish(route):
        answer = route.fetch()
        route.fulfill(
            response=answer, body=answer.text().replace("data-selected-count>None<", "data-selected-count>Ingen<")
        )

    speaks(page, "da")
    login(make_user("viewer", username="vera"))
    page.route("**/contacts/", in_danish)
    page.goto("/contacts/")
    count = page.locator("[data-selected-count]")
    assert count.inner_text() == "Ingen"
    page.check("input.row-select[value=C100]")
    page.check("input.row-select[value=P100]")
    assert count.inner_text() == "2"
    page.uncheck("input.row-select[value=C100]")
    page.uncheck("input.row-select[value=P100]")
    assert count.inner_text() == "Ingen"
