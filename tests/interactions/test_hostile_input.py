"""Hostile input on the interaction pages and commands (RELIABILITY 25): a 400, a form error or
a refusal naming the problem, never a server error, and nothing written.

- control characters in a filter of the log, its statistics or "delete canceled" (PostgreSQL
  refuses a NUL byte in any text);
- a `next` that is not a path of this site: the action returns to the log instead, and the
  check comes before the action, so an action is never saved and then answered with an error;
- dates at the calendar's edges: filters take dates from 1900-01-01 to 9998-12-31, and the
  chart's months never leave the calendar;
- ids past what a database integer holds (SQLite cannot bind one past 64 bits);
- line breaks in a description, which becomes an e-mail subject.
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils.html import escape

from crm.permissions import COMMAND_LINE
from interactions import selectors, services
from interactions.models import InteractionLogEntry
from tests.app_state import app_state
from tests.factories import make_template
from tests.interactions.entry_builders import logged_company
from tests.interactions.test_commands import fail

pytestmark = pytest.mark.django_db

LIST = reverse("interactions:entry_list")
STATISTICS = reverse("interactions:statistics")
CANCEL = reverse("interactions:entry_set_canceled")
EVALUATE = reverse("interactions:entry_evaluate")
DELETE = reverse("interactions:entry_delete_canceled")
CREATE = reverse("interactions:entry_create")
TOO_BIG = "99999999999999999999"


@pytest.fixture
def logged():
    result, contacts = logged_company(2, no="C100", name="Acme Delft")
    return result, contacts


def entry_nos() -> list[int]:
    return list(InteractionLogEntry.objects.order_by("pk").values_list("pk", flat=True))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


# --- Control characters in filters ----------------------------------------------------------------


@pytest.mark.parametrize("page", [LIST, STATISTICS])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"segment_no": "SEG\x00"}, "segment_no: control characters are not allowed (U+0000)"),
        ({"contact": "C100\x00"}, "contact: control characters are not allowed (U+0000)"),
        ({"salesperson": "\x02"}, "salesperson: control characters are not allowed (U+0002)"),
        ({"evaluation": "positive\x00"}, "evaluation: control characters are not allowed (U+0000)"),
        ({"logged_segment": "1\x00"}, "logged_segment: control characters are not allowed (U+0000)"),
        ({"date_after": "2026-01-01\n"}, "date_after: line breaks are not allowed"),
    ],
)
def test_a_control_character_in_a_log_filter_is_a_400_naming_the_filter(viewer_client, logged, page, query, message):
    response = viewer_client.get(page, query)

    assert response.status_code == 400
    assert escape(message) in response.content.decode()


def test_delete_canceled_with_a_control_character_in_its_criteria_is_refused(marketing_client, logged):
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=entry_nos(), canceled=True)
    before = app_state()

    response = marketing_client.post(DELETE, {"query": "segment_no=%00", "confirm": "yes"})

    assert response.status_code == 302 and response["Location"] == LIST
    assert messages_of(response) == ["segment_no: control characters are not allowed (U+0000)"]
    assert app_state() == before


# --- next ----------------------------------------------------------------------------------------


NOT_LOCAL = ["back", "javascript:alert(1)", "//evil.example/x", "https://evil.example/", "/\\evil.example", "/x\r\ny"]


@pytest.mark.parametrize("target", NOT_LOCAL)
def test_evaluate_with_a_next_that_is_no_local_path_returns_to_the_log(marketing_client, logged, target):
    first = entry_nos()[0]

    response = marketing_client.post(EVALUATE, {"entry": [first], "evaluation": "positive", "next": target})

    assert response.status_code == 302 and response["Location"] == LIST
    assert InteractionLogEntry.objects.get(pk=first).evaluation == "positive"


@pytest.mark.parametrize("target", NOT_LOCAL)
def test_a_refused_evaluate_with_a_next_that_is_no_local_path_returns_to_the_log(marketing_client, logged, target):
    before = app_state()

    response = marketing_client.post(EVALUATE, {"entry": entry_nos()[:1], "evaluation": "", "next": target})

    assert response.status_code == 302 and response["Location"] == LIST
    assert messages_of(response) == ["Choose an evaluation for the selected entries."]
    assert app_state() == before


@pytest.mark.parametrize("target", NOT_LOCAL)
def test_cancel_and_delete_canceled_with_a_next_that_is_no_local_path_return_to_the_log(
    marketing_client, logged, target
):
    first, second, _third = entry_nos()

    canceled = marketing_client.post(CANCEL, {"entry": [first, second], "confirm": "yes", "next": target})
    confirm = marketing_client.post(DELETE, {"entry": [first], "next": target})
    deleted = marketing_client.post(DELETE, {"entry": [first], "confirm": "yes", "next": target})

    assert canceled.status_code == 302 and canceled["Location"] == LIST
    assert confirm.status_code == 200
    assert confirm.context["next_url"] == LIST
    assert deleted.status_code == 302 and deleted["Location"] == LIST
    assert entry_nos() == [second, _third]


def test_a_local_next_is_kept(marketing_client, logged):
    target = f"{LIST}?canceled=no&page=1"

    response = marketing_client.post(EVALUATE, {"entry": entry_nos()[:1], "evaluation": "neutral", "next": target})

    assert response["Location"] == target


# --- Dates at the calendar's edges -------------------------------------------------------------------


OUTSIDE = "is outside the dates accepted (1900-01-01 to 9998-12-31)"


@pytest.mark.parametrize("page", [LIST, STATISTICS])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_before": "9999-12-31"}, f"date_before: 9999-12-31 {OUTSIDE}"),
        ({"date_after": "0001-01-01"}, f"date_after: 0001-01-01 {OUTSIDE}"),
        ({"date_before": "0001-01-01"}, f"date_before: 0001-01-01 {OUTSIDE}"),
        ({"date_after": "1899-12-31"}, f"date_after: 1899-12-31 {OUTSIDE}"),
    ],
)
def test_a_date_outside_the_accepted_range_is_a_400_naming_it(viewer_client, logged, page, query, message):
    response = viewer_client.get(page, query)

    assert response.status_code == 400
    assert escape(message) in response.content.decode()


def test_the_first_and_last_accepted_dates_give_statistics_and_a_chart(viewer_client, logged):
    for query in (
        {"date_after": "1900-01-01", "date_before": "9998-12-31"},
        {"date_before": "1900-01-01"},
        {"date_after": "9998-12-31"},
        {"date_after": "9998-12-01", "date_before": "9998-12-31"},
    ):
        response = viewer_client.get(STATISTICS, query)

        assert response.status_code == 200, query
        assert response.context["monthly"].months


@pytest.mark.parametrize(
    ("after", "before"),
    [
        (None, datetime.date.max),
        (datetime.date.max, None),
        (datetime.date.min, None),
        (None, datetime.date.min),
        (datetime.date.min, datetime.date.max),
    ],
)
def test_the_chart_months_stay_in_the_calendar(logged, after, before):
    months = selectors.month_range(date_after=after, date_before=before, today=datetime.date(2026, 5, 17))

    monthly = selectors.interactions_per_month(entries=InteractionLogEntry.objects.all(), by="template", months=months)

    assert monthly.months == months.months
    assert all(month.day == 1 for month in months.months)
    assert months.months == sorted(months.months) and len(set(months.months)) == len(months.months)


# --- Ids past 64 bits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (TOO_BIG, f'logged_segment: "{TOO_BIG}" is out of range'),
        ("9223372036854775808", 'logged_segment: "9223372036854775808" is out of range'),
        ("²", 'logged_segment: "²" is not a number'),
        ("-1", 'logged_segment: "-1" is not a number'),
    ],
)
def test_a_logged_segment_filter_past_the_id_range_is_a_400(viewer_client, logged, value, message):
    response = viewer_client.get(LIST, {"logged_segment": value})

    assert response.status_code == 400
    assert escape(message) in response.content.decode()


def test_the_largest_id_is_a_number_that_names_no_logged_segment(viewer_client, logged):
    response = viewer_client.get(LIST, {"logged_segment": "9223372036854775807"})

    assert response.status_code == 400
    assert escape('logged_segment: unknown logged segment "9223372036854775807"') in response.content.decode()


@pytest.mark.parametrize("path", [CANCEL, EVALUATE, DELETE])
@pytest.mark.parametrize(
    ("value", "message"),
    [(TOO_BIG, f'entry no.: "{TOO_BIG}" is out of range'), ("²", 'entry no.: "²" is not a number')],
)
def test_an_entry_no_past_the_id_range_is_refused_and_writes_nothing(marketing_client, logged, path, value, message):
    services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=entry_nos()[:1], canceled=True)
    before = app_state()

    response = marketing_client.post(
        path, {"entry": [entry_nos()[0], value], "evaluation": "positive", "confirm": "yes"}
    )

    assert response.status_code == 302 and response["Location"] == LIST
    assert message in messages_of(response)
    assert app_state() == before


@pytest.mark.parametrize("value", [TOO_BIG, "²"])
def test_a_logged_segment_id_past_the_id_range_is_not_found_and_writes_nothing(marketing_client, logged, value):
    path = reverse("interactions:logged_segment_cancel_selected")
    before = app_state()

    assert marketing_client.get(path, {"id": [value]}).status_code == 404
    assert marketing_client.post(path, {"id": [value], "canceled": "1"}).status_code == 404
    assert app_state() == before


def test_commands_refuse_ids_past_the_id_range(logged):
    before = app_state()

    assert fail("interactions", "cancel", TOO_BIG) == [f'entry no.: "{TOO_BIG}" is out of range']
    assert fail("logged_segment", "cancel", TOO_BIG) == [f'logged segment: "{TOO_BIG}" is out of range']
    assert app_state() == before


# --- Line breaks in a description (an e-mail subject) -------------------------------------------------


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("Hello\r\nBcc: all@example.com", "line breaks are not allowed"),
        ("Hello\nthere", "line breaks are not allowed"),
        ("Hello\x00", "control characters are not allowed (U+0000)"),
    ],
)
def test_a_single_interaction_refuses_a_description_with_a_line_break(marketing_client, logged, description, message):
    _result, (company, *_persons) = logged
    template = make_template("CALL")
    before = app_state()

    data = {"contact": company.no, "interaction_template": template.code, "date": "2026-05-01"}

    response = marketing_client.post(CREATE, {**data, "description": description})

    assert response.status_code == 400
    assert response.context["form"].errors["description"] == [message]
    assert app_state() == before


def test_a_single_interaction_prefilled_with_a_control_character_shows_the_empty_form(marketing_client, logged):
    response = marketing_client.get(CREATE, {"contact": "C100\x00", "campaign": "\x00", "salesperson": "A\nB"})

    assert response.status_code == 200
    assert response.context["form"].initial.keys() == {"date", "token"}  # nothing taken from the query


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("Hello\r\nBcc: all@example.com", "description: line breaks are not allowed"),
        ("Hello\x01", "description: control characters are not allowed (U+0001)"),
    ],
)
def test_interactions_create_refuses_a_description_with_a_line_break(logged, description, message):
    _result, (company, *_persons) = logged
    template = make_template("CALL")
    before = app_state()

    assert fail(
        "interactions", "create", company.no, "--interaction-template", template.code, "--description", description
    ) == [message]
    assert app_state() == before


@pytest.mark.parametrize(
    ("value", "message"),
    [("Spring\nletter", "line breaks are not allowed"), ("Spring\x00", "control characters are not allowed (U+0000)")],
)
def test_the_template_admin_refuses_a_description_with_a_line_break(admin_client_crm, value, message):
    template = make_template("LETTER", description="Spring letter")
    path = reverse("admin:interactions_interactiontemplate_change", args=[template.pk])
    data = admin_post(admin_client_crm.get(path))
    before = app_state()

    response = admin_client_crm.post(path, {**data, "description": value})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["description"] == [message]
    assert app_state() == before


def test_the_template_admin_saves_a_description_of_one_line(admin_client_crm):
    template = make_template("LETTER", description="Spring letter")
    path = reverse("admin:interactions_interactiontemplate_change", args=[template.pk])
    data = admin_post(admin_client_crm.get(path))

    response = admin_client_crm.post(path, {**data, "description": "Autumn letter"})

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.description == "Autumn letter"


def admin_post(page) -> dict:
    """The admin change form as its page posts it: every field's value and the inlines' management forms."""
    forms = [page.context["adminform"].form]
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None:
                data[form.add_prefix(name)] = value
    return data
