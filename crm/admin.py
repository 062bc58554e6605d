"""Django admin for every model of the crm app (admins keep reference data here).

Marketing staff work in the pages; admin is for staff admins. Foreign keys use
autocomplete (a contact table of a million rows cannot be a <select>), the contact list
never counts the whole table, and contacts cannot be bulk-deleted from the list.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessLogAdmin
from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.db.models import OuterRef, Q, Subquery, Sum
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext

from . import hooks, services
from .forms import AdminLoginForm
from .models import (
    BusinessRelation,
    Campaign,
    Chore,
    ConsentChange,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    ContactType,
    Country,
    IndustryGroup,
    JobResponsibility,
    Language,
    MailingGroup,
    NumberSeries,
    Profile,
    Salesperson,
    Salutation,
    SalutationFormula,
    Territory,
    UserPreference,
    WorkerProcess,
)
from .untrusted import CheckedModelForm


class CodedAdmin(admin.ModelAdmin):
    """Reference data keyed by code: search by code or description."""

    list_display = ("code", "name")
    search_fields = ("code", "name")
    ordering = ("code",)

    def get_readonly_fields(self, request, obj=None):
        # The code is the key other rows store; changing it would orphan them.
        return ("code",) if obj is not None else ()


for model in (Country, Language, Territory, IndustryGroup, BusinessRelation, MailingGroup, JobResponsibility):
    admin.site.register(model, CodedAdmin)


@admin.register(Salesperson)
class SalespersonAdmin(CodedAdmin):
    list_display = ("code", "name", "email", "phone", "job_title", "blocked")
    list_filter = ("blocked",)
    search_fields = ("code", "name", "email")


class SalutationFormulaInline(admin.TabularInline):
    model = SalutationFormula
    extra = 0
    fields = ("language", "type", "formula")
    autocomplete_fields = ("language",)


@admin.register(Salutation)
class SalutationAdmin(CodedAdmin):
    inlines = (SalutationFormulaInline,)


@admin.register(SalutationFormula)
class SalutationFormulaAdmin(admin.ModelAdmin):
    list_display = ("salutation", "language", "type", "formula")
    list_filter = ("type", "language")
    search_fields = ("salutation__code", "formula")
    autocomplete_fields = ("salutation", "language")
    list_select_related = ("salutation", "language")


@admin.register(NumberSeries)
class NumberSeriesAdmin(admin.ModelAdmin):
    list_display = ("code", "prefix", "digits", "last_no", "next_number")
    search_fields = ("code", "prefix")

    @admin.display(description=_("next number"))
    def next_number(self, obj: NumberSeries) -> str:
        return obj.format(obj.last_no + 1)

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()


class NumberFromSeriesForm(CheckedModelForm):
    """`no` may be left blank: the number series then gives it when the row is saved."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "no" in self.fields:
            self.fields["no"].required = False
            self.fields["no"].help_text = _("Leave blank for the next number of the series.")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = NumberFromSeriesForm
    list_display = ("no", "description", "starting_date", "ending_date", "salesperson")
    list_filter = ("salesperson", "starting_date")
    search_fields = ("no", "description")
    autocomplete_fields = ("salesperson",)
    list_select_related = ("salesperson",)
    date_hierarchy = "starting_date"

    def save_model(self, request, obj, form, change):
        if not obj.no:
            obj.no = services.number_series_next(code="CAMPAIGN")[0]
        super().save_model(request, obj, form, change)


class AltAddressInline(admin.StackedInline):
    model = ContactAltAddress
    extra = 0
    autocomplete_fields = ("country",)
    fields = (
        ("code", "company_name", "company_name_2"),
        ("address", "address_2"),
        ("post_code", "city", "county", "country"),
        ("phone", "mobile_phone", "email"),
    )


class DateRangeInline(admin.TabularInline):
    model = ContactAltAddressDateRange
    extra = 0
    fields = ("alt_address", "starting_date", "ending_date")

    def get_formset(self, request, obj=None, **kwargs):
        # Only this contact's alternate addresses may be picked (saved ones: add the address
        # first, then its range).
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields["alt_address"]
        field.queryset = ContactAltAddress.objects.filter(contact=obj) if obj is not None else field.queryset.none()
        return formset


class ClassificationInline(admin.TabularInline):
    extra = 0


class IndustryGroupInline(ClassificationInline):
    model = ContactIndustryGroup
    autocomplete_fields = ("industry_group",)


class BusinessRelationInline(ClassificationInline):
    model = ContactBusinessRelation
    autocomplete_fields = ("business_relation",)


class MailingGroupInline(ClassificationInline):
    model = ContactMailingGroup
    autocomplete_fields = ("mailing_group",)


class JobResponsibilityInline(ClassificationInline):
    model = ContactJobResponsibility
    autocomplete_fields = ("job_responsibility",)


ANONYMISE_SHOWN = 20  # contacts listed by name on the anonymise confirmation page


class ConsentChangeInline(admin.TabularInline):
    """A contact's consent history, read-only: consent changes only through crm.consent (the
    contact page, the `contact consent` command, an import, an unsubscribe link)."""

    model = ConsentChange
    fields = ("at", "channel", "state", "user", "source", "logged_segment_id")
    readonly_fields = fields
    ordering = ("-at", "-id")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    """Contacts: a million rows, so no full count, autocomplete for references, no bulk delete.

    The inlines offered follow the contact's type: industry groups and business relations
    for companies, job responsibilities for persons (the database refuses the others). A new
    contact gets its classifications and date ranges once it is saved.
    """

    form = NumberFromSeriesForm
    list_display = ("no", "type", "name", "company", "city", "country", "salesperson", "email")
    list_filter = (
        "type",
        "exclude_from_segment",
        "correspondence_type",
        "country",
        "territory",
        "language",
        "salesperson",
    )
    list_select_related = ("company", "country", "salesperson")
    search_fields = ("^no", "name", "=email")
    autocomplete_fields = ("company", "country", "territory", "salesperson", "language", "salutation")
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ("created_at", "updated_at", "email_consent", "postal_consent", "phone_consent")
    fieldsets = (
        (None, {"fields": ("no", "type", "company", "name", "name_2")}),
        (_("Person"), {"fields": (("first_name", "middle_name", "surname"), ("initials", "job_title"))}),
        (
            _("Address and communication"),
            {
                "fields": (
                    "address",
                    "address_2",
                    ("post_code", "city", "county"),
                    ("country", "territory"),
                    ("phone", "mobile_phone", "email"),
                )
            },
        ),
        (
            _("Marketing"),
            {
                "fields": (
                    ("salesperson", "language", "salutation"),
                    ("correspondence_type", "exclude_from_segment"),
                    ("email_consent", "postal_consent", "phone_consent"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    def get_inlines(self, request, obj):
        if obj is None:
            return (AltAddressInline, MailingGroupInline)
        if obj.type == ContactType.COMPANY:
            return (
                AltAddressInline,
                DateRangeInline,
                IndustryGroupInline,
                BusinessRelationInline,
                MailingGroupInline,
                ConsentChangeInline,
            )
        return (AltAddressInline, DateRangeInline, MailingGroupInline, JobResponsibilityInline, ConsentChangeInline)

    actions = ("anonymise_selected",)

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    def has_anonymise_permission(self, request) -> bool:
        """Anonymising replaces personal data for good: admins (SPEC D15)."""
        return request.user.has_perm("crm.delete_contact") and request.user.has_perm(
            "interactions.add_contactanonymisation"
        )

    @admin.action(permissions=["anonymise"], description=_("Anonymise selected contacts"))
    def anonymise_selected(self, request, queryset):
        """Contacts with history cannot be deleted (D15); this replaces their name, address,
        e-mail and phone instead. A confirmation page first (showing the count and the first
        contacts); the confirmed POST anonymises all of them in one transaction."""
        if request.POST.get("confirm") == "yes":
            count = hooks.contacts_anonymise(user=request.user, contacts=queryset)
            self.message_user(
                request,
                ngettext(
                    "%(count)d contact was anonymised: name, address, e-mail and phone replaced; "
                    "its number, interaction log entries and segment lines stay.",
                    "%(count)d contacts were anonymised: names, addresses, e-mails and phones replaced; "
                    "their numbers, interaction log entries and segment lines stay.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Anonymise contacts?"),
            "opts": self.model._meta,
            "count": count,
            "shown": list(queryset.order_by("no")[:ANONYMISE_SHOWN]),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "anonymise_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "query_string": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/crm/contact/anonymise_confirmation.html", context)

    def save_model(self, request, obj, form, change):
        if not obj.no:
            obj.no = services.contact_next_no()
        super().save_model(request, obj, form, change)


class ContactRowAdmin(admin.ModelAdmin):
    """Rows that belong to one contact, searchable by the contact's no. or name."""

    autocomplete_fields = ("contact",)
    list_select_related = ("contact",)
    search_fields = ("contact__no", "contact__name")
    show_full_result_count = False


@admin.register(ContactAltAddress)
class ContactAltAddressAdmin(ContactRowAdmin):
    list_display = ("contact", "code", "address", "post_code", "city", "country")
    list_filter = ("country",)
    search_fields = ("contact__no", "contact__name", "code", "city")
    autocomplete_fields = ("contact", "country")


@admin.register(ContactAltAddressDateRange)
class ContactAltAddressDateRangeAdmin(ContactRowAdmin):
    list_display = ("contact", "alt_address", "starting_date", "ending_date")
    list_filter = ("starting_date",)
    list_select_related = ("contact", "alt_address")
    autocomplete_fields = ("contact", "alt_address")


class ClassificationLinkAdmin(ContactRowAdmin):
    """A contact's classification rows: edited on the contact, so left out of the admin index.

    Their verbose names equal those of the classifications themselves ("industry groups"),
    so listing both would show two identical entries; their lists stay reachable by URL.
    """

    def has_module_permission(self, request):
        return False


@admin.register(ContactIndustryGroup)
class ContactIndustryGroupAdmin(ClassificationLinkAdmin):
    list_display = ("contact", "industry_group")
    list_filter = ("industry_group",)
    autocomplete_fields = ("contact", "industry_group")


@admin.register(ContactBusinessRelation)
class ContactBusinessRelationAdmin(ClassificationLinkAdmin):
    list_display = ("contact", "business_relation")
    list_filter = ("business_relation",)
    autocomplete_fields = ("contact", "business_relation")


@admin.register(ContactMailingGroup)
class ContactMailingGroupAdmin(ClassificationLinkAdmin):
    list_display = ("contact", "mailing_group")
    list_filter = ("mailing_group",)
    autocomplete_fields = ("contact", "mailing_group")


@admin.register(ContactJobResponsibility)
class ContactJobResponsibilityAdmin(ClassificationLinkAdmin):
    list_display = ("contact", "job_responsibility")
    list_filter = ("job_responsibility",)
    autocomplete_fields = ("contact", "job_responsibility")


class WatchOnlyAdmin(admin.ModelAdmin):
    """Rows the task workers write themselves (crm.worker): shown, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ConsentChange)
class ConsentChangeAdmin(WatchOnlyAdmin):
    """Every consent change of every contact, read-only (the history is append-only)."""

    list_display = ("at", "contact", "channel", "state", "user", "source", "logged_segment_id")
    list_filter = ("channel", "state")
    list_select_related = ("contact", "user")
    raw_id_fields = ("contact", "user")
    search_fields = ("contact__no", "source")
    ordering = ("-at", "-id")
    show_full_result_count = False


@admin.register(WorkerProcess)
class WorkerProcessAdmin(WatchOnlyAdmin):
    list_display = ("worker_id", "hostname", "pid", "started_at", "seen_at")
    search_fields = ("worker_id", "hostname")
    ordering = ("-seen_at",)


@admin.register(Chore)
class ChoreAdmin(WatchOnlyAdmin):
    list_display = ("name", "last_run_at")
    search_fields = ("name",)


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    """What users chose to keep in the pages (which worksheet panels are open)."""

    list_display = ("user", "key", "value")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = ("user__username", "key")
    ordering = ("user", "key")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """Users' own settings (the profile page): the language of their pages and where their
    test e-mails go. A changed language applies from the user's next log-in."""

    list_display = ("user", "language", "test_email")
    list_filter = ("language",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = ("user__username", "test_email")
    ordering = ("user__username",)


# --- Log-in attempts (django-axes; settings "Login throttling") ---------------------------------


# django-axes ships no Danish, Norwegian or Finnish catalogue: the names admin shows for its
# models are translated in ours (a message id is one across catalogues), and its app gets a name.
AXES_NAMES = (
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    """Failed log-ins, one row per username, address and browser, with whether the row's username
    or address is locked out now (axes' own status looks at the one row, not at the sums that
    lock). Admins clear a lock-out with the action below or by deleting the rows."""

    list_display = [
        "attempt_time",
        "username",
        "ip_address",
        "user_agent",
        "failures_since_start",
        "username_failures",
        "address_failures",
        "locked_out",
    ]
    list_filter = ["attempt_time"]
    actions = ["clear_lockouts", "cleanup_expired_attempts"]

    def get_queryset(self, request):
        recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - get_cool_off(request)).order_by()

        def total(field):
            rows = recent.filter(**{field: OuterRef(field)}).values(field).annotate(total=Sum("failures_since_start"))
            return Subquery(rows.values("total")[:1])

        return (
            super().get_queryset(request).annotate(username_total=total("username"), address_total=total("ip_address"))
        )

    @admin.display(description=_("failures of the username"), ordering="username_total")
    def username_failures(self, obj) -> int:
        return obj.username_total or 0

    @admin.display(description=_("failures from the address"), ordering="address_total")
    def address_failures(self, obj) -> int:
        return obj.address_total or 0

    @admin.display(description=_("locked out"), boolean=True)
    def locked_out(self, obj) -> bool:
        return max(obj.username_total or 0, obj.address_total or 0) >= settings.AXES_FAILURE_LIMIT

    @admin.action(permissions=["delete"], description=_("Clear the lock-outs of the selected usernames and addresses"))
    def clear_lockouts(self, request, queryset):
        """Deletes every failure of the selected rows' usernames and addresses, so none of them
        stays locked (one DELETE)."""
        usernames = set(queryset.exclude(username=None).values_list("username", flat=True))
        addresses = set(queryset.exclude(ip_address=None).values_list("ip_address", flat=True))
        count, _deleted = AccessAttempt.objects.filter(Q(username__in=usernames) | Q(ip_address__in=addresses)).delete()
        self.message_user(
            request,
            ngettext(
                "%(count)d failed log-in record deleted: those usernames and addresses may log in again.",
                "%(count)d failed log-in records deleted: those usernames and addresses may log in again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


admin.site.register(AccessLog, AccessLogAdmin)
admin.site.login_form = AdminLoginForm  # slowed like the log-in page; axes locks both
