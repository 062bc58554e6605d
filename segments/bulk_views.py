"""The contact list's bulk action "Add to segment…" (issue 16): the contacts ticked on the list,
or every contact matching its filter, added to an open segment or a new one as an ordinary Add
Contacts step (services.segment_add_contacts), so the step records its criteria (the filter, or
`no=…` for the ticked rows) and is undone like any other.

It lives here, not in crm: crm never imports segments; the contact list posts to this page's
URL name. The GET asks for the segment and then says what will happen ("Add 1,789 contacts to
segment SEG00012"), the POST does it and opens the worksheet.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm.counts import contacts_text
from crm.selectors import contact_selection
from crm.untrusted import ANY_CONTROL, shown
from crm.views.contacts import query_without, selection_pairs

from . import services
from .models import Segment, StepAction
from .views import SegmentPermissionMixin, get_segment, left_out_message, lines_text

NEW = "new"
SEGMENTS_OFFERED = 200  # the newest open segments in the choice list
DEFAULT_DESCRIPTION = gettext_lazy("Contacts from the contact list")  # in the language of who makes it


class AddToSegmentView(SegmentPermissionMixin, View):
    permission_required = "segments.change_segment"
    template_name = "segments/contacts_add_to_segment.html"

    def get(self, request) -> HttpResponse:
        own_keys = ("segment", "description")
        selection = contact_selection(request.GET, ignore=own_keys)
        context = {
            "selection": selection,
            "segments": Segment.objects.order_by("-no").only("no", "description")[:SEGMENTS_OFFERED],
            "may_create": request.user.has_perm("segments.add_segment"),
            "description": request.GET.get("description", "").strip()[:100],
        }
        if selection.errors:
            return TemplateResponse(request, self.template_name, context, status=400)
        context["pairs"] = selection_pairs(query_without(request.GET, *own_keys))
        choice = request.GET.get("segment", "").strip()
        if choice == NEW and context["may_create"]:
            context |= {"new": True, "to_add": selection.contacts.filter(exclude_from_segment=False).count()}
        elif choice:
            segment = None if ANY_CONTROL.search(choice) else Segment.objects.filter(no=choice).first()
            if segment is None:
                context["segment_error"] = _("There is no open segment %(no)s.") % {"no": shown(choice[:20])}
                return TemplateResponse(request, self.template_name, context, status=400)
            to_add = services.segment_count(segment=segment, action=StepAction.ADD, query=selection.query)
            context |= {"segment": segment, "to_add": to_add}
        if "to_add" in context:
            context["not_added"] = selection.count - context["to_add"]
        return TemplateResponse(request, self.template_name, context)

    def post(self, request) -> HttpResponse:
        query = request.POST.get("criteria", "")
        choice = request.POST.get("segment", "").strip()
        try:
            services.criteria(query)  # refused before a new segment is made
            if choice == NEW:
                description = request.POST.get("description", "").strip()[:100] or str(DEFAULT_DESCRIPTION)
                segment = services.segment_create(user=request.user, values={"description": description})
            else:
                segment = get_segment(choice)
            result = services.segment_add_contacts(user=request.user, segment=segment, query=query)
        except ValidationError as error:
            messages.error(request, _("Nothing was added: %(why)s") % {"why": " ".join(error.messages)})
            return redirect("crm:contact_list")
        messages.success(
            request,
            _("Added %(what)s to %(no)s; the segment has %(lines)s (step %(n)s).")
            % {
                "what": contacts_text(result.added),
                "no": segment.no,
                "lines": lines_text(result.line_count),
                "n": result.step.position,
            },
        )
        left_out_message(request, result)
        return redirect(segment)
