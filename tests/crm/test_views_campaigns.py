"""Campaign pages: read-only list and detail with the templates that default to the campaign."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from crm.models import Campaign
from tests.factories import make_campaign, make_salesperson, make_template

pytestmark = pytest.mark.django_db

LIST = reverse("crm:campaign_list")


def test_campaign_list_shows_number_description_dates_and_salesperson(viewer_client):
    campaign = make_campaign(
        no="CP0001",
        description="Spring fair",
        starting_date=datetime.date(2025, 3, 1),
        ending_date=datetime.date(2025, 3, 31),
        salesperson=make_salesperson("JO", name="Jo Seller"),
    )

    response = viewer_client.get(LIST)

    page = response.content.decode()
    assert response.status_code == 200
    for expected in ("CP0001", "Spring fair", "2025-03-01", "2025-03-31", "JO – Jo Seller"):
        assert expected in page
    assert f'href="{campaign.get_absolute_url()}"' in page


def test_campaign_list_is_paginated_by_50_with_constant_queries(viewer_client, django_assert_max_num_queries):
    seller = make_salesperson()
    Campaign.objects.bulk_create(
        [Campaign(no=f"CP{i:04d}", description=f"C {i}", salesperson=seller) for i in range(60)]
    )

    with django_assert_max_num_queries(6):
        response = viewer_client.get(LIST)

    assert len(response.context["page_obj"].object_list) == 50
    assert "60 campaigns" in response.content.decode()
    assert len(viewer_client.get(LIST, {"page": "2"}).context["page_obj"].object_list) == 10


def test_campaign_list_without_campaigns_says_so(viewer_client):
    assert "No campaigns yet." in viewer_client.get(LIST).content.decode()


def test_campaign_detail_lists_only_the_templates_that_default_to_it(viewer_client):
    campaign = make_campaign(no="CP0001", description="Spring fair")
    make_template("LETTER", description="Spring letter", campaign=campaign, campaign_target=True)
    make_template("OTHER", description="Other letter", campaign=make_campaign())

    response = viewer_client.get(campaign.get_absolute_url())

    page = response.content.decode()
    assert response.status_code == 200
    assert "CP0001 · Spring fair" in page
    assert "LETTER" in page and "Spring letter" in page
    assert "OTHER" not in page
    assert [t.code for t in response.context["templates"]] == ["LETTER"]


def test_campaign_detail_without_templates_says_so(viewer_client):
    page = viewer_client.get(make_campaign().get_absolute_url()).content.decode()
    assert "No interaction template defaults to this campaign." in page


def test_campaign_pages_are_read_only_for_marketing(marketing_client):
    campaign = make_campaign()
    page = marketing_client.get(campaign.get_absolute_url()).content.decode()
    assert "Edit in admin" not in page
    assert marketing_client.post(campaign.get_absolute_url()).status_code == 405


def test_admins_get_a_link_to_edit_the_campaign_in_admin(admin_client_crm):
    campaign = make_campaign()
    page = admin_client_crm.get(campaign.get_absolute_url()).content.decode()
    assert reverse("admin:crm_campaign_change", args=[campaign.pk]) in page


def test_unknown_campaign_is_404(viewer_client):
    assert viewer_client.get(reverse("crm:campaign_detail", args=[999999])).status_code == 404
