"""Django admin for every model of the interactions app."""

from __future__ import annotations

from django.contrib import admin

from .models import InteractionGroup, InteractionTemplate, InteractionTemplateLanguage
from .services import interaction_template_ensure_language_row


@admin.register(InteractionGroup)
class InteractionGroupAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()


class InteractionTemplateLanguageInline(admin.TabularInline):
    model = InteractionTemplateLanguage
    extra = 0
    fields = ("language", "description", "subject")
    autocomplete_fields = ("language",)


@admin.register(InteractionTemplate)
class InteractionTemplateAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "description",
        "group",
        "correspondence_type",
        "language",
        "campaign",
        "unit_cost",
        "unit_duration",
    )
    list_filter = ("group", "correspondence_type", "information_flow", "initiated_by", "campaign_target")
    list_select_related = ("group", "language", "campaign")
    search_fields = ("code", "description")
    autocomplete_fields = ("group", "language", "campaign")
    inlines = (InteractionTemplateLanguageInline,)
    fieldsets = (
        (None, {"fields": ("code", "group", "description")}),
        ("Defaults", {"fields": (("unit_cost", "unit_duration"), ("information_flow", "initiated_by"))}),
        ("Correspondence", {"fields": ("correspondence_type", "ignore_contact_correspondence_type", "language")}),
        ("Campaign", {"fields": ("campaign", ("campaign_target", "campaign_response"))}),
    )

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inline rows are saved, so a row the admin added for the language counts.
        interaction_template_ensure_language_row(template=form.instance)


@admin.register(InteractionTemplateLanguage)
class InteractionTemplateLanguageAdmin(admin.ModelAdmin):
    list_display = ("template", "language", "description", "subject")
    list_filter = ("language",)
    list_select_related = ("template", "language")
    search_fields = ("template__code", "description", "subject")
    autocomplete_fields = ("template", "language")
