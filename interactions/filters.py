"""Which interaction log entries: the criteria of the interaction log and its statistics (SPEC F6).

`InteractionLogEntryFilterSet` is strict like the contact criteria (crm.filters): an unknown
name, an unknown code, a contact or campaign number that does not exist, a malformed date or
an unknown choice makes it invalid with one line per problem ("campaign: unknown campaign
"CP9""), and reading `.qs` of an invalid filter set raises ValidationError. It never falls
back to "every entry".

Every criterion is a column of the entry (no joins): the contact, its company, template,
group, campaign, salesperson and date are indexed, so a page of the log costs the same at a
million entries.

The contact criteria's interaction-history names (SPEC D16) are defined here too and join
`crm.filters.ContactFilterSet` when the app is ready (`extend_contact_criteria`).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.filters import (
    CodeChoiceField,
    CodeFilter,
    ContactFilterSet,
    HistoryCodeFilter,
    HistoryDateFilter,
    IsoDateField,
    RepeatableCharFilter,
    RepeatableTextInput,
    StrictFilterSet,
)
from crm.models import Campaign, Contact, CorrespondenceType, Salesperson
from crm.untrusted import parse_id

from .models import (
    DeliveryStatus,
    Evaluation,
    InteractionGroup,
    InteractionLogEntry,
    InteractionTemplate,
    LoggedSegment,
)

# The query value for "no value" (an entry without evaluation, correspondence type or delivery status).
NONE = "none"


class IdChoiceField(CodeChoiceField):
    """Ids (logged segment entry nos.) that must all exist; one that is not a number, or out of
    the range of ids (crm.untrusted.parse_id), is an error, not a 500."""

    def _check_values(self, value):
        ids, problems = [], []
        for item in value:
            try:
                ids.append(str(parse_id(item)))
            except ValidationError as error:
                problems.append(error)
        if problems:
            raise ValidationError(problems)
        return super()._check_values(ids)


class IdFilter(CodeFilter):
    field_class = IdChoiceField


class ValueChoiceField(forms.MultipleChoiceField):
    """A list of fixed values; an unknown one is named with the values that exist."""

    default_error_messages = {"invalid_choice": _('unknown value "%(value)s" (use %(choices)s)')}

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        known = {str(key) for key, _label in self.choices}
        unknown = sorted({str(v) for v in value if str(v) not in known})
        if unknown:
            raise ValidationError(
                [
                    ValidationError(
                        self.error_messages["invalid_choice"],
                        code="invalid_choice",
                        params={"value": v, "choices": ", ".join(sorted(known))},
                    )
                    for v in unknown
                ]
            )


class ValueFilter(django_filters.MultipleChoiceFilter):
    """`field IN (values)`, where the value `none` stands for a blank column."""

    field_class = ValueChoiceField

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": ["" if v == NONE else v for v in value]})


class CanceledChoiceField(forms.ChoiceField):
    """all (the form sends it blank), no or yes."""

    default_error_messages = {"invalid_choice": _('unknown value "%(value)s" (use all, no or yes)')}

    def valid_value(self, value) -> bool:
        return value == "all" or super().valid_value(value)


class DefaultRadioSelect(forms.RadioSelect):
    """Radio buttons showing the first choice as chosen when the query gives none."""

    def format_value(self, value):
        values = super().format_value(value)
        return values if any(values) else [str(self.choices[0][0])]


class CanceledFilter(django_filters.Filter):
    """Canceled entries: all (the default: canceled ones are shown and marked), only `no`, only `yes`."""

    field_class = CanceledChoiceField

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if value in ("", None, "all"):
            return qs
        return qs.filter(canceled=(value == "yes"))


class QueryDateField(IsoDateField):
    """A date written YYYY-MM-DD (crm.filters.IsoDateField), with the log's wording of errors."""

    default_error_messages = {
        "invalid": _('not a date "%(value)s" (use YYYY-MM-DD)'),
        "repeated": _("give one date, not %(count)s"),
    }


class QueryDateFilter(django_filters.DateFilter):
    field_class = QueryDateField


class EntryCriteriaForm(forms.Form):
    """The filter form: a date range that ends before it starts is an error, not an empty log."""

    def clean(self):
        data = super().clean()
        after, before = data.get("date_after"), data.get("date_before")
        if after and before and before < after:
            self.add_error("date_before", _("is before the date from (%(after)s)") % {"after": after.isoformat()})
        return data


def _with_none(choices, label) -> list[tuple[str, str]]:
    return [*choices, (NONE, label)]


class InteractionLogEntryFilterSet(StrictFilterSet):
    """Interaction log entries by the criteria of the log page (F6) and the statistics page.

    Query names: contact, company (contact numbers), interaction_template, interaction_group,
    salesperson (codes), campaign (no.), segment_no, logged_segment (entry no.), date_after,
    date_before (YYYY-MM-DD, inclusive), evaluation, correspondence_type, delivery_status
    (values, `none` for blank), canceled (all, no, yes; default all: canceled entries stay
    visible and are marked, R57). Repeated names are ORed, different names ANDed.
    `company=X` matches the entries of company X and of its persons (the entry's company).
    Validating the codes costs at most one query per criterion given.
    """

    contact = CodeFilter(
        label=_("Contact no."),
        queryset=Contact.objects.all(),
        to_field_name="no",
        field_name="contact",
        unknown_message=_('unknown contact "%(value)s"'),
        widget=RepeatableTextInput,
    )
    company = CodeFilter(
        label=_("Company no."),
        queryset=Contact.objects.companies(),
        to_field_name="no",
        field_name="contact_company",
        unknown_message=_('unknown company "%(value)s"'),
        widget=RepeatableTextInput,
    )
    interaction_template = CodeFilter(
        label=_("Interaction template"),
        queryset=InteractionTemplate.objects.all(),
        field_name="interaction_template",
        unknown_message=_('unknown interaction template "%(value)s"'),
    )
    interaction_group = CodeFilter(
        label=_("Interaction group"),
        queryset=InteractionGroup.objects.all(),
        field_name="interaction_group",
        unknown_message=_('unknown interaction group "%(value)s"'),
    )
    campaign = CodeFilter(
        label=_("Campaign"),
        queryset=Campaign.objects.all(),
        to_field_name="no",
        field_name="campaign",
        unknown_message=_('unknown campaign "%(value)s"'),
    )
    segment_no = RepeatableCharFilter(label=_("Segment no."), field_name="segment_no", lookup_expr="exact")
    logged_segment = IdFilter(
        label=_("Logged segment (entry no.)"),
        queryset=LoggedSegment.objects.all(),
        field_name="logged_segment",
        unknown_message=_('unknown logged segment "%(value)s"'),
        widget=RepeatableTextInput,
    )
    salesperson = CodeFilter(
        label=_("Salesperson"),
        queryset=Salesperson.objects.all(),
        field_name="salesperson",
        unknown_message=_('unknown salesperson "%(value)s"'),
    )
    date_after = QueryDateFilter(label=_("Date from"), field_name="date", lookup_expr="gte")
    date_before = QueryDateFilter(label=_("Date to"), field_name="date", lookup_expr="lte")
    evaluation = ValueFilter(
        label=_("Evaluation"),
        field_name="evaluation",
        choices=_with_none(Evaluation.choices, _("Not evaluated")),
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    canceled = CanceledFilter(
        label=_("Canceled"),
        choices=[("", _("All")), ("no", _("Not canceled")), ("yes", _("Canceled"))],
        widget=DefaultRadioSelect,
    )
    correspondence_type = ValueFilter(
        label=_("Correspondence type"),
        field_name="correspondence_type",
        choices=_with_none(CorrespondenceType.choices, _("None")),
        widget=forms.CheckboxSelectMultiple,
    )
    delivery_status = ValueFilter(
        label=_("Delivery status"),
        field_name="delivery_status",
        choices=_with_none(DeliveryStatus.choices, _("None")),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = InteractionLogEntry
        fields: list[str] = []
        form = EntryCriteriaForm

    def single_value(self, name: str) -> str | None:
        """The one value given for `name` when exactly one was (to pre-fill a new interaction, R60)."""
        values = [v for v in self.data.getlist(name) if v != ""] if hasattr(self.data, "getlist") else []
        return values[0] if len(values) == 1 else None


# --- The contact criteria's interaction history (SPEC D16) ----------------------------------------


def contact_history_criteria() -> dict[str, django_filters.Filter]:
    """The interaction-history names of the contact criteria (CONTRACT.md QUERY), in order.

    They test the contact's own non-canceled interaction log entries, dates inclusive: the ones
    given must hold for one and the same entry (D16), so `campaign=X&interaction_date_after=D`
    means "has a non-canceled entry in campaign X dated on or after D". Repeated codes are
    ORed as everywhere."""
    return {
        "campaign": HistoryCodeFilter(
            label=_("Campaign"),
            queryset=Campaign.objects.all(),
            to_field_name="no",
            unknown_message=_('unknown campaign "%(value)s"'),
            help_text=_("Has an interaction in this campaign (campaign no.)."),
        ),
        "interaction_template": HistoryCodeFilter(
            label=_("Interaction template"),
            queryset=InteractionTemplate.objects.all(),
            to_field_name="code",
            unknown_message=_('unknown interaction template "%(value)s"'),
            help_text=_("Has an interaction with this template (code)."),
        ),
        "interaction_date_after": HistoryDateFilter(
            label=_("Interaction on or after"),
            help_text=_("The history criteria hold for one and the same interaction."),
        ),
        "interaction_date_before": HistoryDateFilter(label=_("Interaction on or before")),
    }


def history_entries(data: dict) -> QuerySet | None:
    """The non-canceled entries that satisfy every interaction-history criterion in `data`
    (cleaned values), or None when none is given."""
    conditions: dict[str, Any] = {}
    if data.get("campaign"):
        conditions["campaign_id__in"] = [campaign.pk for campaign in data["campaign"]]
    if data.get("interaction_template"):
        conditions["interaction_template_id__in"] = [template.pk for template in data["interaction_template"]]
    if data.get("interaction_date_after"):
        conditions["date__gte"] = data["interaction_date_after"]
    if data.get("interaction_date_before"):
        conditions["date__lte"] = data["interaction_date_before"]
    if not conditions:
        return None
    return InteractionLogEntry.objects.counted().filter(**conditions).order_by()


def contacts_with_history(queryset: QuerySet, data: dict) -> QuerySet:
    """`queryset` narrowed to the contacts with an entry that satisfies every history criterion
    given (one `IN (subquery)` over the entries, each contact once); unchanged without one."""
    entries = history_entries(data)
    if entries is None:
        return queryset
    # IN (subquery), not a correlated EXISTS. Measured with 1M entries over 100k contacts:
    # PostgreSQL plans both as the same semi-join (equal times); SQLite runs IN as one
    # list of contact ids built from the entries' indexes (0.04-0.2 s for selective
    # criteria) where EXISTS probes the entries once per contact (1.4-2.5 s).
    return queryset.filter(pk__in=entries.values("contact_id"))


def clean_history_dates(form: forms.Form, data: dict) -> None:
    """An `interaction_date_before` earlier than `interaction_date_after` is an empty range."""
    after, before = data.get("interaction_date_after"), data.get("interaction_date_before")
    if after and before and after > before:
        form.add_error(
            "interaction_date_before",
            ValidationError(
                _("%(before)s is before interaction_date_after %(after)s, so no date is in the range"),
                code="empty_range",
                params={"before": before.isoformat(), "after": after.isoformat()},
            ),
        )


def extend_contact_criteria() -> None:
    """Add the history names to the contact criteria (InteractionsConfig.ready())."""
    ContactFilterSet.extend(
        contact_history_criteria(),
        narrow=contacts_with_history,
        clean=clean_history_dates,
        title=_("Interaction history"),
    )
