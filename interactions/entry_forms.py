"""Forms of the interaction log pages. They validate input and hand it to interactions.services.

- `EvaluateForm`: the evaluation to give the selected entries (R58: one of five, never blank).
- `CommentForm`: a comment line on an entry (R64).
- `InteractionCreateForm`: one interaction with one contact (F8 with D13). Fields left blank
  take the service's defaults (template description, today, the contact's salesperson,
  correspondence type by R13, the template's cost, duration and campaign).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.forms import DATE_INPUT
from crm.models import Campaign, Contact, CorrespondenceType, Salesperson
from crm.untrusted import CheckedForm, CheckedModelForm

from .models import Evaluation, InteractionComment, InteractionTemplate

MONEY_INPUT = forms.NumberInput(attrs={"step": "0.01", "min": "0"})
NO_CORRESPONDENCE = "none"


class EvaluateForm(CheckedForm):
    # The select shares a form with the other selection buttons, which must submit without it.
    use_required_attribute = False

    evaluation = forms.ChoiceField(
        label=_("Evaluation"),
        choices=[("", _("Evaluate as…")), *Evaluation.choices],
        error_messages={
            "required": _("Choose an evaluation for the selected entries."),
            "invalid_choice": _('unknown evaluation "%(value)s"'),
        },
    )


class CommentForm(CheckedModelForm):
    class Meta:
        model = InteractionComment
        fields = ["comment"]
        widgets = {"comment": forms.TextInput(attrs={"placeholder": _("Add a comment…"), "autocomplete": "off"})}
        error_messages = {"comment": {"required": _("Write a comment first.")}}

    def clean_comment(self) -> str:
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise ValidationError(_("Write a comment first."), code="required")
        return comment


class CodeSelect(forms.ModelChoiceField):
    """A reference list shown as "code – description"."""

    def __init__(self, queryset, *, describe: str, **kwargs):
        self.describe = describe
        super().__init__(queryset, **kwargs)

    def label_from_instance(self, obj) -> str:
        key = getattr(obj, self.to_field_name or "pk")
        text = getattr(obj, self.describe, "")
        return f"{key} – {text}" if text else str(key)


class InteractionCreateForm(CheckedForm):
    """Record a single interaction (F8 with D13); `values()` gives the service what was typed."""

    contact = forms.CharField(
        label=_("Contact no."),
        max_length=20,
        error_messages={"required": _("Give the number of the contact.")},
    )
    interaction_template = CodeSelect(
        InteractionTemplate.objects.order_by("code"),
        describe="description",
        label=_("Interaction template"),
        empty_label=_("Choose a template…"),
        error_messages={"required": _("Choose an interaction template.")},
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=100,
        required=False,
        help_text=_("Left blank: the template's description (in the contact's language)."),
    )
    date = forms.DateField(
        label=_("Date"),
        widget=DATE_INPUT,
        input_formats=["%Y-%m-%d"],
        error_messages={"required": _("Give the date of the interaction."), "invalid": _("Use a date (YYYY-MM-DD).")},
    )
    salesperson = CodeSelect(
        Salesperson.objects.order_by("code"),
        describe="name",
        label=_("Salesperson"),
        required=False,
        empty_label=_("The contact's salesperson"),
    )
    correspondence_type = forms.ChoiceField(
        label=_("Correspondence type"),
        required=False,
        choices=[
            ("", _("By template and contact")),
            *CorrespondenceType.choices,
            (NO_CORRESPONDENCE, _("None")),
        ],
        help_text=_("Recording only: nothing is sent."),
    )
    cost = forms.DecimalField(
        label=_("Cost"),
        required=False,
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        widget=MONEY_INPUT,
        help_text=_("Left blank: the template's unit cost."),
    )
    duration = forms.DecimalField(
        label=_("Duration (min.)"),
        required=False,
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        widget=MONEY_INPUT,
        help_text=_("Left blank: the template's unit duration."),
    )
    evaluation = forms.ChoiceField(
        label=_("Evaluation"), required=False, choices=[("", _("Not evaluated")), *Evaluation.choices]
    )
    campaign = CodeSelect(
        Campaign.objects.order_by("no"),
        describe="description",
        to_field_name="no",
        label=_("Campaign"),
        required=False,
        empty_label=_("The template's campaign"),
    )
    # Made when the form is shown and posted with it: a second post of the same form (double
    # click, back and resubmit) finds the entry the first one recorded (interaction_create).
    token = forms.UUIDField(
        widget=forms.HiddenInput,
        required=False,
        error_messages={"invalid": _("This form is damaged: reload the page and record the interaction again.")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("date", timezone.localdate())
        kwargs["initial"].setdefault("token", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.contact_obj: Contact | None = None

    def clean_contact(self) -> str:
        no = self.cleaned_data["contact"].strip()
        self.contact_obj = Contact.objects.filter(no=no).select_related("salesperson").first()
        if self.contact_obj is None:
            raise ValidationError(_('unknown contact "%(no)s"'), code="unknown_contact", params={"no": no})
        return no

    def values(self) -> dict[str, Any]:
        """The fields the user filled in, for `interaction_create(values=…)`."""
        data = self.cleaned_data
        values: dict[str, Any] = {}
        for name in ("description", "date", "salesperson", "cost", "duration", "evaluation", "campaign"):
            if data.get(name) not in (None, ""):
                values[name] = data[name]
        if data.get("correspondence_type"):
            values["correspondence_type"] = (
                "" if data["correspondence_type"] == NO_CORRESPONDENCE else data["correspondence_type"]
            )
        return values

    def add_service_error(self, error: ValidationError) -> None:
        """Put the service's messages ("salesperson: required …") on their fields."""
        messages = error.messages
        for message in messages:
            name, sep, rest = message.partition(": ")
            if sep and name in self.fields:
                self.add_error(name, rest)
            else:
                self.add_error(None, message)
