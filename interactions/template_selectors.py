"""Reads of the interaction template pages (SPEC F1.9, D10): templates with their language rows
and which rows have a Word template. No query loads a document's bytes."""

from __future__ import annotations

from django.db.models import F, Prefetch, QuerySet

from crm.models import Campaign, Language

from .models import Document, InteractionTemplate, InteractionTemplateLanguage

# A template's rows in language order, the row without a language first.
ROW_ORDER = (F("language_id").asc(nulls_first=True),)


def template_list() -> QuerySet[InteractionTemplate]:
    """Templates by code with their group, and `languages` prefetched (code and document id
    only): one query for a page of templates and one for their rows."""
    rows = InteractionTemplateLanguage.objects.only("pk", "template_id", "language_id", "document_id").order_by(
        *ROW_ORDER
    )
    return (
        InteractionTemplate.objects.select_related("group")
        .prefetch_related(Prefetch("languages", queryset=rows))
        .order_by("code")
    )


def template_detail_queryset() -> QuerySet[InteractionTemplate]:
    return InteractionTemplate.objects.select_related("group", "language", "campaign")


def template_language_rows(*, template: InteractionTemplate) -> list[InteractionTemplateLanguage]:
    """The template's language rows with their language and Word document (without its bytes),
    in one query."""
    return list(
        InteractionTemplateLanguage.objects.filter(template=template)
        .select_related("language", "document")
        .order_by(*ROW_ORDER)
    )


def languages_without_row(*, rows: list[InteractionTemplateLanguage]) -> list[Language]:
    """Every language that is not yet a row of the template (one query)."""
    taken = [row.language_id for row in rows if row.language_id is not None]
    return list(Language.objects.exclude(code__in=taken).order_by("code"))


def template_document(*, template: InteractionTemplate, document_id: int) -> Document | None:
    """Document `document_id` when it is the Word template of one of the template's rows."""
    used = InteractionTemplateLanguage.objects.filter(template=template, document_id=document_id)
    return Document.objects.filter(pk=document_id, pk__in=used.values("document_id")).first()


def campaign_templates(*, campaign: Campaign) -> QuerySet[InteractionTemplate]:
    """The interaction templates whose default campaign is `campaign`."""
    return InteractionTemplate.objects.filter(campaign=campaign).select_related("group", "language").order_by("code")
