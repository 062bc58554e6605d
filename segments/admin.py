"""Django admin for every model of the segments app (admins look things up here; marketing works in the pages).

Segments are built in the worksheet: the rows that record how (lines, steps, lines kept for
undo) are read-only here, because editing them by hand would break exact undo (D3) and the
per-field overrides (D1). A segment's header saved in admin goes through the same services
as the page (segment_create / segment_update), so its lines follow it. Saved criteria can be
renamed (F1.16); their steps are read-only. A segment of 300,000 lines shows its first lines
inline and links to the full, paginated list.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.untrusted import CheckedModelForm

from . import services
from .models import (
    CriteriaStep,
    LogJob,
    MergeJob,
    RemovedSegmentLine,
    SavedCriteria,
    SavedCriteriaStep,
    Segment,
    SegmentLanguage,
    SegmentLine,
)

INLINE_LINES = 50
SEGMENT_ROWS = (SegmentLine, CriteriaStep, RemovedSegmentLine, SegmentLanguage)


class ReadOnlyAdminMixin:
    """View only: no add, change or delete (the rows are written by segments.services)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class FirstRowsFormSet(BaseInlineFormSet):
    """An inline that shows only the first INLINE_LINES rows (a segment may have 300,000 lines)."""

    def get_queryset(self):
        if not hasattr(self, "_first_rows"):
            self._first_rows = super().get_queryset()[:INLINE_LINES]
        return self._first_rows


class SegmentLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SegmentLine
    formset = FirstRowsFormSet
    extra = 0
    fields = ("line_no", "contact", "step", "description", "correspondence_type", "language", "date", "cost")
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = _("lines (the first 50; “All lines” below lists every line)")


class CriteriaStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CriteriaStep
    fk_name = "segment"
    extra = 0
    fields = ("position", "action", "filter", "manual", "source", "lines_added", "lines_removed", "created_by")
    readonly_fields = fields
    ordering = ("position",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(parent__isnull=True)  # a replay's steps: on the step's page


class SegmentLanguageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SegmentLanguage
    extra = 0
    fields = ("language", "description", "subject")
    readonly_fields = fields


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = CheckedModelForm  # the description and subject are one line (they become e-mail subjects)
    list_display = ("no", "description", "interaction_template", "campaign", "salesperson", "date", "owner")
    list_filter = ("interaction_template", "campaign", "salesperson", "correspondence_type", "date")
    list_select_related = ("interaction_template", "campaign", "salesperson", "owner")
    search_fields = ("^no", "description")
    autocomplete_fields = ("interaction_template", "salesperson", "campaign", "language")
    readonly_fields = ("no", "interaction_group", "owner", "all_lines", "created_at", "updated_at")
    inlines = (SegmentLanguageInline, CriteriaStepInline, SegmentLineInline)
    date_hierarchy = "date"
    fieldsets = (
        (None, {"fields": ("no", "description", "interaction_template", "interaction_group", "owner")}),
        (_("Interaction"), {"fields": (("date", "salesperson"), ("language", "subject"))}),
        (
            _("Correspondence"),
            {"fields": (("correspondence_type", "ignore_contact_correspondence_type"), "send_as_attachment")},
        ),
        (_("Campaign"), {"fields": ("campaign", ("campaign_target", "campaign_response"))}),
        (
            _("Defaults of the lines"),
            {"fields": (("information_flow", "initiated_by"), ("unit_cost", "unit_duration"))},
        ),
        (_("Lines"), {"fields": ("all_lines", ("created_at", "updated_at"))}),
    )

    def get_deleted_objects(self, objs, request):
        # A segment's lines, steps, language rows and undo history are part of it (F1.12):
        # deleting the segment deletes them, although they cannot be deleted one by one here.
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        own = {str(model._meta.verbose_name) for model in SEGMENT_ROWS}
        return to_delete, model_count, perms_needed - own, protected

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()  # a new segment has no rows of its own yet

    @admin.display(description=_("lines"))
    def all_lines(self, obj: Segment) -> str:
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:segments_segmentline_changelist") + f"?segment__id__exact={obj.pk}"
        worksheet = obj.get_absolute_url()
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>', url, _("All lines"), worksheet, _("Open the worksheet")
        )

    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The services are the transaction boundary (`atomic(durable=True)`); admin's own
        # atomic block around the whole view would nest them. The inlines are read-only, so
        # the service's transaction is the only write of a save.
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """Header changes go through the services, so lines follow the header (D1, D2)."""
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in services.HEADER_FIELDS}
        if change:
            updated = services.segment_update(user=request.user, segment=obj.no, values=values)
        else:
            updated = services.segment_create(user=request.user, values=values)
        for field in Segment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(updated, field.attname))
        obj._state.adding = False
        obj._state.db = updated._state.db


@admin.register(SegmentLine)
class SegmentLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "segment",
        "line_no",
        "contact",
        "step",
        "description",
        "correspondence_type",
        "language",
        "salesperson",
        "date",
        "cost",
    )
    list_filter = ("correspondence_type", "language", "interaction_template", "date")
    list_select_related = ("segment", "contact", "step")
    search_fields = ("segment__no", "contact__no", "contact__name", "description")
    autocomplete_fields = (
        "segment",
        "step",
        "contact",
        "alt_address",
        "interaction_template",
        "interaction_group",
        "salesperson",
        "campaign",
        "language",
    )
    readonly_fields = ("overridden",)
    show_full_result_count = False
    list_per_page = 50
    ordering = ("segment", "line_no")

    @admin.display(description=_("overridden fields"))
    def overridden(self, obj: SegmentLine) -> str:
        return ", ".join(obj.overridden_fields) or "—"


@admin.register(RemovedSegmentLine)
class RemovedSegmentLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("segment", "line_no", "contact", "removed_by", "step", "description")
    list_select_related = ("segment", "contact", "removed_by", "step")
    search_fields = ("segment__no", "contact__no", "contact__name")
    list_filter = ("removed_by__action",)
    autocomplete_fields = (
        "segment",
        "step",
        "removed_by",
        "contact",
        "alt_address",
        "interaction_template",
        "interaction_group",
        "salesperson",
        "campaign",
        "language",
    )
    show_full_result_count = False


class ChildStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CriteriaStep
    fk_name = "parent"
    extra = 0
    fields = ("position", "action", "filter", "lines_added", "lines_removed")
    readonly_fields = fields
    verbose_name_plural = _("replayed steps")


@admin.register(CriteriaStep)
class CriteriaStepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "segment",
        "position",
        "action",
        "filter",
        "manual",
        "source",
        "lines_added",
        "lines_removed",
        "created_by",
        "created_at",
    )
    list_filter = ("action", "manual", "created_at")
    list_select_related = ("segment", "created_by")
    search_fields = ("segment__no", "filter", "source")
    autocomplete_fields = ("segment", "parent", "created_by")
    inlines = (ChildStepInline,)
    ordering = ("segment", "position")


class SavedCriteriaStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SavedCriteriaStep
    extra = 0
    fields = (
        "position",
        "action",
        "filter",
        "allow_existing",
        "expand_contact",
        "allow_company_with_persons",
        "ignore_exclusion",
        "entire_companies",
        "manual",
        "lines_added",
        "lines_removed",
    )
    readonly_fields = fields
    ordering = ("position",)


@admin.register(SavedCriteria)
class SavedCriteriaAdmin(admin.ModelAdmin):
    """Rename a recipe's code and description; its steps are read-only (re-run, adjust, save anew)."""

    list_display = ("code", "description", "created_by", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("created_by",)
    search_fields = ("code", "description")
    autocomplete_fields = ("created_by",)
    readonly_fields = ("created_by", "created_at")
    inlines = (SavedCriteriaStepInline,)

    def has_add_permission(self, request) -> bool:
        return False  # saved criteria come from a segment's steps ("Save criteria" on the worksheet)


@admin.register(SavedCriteriaStep)
class SavedCriteriaStepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("saved_criteria", "position", "action", "filter", "entire_companies")
    list_filter = ("action",)
    list_select_related = ("saved_criteria",)
    search_fields = ("saved_criteria__code", "filter")
    autocomplete_fields = ("saved_criteria",)
    ordering = ("saved_criteria", "position")


@admin.register(SegmentLanguage)
class SegmentLanguageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("segment", "language", "description", "subject")
    list_filter = ("language",)
    list_select_related = ("segment", "language")
    search_fields = ("segment__no", "description", "subject")
    autocomplete_fields = ("segment", "language")


@admin.register(MergeJob)
class MergeJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Word merges started from worksheets (segments.merge.merge_job_start)."""

    list_display = ("id", "segment_no", "output", "state", "done", "total", "created_by", "created_at")
    list_filter = ("state", "output")
    search_fields = ("segment_no",)
    raw_id_fields = ("segment", "document", "created_by")


@admin.register(LogJob)
class LogJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Logs of large segments started from the Log page (segments.log_jobs.log_job_start)."""

    list_display = ("id", "segment_no", "lines", "state", "logged_segment", "created_by", "created_at", "finished_at")
    list_filter = ("state",)
    search_fields = ("segment_no",)
    raw_id_fields = ("segment", "logged_segment", "follow_up_segment", "delivery", "created_by")
