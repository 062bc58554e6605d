"""The Log page's drift panel and its Refresh (issue 15; segments.services.drift).

The Log page loads the panel after it has shown (htmx `hx-get` on load, a spinner meanwhile), so
the confirmation itself stays as fast as before; without JavaScript the page links to the panel
as a page of its own. Refresh is a POST that applies the differences as one step and goes back
to the Log page with a message saying what changed.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views import View

from crm.counts import counted

from .services.drift import segment_drift, segment_refresh
from .views import SegmentPermissionMixin, get_segment, lines_text

PANEL = "segments/_drift.html#panel"
PAGE = "segments/segment_drift.html"


class SegmentDriftView(SegmentPermissionMixin, View):
    """GET: the drift panel (htmx: the panel alone; otherwise a page around it)."""

    permission_required = "segments.view_segment"

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        context = {"segment": segment, "drift": segment_drift(segment=segment)}
        return TemplateResponse(request, PANEL if request.htmx else PAGE, context)


class SegmentRefreshView(SegmentPermissionMixin, View):
    """POST: apply the drift as one undoable step, then back to the Log page."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        try:
            result = segment_refresh(user=request.user, segment=segment)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, _("Nothing was refreshed: %(reason)s") % {"reason": message})
            return redirect("segments:segment_log", no=segment.no)
        if result.step is None:
            messages.info(request, _("Nothing to refresh: no line or contact changed since the lines were added."))
        else:
            messages.success(
                request,
                _("Refresh: %(removed)s removed, %(added)s added; Undo puts it back.")
                % {"removed": lines_text(result.removed), "added": counted("%(count)s", result.added)},
            )
        return redirect("segments:segment_log", no=segment.no)
