"""Hostile input on the worksheet and the `segment` command (RELIABILITY 25): a 400, a form
error or an exit-1 error naming the problem, never a server error, and nothing written.

- control characters in the criteria of a step, its count and its preview (PostgreSQL refuses
  a NUL byte in any text), on the page and in `segment add/reduce/refine/count --filter`;
- line breaks in a subject or a description, which become e-mail headers: the header and line
  forms, the new segment form and `segment create/update/set-line`;
- a logged segment id past what a database integer holds.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from segments import services
from segments.models import Segment, SegmentLine
from tests.app_state import app_state
from tests.factories import make_company, make_person, make_template
from tests.segments.test_commands import fail, run
from tests.segments.test_views import header_post, line_post

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "step-preview"}


@pytest.fixture
def filled(marketing) -> Segment:
    make_template("LETTER", description="Spring letter")
    acme = make_company(no="C100", name="Acme Delft", city="Delft")
    make_person(acme, no="P100", name="Dora Delft", city="Delft")
    segment = services.segment_create(user=marketing, values={"description": "Spring mailing"})
    services.segment_add_contacts(user=marketing, segment=segment, query="city=Delft")
    return segment


def url(name: str, *args) -> str:
    return reverse(f"segments:{name}", args=args)


# --- Control characters in criteria ---------------------------------------------------------------

CRITERIA = [
    ({"name": "Acme\x00"}, "name: control characters are not allowed (U+0000)"),
    ({"no": "C100\x00"}, "no: control characters are not allowed (U+0000)"),
    ({"salesperson": "\x1f"}, "salesperson: control characters are not allowed (U+001F)"),
    ({"interaction_template": "LETTER\x00"}, "interaction_template: control characters are not allowed (U+0000)"),
    ({"city": "Delft\nBerlin"}, "city: line breaks are not allowed"),
]


@pytest.mark.parametrize("action", ["add", "reduce", "refine"])
@pytest.mark.parametrize(("criteria", "message"), CRITERIA)
def test_a_step_with_a_control_character_is_a_400_naming_it(marketing_client, filled, action, criteria, message):
    before = app_state()

    step = marketing_client.post(url("segment_step", filled.no), {"action": action, **criteria})
    count = marketing_client.post(url("segment_step", filled.no), {"action": action, "dry_run": "1", **criteria})
    preview = marketing_client.get(url("segment_preview", filled.no), {"action": action, **criteria}, headers=HTMX)

    for response in (step, count, preview):
        assert response.status_code == 400
        assert escape(message) in response.content.decode()
    assert app_state() == before


@pytest.mark.parametrize("command", ["add", "reduce", "refine", "count"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("name=Acme%00", "name: control characters are not allowed (U+0000)"),
        ("city=Delft\x01", "city: control characters are not allowed (U+0001)"),
        ("no=C100%0D%0A", "no: line breaks are not allowed"),
    ],
)
def test_a_filter_with_a_control_character_is_an_exit_1_error_naming_it(filled, command, query, message):
    before = app_state()

    assert fail(command, filled.no, "--filter", query) == [message]
    assert app_state() == before


# --- Line breaks in subjects and descriptions -------------------------------------------------------

LINE_BREAKS = [
    ("subject", "Spring offer\r\nBcc: all@example.com", "line breaks are not allowed"),
    ("subject", "Spring offer\n", "line breaks are not allowed"),
    ("description", "Spring\rmailing", "line breaks are not allowed"),
    ("subject", "Spring\x00offer", "control characters are not allowed (U+0000)"),
]


@pytest.mark.parametrize(("field", "value", "message"), LINE_BREAKS)
def test_the_header_refuses_a_subject_or_description_with_a_line_break(marketing_client, filled, field, value, message):
    before = app_state()

    response = marketing_client.post(url("segment_header", filled.no), header_post(filled, **{field: value}))

    assert response.status_code == 400
    assert response.context["header_form"].errors[field] == [message]
    assert app_state() == before


@pytest.mark.parametrize(("field", "value", "message"), LINE_BREAKS)
def test_a_new_segment_refuses_a_subject_or_description_with_a_line_break(marketing_client, field, value, message):
    before = app_state()

    response = marketing_client.post(url("segment_create"), {"description": "Autumn", field: value})

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert app_state() == before


@pytest.mark.parametrize(("field", "value", "message"), LINE_BREAKS)
def test_a_line_refuses_a_subject_or_description_with_a_line_break(marketing_client, filled, field, value, message):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()
    before = app_state()

    response = marketing_client.post(url("line_edit", filled.no, line.line_no), line_post(line, **{field: value}))

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert app_state() == before


def test_a_line_keeps_line_breaks_in_its_personal_text(marketing_client, filled):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()

    response = marketing_client.post(
        url("line_edit", filled.no, line.line_no), line_post(line, personal_text="Dear Dora,\r\nsee you soon.")
    )

    assert response.status_code == 302
    line.refresh_from_db()
    assert line.personal_text == "Dear Dora,\r\nsee you soon."


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--subject", "Offer\r\nBcc: all@example.com", "subject: line breaks are not allowed"),
        ("--description", "Spring\nmailing", "description: line breaks are not allowed"),
        ("--subject", "Offer\x07", "subject: control characters are not allowed (U+0007)"),
    ],
)
def test_segment_commands_refuse_a_subject_or_description_with_a_line_break(filled, option, value, message):
    line_no = str(SegmentLine.objects.filter(segment=filled).order_by("line_no").first().line_no)
    create = ["create", *(["--description", "Autumn"] if option != "--description" else []), option, value]
    before = app_state()

    assert fail(*create) == [message]
    assert fail("update", filled.no, option, value) == [message]
    assert fail("set-line", filled.no, line_no, option, value) == [message]
    assert app_state() == before


def test_set_line_keeps_line_breaks_in_the_personal_text(filled):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()

    run("set-line", filled.no, str(line.line_no), "--personal-text", "Dear Dora,\nsee you soon.")

    line.refresh_from_db()
    assert line.personal_text == "Dear Dora,\nsee you soon."


# --- Ids past 64 bits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808"])
def test_reusing_a_logged_segment_id_past_the_id_range_is_a_form_error(marketing_client, filled, value):
    before = app_state()

    response = marketing_client.post(url("reuse_logged", filled.no), {"reuse_logged-logged_segment": value})

    assert response.status_code == 400
    assert response.context["reuse_logged_form"].errors["logged_segment"] == [f'"{value}" is out of range']
    assert app_state() == before
