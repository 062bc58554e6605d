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


def test_saving_a_template_in_admin_creates_the_row_of_its_default_language(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    group = make_interaction_group("LETTER")
    language = make_language("DEU")
    response = client.post(
        "/admin/interactions/interactiontemplate/add/",
        {
            "code": "SPRING",
            "group": group.pk,
            "description": "Frühlingsbrief",
            "unit_cost": "1.00",
            "unit_duration": "3",
            "information_flow": "outbound",
            "initiated_by": "us",
            "correspondence_type": "hard_copy",
            "language": language.pk,
            "languages-TOTAL_FORMS": "0",
            "languages-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = InteractionTemplateLanguage.objects.get(template_id="SPRING")
    assert (row.language_id, row.description) == ("DEU", "Frühlingsbrief")
