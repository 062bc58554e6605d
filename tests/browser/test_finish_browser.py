"""The start page, the error pages, deleting a segment and the new-segment form in a real browser:
logging in lands on the start page; the pages pass axe (no serious or critical violation) and
fit 390 px; the delete confirmation's buttons keep their labels on one line; choosing a template
fills in its defaults without saving."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from interactions.models import InteractionTemplateLanguage
from segments import services
from segments.models import Segment
from tests.conftest import make_user
from tests.factories import make_company, make_language, make_template

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = ((1280, 900), (390, 844))


def serious(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]


def test_login_lands_on_the_start_page_and_the_new_pages_pass_axe_at_both_widths(page, login):
    user = make_user("marketing", username="mia")
    segment = services.segment_create(user=user, values={"description": "Spring"})
    make_company(city="Delft")
    services.segment_add_contacts(user=user, segment=segment, query="city=Delft")

    login(user)
    expect(page.locator("h1")).to_have_text("Welcome, mia")
    expect(page.locator(".start-section").first).to_contain_text(f"{segment.no} · Spring")

    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        for url in ("/", "/no-such-page/", f"/segments/{segment.no}/delete/"):
            page.goto(url)
            assert serious(page) == [], (url, width)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
        # The confirmation's two buttons each keep their label on one line.
        for button in page.locator(
            ".delete-confirm .form-actions > .button, .delete-confirm .form-actions > button"
        ).all():
            box = button.bounding_box()
            font = float(button.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))
            assert box["height"] < 2.8 * font, (width, button.inner_text())  # one line and its padding

    page.click("button:has-text('Delete segment')")
    expect(page.locator(".messages")).to_contain_text(f"Deleted segment {segment.no} and its 1 line.")
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_choosing_a_template_fills_in_its_defaults_at_once(page, login):
    french = make_language("FR")
    template = make_template("LETTER", language=french, correspondence_type="hard_copy", description="Autumn")
    InteractionTemplateLanguage.objects.create(template=template, language=french, subject="Bonjour")
    login(make_user("marketing", username="mia"))

    page.goto("/segments/new/")
    page.select_option("#id_interaction_template", "LETTER")

    expect(page.locator("#id_subject")).to_have_value("Bonjour")
    expect(page.locator("#id_language")).to_have_value("FR")
    expect(page.locator("#id_correspondence_type")).to_have_value("hard_copy")
    expect(page.locator("#id_description")).to_have_value("Autumn")
    expect(page.locator(".template-defaults")).to_contain_text("unit cost to 1.50")
    assert re.search(r"/segments/new/$", page.url)  # nothing was saved
    assert not Segment.objects.exists()
