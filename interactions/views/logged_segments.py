"""Logged segments pages (SPEC F5): the list, one logged segment, and its actions.

Views call one selector or one service (interactions.logged_segment_selectors,
interactions.services), then render, or add a message with the numbers and redirect
(post/redirect/get). Every action is confirmed first on a page that states what it touches
("Cancel logged segment 12: 1,234 interaction log entries and 2 campaign entries become
canceled."); the POST does it. Login is required by LoginRequiredMiddleware; each view names
its permission and answers 403 without it: reading needs interactions.view_loggedsegment,
cancel/uncancel interactions.change_loggedsegment, a follow-up segment segments.add_segment,
deleting interactions.delete_loggedsegment.

Cancel and uncancel post the state they ask for, not a toggle: sending the same confirmation
twice leaves the logged segment as the first one did.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from crm.counts import counted, grouped
from crm.untrusted import CheckedForm, parse_id, shown

from .. import hooks, services
from .. import logged_segment_selectors as selectors
from ..models import LoggedSegment
from .deliveries import logged_segment_delivery_panel


def entries_text(count: int) -> str:
    """ "1 interaction log entry", "1,234 interaction log entries"."""
    return counted(ngettext("%(count)s interaction log entry", "%(count)s interaction log entries", count), count)


def campaign_entries_text(count: int) -> str:
    return counted(ngettext("%(count)s campaign entry", "%(count)s campaign entries", count), count)


def optional_url(name: str, *args) -> str | None:
    """The URL of a page another part of the product provides, or None while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


class LoggedSegmentPermissionMixin(PermissionRequiredMixin):
    raise_exception = True


def get_logged_segment(pk: int) -> LoggedSegment:
    return get_object_or_404(selectors.logged_segment_detail_queryset(), pk=pk)


# --- List and detail ------------------------------------------------------------------------------


class LoggedSegmentListView(LoggedSegmentPermissionMixin, View):
    """Logged segments, newest first, 50 a page, with the stored counts (F1.18).

    Queries: a constant number whatever the number of logged segments or entries (a COUNT of
    logged segments and one SELECT of the page; entries are never counted per row).
    """

    permission_required = "interactions.view_loggedsegment"
    template_name = "interactions/logged_segment_list.html"

    def get(self, request) -> HttpResponse:
        paginator = Paginator(selectors.logged_segment_list(), selectors.LOGGED_SEGMENTS_PER_PAGE)
        page_obj = paginator.get_page(request.GET.get("page"))
        context = {
            "page_obj": page_obj,
            "query_without_page": "",
            "can_cancel": request.user.has_perm("interactions.change_loggedsegment"),
        }
        return TemplateResponse(request, self.template_name, context)


class LoggedSegmentDetailView(LoggedSegmentPermissionMixin, View):
    """One logged segment: its facts, its campaign entries and its first interaction log
    entries, with a link to all of them in the interaction log. A constant number of queries."""

    permission_required = "interactions.view_loggedsegment"
    template_name = "interactions/logged_segment_detail.html"

    def get(self, request, pk: int) -> HttpResponse:
        logged = get_logged_segment(pk)
        entry_list_url = optional_url("interactions:entry_list")
        context = {
            "logged": logged,
            "campaign_entries": selectors.logged_segment_campaign_entries(logged_segment=logged),
            "first": selectors.logged_segment_first_entries(logged_segment=logged),
            "entries_url": f"{entry_list_url}?logged_segment={logged.pk}" if entry_list_url else None,
            "link_entries": optional_url("interactions:entry_detail", 1) is not None,
            "can_cancel": request.user.has_perm("interactions.change_loggedsegment"),
            "can_follow_up": request.user.has_perm("segments.add_segment"),
            "can_delete": request.user.has_perm("interactions.delete_loggedsegment"),
            "delivery_panel": logged_segment_delivery_panel(logged_segment=logged),
            "mailing": selectors.logged_segment_mailing_counts(logged_segment=logged),
        }
        return TemplateResponse(request, self.template_name, context)


# --- Cancel / uncancel (R52) ----------------------------------------------------------------------


class SetCanceledForm(CheckedForm):
    """The confirmed new state: "1" cancel, "0" uncancel."""

    canceled = forms.TypedChoiceField(choices=[("1", "cancel"), ("0", "uncancel")], coerce=lambda value: value == "1")


def _ids(values) -> list[int]:
    """Selected ids as given, in order, once each; anything not a number, or past the range of
    ids (crm.untrusted.parse_id), names no logged segment: a 404 (a forged URL)."""
    ids: list[int] = []
    for value in values:
        try:
            pk = parse_id(value)
        except ValidationError:
            raise Http404(_('"%(id)s" is not a logged segment id.') % {"id": shown(value)}) from None
        if pk not in ids:
            ids.append(pk)
    return ids


def cancel_question(rows: list[LoggedSegment], canceled: bool, counts: selectors.LoggedSegmentCounts) -> str:
    """ "Cancel logged segment 12: 1,234 interaction log entries and 2 campaign entries become canceled." """
    if len(rows) == 1:
        what = _("logged segment %(id)s") % {"id": rows[0].pk}
    else:
        what = counted(ngettext("%(count)s logged segment", "%(count)s logged segments", len(rows)), len(rows))
    if canceled:
        text = _("Cancel %(what)s: %(entries)s and %(campaign)s become canceled.")
    else:
        text = _("Uncancel %(what)s: %(entries)s and %(campaign)s become uncanceled.")
    return text % {
        "what": what,
        "entries": entries_text(counts.entries),
        "campaign": campaign_entries_text(counts.campaign_entries),
    }


class LoggedSegmentCancelView(LoggedSegmentPermissionMixin, View):
    """Cancel or uncancel one logged segment (its URL), or the ones selected on the list (`id`
    repeated). The new state is the opposite of the first selected one's (R52); every one of
    them, all its campaign entries and all its interaction log entries take it
    (services.logged_segment_set_canceled)."""

    permission_required = "interactions.change_loggedsegment"
    template_name = "interactions/logged_segment_confirm_cancel.html"

    def selected(self, request, pk: int | None) -> list[int]:
        if pk is not None:
            return [pk]
        data = request.POST if request.method == "POST" else request.GET
        return _ids(data.getlist("id"))

    def back_url(self, pk: int | None) -> str:
        return (
            reverse("interactions:logged_segment_detail", args=[pk])
            if pk
            else reverse("interactions:logged_segment_list")
        )

    def get(self, request, pk: int | None = None) -> HttpResponse:
        ids = self.selected(request, pk)
        if not ids:
            messages.info(request, _("Select the logged segments to cancel or uncancel first."))
            return redirect("interactions:logged_segment_list")
        rows = selectors.logged_segments_by_id(ids=ids)
        if len(rows) != len(ids):
            raise Http404(_("Some of the selected logged segments do not exist (any more)."))
        canceled = not rows[0].canceled
        counts = selectors.logged_segment_counts(ids=ids)
        context = {
            "rows": rows,
            "canceled": canceled,
            "question": cancel_question(rows, canceled, counts),
            "counts": counts,
            "single": pk is not None,
            "back_url": self.back_url(pk),
        }
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, pk: int | None = None) -> HttpResponse:
        ids = self.selected(request, pk)
        form = SetCanceledForm(request.POST)
        if not ids or not form.is_valid():
            messages.error(request, _("Nothing changed: the confirmation did not say what to do. Try again."))
            return redirect(self.back_url(pk))
        canceled = form.cleaned_data["canceled"]
        try:
            changed = services.logged_segment_set_canceled(user=request.user, ids=ids, canceled=canceled)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(self.back_url(pk))
        counts = selectors.logged_segment_counts(ids=ids)
        rows = selectors.logged_segments_by_id(ids=ids)
        if len(ids) == 1:
            what = _("logged segment %(id)s (%(no)s)") % {"id": rows[0].pk, "no": rows[0].segment_no}
        else:
            what = counted(ngettext("%(count)s logged segment", "%(count)s logged segments", len(ids)), len(ids))
        if not changed:
            if len(ids) == 1:
                text = (
                    _("%(what)s was already canceled; nothing changed.")
                    if canceled
                    else _("%(what)s was already not canceled; nothing changed.")
                )
            else:
                text = (
                    _("All %(what)s were already canceled; nothing changed.")
                    if canceled
                    else _("All %(what)s were already not canceled; nothing changed.")
                )
            messages.info(request, capfirst(text % {"what": what}))
            return redirect(self.back_url(pk))
        if canceled:
            text = _("Canceled %(what)s: %(entries)s and %(campaign)s are now canceled.")
        else:
            text = _("Uncanceled %(what)s: %(entries)s and %(campaign)s are no longer canceled.")
        if changed < len(ids):
            text += " " + _("(%(unchanged)s already were.)") % {"unchanged": grouped(len(ids) - changed)}
        messages.success(
            request,
            text
            % {
                "what": what,
                "entries": entries_text(counts.entries),
                "campaign": campaign_entries_text(counts.campaign_entries),
            },
        )
        return redirect(self.back_url(pk))


# --- Follow-up and delete -------------------------------------------------------------------------


class LoggedSegmentFollowUpView(LoggedSegmentPermissionMixin, View):
    """A new segment with the contacts of a logged segment (R50 from this page; segments makes it,
    through `interactions.hooks.logged_segment_follow_up`): one line per interaction log entry,
    canceled ones included."""

    permission_required = "segments.add_segment"
    template_name = "interactions/logged_segment_confirm_follow_up.html"

    def get(self, request, pk: int) -> HttpResponse:
        logged = get_logged_segment(pk)
        counts = selectors.logged_segment_counts(ids=[logged.pk])
        return TemplateResponse(request, self.template_name, {"logged": logged, "counts": counts})

    def post(self, request, pk: int) -> HttpResponse:
        logged = get_logged_segment(pk)
        try:
            segment = hooks.logged_segment_follow_up(user=request.user, logged_segment_id=logged.pk)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(logged)
        lines = segment.lines.count()
        messages.success(
            request,
            _("Created follow-up segment %(no)s from logged segment %(id)s (%(old)s) with %(lines)s.")
            % {
                "no": segment.no,
                "id": logged.pk,
                "old": logged.segment_no,
                "lines": counted(ngettext("%(count)s line", "%(count)s lines", lines), lines),
            },
        )
        left_out = getattr(segment, "consent_left_out", None)  # contacts who withdrew consent
        if left_out:
            messages.warning(request, str(left_out))
        return redirect(segment)


class LoggedSegmentDeleteView(LoggedSegmentPermissionMixin, View):
    """Delete a canceled logged segment with its interaction log entries (and their comments)
    and campaign entries (services.logged_segment_delete). An uncanceled one is refused: the
    page says to cancel it first. Deleting lifts R39's block on its segment number."""

    permission_required = "interactions.delete_loggedsegment"
    template_name = "interactions/logged_segment_confirm_delete.html"

    def get(self, request, pk: int) -> HttpResponse:
        logged = get_logged_segment(pk)
        counts = selectors.logged_segment_counts(ids=[logged.pk], comments=True)
        context = {
            "logged": logged,
            "counts": counts,
            "can_cancel": request.user.has_perm("interactions.change_loggedsegment"),
        }
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, pk: int) -> HttpResponse:
        logged = LoggedSegment.objects.filter(pk=pk).first()
        if logged is None:
            messages.info(
                request, _("Logged segment %(id)s does not exist (it may have been deleted already).") % {"id": pk}
            )
            return redirect("interactions:logged_segment_list")
        try:
            deleted = services.logged_segment_delete(user=request.user, logged_segment_id=logged.pk)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, capfirst(message))
            return redirect(logged)
        messages.success(
            request,
            _("Deleted logged segment %(id)s (%(no)s) with %(entries)s and %(campaign)s.")
            % {
                "id": deleted.logged_segment_id,
                "no": logged.segment_no,
                "entries": entries_text(deleted.entries),
                "campaign": campaign_entries_text(deleted.campaign_entries),
            },
        )
        return redirect("interactions:logged_segment_list")
