"""Campaign pages, read-only: admins create and change campaigns in Django admin."""

from __future__ import annotations

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views import View

from .. import hooks, selectors
from .contacts import query_without


class CampaignListView(PermissionRequiredMixin, View):
    """Campaigns by no., 50 a page (one COUNT and one SELECT with the salesperson joined)."""

    permission_required = "crm.view_campaign"
    raise_exception = True
    template_name = "crm/campaign_list.html"
    paginate_by = 50

    def get(self, request) -> HttpResponse:
        page_obj = Paginator(selectors.campaign_list(), self.paginate_by).get_page(request.GET.get("page"))
        context = {"page_obj": page_obj, "query_without_page": query_without(request.GET, "page")}
        return TemplateResponse(request, self.template_name, context)


class CampaignDetailView(PermissionRequiredMixin, View):
    """A campaign, and the panels other apps add (crm.hooks.campaign_panels: the interaction
    templates that default to it)."""

    permission_required = "crm.view_campaign"
    raise_exception = True
    template_name = "crm/campaign_detail.html"

    def get(self, request, pk: int) -> HttpResponse:
        campaign = get_object_or_404(selectors.campaign_list(), pk=pk)
        context = {"campaign": campaign, **hooks.panels_context(hooks.campaign_panels, request, campaign)}
        return TemplateResponse(request, self.template_name, context)
