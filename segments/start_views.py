"""The start page ("/"): where a user lands after logging in (LOGIN_REDIRECT_URL)."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views import View

from .page_selectors import start_page


class StartView(View):
    """The user's open segments, the deliveries and jobs they started that are still running, and
    the segments they logged lately; each section only with its permission (segments.start)."""

    template_name = "start.html"

    def get(self, request) -> HttpResponse:
        return TemplateResponse(request, self.template_name, {"start": start_page(user=request.user)})
