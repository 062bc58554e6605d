"""Contacts in a real browser: log in, filter, open a card, import a CSV with a bad line."""

from __future__ import annotations

import re

import pytest

from crm.models import Contact
from tests.conftest import make_user
from tests.factories import make_company, make_person, make_salesperson

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def contacts():
    seller = make_salesperson("ANN", name="Ann Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller)
    make_person(acme, no="P100", name="Dora Delft", first_name="Dora", surname="Delft", city="Delft")
    make_company(no="C200", name="Bolt Berlin", city="Berlin")
    return acme


def test_login_with_a_wrong_password_says_so_and_a_right_one_opens_contacts(page, contacts):
    user = make_user("viewer", username="vera")
    page.goto("/contacts/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "vera")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".errorbox").is_visible()
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/contacts/"))
    assert page.locator(".count").inner_text().startswith("3 contacts")


def test_filter_contacts_by_city_then_open_a_contact_card(page, login, contacts):
    login(make_user("marketing", username="mia"))
    page.goto("/contacts/")  # login lands on the start page
    page.click("summary:has-text('Address')")
    page.fill("input[name=city]", "Delft")
    page.click("button:has-text('Apply')")
    # A locator wait, not wait_for_function: the page's CSP rightly forbids eval.
    page.locator(".count", has_text="2 contacts").wait_for()
    rows = page.locator("table.contacts tbody tr")
    assert rows.count() == 2
    assert "Bolt Berlin" not in page.locator("#contact-results").inner_text()

    page.click("text=Dora Delft")
    page.wait_for_url(re.compile(r".*/contacts/\d+/$"))
    assert page.locator("h1").inner_text().find("Dora Delft") >= 0
    assert "Acme Delft" in page.content()


def test_an_unknown_code_in_the_filter_is_explained_not_a_crash(page, login, contacts):
    login(make_user("viewer", username="vic"))
    page.goto("/contacts/?salesperson=NOSUCH")
    assert 'salesperson: unknown code "NOSUCH"' in page.locator(".errorbox").inner_text()


def test_import_with_a_bad_line_lists_it_and_writes_nothing(page, login, contacts, tmp_path):
    login(make_user("marketing", username="max"))
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(
        "no,type,name,email\nN1,company,Good Company,good@example.com\nN2,company,Bad Company,not-an-email\n"
    )
    before = Contact.objects.count()
    page.goto("/contacts/import/")
    page.set_input_files("input[type=file]", str(csv_file))
    with page.expect_navigation():
        page.click("main button:has-text('Import')")
    body = page.locator("main").inner_text()
    assert "Nothing was imported" in body
    assert "3\temail\tEnter a valid email address." in body
    assert Contact.objects.count() == before

    csv_file.write_text("no,type,name,email\nN1,company,Good Company,good@example.com\n")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("main button:has-text('Import')")
    page.wait_for_url(re.compile(r".*/contacts/"))
    assert "1 created" in page.locator(".messages").inner_text()
    assert Contact.objects.filter(no="N1").exists()
