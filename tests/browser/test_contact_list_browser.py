"""The contact list as a working list in a real browser (issue 16): sort by clicking a header,
tick rows and add them to a new segment, search a checkbox list of codes; axe finds no serious
or critical violation at 1280×900 and 390×844, and the page does not scroll sideways at 390 px."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from segments.models import CriteriaStep, Segment, SegmentLine
from tests.conftest import make_user
from tests.factories import make_company, make_country, make_industry_group, make_mailing_group, make_person

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def contacts():
    nl = make_country("NL", name="Netherlands")
    make_country("DE", name="Germany")
    make_country("BE", name="Belgium")
    for code in ("IT", "RETAIL", "HEALTH"):
        make_industry_group(code)
    make_mailing_group("NEWS")
    acme = make_company(no="C100", name="Zed Acme", city="Delft", country=nl, email="info@acme.test")
    make_person(acme, no="P100", name="Dora Delft", city="Delft", email="dora@acme.test")
    make_company(no="C200", name="Bolt Berlin", city="Berlin")
    make_company(no="C300", name="Anvil Antwerp", city="Antwerp")


def names(page) -> list[str]:
    return page.locator("table.contacts tbody tr td:nth-child(4)").all_inner_texts()


def test_clicking_a_header_sorts_by_it_and_again_reverses(page, login, contacts):
    login(make_user("viewer", username="vera"))
    page.goto("/contacts/")

    page.click("table.contacts th a.sort:text-is('Name')")
    page.locator("th[aria-sort=ascending] a:text-is('Name')").wait_for()
    assert names(page) == ["Anvil Antwerp", "Bolt Berlin", "Dora Delft", "Zed Acme"]
    assert "sort=name" in page.url

    page.click("table.contacts th a.sort:text-is('Name')")
    page.locator("th[aria-sort=descending] a:text-is('Name')").wait_for()
    assert names(page) == ["Zed Acme", "Dora Delft", "Bolt Berlin", "Anvil Antwerp"]
    assert "sort=-name" in page.url


def test_tick_rows_and_add_them_to_a_new_segment(page, login, contacts):
    login(make_user("marketing", username="mia"))
    page.goto("/contacts/?sort=name")
    add = page.locator("button.bulk-action:has-text('Add to segment')")
    assert add.is_disabled()  # nothing ticked yet

    page.check("input.row-select[value=C200]")
    page.check("input.row-select[value=C300]")
    assert page.locator("[data-selected-count]").inner_text() == "2"
    add.click()

    page.locator("h1:has-text('Add contacts to a segment')").wait_for()
    assert "2 contacts ticked." in page.locator("main").inner_text()
    page.select_option("select[name=segment]", "new")
    page.fill("input[name=description]", "Picked by hand")
    page.click("button:has-text('Next')")
    page.click("button:has-text('Create a segment and add 2 contacts')")

    page.wait_for_url(re.compile(r".*/segments/SEG\d+/$"))
    segment = Segment.objects.get(description="Picked by hand")
    assert sorted(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True)) == ["C200", "C300"]
    assert CriteriaStep.objects.get(segment=segment).filter == "no=C300&no=C200"  # in the rows' order


def test_the_page_box_ticks_every_row_and_select_all_matching_selects_the_filter(page, login, contacts):
    login(make_user("marketing", username="max"))
    page.goto("/contacts/?city=Delft")

    page.check("input.select-page")
    assert page.locator("input.row-select:checked").count() == 2
    page.click("a.select-matching")
    page.locator("text=All 2 contacts matching the filter are selected.").wait_for()
    assert "selected=all" in page.url
    assert page.locator("button.bulk-action").first.is_enabled()


def test_a_code_list_is_a_searchable_list_of_boxes(page, login, contacts):
    login(make_user("viewer", username="vic"))
    page.goto("/contacts/")
    page.click("summary:has-text('Address')")
    search = page.locator("input.checklist-search[aria-label='Search the country/region list']")
    search.fill("neth")
    options = page.locator("#id_country .checklist-option")
    assert [options.nth(i).is_visible() for i in range(options.count())] == [False, False, True]  # BE, DE, NL
    search.press("Enter")  # does not submit the filter
    assert "country=" not in page.url

    page.check("input[name=country][value=NL]")
    page.click("button:has-text('Apply')")
    page.locator(".count", has_text="1 contact").wait_for()
    assert names(page) == ["Zed Acme"]


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_the_contact_list_passes_axe_and_does_not_overflow(page, login, contacts, width, height):
    login(make_user("marketing", username=f"amy{width}"))
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/contacts/?sort=name")
    page.check("input.row-select[value=C100]")
    for summary in page.locator("aside.filters summary").all():
        summary.click()

    violations = [
        violation["id"]
        for violation in Axe().run(page).response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]

    assert violations == []
    if width <= 390:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
