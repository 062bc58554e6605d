"""What machines read keeps one format whatever language the user reads the pages in: the CSV
export is the same bytes in Danish, Norwegian and Finnish as in English (ISO dates, no digit
grouping, English column names and values)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db


def test_the_csv_export_is_the_same_bytes_in_every_language(admin_client_crm):
    company = make_company(no="E1", name="Ærø Bogtrykkeri A/S", city="Aarhus C", post_code="8000")
    make_person(company, no="E2", name="Søren Sørensen", email="soren@example.dk", first_name="Søren")
    exports = {
        language: admin_client_crm.get(
            reverse("crm:contact_export"), {"selection": "all"}, headers={"Accept-Language": language}
        )
        for language in ("en", "da", "nb", "fi")
    }

    assert all(response.status_code == 200 for response in exports.values())
    english = exports.pop("en").content
    assert b"Aarhus C" in english and "Søren".encode() in english
    for language, response in exports.items():
        assert response.content == english, f"the {language} export differs from the English one"
    assert english.decode().lstrip("\ufeff").startswith("no,")  # the machine's column names
