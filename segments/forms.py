"""Forms of the segment pages. They validate input and hand it to segments.services; none saves.

- `SegmentCreateForm`, `SegmentHeaderForm`: header fields; `values()` gives only the fields the
  user changed, so a template chosen in the same post keeps the defaults it brings (SPEC R2:
  options given win over the template's defaults, options not given do not).
- `StepInput`: the criteria panel, i.e. the action (add/reduce/refine), its options and the
  contact criteria of `crm.filters.ContactFilterSet`, validated strictly (an unknown name or
  code is an error, never "all contacts").
- `LineForm`: one line's interaction fields; changed fields become overrides (D1), `reset`
  names overridden fields that follow the header again.
- `AddContactForm`, `SaveCriteriaForm`, `ReuseCriteriaForm`: the small forms of the worksheet.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import BoundField
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.filters import CodeFilter, ContactFilterSet
from crm.forms import DATE_INPUT
from crm.models import Contact
from crm.search import MAX_QUERY_LENGTH, contacts_named
from crm.selectors import reference_choices
from crm.untrusted import CheckedForm, CheckedModelForm, IdField

from . import selectors
from .models import Segment, SegmentLine, StepAction
from .services import ADD_OPTIONS, HEADER_FIELDS, LINE_FIELDS

CANDIDATES = 10  # contacts of one name the worksheet offers to choose from

MONEY_INPUT = forms.NumberInput(attrs={"step": "0.01", "min": "0"})

# The header fields in the order the page shows them.
HEADER_FIELD_ORDER = (
    "description",
    "interaction_template",
    "campaign",
    "salesperson",
    "date",
    "language",
    "subject",
    "correspondence_type",
    "ignore_contact_correspondence_type",
    "information_flow",
    "initiated_by",
    "unit_cost",
    "unit_duration",
    "campaign_target",
    "campaign_response",
    "send_as_attachment",
)
# What `segment create` offers (CONTRACT.md); the other header fields are set on the worksheet.
CREATE_FIELDS = (
    "description",
    "interaction_template",
    "campaign",
    "salesperson",
    "date",
    "language",
    "subject",
    "correspondence_type",
    "campaign_target",
    "send_as_attachment",
)


def no_hidden_initial(form: forms.BaseForm) -> None:
    """Judge "changed" against the value shown (the instance's), not a hidden copy of a callable default."""
    for field in form.fields.values():
        field.show_hidden_initial = False


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the form has the field."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            if field in form.fields:
                form.add_error(field, messages)
            else:
                prefix = "" if field == NON_FIELD_ERRORS else f"{field}: "
                form.add_error(None, [prefix + message for message in messages])
    else:
        form.add_error(None, error.messages)


class HeaderFieldsForm(CheckedModelForm):
    """Header fields of a segment; `values()` holds only what the user changed."""

    class Meta:
        model = Segment
        fields = HEADER_FIELD_ORDER
        widgets = {
            "date": DATE_INPUT,
            "unit_cost": MONEY_INPUT,
            "unit_duration": MONEY_INPUT,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        no_hidden_initial(self)

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in HEADER_FIELDS}

    def changed_labels(self) -> list[str]:
        return [str(self.fields[name].label).lower() for name in self.changed_data if name in HEADER_FIELDS]


class SegmentCreateForm(HeaderFieldsForm):
    """A new segment: the fields of `segment create`; a template fills in the fields left unchanged."""

    class Meta(HeaderFieldsForm.Meta):
        fields = CREATE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["description"].required = True
        self.fields["interaction_template"].help_text = _(
            "Its defaults (language, cost, duration, correspondence type, campaign …) fill the fields you leave "
            "unchanged."
        )


class SegmentHeaderForm(HeaderFieldsForm):
    """Every header field of the worksheet (prefix "header" so names never clash with criteria)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "header")
        super().__init__(*args, **kwargs)
        self.fields["interaction_template"].help_text = _(
            "Changing it applies its defaults and re-derives the lines that follow the header."
        )


STEP_ACTIONS = (StepAction.ADD, StepAction.REDUCE, StepAction.REFINE)


class StepOptionsForm(CheckedForm):
    action = forms.ChoiceField(label=_("Action"), choices=[(action.value, action.label) for action in STEP_ACTIONS])
    allow_existing = forms.BooleanField(
        label=_("Allow existing contacts"),
        required=False,
        help_text=_("Add another line for a contact already in the segment."),
    )
    expand_contact = forms.BooleanField(
        label=_("Expand contact"),
        required=False,
        help_text=_("Replace each contact of a company by the company and all its persons."),
    )
    allow_company_with_persons = forms.BooleanField(
        label=_("Allow company with persons"),
        required=False,
        help_text=_("Also add the company of each person found."),
    )
    ignore_exclusion = forms.BooleanField(
        label=_("Ignore exclusion"),
        required=False,
        help_text=_("Include contacts marked “exclude from segment”."),
    )
    entire_companies = forms.BooleanField(
        label=_("Entire companies"),
        required=False,
        help_text=_("A line matches when any contact of its company matches."),
    )


# Keys of the criteria form that are not contact criteria.
STEP_FORM_KEYS = ("csrfmiddlewaretoken", "action", *ADD_OPTIONS, "entire_companies", "dry_run", "panel")


class StepInput:
    """The criteria panel's input: an action, its options and the contact criteria.

    Bound to a POST (run the step), a GET (preview) or nothing (the empty panel). The
    criteria are validated by ContactFilterSet strictly; keys of this form other than the
    criteria are ignored by the filter set, any other unknown key is an error.
    """

    def __init__(self, data=None, *, action: str = StepAction.ADD):
        if action not in STEP_ACTIONS:
            action = StepAction.ADD
        self.options_form = StepOptionsForm(data, initial={"action": action}, auto_id="step_%s")
        self.filterset = ContactFilterSet(data, ignore=STEP_FORM_KEYS)
        self.filterset.form.auto_id = "crit_%s"
        self.is_bound = data is not None
        self._initial_action = action

    @property
    def action(self) -> str:
        if self.is_bound:
            value = self.options_form.data.get("action")
            if value in STEP_ACTIONS:
                return value
        return self._initial_action

    def is_valid(self) -> bool:
        options_valid = self.options_form.is_valid()
        return self.filterset.is_valid() and options_valid

    def error_lines(self) -> list[str]:
        lines = self.filterset.error_lines()
        if self.is_bound:
            for name, errors in self.options_form.errors.items():
                lines.extend(f"{name}: {message}" for message in errors)
        return lines

    def query(self) -> str:
        """The criteria as a canonical QUERY string (names in filter order, no empty values)."""
        return self.filterset.canonical_query()

    def options(self) -> dict[str, bool]:
        """The options the action takes, as service keyword arguments."""
        data = self.options_form.cleaned_data
        if self.action == StepAction.ADD:
            return {name: data[name] for name in ADD_OPTIONS}
        return {"entire_companies": data["entire_companies"]}

    def option_fields(self) -> list[BoundField]:
        names = ADD_OPTIONS if self.action == StepAction.ADD else ("entire_companies",)
        return [self.options_form[name] for name in names]

    def field_groups(self) -> list[dict]:
        """The filter fields in titled groups (ContactFilterSet.field_groups)."""
        return self.filterset.field_groups()

    def fill_code_choices(self) -> None:
        """Give the form's code lists their options from one query instead of one per list."""
        code_filters = {
            name: f.queryset.model
            for name, f in self.filterset.filters.items()
            if isinstance(f, CodeFilter) and getattr(f.queryset.model, "code", None) is not None
        }
        form = self.filterset.form
        for name, options in reference_choices(code_filters).items():
            form.fields[name].widget.choices = options


class AddContactForm(CheckedForm):
    """One manual line: the contact is entered by its no. or its whole name (a list of a million
    contacts cannot be a <select>; the page's look-up, crm.search, helps to find either).

    A name that several contacts have is refused with those contacts in `candidates` (the page
    offers each to add). `allow_existing` is the confirmation of a second line for a contact
    already on the worksheet (the page asks after the service refused the first post);
    `existing` then holds the question the page shows.
    """

    contact_no = forms.CharField(label=_("Contact no. or name"), max_length=MAX_QUERY_LENGTH)
    allow_existing = forms.BooleanField(required=False, widget=forms.HiddenInput)
    existing = ""
    candidates: list[Contact] = []

    def clean_contact_no(self) -> str:
        text = self.cleaned_data["contact_no"].strip()
        found = contacts_named(text, limit=CANDIDATES + 1)
        if not found:
            raise ValidationError(
                _('No contact has the number or name "%(value)s". Type part of it and pick one from the list.'),
                code="unknown_contact",
                params={"value": text},
            )
        if len(found) > 1:
            self.candidates = found[:CANDIDATES]
            if len(found) > CANDIDATES:
                message = _('More than %(count)s contacts are named "%(value)s": choose one below, or type its number.')
            else:
                message = _('%(count)s contacts are named "%(value)s": choose one below.')
            raise ValidationError(
                message,
                code="several_contacts",
                params={"count": min(len(found), CANDIDATES), "value": text},
            )
        self.cleaned_data["contact"] = found[0]
        return found[0].no


class LineForm(CheckedModelForm):
    """One line's interaction fields and personal text.

    A field the user changes becomes an override of the line (it stops following the
    header); `reset` lists the line's overridden fields, and a field ticked there follows the
    header again (reset wins over a change in the same post).
    """

    reset = forms.MultipleChoiceField(
        label=_("Follow the header again"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Ticked fields take the header's value again."),
    )

    class Meta:
        model = SegmentLine
        fields = LINE_FIELDS
        widgets = {
            "date": DATE_INPUT,
            "cost": forms.NumberInput(attrs={"step": "0.01"}),
            "duration": forms.NumberInput(attrs={"step": "0.01"}),
            "personal_text": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "line")
        super().__init__(*args, **kwargs)
        no_hidden_initial(self)
        overridden = self.instance.overridden_fields
        self.fields["reset"].choices = [(name, self.fields[name].label) for name in overridden]
        self.overridden = frozenset(overridden)

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in LINE_FIELDS}

    def reset_fields(self) -> list[str]:
        return list(self.cleaned_data.get("reset") or [])

    def label_of(self, name: str) -> str:
        return str(self.fields[name].label).lower()

    def bound_fields(self) -> list[BoundField]:
        return [self[name] for name in LINE_FIELDS]


class SaveCriteriaForm(CheckedForm):
    code = forms.CharField(label=_("Code"), max_length=10)
    description = forms.CharField(label=_("Description"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "save")
        super().__init__(*args, **kwargs)


class SavedCriteriaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        count = obj.no_of_steps
        if obj.description:
            message = ngettext(
                "%(code)s – %(description)s (%(count)s step)", "%(code)s – %(description)s (%(count)s steps)", count
            )
        else:
            message = ngettext("%(code)s (%(count)s step)", "%(code)s (%(count)s steps)", count)
        return message % {"code": obj.code, "description": obj.description, "count": count}


class ReuseCriteriaForm(CheckedForm):
    saved_criteria = SavedCriteriaChoiceField(
        label=_("Saved criteria"),
        queryset=selectors.saved_criteria_list(),
        to_field_name="code",
        empty_label=_("Choose saved criteria…"),
        error_messages={"invalid_choice": _("Those saved criteria do not exist (any more).")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "reuse")
        super().__init__(*args, **kwargs)


class ReuseLoggedForm(CheckedForm):
    """Reuse Segment (F3.7): the contacts of a logged segment, by its id."""

    logged_segment = IdField(label=_("Logged segment"), help_text=_("Its number on the Logged Segments page."))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "reuse_logged")
        super().__init__(*args, **kwargs)
