"""The start page in the user's language (templates/start.html): its counts with the language's
plural form and digit grouping, its dates in the language's short format. A few catalogue
entries stand in for the catalogues (tests/catalog.py)."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from interactions.models import LoggedSegment
from segments import services
from tests.catalog import translated
from tests.factories import make_company

pytestmark = pytest.mark.django_db

LINE = "%(shown)s line"
INTERACTION = "%(shown)s interaction"
FINNISH = {
    "Your open segments": "Avoimet segmenttisi",
    (LINE, 0): "%(shown)s rivi",
    (LINE, 1): "%(shown)s riviä",
    (INTERACTION, 0): "%(shown)s vuorovaikutus",
    (INTERACTION, 1): "%(shown)s vuorovaikutusta",
}


def test_the_start_page_counts_and_dates_in_the_users_language(marketing):
    segment = services.segment_create(user=marketing, values={"description": "Kevät"})
    make_company(city="Tampere")
    services.segment_add_contacts(user=marketing, segment=segment, query="city=Tampere")
    logged = LoggedSegment.objects.create(
        segment_no="SEG09", source_uuid=segment.uuid, description="Talvi", user=marketing, no_of_interactions=1234
    )
    moment = datetime.datetime(2026, 3, 4, 9, 5, tzinfo=datetime.UTC)
    LoggedSegment.objects.filter(pk=logged.pk).update(created_at=moment)
    client = Client()
    client.force_login(marketing)

    with translated("fi", FINNISH):
        finnish = client.get("/", HTTP_ACCEPT_LANGUAGE="fi").content.decode()
    assert "Avoimet segmenttisi" in finnish and "1 rivi<" in finnish
    assert "4.3.2026 10.05 · 1\xa0234 vuorovaikutusta" in finnish  # Europe/Amsterdam, Finnish format

    english = " ".join(client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode().split())
    assert "Your open segments" in english and "1 line<" in english
    assert "2026-03-04 10:05 · 1,234 interactions" in english
