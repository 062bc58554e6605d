"""The interaction log in a real browser: filter it, cancel a selection after confirming, a bad
filter explained, a single interaction recorded from the contact card, the statistics chart.

Set CRM_SCREENSHOTS=DIR to keep a screenshot of each page visited (1280×800) for a look at
the layout.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.permissions import COMMAND_LINE
from interactions import services
from interactions.models import InteractionComment, InteractionLogEntry
from tests.conftest import make_user
from tests.factories import make_campaign, make_salesperson, make_template
from tests.interactions.entry_builders import logged_company, single

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")


def shot(page, name: str, *, full_page: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


def messages_text(page) -> str:
    return page.locator(".messages").inner_text()


@pytest.fixture
def log():
    """Two logged companies: Acme (C100, 2 persons, campaign CPSPRING) and Bolt (C200, 1 person)."""
    seller = make_salesperson("ANN", name="Ann Seller")
    letter = make_template("LETTER", description="Spring letter", correspondence_type="")
    call = make_template("CALL", description="Phone call", correspondence_type="")
    spring = make_campaign(no="CPSPRING", description="Spring campaign")
    acme, acme_contacts = logged_company(
        2, template=letter, campaign=spring, salesperson=seller, no="C100", name="Acme Delft"
    )
    bolt, bolt_contacts = logged_company(1, template=letter, salesperson=seller, no="C200", name="Bolt Berlin")
    for day in (3, 40, 75, 110):
        single(bolt_contacts[1], call, date=datetime.date.today() - datetime.timedelta(days=day), evaluation="positive")
    return acme_contacts, bolt_contacts


def test_filter_the_log_select_two_entries_and_cancel_them(page, login, log):
    acme_contacts, _bolt = log
    login(make_user("marketing", username="mia"))
    page.click("nav.mainnav a:has-text('Interaction Log')")
    expect(page.locator("#entry-results .count")).to_contain_text("9 entries")
    shot(page, "entries-log-list")

    page.fill("aside input[name=company]", "C100")
    page.click("aside button:has-text('Apply')")
    expect(page.locator("#entry-results .count")).to_contain_text("3 entries match the filter")
    expect(page.locator(".active-filters")).to_contain_text("Company no.: C100")
    assert "company=C100" in page.url

    rows = page.locator("table.entries tbody tr")
    assert rows.count() == 3
    first_no = int(rows.nth(0).locator("input[name=entry]").get_attribute("value"))
    second_no = int(rows.nth(1).locator("input[name=entry]").get_attribute("value"))
    rows.nth(0).locator("input[name=entry]").check()
    rows.nth(1).locator("input[name=entry]").check()
    with page.expect_navigation():
        page.click("button:has-text('Cancel or restore…')")

    expect(page.locator("h1")).to_have_text("Cancel 2 interaction log entries?")
    assert f"The first selected entry, {first_no}, is not canceled" in page.locator(".confirm").inner_text()
    shot(page, "entries-log-confirm-cancel")
    with page.expect_navigation():
        page.click("button:has-text('Cancel 2 entries')")

    assert "Canceled 2 interaction log entries" in messages_text(page)
    assert "company=C100" in page.url
    expect(page.locator("table.entries tbody tr.canceled")).to_have_count(2)
    assert page.locator("table.entries tbody tr.canceled .badge.canceled").count() == 2
    assert set(InteractionLogEntry.objects.filter(canceled=True).values_list("pk", flat=True)) == {first_no, second_no}
    shot(page, "entries-log-after-cancel")


def test_select_all_on_the_page_then_evaluate(page, login, log):
    login(make_user("marketing", username="eve"))
    page.goto("/interactions/?company=C100")
    page.check("table.entries input.select-all")
    expect(page.locator("table.entries input[name=entry]:checked")).to_have_count(3)
    page.select_option("#action_evaluation", "neutral")
    with page.expect_navigation():
        page.click("button:has-text('Evaluate')")

    assert "Evaluated 3 interaction log entries as neutral." in messages_text(page)
    assert InteractionLogEntry.objects.filter(evaluation="neutral").count() == 3


def test_a_bad_filter_is_explained_and_shows_no_entries(page, login, log):
    login(make_user("viewer", username="vic"))
    page.goto("/interactions/")
    page.fill("aside input[name=contact]", "NOPE")
    page.click("aside button:has-text('Apply')")

    expect(page.locator("#entry-results .errorbox")).to_contain_text('contact: unknown contact "NOPE"')
    assert page.locator("table.entries").count() == 0
    assert page.locator("button:has-text('Cancel or restore…')").count() == 0


def test_record_a_single_interaction_from_the_contact_card(page, login, log):
    _acme, (bolt, bolt_person) = log
    login(make_user("marketing", username="rita"))
    page.goto(f"/contacts/{bolt_person.pk}/")
    expect(page.locator("#interactions")).to_contain_text("5 interactions")

    with page.expect_navigation():
        page.click("#interactions a:has-text('Record interaction')")
    assert page.input_value("input[name=contact]") == bolt_person.no
    assert page.input_value("select[name=salesperson]") == "ANN"
    page.select_option("select[name=interaction_template]", "CALL")
    page.fill("input[name=description]", "Asked for a brochure")
    page.select_option("select[name=evaluation]", "positive")
    page.fill("input[name=duration]", "12")
    shot(page, "entries-entry-form")
    with page.expect_navigation():
        page.click("button:has-text('Record interaction')")

    entry = InteractionLogEntry.objects.get(description="Asked for a brochure")
    assert page.url.endswith(f"/interactions/{entry.pk}/")
    assert f"Recorded interaction {entry.pk} with {bolt_person.no}" in messages_text(page)
    assert (entry.contact_id, entry.interaction_template_id, entry.evaluation) == (bolt_person.pk, "CALL", "positive")

    page.fill("input[name=comment]", "Send it on Monday")
    with page.expect_navigation():
        page.click("button:has-text('Add comment')")
    assert "Send it on Monday" in page.locator("#comments").inner_text()
    assert InteractionComment.objects.get(entry=entry).comment == "Send it on Monday"
    shot(page, "entries-entry-detail", full_page=True)

    page.goto(f"/contacts/{bolt_person.pk}/")
    expect(page.locator("#interactions")).to_contain_text("6 interactions")
    assert "Asked for a brochure" in page.locator("#interactions table").inner_text()
    page.locator("#interactions").scroll_into_view_if_needed()
    shot(page, "entries-contact-card")


def test_a_missing_template_is_shown_on_the_form(page, login, log):
    _acme, (bolt, _person) = log
    login(make_user("marketing", username="tom"))
    page.goto(f"/interactions/new/?contact={bolt.no}")
    with page.expect_navigation():
        page.click("button:has-text('Record interaction')")

    expect(page.locator(".errorbox")).to_contain_text("Nothing was recorded.")
    assert "Choose an interaction template." in page.locator(".field.has-error").inner_text()


def test_statistics_page_draws_the_chart(page, login, log):
    entry = InteractionLogEntry.objects.filter(interaction_template_id="CALL").first()
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[entry.pk], canceled=True)
    login(make_user("viewer", username="stan"))
    page.goto("/interactions/")
    with page.expect_navigation():
        page.click("a:has-text('Statistics')")

    expect(page.locator("dl.totals")).to_contain_text("8")
    assert page.locator("svg.chart rect").count() >= 2
    assert "LETTER" in page.locator(".legend-list").inner_text()
    shot(page, "entries-statistics", full_page=True)

    with page.expect_navigation():
        page.click("a.tab:has-text('By campaign')")
    expect(page.locator(".legend-list")).to_contain_text("CPSPRING")
    assert "No campaign" in page.locator(".legend-list").inner_text()
    assert re.search(r"chart=campaign", page.url)
