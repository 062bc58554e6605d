"""The worksheet in another language (issue 17): its texts and the provenance of a line come
from the catalogue of the active language, while what the page's styles and scripts key on (the
class "manual" of a line typed by hand) does not depend on the words.

No catalogue is committed yet, so the test gives Danish a few words of its own for the while."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from segments import services
from tests.factories import make_company

pytestmark = pytest.mark.django_db

DANISH = {
    "Segments": "Målgrupper",
    "manual": "manuel",
    "add": "tilføj",
    "step %(position)s: %(action)s": "trin %(position)s: %(action)s",
    "Criteria steps": "Målgruppekriterier",
}


@pytest.fixture
def danish():
    catalog = trans_real.translation("da")._catalog
    for english, danish in DANISH.items():
        catalog[english] = danish
    yield
    trans_real._translations.pop("da", None)  # the next use reads the real catalogues again


@pytest.fixture
def filled(marketing):
    """A segment with a line added by an add step (step 1) and one typed by hand."""
    make_company(no="C100", name="Acme Delft", city="Delft")
    bolt = make_company(no="C200", name="Bolt Berlin", city="Berlin")
    segment = services.segment_create(user=marketing, values={"description": "Spring mailing"})
    services.segment_add_contacts(user=marketing, segment=segment, query="city=Delft")
    services.segment_add_contact(user=marketing, segment=segment, contact=bolt)
    return segment


def test_worksheet_shows_the_active_language_and_keeps_the_manual_class(danish, marketing_client, filled):
    with translation.override("da"):
        response = marketing_client.get(reverse("segments:segment_detail", args=[filled.no]), HTTP_ACCEPT_LANGUAGE="da")
    page = response.content.decode()
    assert ">Målgrupper</a>" in page
    assert "<h2>Målgruppekriterier</h2>" in page
    assert ">trin 1: tilføj</span>" in page
    assert 'class="badge provenance manual"' in page
    assert ">manuel</span>" in page
    assert ">manual</span>" not in page
