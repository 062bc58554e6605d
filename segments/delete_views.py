"""Delete a segment that was never logged: a confirmation with its counts, then the delete
(segments.services.delete.segment_delete)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from crm.counts import grouped

from .page_selectors import segment_delete_counts
from .services.delete import segment_delete
from .views import SegmentPermissionMixin, get_segment


class SegmentDeleteView(SegmentPermissionMixin, View):
    """GET: "Delete segment …?" with what goes with it. POST: delete it and go to the segment list."""

    permission_required = "segments.delete_segment"
    template_name = "segments/segment_confirm_delete.html"

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        context = {"segment": segment, "counts": segment_delete_counts(segment=segment)}
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, no: str) -> HttpResponse:
        try:
            deleted = segment_delete(user=request.user, segment=no)
        except ValidationError as error:
            if error.code == "log_running":
                messages.error(request, error.messages[0])
                return redirect("segments:segment_detail", no=no)
            if error.code != "segment_gone":
                raise  # SegmentAlreadyLogged: the mixin leads to the logged segment
            messages.info(request, _("Segment %(no)s no longer exists: it was deleted already.") % {"no": no})
            return redirect("segments:segment_list")
        text = ngettext(
            "Deleted segment %(no)s and its %(count)s line.",
            "Deleted segment %(no)s and its %(count)s lines.",
            deleted.lines,
        )
        messages.success(request, text % {"no": deleted.no, "count": grouped(deleted.lines)})
        return redirect("segments:segment_list")
