"""Writes on interaction groups and templates."""

from __future__ import annotations

from django.db import transaction

from .models import InteractionTemplate, InteractionTemplateLanguage


def interaction_template_ensure_language_row(*, template: InteractionTemplate) -> InteractionTemplateLanguage:
    """Make sure the template's default language has a language row (SPEC F1.9) and return it.

    A template's default language must be one of its languages: choosing a new one creates
    its row, described like the template. Idempotent; joins the caller's transaction.
    """
    with transaction.atomic():
        row, _ = InteractionTemplateLanguage.objects.get_or_create(
            template=template, language=template.language, defaults={"description": template.description}
        )
    return row
