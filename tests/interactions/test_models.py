"""Interaction templates: defaults and constraints of SPEC F1.9."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from interactions.models import InteractionTemplate, InteractionTemplateLanguage
from interactions.services import interaction_template_ensure_language_row
from tests.factories import make_interaction_group, make_language, make_template

pytestmark = pytest.mark.django_db


def test_new_templates_default_to_email():
    template = InteractionTemplate.objects.create(code="T1", group=make_interaction_group(), description="Hello")
    assert template.correspondence_type == "email"


def test_every_template_needs_a_group():
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionTemplate.objects.create(code="T2", description="No group")


@pytest.mark.parametrize("field", ["unit_cost", "unit_duration"])
def test_cost_and_duration_cannot_be_negative(field):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_template(**{field: Decimal("-1")})


def test_choosing_a_default_language_creates_its_row_once():
    template = make_template(language=make_language("NLD"), description="Voorjaarsbrief")
    row = interaction_template_ensure_language_row(template=template)
    again = interaction_template_ensure_language_row(template=template)
    assert row == again
    assert (row.language_id, row.description) == ("NLD", "Voorjaarsbrief")
    assert InteractionTemplateLanguage.objects.filter(template=template).count() == 1


def test_one_row_per_template_language_including_the_blank_language():
    template = make_template()
    InteractionTemplateLanguage.objects.create(template=template, language=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionTemplateLanguage.objects.create(template=template, language=None)
    InteractionTemplateLanguage.objects.create(template=template, language=make_language("ENU"))
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionTemplateLanguage.objects.create(template=template, language=make_language("ENU"))
