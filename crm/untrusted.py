"""Checks of input from outside (query strings, posted forms, command lines) that every app uses.

Hostile or mistaken input ends as a 400, a form error or an exit-1 error naming the problem,
never as a server error (RELIABILITY 25). Each rule is written once, here:

- **Text** is one line without control characters (`validate_single_line`): filter values,
  codes, names, subjects and descriptions. PostgreSQL refuses a NUL byte in any text, so a
  value with one must never reach a query; a subject or a description becomes an e-mail
  header, where a line break would start a header of its own. Text typed in a box of several
  lines keeps its line breaks and tabs (`validate_text`). A tab is allowed everywhere, as in
  the CSV import.
- **Ids** are whole numbers a database integer column can hold (`parse_id`, `IdField`): SQLite
  cannot bind a number past 64 bits.
- **Dates typed in a filter** lie between DATE_MIN and DATE_MAX (`validate_date`): far enough
  from the calendar's ends (0001-01-01, 9999-12-31) that a month before or after still exists,
  so the statistics can always show whole months.
- **`next`**, where an action returns to, is a path of this site, else the page the view names
  (`safe_next_url`); views check it before they do anything.
- **Forms** (`CheckedForm`, `CheckedModelForm`, and every criteria FilterSet's form through
  `crm.filters.StrictFilterSet`) check each raw value before any field cleans it: a choice
  field looks its value up in the database, so the check cannot wait for the field's own.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from .models import CONTROL_CHARACTERS

LINE_BREAK = re.compile(r"[\r\n]")
ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID = 2**63 - 1  # the largest value of a 64-bit signed integer column (SQLite, PostgreSQL bigint)
ID_DIGITS = re.compile(r"[0-9]+")
DATE_MIN = datetime.date(1900, 1, 1)
DATE_MAX = datetime.date(9998, 12, 31)
MAX_NEXT_LENGTH = 2000
SHOWN_LENGTH = 40

MESSAGES = {
    "control_characters": _("control characters are not allowed (%(char)s)"),
    "line_break": _("line breaks are not allowed"),
    "not_a_number": _('"%(value)s" is not a number'),
    "out_of_range": _('"%(value)s" is out of range'),
    "date_out_of_range": _("%(value)s is outside the dates accepted (%(min)s to %(max)s)"),
}


def shown(value: Any) -> str:
    """A value quoted in a message: its first SHOWN_LENGTH characters, control characters escaped."""
    text = str(value)
    if len(text) > SHOWN_LENGTH:
        text = text[:SHOWN_LENGTH] + "…"
    return ANY_CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _refuse_control_characters(value: str) -> None:
    found = CONTROL_CHARACTERS.search(value)
    if found:
        raise ValidationError(
            MESSAGES["control_characters"], code="control_characters", params={"char": f"U+{ord(found.group()):04X}"}
        )


def validate_single_line(value: str) -> None:
    """One line of text: no line break and no control character (a tab is allowed)."""
    if LINE_BREAK.search(value):
        raise ValidationError(MESSAGES["line_break"], code="line_break")
    _refuse_control_characters(value)


def validate_text(value: str) -> None:
    """Text of several lines: line breaks and tabs are allowed, other control characters not."""
    _refuse_control_characters(value)


def text_problems(name: str, value: str, *, several_lines: bool = False) -> list[str]:
    """The problems of a text given on a command line, one `name: reason` line each (CONTRACT's
    error format); empty when it is one line without control characters (or, with
    `several_lines`, text without control characters other than line breaks and tabs)."""
    try:
        (validate_text if several_lines else validate_single_line)(value)
    except ValidationError as error:
        return [f"{name}: {message}" for message in error.messages]
    return []


def validate_date(value: datetime.date) -> None:
    """A date typed in a filter: from DATE_MIN to DATE_MAX."""
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValidationError(
            MESSAGES["date_out_of_range"],
            code="date_out_of_range",
            params={"value": value.isoformat(), "min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()},
        )


def parse_id(value: Any) -> int:
    """`value` (an id as typed, blanks around it allowed) as an int from 0 to MAX_ID.

    Only the ASCII digits count ("²" is no number, though Python's `isdigit()` says so); a
    ValidationError names the value otherwise.
    """
    text = str(value).strip()
    if not ID_DIGITS.fullmatch(text):
        raise ValidationError(MESSAGES["not_a_number"], code="not_a_number", params={"value": shown(text)})
    digits = text.lstrip("0") or "0"
    # Compare the length first: Python refuses to convert a string of more than 4,300 digits.
    if len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise ValidationError(MESSAGES["out_of_range"], code="out_of_range", params={"value": shown(text)})
    return int(digits)


class IdField(forms.Field):
    """A form field for one id, parsed by `parse_id` (at least 1)."""

    widget = forms.NumberInput(attrs={"min": "1"})

    def to_python(self, value) -> int | None:
        if value in self.empty_values:
            return None
        number = parse_id(value)
        if number < 1:
            raise ValidationError(MESSAGES["out_of_range"], code="out_of_range", params={"value": shown(value)})
        return number


def is_local_url(url: str, request) -> bool:
    """Whether `url` is a path of this site (a redirect to it cannot leave the site, and it is
    a URL, not a view name or a word such as "back")."""
    if not url.startswith("/") or len(url) > MAX_NEXT_LENGTH:
        return False
    try:
        validate_single_line(url)
    except ValidationError:
        return False
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())


def safe_next_url(request, fallback: str) -> str:
    """Where an action returns to: the `next` the request carries (posted, else in the query
    string) when it is a path of this site, else `fallback`. Read it before acting, so an
    action is never done and then answered with an error."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if is_local_url(target, request) else fallback


class CheckedInputMixin:
    """A form that checks every raw value before its fields clean them.

    A value with a control character (or a line break, outside a box of several lines) is a
    form error on its field, and the field never sees it: a choice field would look it up in
    the database, where PostgreSQL fails on a NUL byte. Put it before the form class in the
    bases.
    """

    def full_clean(self) -> None:
        refused = self.refused_values() if self.is_bound else {}
        if not refused:
            super().full_clean()
            return
        fields = self.fields
        self.fields = {name: field for name, field in fields.items() if name not in refused}
        try:
            super().full_clean()
        finally:
            self.fields = fields
        for name, error in refused.items():
            self.add_error(name, error)

    def refused_values(self) -> dict[str, ValidationError]:
        """The fields whose raw value (any of them, for a list) breaks the text rules."""
        refused = {}
        for name, field in self.fields.items():
            if field.disabled:
                continue
            raw = field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
            check = validate_text if isinstance(field.widget, forms.Textarea) else validate_single_line
            for value in raw if isinstance(raw, list | tuple) else [raw]:
                if isinstance(value, str):
                    try:
                        check(value)
                    except ValidationError as error:
                        refused[name] = error
                        break
        return refused


class CheckedForm(CheckedInputMixin, forms.Form):
    """The base of the project's forms (CheckedInputMixin)."""


class CheckedModelForm(CheckedInputMixin, forms.ModelForm):
    """The base of the project's model forms (CheckedInputMixin)."""
