"""The contact criteria language (CONTRACT.md, QUERY).

`ContactFilterSet` is the one definition of "which contacts": the contact list page, the
segment steps (add, reduce, refine), their preview and saved criteria all use it.

A QUERY is a URL query string: values are ANDed across names and ORed within a repeated
name. Unlike a plain django-filter FilterSet, `StrictFilterSet` never drops what it does not
understand: an unknown name, an unknown code or a malformed value makes it invalid, and
reading `.qs` of an invalid filter set raises ValidationError. A criterion naming a deleted
salesperson must select nothing and say why, never fall back to "all contacts".

Every filter that crosses a to-many relation is a semi-join (`IN (subquery)`), so a contact
appears once however many rows match.

Criteria over another app's data join the language through `ContactFilterSet.extend`, called
in that app's AppConfig.ready() (crm never imports the apps above it): the interaction-history
names (`campaign`, `interaction_template`, `interaction_date_after`, `interaction_date_before`;
SPEC D16) are `interactions.filters`'. Such criteria are read together (`HistoryCodeFilter`,
`HistoryDateFilter` select nothing on their own): the extension narrows the contacts once.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .models import (
    BusinessRelation,
    ConsentState,
    Contact,
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
    Salesperson,
    Territory,
)
from .untrusted import CheckedInputMixin, validate_date


class RepeatableTextInput(forms.TextInput):
    """A text box whose name may repeat in the query string (each value ORed)."""

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        values = getter(name) if getter else ([data[name]] if name in data else [])
        if isinstance(values, str):
            values = [values]
        return [value for value in values if value not in (None, "")]

    def render(self, name, value, attrs=None, renderer=None):
        # One box per value, so submitting the form again keeps "any of these" as it was.
        values = list(value) if isinstance(value, list | tuple) else [value]
        if len(values) <= 1:
            return super().render(name, values[0] if values else None, attrs, renderer)
        attrs = dict(attrs or {})
        boxes = []
        for item in values:
            boxes.append(super().render(name, item, attrs, renderer))
            attrs.pop("id", None)
        return mark_safe("".join(boxes))  # each box was rendered (escaped) by Django


class RepeatableCharField(forms.Field):
    widget = RepeatableTextInput

    def __init__(self, *, max_length: int = 100, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        cleaned = []
        for item in values:
            item = str(item).strip()
            if len(item) > self.max_length:
                raise ValidationError(
                    _("a value is longer than %(max)d characters"), code="max_length", params={"max": self.max_length}
                )
            if item:
                cleaned.append(item)
        return cleaned


class RepeatableCharFilter(django_filters.Filter):
    """Matches any of the given values (exact, or with `lookup_expr`)."""

    field_class = RepeatableCharField

    def filter(self, qs: QuerySet, value: list[str]) -> QuerySet:
        if not value:
            return qs
        condition = Q()
        for item in value:
            condition |= Q(**{f"{self.field_name}__{self.lookup_expr}": item})
        return qs.filter(condition)


class ChecklistSelectMultiple(forms.CheckboxSelectMultiple):
    """A code list as ticked boxes in a scrolling box, with a search box above it that
    static/js/contacts.js reveals and uses to hide the codes that do not match (no inline
    script: CSP). Without JavaScript it is a plain scrolling list of boxes. `group_label`
    names the group for assistive technology (the field's label)."""

    template_name = "crm/widgets/checklist.html"
    group_label = ""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["group_label"] = self.group_label
        return context


class CodeChoiceField(forms.ModelMultipleChoiceField):
    """A list of codes (or contact numbers) that must all exist; one query to check them."""

    default_error_messages = {
        "invalid_choice": _('unknown code "%(value)s"'),
        "invalid_pk_value": _('unknown code "%(pk)s"'),
    }

    def __init__(self, queryset, **kwargs):
        kwargs.setdefault("widget", ChecklistSelectMultiple)
        super().__init__(queryset, **kwargs)
        if isinstance(self.widget, ChecklistSelectMultiple):
            self.widget.group_label = str(self.label or "")

    def clean(self, value):
        # An empty list, not `queryset.none()`, so method filters see "no criterion".
        if not value and not self.required:
            return []
        return super().clean(value)

    def _check_values(self, value):
        # Django's version reports the first unknown value; report all of them, sorted.
        key = self.to_field_name or "pk"
        value = [str(v).strip() for v in value]
        found = {str(getattr(obj, key)): obj for obj in self.queryset.filter(**{f"{key}__in": value})}
        unknown = sorted({v for v in value if v not in found})
        if unknown:
            raise ValidationError(
                [
                    ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": v})
                    for v in unknown
                ]
            )
        return list(found.values())


class CodeFilter(django_filters.ModelMultipleChoiceFilter):
    """`field_name IN (codes)` for codes that exist; an unknown code is an error."""

    field_class = CodeChoiceField

    def __init__(self, *args, unknown_message: str | None = None, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)
        if unknown_message:
            self.extra["error_messages"] = {"invalid_choice": unknown_message}

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value:
            return qs
        if self.method is not None:
            return self.method(qs, self.field_name, value)
        return qs.filter(**{f"{self.field_name}__in": [obj.pk for obj in value]})


class HistoryCodeFilter(django_filters.ModelMultipleChoiceFilter):
    """Codes (or numbers) of one interaction-history criterion, typed in repeatable boxes.

    Validated like `CodeFilter` (an unknown value is an error, all reported at once), but it
    selects nothing on its own: `ContactFilterSet.filter_queryset` reads every history
    criterion together, because one and the same entry must satisfy them all (D16). Not a
    `CodeFilter`, so the pages do not try to fill it as a code list.
    """

    field_class = CodeChoiceField

    def __init__(self, *args, unknown_message: str | None = None, **kwargs):
        kwargs.setdefault("distinct", False)
        kwargs.setdefault("widget", RepeatableTextInput)
        super().__init__(*args, **kwargs)
        if unknown_message:
            self.extra["error_messages"] = {"invalid_choice": unknown_message}

    def filter(self, qs: QuerySet, value) -> QuerySet:
        return qs


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class HistoryDateInput(forms.DateInput):
    """A browser date box (which submits YYYY-MM-DD); a repeated name reaches the field as a
    list, so that it can refuse it instead of silently keeping one of the dates."""

    input_type = "date"

    def __init__(self, attrs=None, format="%Y-%m-%d"):  # noqa: A002 - Django's parameter name
        super().__init__(attrs, format=format)

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        values = getter(name) if getter else ([data[name]] if name in data else [])
        if isinstance(values, str):
            values = [values]
        values = [value for value in values if value not in (None, "")]
        return values[0] if len(values) == 1 else values or None

    def format_value(self, value):
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        return super().format_value(value)


class IsoDateField(forms.Field):
    """One date written YYYY-MM-DD (CONTRACT.md) from 1900-01-01 to 9998-12-31
    (crm.untrusted.validate_date); anything else names the value it got."""

    widget = HistoryDateInput
    default_validators = [validate_date]
    default_error_messages = {
        "invalid": _('"%(value)s" is not a date (use YYYY-MM-DD)'),
        "repeated": _("give one date, not %(count)d"),
    }

    def to_python(self, value) -> datetime.date | None:
        if value in (None, "", [], ()):
            return None
        if isinstance(value, list | tuple):
            if len(value) > 1:
                raise ValidationError(self.error_messages["repeated"], code="repeated", params={"count": len(value)})
            value = value[0]
        if isinstance(value, datetime.date):
            return value
        text = str(value).strip()
        try:
            if not ISO_DATE.fullmatch(text):
                raise ValueError(text)
            return datetime.date.fromisoformat(text)
        except ValueError:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": shown}) from None


class HistoryDateFilter(django_filters.Filter):
    """A bound of the interaction-history date range; like `HistoryCodeFilter`, read by its
    extension together with the other history criteria."""

    field_class = IsoDateField

    def filter(self, qs: QuerySet, value) -> QuerySet:
        return qs


class ContactCriteriaForm(forms.Form):
    """The form behind ContactFilterSet: checks what concerns two criteria at once (each
    extension's `clean`)."""

    def clean(self):
        data = super().clean()
        for extension in ContactFilterSet.extensions:
            if extension.clean is not None:
                extension.clean(self, data)
        return data


class TypeChoiceField(forms.MultipleChoiceField):
    default_error_messages = {"invalid_choice": _('unknown type "%(value)s" (use company or person)')}


class TypeFilter(django_filters.MultipleChoiceFilter):
    field_class = TypeChoiceField

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value or set(value) == set(ContactType.values):
            return qs
        return qs.filter(type__in=value)


class ConsentStateField(forms.MultipleChoiceField):
    default_error_messages = {
        "invalid_choice": _('unknown consent state "%(value)s" (use granted, withdrawn, unknown)'),
    }


class ConsentFilter(django_filters.MultipleChoiceFilter):
    """A channel's consent state (`email_consent=withdrawn`); a repeated name matches any of
    its states. Reads the contact's own column: no join."""

    field_class = ConsentStateField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", ConsentState.choices)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value or set(value) == set(ConsentState.values):
            return qs
        return qs.filter(**{f"{self.field_name}__in": value})


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet that refuses unknown names and bad values instead of ignoring them.

    `ignore` names keys that belong to the page rather than the criteria (pagination). Its
    form checks every value for control characters and line breaks before a filter sees it
    (crm.untrusted.CheckedInputMixin): a code is looked up in the database.
    """

    def get_form_class(self):
        form_class = super().get_form_class()
        return type(form_class.__name__, (CheckedInputMixin, form_class), {})

    def __init__(self, data: QueryDict | dict | None = None, *args: Any, ignore: tuple[str, ...] = (), **kwargs: Any):
        if data is not None and not isinstance(data, QueryDict):
            data = query_dict(data)
        super().__init__(data, *args, **kwargs)
        self.ignore = set(ignore)
        self.unknown_names = sorted(
            key for key in (self.data or {}) if key not in self.filters and key not in self.ignore
        )

    def is_valid(self) -> bool:
        return not self.unknown_names and super().is_valid()

    def error_lines(self) -> list[str]:
        """One line per problem, `name: reason`, in filter order; empty when valid."""
        lines = [_('unknown filter name "%(name)s"') % {"name": name} for name in self.unknown_names]
        if self.is_bound:
            for name, errors in self.form.errors.items():
                lines.extend(f"{name}: {message}" for message in errors)
        return lines

    @property
    def qs(self) -> QuerySet:
        if self.is_bound and not self.is_valid():
            raise ValidationError(self.error_lines(), code="invalid_criteria")
        return super().qs

    def canonical_query(self) -> str:
        """The validated criteria as a query string with names in filter order (for storage)."""
        if not self.is_valid():
            raise ValidationError(self.error_lines(), code="invalid_criteria")
        pairs = QueryDict(mutable=True)
        for name in self.filters:
            if name in self.data:
                values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
                pairs.setlist(name, [v for v in values if v != ""])
        return pairs.urlencode()


def query_dict(data: dict | str) -> QueryDict:
    """A QueryDict from a query string or a dict of value-or-list."""
    if isinstance(data, str):
        return QueryDict(data)
    result = QueryDict(mutable=True)
    for key, value in data.items():
        result.setlist(key, [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)])
    return result


class ContactFilterSet(StrictFilterSet):
    """Contacts by the QUERY names of CONTRACT.md.

    `company_no=X` matches company X and its persons; industry groups and business relations
    belong to companies and a person matches through its company; mailing groups and job
    responsibilities match the contact's own rows. `email_consent`, `postal_consent` and
    `phone_consent` take the states `granted`, `withdrawn`, `unknown` (CONTRACT "Consent per
    channel"). Each filter costs at most one query to validate its codes, and the selection is
    one statement.

    Other apps add the criteria over their data with `extend`: the interaction-history
    criteria (`campaign`, `interaction_template`, `interaction_date_after`,
    `interaction_date_before`) are `interactions.filters.CONTACT_HISTORY_CRITERIA`'s.
    """

    no = CodeFilter(
        label=_("Contact no."),
        queryset=Contact.objects.all(),
        to_field_name="no",
        field_name="pk",
        unknown_message=_('unknown contact "%(value)s"'),
        widget=RepeatableTextInput,
    )
    type = TypeFilter(label=_("Type"), choices=ContactType.choices, widget=forms.CheckboxSelectMultiple)
    name = RepeatableCharFilter(label=_("Name contains"), field_name="name", lookup_expr="icontains")
    company_no = CodeFilter(
        label=_("Company no."),
        queryset=Contact.objects.companies(),
        to_field_name="no",
        method="filter_company_no",
        unknown_message=_('unknown company "%(value)s"'),
        widget=RepeatableTextInput,
    )
    city = RepeatableCharFilter(label=_("City"), field_name="city", lookup_expr="exact")
    post_code = RepeatableCharFilter(label=_("Post code"), field_name="post_code", lookup_expr="exact")
    country = CodeFilter(label=_("Country/region"), queryset=Country.objects.all(), field_name="country")
    territory = CodeFilter(label=_("Territory"), queryset=Territory.objects.all(), field_name="territory")
    language = CodeFilter(label=_("Language"), queryset=Language.objects.all(), field_name="language")
    salesperson = CodeFilter(label=_("Salesperson"), queryset=Salesperson.objects.all(), field_name="salesperson")
    industry_group = CodeFilter(
        label=_("Industry group"), queryset=IndustryGroup.objects.all(), method="filter_classification"
    )
    business_relation = CodeFilter(
        label=_("Business relation"), queryset=BusinessRelation.objects.all(), method="filter_classification"
    )
    mailing_group = CodeFilter(
        label=_("Mailing group"), queryset=MailingGroup.objects.all(), method="filter_classification"
    )
    job_responsibility = CodeFilter(
        label=_("Job responsibility"), queryset=JobResponsibility.objects.all(), method="filter_classification"
    )
    email_consent = ConsentFilter(label=_("E-mail consent"), field_name="email_consent")
    postal_consent = ConsentFilter(label=_("Postal consent"), field_name="postal_consent")
    phone_consent = ConsentFilter(label=_("Phone consent"), field_name="phone_consent")
    CLASSIFICATIONS = {
        "industry_group": ContactIndustryGroup,
        "business_relation": ContactBusinessRelation,
        "mailing_group": ContactMailingGroup,
        "job_responsibility": ContactJobResponsibility,
    }

    class Meta:
        model = Contact
        fields: list[str] = []
        form = ContactCriteriaForm

    # How the filter forms (contact list, segment steps) group the contact's own criteria;
    # another app's criteria form the group titled at `extend`, any other name goes to "More".
    GROUPS: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = (
        (_("Contact"), ("no", "type", "name", "company_no")),
        (_("Address"), ("city", "post_code", "country", "territory")),
        (_("Marketing"), ("salesperson", "language")),
        (_("Classification"), ("industry_group", "business_relation", "mailing_group", "job_responsibility")),
        (_("Consent"), ("email_consent", "postal_consent", "phone_consent")),
    )

    # Criteria over other apps' data, in registration order (see `extend`).
    extensions: ClassVar[list[CriteriaExtension]] = []

    @classmethod
    def extend(
        cls,
        filters: dict[str, django_filters.Filter],
        narrow: Callable[[QuerySet, dict[str, Any]], QuerySet],
        clean: Callable[[forms.Form, dict[str, Any]], None] | None = None,
        title: str = "",
    ) -> None:
        """Add QUERY names that read another app's data (call it from that app's
        AppConfig.ready()). `filters` follow the contact's own names, in the order given;
        `narrow(queryset, cleaned_data)` applies them together (one semi-join); `clean(form,
        cleaned_data)` adds the errors that concern several of them; `title` heads their group
        on the contact page's filter form. Every FilterSet of
        contacts made afterwards knows them: the contact list, the export, the segment steps
        and their saved criteria."""
        if any(extension.names == tuple(filters) for extension in cls.extensions):
            return  # registered already (ready() ran again)
        for name, declared in filters.items():
            if name in cls.base_filters:
                raise ValueError(f'contact criterion "{name}" is declared twice')
            if declared.field_name is None:
                declared.field_name = name
            cls.declared_filters[name] = declared
            cls.base_filters[name] = declared
        cls.extensions.append(CriteriaExtension(names=tuple(filters), narrow=narrow, clean=clean, title=title))

    def field_groups(self) -> list[dict]:
        """The form's fields in titled groups (`GROUPS`, then each extension's, then "More"),
        the one layout of every contact filter form. The first group is open, another when one
        of its fields has a value or an error."""
        form = self.form
        groups = [*self.GROUPS, *((extension.title, extension.names) for extension in self.extensions)]
        named = {name for _title, names in groups for name in names}
        rest = tuple(name for name in form.fields if name not in named)
        if rest:
            groups.append((_("More"), rest))
        result = []
        for index, (title, names) in enumerate(groups):
            fields = [form[name] for name in names if name in form.fields]
            used = any(field.value() not in (None, "", [], ()) or field.errors for field in fields)
            result.append({"title": title, "fields": fields, "open": index == 0 or used})
        return result

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        for extension in self.extensions:
            queryset = extension.narrow(queryset, self.form.cleaned_data)
        return queryset

    def filter_company_no(self, qs: QuerySet, name: str, value) -> QuerySet:
        return qs.of_companies([company.pk for company in value])

    def filter_classification(self, qs: QuerySet, name: str, value) -> QuerySet:
        return qs.with_classification(self.CLASSIFICATIONS[name], name, [obj.pk for obj in value])


@dataclass(frozen=True)
class CriteriaExtension:
    """Criteria of another app, added by `ContactFilterSet.extend`."""

    names: tuple[str, ...]
    narrow: Callable[[QuerySet, dict[str, Any]], QuerySet]
    clean: Callable[[forms.Form, dict[str, Any]], None] | None = None
    title: str = ""
