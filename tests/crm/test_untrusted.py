"""crm.untrusted: the checks of input from outside that every app uses (RELIABILITY 25)."""

from __future__ import annotations

import datetime

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from crm.untrusted import (
    DATE_MAX,
    DATE_MIN,
    MAX_ID,
    CheckedForm,
    IdField,
    parse_id,
    safe_next_url,
    shown,
    text_problems,
    validate_date,
    validate_single_line,
    validate_text,
)


def messages(check, value) -> list[str]:
    try:
        check(value)
    except ValidationError as error:
        return error.messages
    return []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Spring offer", []),
        ("Tab\tseparated", []),
        ("", []),
        ("Offer\r\nBcc: x@example.com", ["line breaks are not allowed"]),
        ("Offer\n", ["line breaks are not allowed"]),
        ("Offer\r", ["line breaks are not allowed"]),
        ("Off\x00er", ["control characters are not allowed (U+0000)"]),
        ("\x1b[31m", ["control characters are not allowed (U+001B)"]),
        ("\x7f", ["control characters are not allowed (U+007F)"]),
        ("é ü – ★ \u200b", []),
    ],
)
def test_single_line_refuses_line_breaks_and_control_characters(value, expected):
    assert messages(validate_single_line, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dear Ann,\r\nsee you.\n\tBye", []),
        ("Dear\x00Ann", ["control characters are not allowed (U+0000)"]),
        ("\x0b", ["control characters are not allowed (U+000B)"]),
    ],
)
def test_text_of_several_lines_keeps_line_breaks_and_tabs_only(value, expected):
    assert messages(validate_text, value) == expected


def test_text_problems_name_the_option():
    assert text_problems("subject", "a\nb") == ["subject: line breaks are not allowed"]
    assert text_problems("personal_text", "a\nb", several_lines=True) == []
    assert text_problems("personal_text", "a\x00b", several_lines=True) == [
        "personal_text: control characters are not allowed (U+0000)"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        (" 42 ", 42),
        ("0007", 7),
        ("0", 0),
        (str(MAX_ID), MAX_ID),
        ("0" * 5000 + "12", 12),
        (12, 12),
    ],
)
def test_parse_id_reads_ascii_digits_up_to_the_largest_id(value, expected):
    assert parse_id(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (str(MAX_ID + 1), f'"{MAX_ID + 1}" is out of range'),
        ("9" * 5000, '"' + "9" * 40 + '…" is out of range'),
        ("²", '"²" is not a number'),
        ("١٢", '"١٢" is not a number'),
        ("-1", '"-1" is not a number'),
        ("1.0", '"1.0" is not a number'),
        ("1e3", '"1e3" is not a number'),
        ("", '"" is not a number'),
        ("1\x00", '"1\\x00" is not a number'),
    ],
)
def test_parse_id_refuses_what_no_id_column_holds(value, message):
    with pytest.raises(ValidationError) as raised:
        parse_id(value)
    assert raised.value.messages == [message]


def test_shown_cuts_long_values_and_escapes_control_characters():
    assert shown("a\r\n\x00\tb") == "a\\x0d\\x0a\\x00\\x09b"
    assert shown("x" * 41) == "x" * 40 + "…"


def test_id_field_takes_ids_from_one():
    field = IdField(required=False)
    assert field.clean("12") == 12
    assert field.clean("") is None
    for value, message in (("0", '"0" is out of range'), ("9" * 20, f'"{"9" * 20}" is out of range')):
        with pytest.raises(ValidationError) as raised:
            field.clean(value)
        assert raised.value.messages == [message]


def test_filter_dates_lie_between_the_first_and_last_accepted():
    assert messages(validate_date, DATE_MIN) == [] and messages(validate_date, DATE_MAX) == []
    assert messages(validate_date, datetime.date(9999, 12, 31)) == [
        "9999-12-31 is outside the dates accepted (1900-01-01 to 9998-12-31)"
    ]
    assert messages(validate_date, datetime.date(1, 1, 1)) == [
        "0001-01-01 is outside the dates accepted (1900-01-01 to 9998-12-31)"
    ]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/interactions/?page=2", "/interactions/?page=2"),
        ("/", "/"),
        ("back", "/fallback/"),
        ("interactions:entry_list", "/fallback/"),
        ("", "/fallback/"),
        ("//evil.example/", "/fallback/"),
        ("///evil.example/", "/fallback/"),
        ("/\\evil.example/", "/fallback/"),
        ("https://evil.example/", "/fallback/"),
        ("http://testserver/interactions/", "/fallback/"),
        ("javascript:alert(1)", "/fallback/"),
        ("/x\r\nSet-Cookie: a=b", "/fallback/"),
        ("/x\x00", "/fallback/"),
        ("/" + "x" * 3000, "/fallback/"),
    ],
)
def test_next_is_a_path_of_this_site_or_the_fallback(target, expected):
    posted = RequestFactory().post("/action/", {"next": target})
    asked = RequestFactory().get("/action/", {"next": target})

    assert safe_next_url(posted, "/fallback/") == expected
    assert safe_next_url(asked, "/fallback/") == expected


class RecordingField(forms.CharField):
    """A field that records the values it was asked to clean (as a choice field would query them)."""

    seen: list = []

    def clean(self, value):
        RecordingField.seen.append(value)
        return super().clean(value)


class SampleForm(CheckedForm):
    code = RecordingField(required=False)
    codes = forms.MultipleChoiceField(choices=[("A", "A"), ("B", "B")], required=False)
    note = forms.CharField(widget=forms.Textarea, required=False)
    title = forms.CharField(required=False)


def test_a_checked_form_refuses_a_control_character_before_the_field_sees_it():
    RecordingField.seen = []

    form = SampleForm({"code": "AB\x00", "codes": ["A", "B\x01"], "note": "Two\r\nlines", "title": "One\nline"})

    assert not form.is_valid()
    assert form.errors == {
        "code": ["control characters are not allowed (U+0000)"],
        "codes": ["control characters are not allowed (U+0001)"],
        "title": ["line breaks are not allowed"],
    }
    assert RecordingField.seen == []
    assert form.cleaned_data == {"note": "Two\r\nlines"}
    assert list(form.fields) == ["code", "codes", "note", "title"]


def test_a_checked_form_cleans_good_values_as_usual():
    form = SampleForm({"code": "AB", "codes": ["A"], "note": "Two\nlines", "title": "One\tline"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"code": "AB", "codes": ["A"], "note": "Two\nlines", "title": "One\tline"}
