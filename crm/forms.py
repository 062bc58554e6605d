"""Forms of the contact pages.

`ContactEditForms` bundles what the create and edit pages post: the contact form, the
alternate addresses and the date ranges. It validates them together (a date range names one
of the alternate addresses kept by the same post) and turns the result into the keyword
arguments of `crm.services.contact_create` / `contact_update`; the forms never save.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.text import get_text_list
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from .consent import SOURCE_MAX_LENGTH, channel_label
from .models import (
    CONSENT_FIELDS,
    BusinessRelation,
    ConsentState,
    Contact,
    ContactAltAddress,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    ContactType,
    IndustryGroup,
    JobResponsibility,
    MailingGroup,
    join_person_name,
    split_person_name,
)
from .throttle import login_failures, login_wait_seconds
from .untrusted import CheckedForm, CheckedInputMixin, CheckedModelForm

NAME_PARTS = ("first_name", "middle_name", "surname")
PERSON_ONLY_FIELDS = ("first_name", "middle_name", "surname", "initials", "job_title", "company_no")
COMPANY_ONLY_CLASSIFICATIONS = ("industry_groups", "business_relations")
PERSON_ONLY_CLASSIFICATIONS = ("job_responsibilities",)
CLASSIFICATIONS = {
    "industry_groups": (ContactIndustryGroup, "industry_group_id"),
    "business_relations": (ContactBusinessRelation, "business_relation_id"),
    "mailing_groups": (ContactMailingGroup, "mailing_group_id"),
    "job_responsibilities": (ContactJobResponsibility, "job_responsibility_id"),
}
# The browser's date picker with ISO dates: every date box of every app.
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def classification_field(queryset, label: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=queryset,
        required=False,
        label=label,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Ctrl-click (⌘-click) to pick several."),
    )


class ContactForm(CheckedModelForm):
    """A company's or a person's own fields, classifications and (persons) company.

    The type is fixed by the page (`contact_type`) and never offered: a contact keeps its type.
    Fields that do not apply to the type are not in the form, so a post cannot set them.

    The company is entered by its no., not picked from a list: a list of every company does
    not scale to a million contacts. The no. must name a company contact.

    The name rule for persons (SPEC F1.1): when the Name was changed, it is split into first
    name, middle name and surname; when a part was changed, Name is rebuilt from the parts.
    When both were changed in one post, the parts win: they come after Name on the page, so
    they are what the user typed last, and a Name that does not split well (``Jan van Dijk``)
    is fixed by correcting the parts.

    Consent (CONTRACT "Consent per channel"): the three states are selects, not model fields
    of the form (a contact's save never writes them); a post that changes one must say where
    the change comes from ("Source of the change"), which the history keeps with the user.
    The services write the changed states through crm.consent, in the contact's transaction.
    """

    company_no = forms.CharField(
        label=_("Company no."),
        max_length=20,
        required=False,
        help_text=_("The no. of the company this person works for; blank for a private person."),
    )
    version = forms.CharField(widget=forms.HiddenInput, required=False)
    industry_groups = classification_field(IndustryGroup.objects.all(), _("Industry groups"))
    business_relations = classification_field(BusinessRelation.objects.all(), _("Business relations"))
    mailing_groups = classification_field(MailingGroup.objects.all(), _("Mailing groups"))
    job_responsibilities = classification_field(JobResponsibility.objects.all(), _("Job responsibilities"))
    # Not required: a post without a state (an older page, a script) leaves the channel as it is.
    email_consent = forms.ChoiceField(label=_("E-mail consent"), choices=ConsentState.choices, required=False)
    postal_consent = forms.ChoiceField(label=_("Postal consent"), choices=ConsentState.choices, required=False)
    phone_consent = forms.ChoiceField(label=_("Phone consent"), choices=ConsentState.choices, required=False)
    consent_source = forms.CharField(
        label=_("Source of the change"),
        max_length=SOURCE_MAX_LENGTH,
        required=False,
        help_text=_("Required when a consent changes, e.g. “phone call”, “written request”."),
    )

    error_messages = {
        "unknown_company": _('unknown company no. "%(no)s"'),
        "not_a_company": _('"%(no)s" is a person, not a company'),
        "bad_version": _("The page is out of date: reload it and make your change again."),
        "name_required": _("Type the name, or the first name and surname."),
        "consent_source_required": _(
            "Say where the change of %(channels)s consent comes from, e.g. “phone call” or “written request”."
        ),
        "part_too_long": _(
            "Split into first name, middle name and surname, the %(part)s would have %(length)d characters "
            "(at most %(max)d). Type the name parts instead."
        ),
    }

    class Meta:
        model = Contact
        fields = [
            "no",
            "name",
            "name_2",
            "first_name",
            "middle_name",
            "surname",
            "initials",
            "job_title",
            "address",
            "address_2",
            "post_code",
            "city",
            "county",
            "country",
            "territory",
            "phone",
            "mobile_phone",
            "email",
            "salesperson",
            "language",
            "salutation",
            "correspondence_type",
            "exclude_from_segment",
        ]
        widgets = {"address": forms.TextInput, "address_2": forms.TextInput}

    def __init__(self, *args: Any, contact_type: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact_type = contact_type
        self.instance.type = contact_type
        is_person = contact_type == ContactType.PERSON
        not_for_type = COMPANY_ONLY_CLASSIFICATIONS if is_person else PERSON_ONLY_FIELDS + PERSON_ONLY_CLASSIFICATIONS
        for name in not_for_type:
            self.fields.pop(name)
        self.fields["no"].required = False
        for field in CONSENT_FIELDS.values():
            self.initial[field] = getattr(self.instance, field)
        if self.instance.pk:
            self.initial["version"] = self.instance.updated_at.isoformat()
            self.fields["no"].disabled = True
            self.fields["no"].help_text = _("A contact keeps its no.")
            for name, (link_model, field) in CLASSIFICATIONS.items():
                if name in self.fields:
                    self.initial[name] = list(
                        link_model.objects.filter(contact=self.instance).values_list(field, flat=True)
                    )
            if is_person and self.instance.company_id:
                company = self.instance.company
                self.initial["company_no"] = company.no
                self.fields["company_no"].help_text = _("Now: %(name)s. Blank for a private person.") % {
                    "name": company.name
                }
        else:
            self.fields["no"].help_text = _("Leave blank for the next number of the contact series.")
        if is_person:
            self.fields["name"].required = False
            self.fields["name"].help_text = _("Typing a name fills the parts below; typing the parts rebuilds it.")

    def clean_version(self) -> datetime.datetime | None:
        """When the edited contact was last saved as the user saw it (None on create)."""
        if not self.instance.pk:
            return None
        try:
            return datetime.datetime.fromisoformat(self.cleaned_data["version"])
        except ValueError:
            raise ValidationError(self.error_messages["bad_version"], code="bad_version") from None

    def clean_company_no(self) -> Contact | None:
        no = self.cleaned_data["company_no"].strip()
        if not no:
            return None
        company = Contact.objects.filter(no=no).first()
        if company is None:
            raise ValidationError(self.error_messages["unknown_company"], code="unknown_company", params={"no": no})
        if company.type != ContactType.COMPANY:
            raise ValidationError(self.error_messages["not_a_company"], code="not_a_company", params={"no": no})
        return company

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.contact_type == ContactType.PERSON:
            self._apply_name_rule(cleaned)
            if "company_no" in cleaned:
                self.instance.company = cleaned["company_no"]
        self._check_consent_source(cleaned)
        return cleaned

    def consent_changes(self) -> dict[str, str]:
        """{channel: state} of the channels this post changes (from the states it was built on)."""
        cleaned = self.cleaned_data
        return {
            channel: cleaned[field]
            for channel, field in CONSENT_FIELDS.items()
            if cleaned.get(field) and cleaned[field] != self.initial[field]
        }

    def _check_consent_source(self, cleaned: dict) -> None:
        changed = self.consent_changes()
        if not changed or cleaned.get("consent_source") or "consent_source" in self.errors:
            return
        if self.instance.pk and cleaned.get("version") and cleaned["version"] != self.instance.updated_at:
            return  # saved by someone else meanwhile: the service refuses the post and says so
        self.add_error(
            "consent_source",
            ValidationError(
                self.error_messages["consent_source_required"],
                code="consent_source_required",
                params={"channels": get_text_list([channel_label(channel) for channel in changed], gettext("and"))},
            ),
        )

    def _apply_name_rule(self, cleaned: dict) -> None:
        if any(part in self.changed_data for part in NAME_PARTS):
            rebuilt = join_person_name(*(cleaned.get(part, "") for part in NAME_PARTS))
            if rebuilt:
                cleaned["name"] = rebuilt
        elif "name" in self.changed_data and cleaned.get("name"):
            parts = split_person_name(cleaned["name"])
            for part, value in zip(NAME_PARTS, parts, strict=True):
                max_length = Contact._meta.get_field(part).max_length
                if len(value) > max_length:
                    self.add_error(
                        "name",
                        ValidationError(
                            self.error_messages["part_too_long"],
                            code="part_too_long",
                            params={
                                "part": Contact._meta.get_field(part).verbose_name,
                                "length": len(value),
                                "max": max_length,
                            },
                        ),
                    )
                    return
            cleaned.update(zip(NAME_PARTS, parts, strict=True))
        if not cleaned.get("name") and "name" not in self.errors:
            self.add_error("name", ValidationError(self.error_messages["name_required"], code="name_required"))

    def service_kwargs(self) -> dict:
        """`data` and classification arguments for contact_create / contact_update."""
        data = {name: self.cleaned_data[name] for name in self._meta.fields if name in self.fields}
        data["name"] = self.cleaned_data["name"]
        if self.contact_type == ContactType.PERSON:
            data["company"] = self.cleaned_data.get("company_no")
            data.update({part: self.cleaned_data.get(part, "") for part in NAME_PARTS})
        kwargs: dict[str, Any] = {
            "data": data,
            "consent": self.consent_changes(),
            "consent_source": self.cleaned_data.get("consent_source", ""),
        }
        if self.instance.pk:
            data.pop("no", None)
            kwargs["if_unchanged_since"] = self.cleaned_data["version"]
        else:
            data["type"] = self.contact_type
        for name in CLASSIFICATIONS:
            if name in self.fields:
                kwargs[name] = list(self.cleaned_data.get(name) or [])
        return kwargs


class AltAddressForm(CheckedModelForm):
    """One alternate address, identified by its code within the contact.

    The code of a stored address is shown read-only: date ranges and letters refer to it.
    The post is matched by code, not by position, so a form can never write one address's
    values onto another.
    """

    class Meta:
        model = ContactAltAddress
        fields = [
            "code",
            "company_name",
            "company_name_2",
            "address",
            "address_2",
            "post_code",
            "city",
            "county",
            "country",
            "phone",
            "mobile_phone",
            "email",
        ]
        widgets = {"address": forms.TextInput, "address_2": forms.TextInput}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.initial.get("code"):
            self.fields["code"].widget.attrs["readonly"] = True

    def validate_unique(self) -> None:
        # Unique per contact; the formset checks the codes of one post against each other.
        pass


class BaseAltAddressFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.kept_forms():
            code = form.cleaned_data["code"]
            if code in seen:
                raise ValidationError(
                    _('Two alternate addresses have the code "%(code)s".'), code="duplicate_code", params={"code": code}
                )
            seen.add(code)

    def kept_forms(self) -> list[AltAddressForm]:
        return [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("code")
        ]

    def deleted_codes(self) -> set[str]:
        return {
            form.cleaned_data["code"]
            for form in self.forms
            if form.cleaned_data and form.cleaned_data.get("DELETE") and form.cleaned_data.get("code")
        }


def capped_formset(form: type[forms.Form], formset: type[forms.BaseFormSet], *, max_num: int):
    """A formset of at most `max_num` forms, each with a delete box, and one empty form to fill.

    A post that claims more forms (its TOTAL_FORMS) is an error and builds no more than
    `max_num` of them (`absolute_max`): Django's default builds up to 1,000 more, which costs
    seconds and megabytes for a request of a few bytes.
    """
    return forms.formset_factory(
        form, formset=formset, extra=1, can_delete=True, max_num=max_num, absolute_max=max_num, validate_max=True
    )


AltAddressFormSet = capped_formset(AltAddressForm, BaseAltAddressFormSet, max_num=50)


class DateRangeForm(CheckedForm):
    """When one alternate address is in use (SPEC F1.2): from a date, to a date or open-ended."""

    alt_address_code = forms.CharField(
        label=_("Alternate address code"),
        max_length=10,
        widget=forms.TextInput(attrs={"list": "alt-address-codes", "autocomplete": "off"}),
    )
    starting_date = forms.DateField(label=_("Starting date"), widget=DATE_INPUT)
    ending_date = forms.DateField(label=_("Ending date"), required=False, widget=DATE_INPUT)

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("starting_date"), cleaned.get("ending_date")
        if start and end and start > end:
            self.add_error(
                "ending_date",
                ValidationError(_("The ending date must not be before the starting date."), code="start_after_end"),
            )
        return cleaned


class BaseDateRangeFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set = set()
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE"):
                continue
            if data["starting_date"] in seen:
                raise ValidationError(
                    _("Two date ranges start on %(date)s; a starting date is unique per contact."),
                    code="duplicate_start",
                    params={"date": data["starting_date"].isoformat()},
                )
            seen.add(data["starting_date"])


DateRangeFormSet = capped_formset(DateRangeForm, BaseDateRangeFormSet, max_num=100)


class ContactEditForms:
    """The contact form and its two formsets, validated together.

    A date range must name an alternate address that this post keeps (stored or new). The
    ranges of an address the post deletes go with it (SPEC F1.2) unless they were changed in
    the same post, which is an error (the user meant to keep them).
    """

    error_messages = {
        "unknown_code": _('unknown alternate address code "%(code)s" (this contact has: %(codes)s)'),
        "deleted_code": _('the alternate address "%(code)s" is being deleted'),
    }

    def __init__(
        self, *, contact_type: str, instance: Contact | None = None, data=None, initial: dict | None = None
    ) -> None:
        self.instance = instance
        alt_initial, range_initial = [], []
        if instance is not None and instance.pk:
            for row in instance.alt_addresses.all():
                alt_initial.append(
                    {field: getattr(row, field) for field in AltAddressForm._meta.fields if field != "country"}
                    | {"country": row.country_id}
                )
            for row in instance.alt_address_ranges.select_related("alt_address"):
                range_initial.append(
                    {
                        "alt_address_code": row.alt_address.code,
                        "starting_date": row.starting_date,
                        "ending_date": row.ending_date,
                    }
                )
        self.form = ContactForm(data, instance=instance, contact_type=contact_type, initial=initial)
        self.alt_addresses = AltAddressFormSet(data, initial=alt_initial, prefix="alt")
        self.date_ranges = DateRangeFormSet(data, initial=range_initial, prefix="range")
        self.known_codes = [row["code"] for row in alt_initial]

    def is_valid(self) -> bool:
        """All three valid, and every date range names a kept address (all problems reported at once)."""
        form_valid = self.form.is_valid()
        alt_valid = self.alt_addresses.is_valid()
        ranges_valid = self.date_ranges.is_valid()
        return alt_valid and ranges_valid and self._range_codes_valid() and form_valid

    def _range_codes_valid(self) -> bool:
        valid = True
        kept = {form.cleaned_data["code"] for form in self.alt_addresses.kept_forms()}
        deleted = self.alt_addresses.deleted_codes()
        for form in self.date_ranges.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE"):
                continue
            code = data["alt_address_code"]
            if code in kept:
                continue
            if code in deleted and form.initial and not form.has_changed():
                continue  # goes with its address
            key = "deleted_code" if code in deleted else "unknown_code"
            form.add_error(
                "alt_address_code",
                ValidationError(
                    self.error_messages[key],
                    code=key,
                    params={"code": code, "codes": ", ".join(sorted(kept)) or "none"},
                ),
            )
            valid = False
        return valid

    @property
    def errors_count(self) -> int:
        return (
            len(self.form.errors)
            + sum(len(errors) for errors in self.alt_addresses.errors)
            + len(self.alt_addresses.non_form_errors())
            + sum(len(errors) for errors in self.date_ranges.errors)
            + len(self.date_ranges.non_form_errors())
        )

    def service_kwargs(self) -> dict:
        kwargs = self.form.service_kwargs()
        kwargs["alt_addresses"] = [
            {field: form.cleaned_data.get(field) for field in AltAddressForm._meta.fields}
            for form in self.alt_addresses.kept_forms()
        ]
        kept = {row["code"] for row in kwargs["alt_addresses"]}
        kwargs["date_ranges"] = [
            {
                "alt_address_code": form.cleaned_data["alt_address_code"],
                "starting_date": form.cleaned_data["starting_date"],
                "ending_date": form.cleaned_data.get("ending_date"),
            }
            for form in self.date_ranges.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data["alt_address_code"] in kept
        ]
        return kwargs

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the form: on its field when the form has it."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                if field in self.form.fields:
                    self.form.add_error(field, errors)
                else:
                    label = field.replace("_", " ")
                    self.form.add_error(None, [f"{label}: {message}" for message in ValidationError(errors).messages])
        else:
            self.form.add_error(None, error)


class ThrottledLoginMixin(CheckedInputMixin):
    """A log-in form that checks raw input (CheckedInputMixin) and is slowed by recent failures
    (crm/throttle.py).

    A try made too soon after the last failure is refused before the password is checked, so it
    neither costs a password hash nor tells anything; `throttled` lets the view answer 429.
    """

    throttled = False
    throttled_message = ngettext_lazy(
        "Too many failed attempts: wait %(seconds)d second before trying again.",
        "Too many failed attempts: wait %(seconds)d seconds before trying again.",
        "seconds",
    )

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is not None and self.cleaned_data.get("password"):
            seconds = login_wait_seconds(login_failures(self.request, username))
            if seconds:
                self.throttled = True
                raise ValidationError(self.throttled_message, code="throttled", params={"seconds": seconds})
        return super().clean()


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """The log-in page's form."""


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """Django admin's own log-in form, slowed the same way (crm/admin.py)."""
