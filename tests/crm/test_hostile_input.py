"""Hostile input on the contact pages (RELIABILITY 25): a 400 or a form error naming the problem,
never a server error, and nothing written.

PostgreSQL refuses a NUL byte in any text, so a filter value with one must be refused before it
reaches a query; the contact form's formsets build at most their maximum number of forms,
whatever count the post claims.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from crm.models import Contact
from tests.app_state import app_state
from tests.factories import make_company, make_country

pytestmark = pytest.mark.django_db

LIST = reverse("crm:contact_list")
EXPORT = reverse("crm:contact_export")

CONTROL_FILTERS = [
    ({"name": "Ac\x00me"}, "name: control characters are not allowed (U+0000)"),
    ({"no": "\x00"}, "no: control characters are not allowed (U+0000)"),
    ({"company_no": ["C1", "C\x1b2"]}, "company_no: control characters are not allowed (U+001B)"),
    ({"country": "N\x01L"}, "country: control characters are not allowed (U+0001)"),
    ({"campaign": "CP\x7f"}, "campaign: control characters are not allowed (U+007F)"),
    (
        {"interaction_date_after": "2026-01-01\x00"},
        "interaction_date_after: control characters are not allowed (U+0000)",
    ),
    ({"city": "Delft\r\nX"}, "city: line breaks are not allowed"),
    ({"type": "company\x00"}, "type: control characters are not allowed (U+0000)"),
]


@pytest.mark.parametrize(("query", "message"), CONTROL_FILTERS)
def test_a_control_character_in_a_contact_filter_is_a_400_naming_the_filter(viewer_client, query, message):
    make_company(no="C1", name="Acme")

    response = viewer_client.get(LIST, query)

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert "page_obj" not in response.context


@pytest.mark.parametrize(("query", "message"), CONTROL_FILTERS)
def test_a_control_character_in_an_export_filter_is_a_400_naming_the_filter(marketing_client, query, message):
    make_company(no="C1", name="Acme")

    response = marketing_client.get(EXPORT, query)

    assert response.status_code == 400
    assert response.content.decode().splitlines() == ["Nothing was exported:", message]


def test_a_tab_in_a_text_filter_is_a_character_like_any_other(viewer_client):
    make_company(no="C1", name="Acme\tDelft")

    response = viewer_client.get(LIST, {"name": "e\tD"})

    assert response.status_code == 200
    assert [contact.no for contact in response.context["page_obj"]] == ["C1"]


def management(prefix: str, total: str, initial: str = "0") -> dict:
    return {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": initial}


@pytest.mark.parametrize("prefix", ["alt", "range"])
@pytest.mark.parametrize("initial", ["0", "1000000"])
def test_a_huge_form_count_builds_at_most_the_maximum_of_forms_and_writes_nothing(marketing_client, prefix, initial):
    make_country("NL")
    other = "range" if prefix == "alt" else "alt"
    data = {"name": "Acme", **management(prefix, "1000000", initial), **management(other, "0")}
    before = app_state()

    response = marketing_client.post(reverse("crm:contact_create", args=["company"]), data)

    assert response.status_code == 400
    forms = response.context["forms"]
    formset = forms.alt_addresses if prefix == "alt" else forms.date_ranges
    maximum = formset.max_num
    assert len(formset.forms) <= maximum
    assert formset.non_form_errors() == [f"Please submit at most {maximum} forms."]
    assert len(response.content) < 1_000_000
    assert app_state() == before
    assert not Contact.objects.exists()
