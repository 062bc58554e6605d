"""Placeholder: being written."""

from django.views.generic import View

CampaignListView = CampaignDetailView = View
