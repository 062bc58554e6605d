"""Django admin for every model of the interactions app."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.untrusted import CheckedModelForm

from .models import (
    CampaignEntry,
    ContactAnonymisation,
    Delivery,
    DeliveryItem,
    Document,
    InteractionComment,
    InteractionGroup,
    InteractionLogEntry,
    InteractionTemplate,
    InteractionTemplateLanguage,
    LoggedSegment,
    UnsubscribeRequestCount,
)
from .services import interaction_template_ensure_language_row


@admin.register(InteractionGroup)
class InteractionGroupAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()


class InteractionTemplateLanguageInline(admin.TabularInline):
    model = InteractionTemplateLanguage
    form = CheckedModelForm  # a description or subject is one line (it becomes an e-mail subject)
    extra = 0
    fields = ("language", "description", "subject", "document")
    autocomplete_fields = ("language",)
    raw_id_fields = ("document",)
    readonly_fields = ("document",)


@admin.register(InteractionTemplate)
class InteractionTemplateAdmin(admin.ModelAdmin):
    form = CheckedModelForm  # the description is one line (a line's description, an e-mail subject)
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
        (_("Defaults"), {"fields": (("unit_cost", "unit_duration"), ("information_flow", "initiated_by"))}),
        (_("Correspondence"), {"fields": ("correspondence_type", "ignore_contact_correspondence_type", "language")}),
        (_("Campaign"), {"fields": ("campaign", ("campaign_target", "campaign_response"))}),
    )

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inline rows are saved, so a row the admin added for the language counts.
        interaction_template_ensure_language_row(template=form.instance)


@admin.register(InteractionTemplateLanguage)
class InteractionTemplateLanguageAdmin(admin.ModelAdmin):
    form = CheckedModelForm
    list_display = ("template", "language", "description", "subject")
    list_filter = ("language",)
    list_select_related = ("template", "language")
    search_fields = ("template__code", "description", "subject")
    autocomplete_fields = ("template", "language")
    raw_id_fields = ("document",)
    readonly_fields = ("document",)


class HistoryAdmin(admin.ModelAdmin):
    """Logging's records are history: admins read them here; cancel, restore, evaluate and
    delete go through the pages and commands, whose services keep the counts and rules."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LoggedSegment)
class LoggedSegmentAdmin(HistoryAdmin):
    list_display = ("id", "segment_no", "description", "created_at", "user", "canceled", "no_of_interactions")
    list_filter = ("canceled", "created_at")
    list_select_related = ("user",)
    search_fields = ("segment_no", "description")
    raw_id_fields = ("user",)
    show_full_result_count = False


@admin.register(CampaignEntry)
class CampaignEntryAdmin(HistoryAdmin):
    list_display = ("id", "campaign", "segment_no", "logged_segment", "date", "salesperson", "canceled")
    list_filter = ("canceled",)
    list_select_related = ("campaign", "logged_segment", "salesperson")
    search_fields = ("campaign__no", "segment_no", "description")
    autocomplete_fields = ("campaign", "salesperson")
    raw_id_fields = ("logged_segment", "user")


class InteractionCommentInline(admin.TabularInline):
    model = InteractionComment
    extra = 0
    fields = ("date", "comment", "created_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(InteractionLogEntry)
class InteractionLogEntryAdmin(HistoryAdmin):
    list_display = (
        "id",
        "date",
        "contact",
        "description",
        "interaction_template",
        "campaign",
        "segment_no",
        "salesperson",
        "evaluation",
        "canceled",
        "delivery_status",
    )
    list_filter = ("canceled", "evaluation", "delivery_status", "correspondence_type", "interaction_group")
    list_select_related = ("contact",)
    search_fields = ("=id", "contact__no", "contact__name", "segment_no", "description")
    autocomplete_fields = ("contact", "contact_company", "interaction_template", "interaction_group", "language")
    autocomplete_fields += ("salesperson", "campaign")
    raw_id_fields = ("campaign_entry", "logged_segment", "alt_address", "user", "word_template", "document")
    inlines = (InteractionCommentInline,)
    show_full_result_count = False


@admin.register(InteractionComment)
class InteractionCommentAdmin(HistoryAdmin):
    list_display = ("entry", "date", "comment", "created_by")
    list_select_related = ("created_by",)
    raw_id_fields = ("entry", "created_by")
    search_fields = ("comment",)


@admin.register(ContactAnonymisation)
class ContactAnonymisationAdmin(HistoryAdmin):
    list_display = ("contact", "user", "created_at")
    list_select_related = ("contact", "user")
    search_fields = ("contact__no",)
    raw_id_fields = ("contact", "user")


@admin.register(Document)
class DocumentAdmin(HistoryAdmin):
    """Stored files: uploaded through the template page or `interaction_template attach`, which
    check them first; shown here without their bytes."""

    list_display = ("id", "file_name", "size", "content_type", "read_only", "created_at")
    list_filter = ("read_only",)
    search_fields = ("file_name", "sha256")
    exclude = ("file",)
    raw_id_fields = ("base",)  # a compact letter's Word template


class DeliveryItemInline(admin.TabularInline):
    model = DeliveryItem
    fields = ("entry", "status", "error", "finished_at")
    readonly_fields = fields
    raw_id_fields = ("entry",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=["error", "sending"])


@admin.register(Delivery)
class DeliveryAdmin(HistoryAdmin):
    """Deliveries run from the logged segment page and `segment log --deliver` / `logged_segment
    resend`; here they are read (the inline lists the items that failed or are in flight)."""

    list_display = ("id", "logged_segment", "kind", "state", "total", "sent", "printed", "failed", "created_at")
    list_filter = ("state", "kind", "pdf_state")
    search_fields = ("=id", "=logged_segment__id", "logged_segment__segment_no", "task_id", "pdf_task_id")
    raw_id_fields = ("logged_segment", "created_by", "print_document", "print_pdf")
    inlines = (DeliveryItemInline,)


@admin.register(DeliveryItem)
class DeliveryItemAdmin(HistoryAdmin):
    list_display = ("delivery", "entry", "status", "error", "finished_at")
    list_filter = ("status",)
    search_fields = ("=delivery__id", "=entry__id", "entry__contact__no", "error")
    raw_id_fields = ("delivery", "entry")
    show_full_result_count = False


@admin.register(UnsubscribeRequestCount)
class UnsubscribeRequestCountAdmin(HistoryAdmin):
    """The public unsubscribe page's rate limit: requests per client address in the current and
    the last minutes (interactions.unsubscribe), to see who is refused; kept a few minutes."""

    list_display = ("address", "minute", "count")
    search_fields = ("address",)
    show_full_result_count = False
