"""Choosing a template on the new-segment form shows its defaults at once (an htmx GET of the
form on change: segments/template_defaults.py), the values segment_create would apply."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from interactions.models import InteractionTemplateLanguage
from segments.models import Segment
from tests.factories import make_campaign, make_language, make_template

pytestmark = pytest.mark.django_db


def selected(html: str, name: str) -> str | None:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1)) if select else None
    return option.group(1) if option else None


def value_of(html: str, name: str) -> str | None:
    field = re.search(rf'<input type="text" name="{name}"[^>]*>', html)
    value = re.search(r'value="([^"]*)"', field.group(0)) if field else None
    return value.group(1) if value else None


@pytest.fixture
def template():
    french = make_language("FR")
    campaign = make_campaign(no="CAMP1")
    template = make_template(
        "LETTER", language=french, correspondence_type="hard_copy", campaign=campaign, description="Autumn letter"
    )
    InteractionTemplateLanguage.objects.create(template=template, language=french, subject="Bonjour")
    return template


def test_the_form_asks_for_itself_again_when_the_template_changes(marketing_client):
    html = marketing_client.get(reverse("segments:segment_create")).content.decode()
    assert 'hx-get="/segments/new/"' in html
    assert 'hx-trigger="change from:#id_interaction_template"' in html
    assert 'hx-select="#segment-form"' in html and 'id="segment-form"' in html


def test_choosing_a_template_fills_in_its_defaults(marketing_client, template):
    url = reverse("segments:segment_create")
    page = marketing_client.get(url, {"description": "", "interaction_template": "LETTER"}, HTTP_HX_REQUEST="true")
    html = page.content.decode()

    assert page.status_code == 200
    assert selected(html, "interaction_template") == "LETTER"
    assert selected(html, "language") == "FR"
    assert selected(html, "correspondence_type") == "hard_copy"
    assert selected(html, "campaign") == str(template.campaign_id)
    assert value_of(html, "subject") == "Bonjour"
    assert value_of(html, "description") == "Autumn letter"
    assert "unit cost to 1.50 and the unit duration to 5 min." in html


def test_a_description_and_campaign_typed_before_stay(marketing_client, template):
    mine = make_campaign(no="MINE")
    page = marketing_client.get(
        reverse("segments:segment_create"),
        {"description": "My mailing", "campaign": str(mine.pk), "interaction_template": "LETTER"},
        HTTP_HX_REQUEST="true",
    )
    html = page.content.decode()
    assert value_of(html, "description") == "My mailing"
    assert selected(html, "campaign") == str(mine.pk)
    assert selected(html, "language") == "FR"


def test_saving_the_filled_in_form_gives_the_same_segment_as_the_template_alone(marketing_client, template):
    marketing_client.post(
        reverse("segments:segment_create"),
        {
            "description": "Autumn letter",
            "interaction_template": "LETTER",
            "campaign": str(template.campaign_id),
            "language": "FR",
            "subject": "Bonjour",
            "correspondence_type": "hard_copy",
            "date": "2026-12-01",
        },
    )
    segment = Segment.objects.get()
    assert (segment.language_id, segment.subject, segment.correspondence_type) == ("FR", "Bonjour", "hard_copy")
    assert segment.unit_cost == template.unit_cost
