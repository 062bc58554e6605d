"""Segment pages: the list, "new segment", and the worksheet with its actions.

Views parse input with a form (segments.forms), call one selector or one service, then
either add a message that reports what happened in numbers and redirect (post/redirect/get),
or render the page again with the errors (status 400; nothing was written). Login is
required by LoginRequiredMiddleware; every view names its permission and answers 403
without it: reading needs segments.view_segment, every change segments.change_segment
(new segments segments.add_segment, saved criteria segments.add_savedcriteria).

The worksheet works without JavaScript; with htmx, the criteria tabs, the live preview
("This will add N contacts"), the lines pagination and a line's edit row load as partials
of the same templates ({% partialdef %}).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from crm.counts import contacts_text, counted
from crm.preferences import preferences_of, set_preference
from crm.untrusted import ANY_CONTROL, shown

from . import selectors, services
from .forms import (
    STEP_ACTIONS,
    AddContactForm,
    LineForm,
    ReuseCriteriaForm,
    ReuseLoggedForm,
    SaveCriteriaForm,
    SegmentCreateForm,
    SegmentHeaderForm,
    StepInput,
    add_service_error,
)
from .models import CriteriaStep, Segment, SegmentLine, StepAction
from .template_defaults import create_form

WORKSHEET = "segments/segment_detail.html"
LINES_TARGET = "segment-lines"
CRITERIA_TARGET = "criteria-panel"


def lines_text(count: int) -> str:
    """ "1 line", "1,234 lines"."""
    return counted(ngettext("%(count)s line", "%(count)s lines", count), count)


def get_segment(no: str) -> Segment:
    """The segment `no`; a logged one raises SegmentAlreadyLogged (the views send the user to
    its logged segment), an unknown one is a 404 (also a text no number can hold, such as a NUL,
    which PostgreSQL refuses to compare)."""
    if ANY_CONTROL.search(no):
        raise Http404(_("No segment %(no)s.") % {"no": shown(no)})
    segment = selectors.segment_detail_queryset().filter(no=no).first()
    if segment is None:
        logged = services.already_logged(no)
        if logged is not None:
            raise logged
        raise Http404(_("No segment %(no)s.") % {"no": no})
    return segment


def segment_url(segment: Segment, *, line_no: int | None = None) -> str:
    """The worksheet, at the page and row of `line_no` when given."""
    url = segment.get_absolute_url()
    if line_no is None:
        return url
    page = selectors.page_of_line(segment=segment, line_no=line_no)
    return f"{url}?page={page}#line-{line_no}" if page > 1 else f"{url}#line-{line_no}"


class SegmentPermissionMixin(PermissionRequiredMixin):
    """Permission checks, and a segment that was logged meanwhile (another tab, another user)
    leads to its logged segment with the message who logged it and when."""

    raise_exception = True

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except services.SegmentAlreadyLogged as logged:
            messages.warning(request, logged.messages[0])
            if request.htmx:
                return HttpResponseClientRedirect(logged.logged_segment.get_absolute_url())
            return redirect(logged.logged_segment.get_absolute_url())


class Preview:
    """What a criteria step would do, for the preview box: a count or the problems."""

    def __init__(self, action: str, *, count: int | None = None, line_count: int = 0, errors=(), empty=False):
        self.action = action
        self.count = count
        self.line_count = line_count
        self.errors = list(errors)
        # A Reduce or Refine without any criterion: the step button stays off (the service refuses it too).
        self.empty = empty and action != StepAction.ADD

    @property
    def ready(self) -> bool:
        """Whether the step button may run the step."""
        return not self.empty

    @property
    def button_label(self) -> str:
        """What the step button will do, with the live count when there is one: "Add 1,789 contacts"."""
        if self.empty:
            if self.action == StepAction.REDUCE:
                return _("Set criteria to reduce")
            return _("Set criteria to refine")
        if self.count is None or self.errors:
            return {StepAction.ADD: _("Add contacts"), StepAction.REDUCE: _("Remove lines")}.get(
                self.action, _("Keep matching lines")
            )
        if self.action == StepAction.ADD:
            return counted(ngettext("Add %(count)s contact", "Add %(count)s contacts", self.count), self.count)
        if self.action == StepAction.REDUCE:
            return counted(ngettext("Remove %(count)s line", "Remove %(count)s lines", self.count), self.count)
        kept = self.line_count - self.count
        return _("Keep %(kept)s, remove %(removed)s") % {
            "kept": lines_text(kept),
            "removed": counted("%(count)s", self.count),
        }

    @property
    def message(self) -> str:
        if self.count is None:
            return ""
        if self.action == StepAction.ADD:
            after = self.line_count + self.count
            return _("This will add %(what)s (the segment then has %(lines)s).") % {
                "what": contacts_text(self.count),
                "lines": lines_text(after),
            }
        after = self.line_count - self.count
        return _("This will remove %(what)s (the segment then has %(lines)s).") % {
            "what": lines_text(self.count),
            "lines": lines_text(after),
        }


def preview_step(segment: Segment, step_input: StepInput) -> Preview:
    """Count what the step would do (services.segment_count): writes nothing."""
    if not step_input.is_valid():
        return Preview(step_input.action, errors=step_input.error_lines())
    empty = not step_input.query()
    try:
        count = services.segment_count(
            segment=segment, action=step_input.action, query=step_input.query(), **step_input.options()
        )
    except ValidationError as error:
        return Preview(step_input.action, errors=error.messages, empty=empty)
    line_count = SegmentLine.objects.filter(segment=segment).count()
    return Preview(step_input.action, count=count, line_count=line_count)


def initial_preview(step_input: StepInput) -> Preview:
    """The preview before anything is counted (the step button's first label): an empty Reduce
    or Refine panel starts with its step button off."""
    return Preview(step_input.action, empty=not step_input.is_bound)


def page_params(request) -> dict:
    """The lines page asked for: its number, and the line no. it starts after or ends before (Next, Previous)."""
    return {"number": request.GET.get("page"), "after": request.GET.get("after"), "before": request.GET.get("before")}


def render_worksheet(
    request,
    segment: Segment,
    *,
    status: int = 200,
    step_input: StepInput | None = None,
    preview: Preview | None = None,
    header_form: SegmentHeaderForm | None = None,
    add_form: AddContactForm | None = None,
    save_form: SaveCriteriaForm | None = None,
    reuse_form: ReuseCriteriaForm | None = None,
    reuse_logged_form: ReuseLoggedForm | None = None,
) -> TemplateResponse:
    """The worksheet page; forms given (bound, with errors) replace the empty ones."""
    can_change = request.user.has_perm("segments.change_segment")
    totals = selectors.segment_totals(segment=segment)
    context = {
        "segment": segment,
        "totals": totals,
        "page_obj": selectors.lines_page(segment=segment, count=totals.lines, **page_params(request)),
        "steps": selectors.segment_steps(segment=segment),
        "can_change": can_change,
        "panels": open_panels(request.user),
    }
    if can_change:
        step_input = step_input or StepInput(action=request.GET.get("panel", StepAction.ADD))
        step_input.fill_code_choices()
        context.update(
            step_input=step_input,
            step_actions=STEP_ACTIONS,
            preview=preview,
            step_button=preview or initial_preview(step_input),
            header_form=header_form or SegmentHeaderForm(instance=segment),
            add_form=add_form or AddContactForm(),
            save_form=save_form or SaveCriteriaForm(),
            reuse_form=reuse_form or ReuseCriteriaForm(),
            reuse_logged_form=reuse_logged_form or ReuseLoggedForm(),
            can_save_criteria=request.user.has_perm("segments.add_savedcriteria"),
        )
    return TemplateResponse(request, WORKSHEET, context, status=status)


# Collapsible worksheet panels (<details>): name → whether it is open until the user chooses.
WORKSHEET_PANELS = {"steps": False, "documents": False, "saved": False}


def panel_key(name: str) -> str:
    return f"worksheet.{name}"


def open_panels(user) -> dict[str, bool]:
    """Which worksheet panels show open for `user`: their last choice, else the default (one query)."""
    chosen = preferences_of(user, [panel_key(name) for name in WORKSHEET_PANELS])
    return {
        name: chosen.get(panel_key(name), "open" if default else "closed") == "open"
        for name, default in WORKSHEET_PANELS.items()
    }


class PanelPreferenceView(SegmentPermissionMixin, View):
    """Keep a worksheet panel open or closed for the user (static/js/worksheet.js posts each toggle).

    Answers 204, or 400 with the reason for an unknown panel or state (nothing written).
    """

    permission_required = "segments.view_segment"

    def post(self, request) -> HttpResponse:
        name, state = request.POST.get("panel", ""), request.POST.get("state", "")
        if name not in WORKSHEET_PANELS or state not in ("open", "closed"):
            return HttpResponse(_("Unknown panel or state."), status=400, content_type="text/plain")
        set_preference(user=request.user, key=panel_key(name), value=state)
        return HttpResponse(status=204)


# --- List and create ----------------------------------------------------------------------------


class SegmentListView(SegmentPermissionMixin, View):
    """Segments by no., 50 a page, with their line and step counts (a constant number of queries)."""

    permission_required = "segments.view_segment"
    template_name = "segments/segment_list.html"
    paginate_by = 50

    def get(self, request) -> HttpResponse:
        page_obj = Paginator(selectors.segment_list(), self.paginate_by).get_page(request.GET.get("page"))
        return TemplateResponse(request, self.template_name, {"page_obj": page_obj, "query_without_page": ""})


class SegmentCreateView(SegmentPermissionMixin, View):
    """A new segment (numbered from the SEGMENT series); the template's defaults fill what is left unchanged."""

    permission_required = "segments.add_segment"
    template_name = "segments/segment_form.html"

    def get(self, request) -> HttpResponse:
        # A template chosen: the form again with its defaults (an htmx GET, segments.template_defaults).
        form, template = create_form(request.GET)
        return TemplateResponse(request, self.template_name, {"form": form, "chosen_template": template})

    def post(self, request) -> HttpResponse:
        form = SegmentCreateForm(request.POST)
        if form.is_valid():
            try:
                segment = services.segment_create(user=request.user, values=form.values())
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _("Created segment %(no)s. Add contacts with the criteria on the left.") % {"no": segment.no},
                )
                return redirect(segment)
        return TemplateResponse(request, self.template_name, {"form": form}, status=400)


# --- The worksheet ------------------------------------------------------------------------------


class SegmentDetailView(SegmentPermissionMixin, View):
    """The worksheet: header, totals, one page of lines, the criteria panel and the steps.

    Queries: a constant number whatever the number of lines (see segments.selectors). An htmx
    request from the lines pagination gets only the lines block, one from the criteria tabs
    only the criteria panel.
    """

    permission_required = "segments.view_segment"

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        target = request.htmx.target if request.htmx else None
        if target == LINES_TARGET:
            totals = selectors.segment_totals(segment=segment)
            context = {
                "segment": segment,
                "totals": totals,
                "page_obj": selectors.lines_page(segment=segment, count=totals.lines, **page_params(request)),
                "can_change": request.user.has_perm("segments.change_segment"),
                "add_form": AddContactForm(),
                "steps": selectors.segment_steps(segment=segment, limit=1),  # the Undo button
            }
            return TemplateResponse(request, WORKSHEET + "#lines", context)
        if target == CRITERIA_TARGET and request.user.has_perm("segments.change_segment"):
            step_input = StepInput(action=request.GET.get("panel", StepAction.ADD))
            step_input.fill_code_choices()
            context = {
                "segment": segment,
                "step_input": step_input,
                "step_actions": STEP_ACTIONS,
                "step_button": initial_preview(step_input),
            }
            return TemplateResponse(request, WORKSHEET + "#criteria_panel", context)
        return render_worksheet(request, segment)


class SegmentHeaderView(SegmentPermissionMixin, View):
    """Save the header (services.segment_update) with the fields the user changed."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = SegmentHeaderForm(request.POST, instance=get_segment(no))
        if form.is_valid():
            if not form.changed_data:
                messages.info(request, _("Nothing changed in the header of %(no)s.") % {"no": segment.no})
                return redirect(segment)
            following = selectors.lines_following_header(segment=segment)
            try:
                services.segment_update(user=request.user, segment=segment, values=form.values())
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Saved the header of %(no)s (%(fields)s); %(lines)s the header and were updated, "
                        "except fields set by hand on a line."
                    )
                    % {
                        "no": segment.no,
                        "fields": ", ".join(form.changed_labels()),
                        "lines": counted(
                            ngettext("%(count)s line follows", "%(count)s lines follow", following), following
                        ),
                    },
                )
                return redirect(segment)
        return render_worksheet(request, segment, header_form=form, status=400)


class SegmentPreviewView(SegmentPermissionMixin, View):
    """How many contacts an add would add, or lines a reduce/refine would remove (D5). Writes nothing.

    htmx gets the preview box alone; without JavaScript the whole worksheet is shown with the
    criteria as given and the count. Part of building a segment, so it needs change_segment.
    """

    permission_required = "segments.change_segment"

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        step_input = StepInput(request.GET)
        preview = preview_step(segment, step_input)
        status = 400 if preview.errors else 200
        if request.htmx:
            # The preview box, and the step button's label out of band ("Add 1,789 contacts").
            context = {"preview": preview, "step_button": preview, "oob": True}
            return TemplateResponse(request, WORKSHEET + "#preview", context, status=status)
        return render_worksheet(request, segment, step_input=step_input, preview=preview, status=status)


class SegmentStepView(SegmentPermissionMixin, View):
    """Run an Add / Reduce / Refine step, or only count it ("Count" button, no JavaScript needed)."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        step_input = StepInput(request.POST)
        if not step_input.is_valid():
            preview = Preview(step_input.action, errors=step_input.error_lines())
            return render_worksheet(request, segment, step_input=step_input, preview=preview, status=400)
        if request.POST.get("dry_run"):
            preview = preview_step(segment, step_input)
            return render_worksheet(request, segment, step_input=step_input, preview=preview)
        try:
            if step_input.action == StepAction.ADD:
                result = services.segment_add_contacts(
                    user=request.user, segment=segment, query=step_input.query(), **step_input.options()
                )
            else:
                result = services.segment_remove_contacts(
                    user=request.user,
                    segment=segment,
                    action=step_input.action,
                    query=step_input.query(),
                    **step_input.options(),
                )
        except ValidationError as error:
            preview = Preview(step_input.action, errors=error.messages)
            return render_worksheet(request, segment, step_input=step_input, preview=preview, status=400)
        if step_input.action == StepAction.ADD:
            text = _("Added %(what)s; the segment has %(lines)s (step %(n)s).")
            what = contacts_text(result.added)
        elif step_input.action == StepAction.REDUCE:
            text = _("Removed %(what)s whose contact matches (reduce); the segment has %(lines)s (step %(n)s).")
            what = lines_text(result.removed)
        else:
            text = _("Removed %(what)s whose contact does not match (refine); the segment has %(lines)s (step %(n)s).")
            what = lines_text(result.removed)
        lines = lines_text(result.line_count)
        messages.success(request, text % {"n": result.step.position, "what": what, "lines": lines})
        left_out_message(request, result)
        return redirect(segment)


def left_out_message(request, result: services.StepResult) -> None:
    """ "3 contacts left out: e-mail consent withdrawn" after a selection that left contacts
    out because they withdrew consent for their line's channel (D17)."""
    if result.left_out:
        messages.warning(request, str(result.left_out))


class SegmentUndoView(SegmentPermissionMixin, View):
    """Undo the last step (D3): the GET says exactly what it will do, the POST does it."""

    permission_required = "segments.change_segment"
    template_name = "segments/segment_confirm_undo.html"

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        undo = selectors.undo_preview(segment=segment)
        if undo is None:
            messages.info(request, _("%(no)s has no step to undo.") % {"no": segment.no})
            return redirect(segment)
        return TemplateResponse(request, self.template_name, {"segment": segment, "undo": undo})

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        last = CriteriaStep.objects.to_undo(segment)
        try:
            result = services.segment_undo(user=request.user, segment=segment)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(segment)
        what = selectors.step_label(last) if last is not None else ""
        messages.success(
            request,
            _("Undid %(step)s: removed %(removed)s and restored %(restored)s; the segment has %(lines)s.")
            % {
                "step": what,
                "removed": lines_text(result.removed),
                "restored": lines_text(result.added),
                "lines": lines_text(result.line_count),
            },
        )
        return redirect(segment)


# --- Manual lines -------------------------------------------------------------------------------


class AddContactView(SegmentPermissionMixin, View):
    """One manual line for a contact given by its no. (a step that undo reverses).

    A contact already on the worksheet is not added at once: the worksheet asks "P100 is
    already on line 10000 — add it again?" (status 400, nothing written), and its confirm
    button posts the contact again with `allow_existing`.
    """

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = AddContactForm(request.POST)
        if form.is_valid():
            contact = form.cleaned_data["contact"]
            try:
                result = services.segment_add_contact(
                    user=request.user,
                    segment=segment,
                    contact=contact,
                    allow_existing=form.cleaned_data["allow_existing"],
                )
            except ValidationError as error:
                existing = [e for e in getattr(error, "error_list", []) if e.code == "already_on_worksheet"]
                if existing:
                    form.existing = ngettext(
                        "%(contact)s is already on line %(line)s — add it again?",
                        "%(contact)s is already on lines %(line)s — add it again?",
                        len(existing[0].params["lines"]),
                    ) % {"contact": contact.no, "line": existing[0].params["line"]}
                else:
                    add_service_error(form, error)
            else:
                line_no = SegmentLine.objects.filter(step=result.step).values_list("line_no", flat=True).first()
                messages.success(
                    request,
                    _("Added %(contact)s as line %(line)s; the segment has %(lines)s.")
                    % {
                        "contact": f"{contact.no} {contact.name}",
                        "line": line_no,
                        "lines": lines_text(result.line_count),
                    },
                )
                return HttpResponseRedirect(segment_url(segment, line_no=line_no))
        return render_worksheet(request, segment, add_form=form, status=400)


class LineMixin(SegmentPermissionMixin):
    permission_required = "segments.change_segment"

    def get_line(self, segment: Segment, line_no: int) -> SegmentLine:
        lines = SegmentLine.objects.select_related("contact", "contact__company", "step", "step__parent")
        return get_object_or_404(lines, segment=segment, line_no=line_no)


class LineEditView(LineMixin, View):
    """Edit one line's interaction fields (services.segment_set_line).

    Changed fields become the line's own (overridden, marked on the worksheet); ticked
    "follow the header again" fields are reset. htmx loads the form as a row of the lines
    table; without JavaScript it is a page of its own.
    """

    template_name = "segments/line_form.html"

    def render(self, request, segment, line, form, status=200) -> HttpResponse:
        context = {
            "segment": segment,
            "line": line,
            "form": form,
            "provenance": selectors.step_label(line.step),
            "back_url": segment_url(segment, line_no=line.line_no),
        }
        template = self.template_name + "#row_form" if request.htmx else self.template_name
        return TemplateResponse(request, template, context, status=status)

    def get(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = self.get_line(segment, line_no)
        return self.render(request, segment, line, LineForm(instance=line))

    def post(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = self.get_line(segment, line_no)
        form = LineForm(request.POST, instance=self.get_line(segment, line_no))
        if form.is_valid():
            values, reset = form.values(), form.reset_fields()
            if not values and not reset:
                messages.info(request, _("Nothing changed on line %(line)s.") % {"line": line_no})
                return HttpResponseRedirect(segment_url(segment, line_no=line_no))
            try:
                services.segment_set_line(
                    user=request.user, segment=segment, line_no=line_no, values=values, reset=reset
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                parts = []
                own = [form.label_of(name) for name in values if name not in reset]
                if own:
                    parts.append(_("set by hand: %(fields)s") % {"fields": ", ".join(own)})
                if reset:
                    parts.append(
                        _("following the header again: %(fields)s") % {"fields": ", ".join(map(form.label_of, reset))}
                    )
                template = values.get("interaction_template")
                if template is not None and "interaction_template" not in reset:
                    parts.append(
                        _("the fields not set by hand re-derived from template %(code)s") % {"code": template.code}
                    )
                messages.success(
                    request,
                    _("Saved line %(line)s (%(contact)s); %(what)s.")
                    % {"line": line_no, "contact": line.contact.no, "what": "; ".join(parts)},
                )
                return HttpResponseRedirect(segment_url(segment, line_no=line_no))
        return self.render(request, segment, line, form, status=400)


class LineRowView(LineMixin, View):
    """One line as a row of the lines table: the grid editor's Cancel (Escape) puts it back."""

    def get(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = selectors.mark_line(self.get_line(segment, line_no))
        context = {"segment": segment, "line": line, "can_change": True}
        return TemplateResponse(request, WORKSHEET + "#line_row", context)


class LineResetView(LineMixin, View):
    """Reset every overridden field of a line to the header's value."""

    def post(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = self.get_line(segment, line_no)
        fields = [str(SegmentLine._meta.get_field(name).verbose_name) for name in line.overridden_fields]
        try:
            services.segment_set_line(user=request.user, segment=segment, line_no=line_no, values={}, reset=["all"])
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            if fields:
                text = _("Line %(line)s follows the header again (reset: %(fields)s).") % {
                    "line": line_no,
                    "fields": ", ".join(fields),
                }
            else:
                text = _("Line %(line)s had no field set by hand; it follows the header.") % {"line": line_no}
            messages.success(request, text)
        return HttpResponseRedirect(segment_url(segment, line_no=line_no))


class LineRemoveView(LineMixin, View):
    """Remove one line, after a confirmation page (a manual step that undo reverses)."""

    template_name = "segments/line_confirm_remove.html"

    def get(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = self.get_line(segment, line_no)
        context = {"segment": segment, "line": line, "back_url": segment_url(segment, line_no=line_no)}
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = SegmentLine.objects.filter(segment=segment, line_no=line_no).select_related("contact").first()
        page = selectors.page_of_line(segment=segment, line_no=line_no)
        try:
            result = services.segment_remove_line(user=request.user, segment=segment, line_no=line_no)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(segment)
        messages.success(
            request,
            _("Removed line %(line)s (%(contact)s); the segment has %(lines)s. Undo brings it back.")
            % {
                "line": line_no,
                "contact": f"{line.contact.no} {line.contact.name}" if line else "",
                "lines": lines_text(result.line_count),
            },
        )
        url = segment.get_absolute_url()
        return HttpResponseRedirect(f"{url}?page={page}#segment-lines" if page > 1 else f"{url}#segment-lines")


# --- Saved criteria -----------------------------------------------------------------------------


class SaveCriteriaView(SegmentPermissionMixin, View):
    """Save the segment's steps under a code (services.segment_save_criteria)."""

    permission_required = "segments.add_savedcriteria"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = SaveCriteriaForm(request.POST)
        if form.is_valid():
            try:
                saved = services.segment_save_criteria(
                    user=request.user,
                    segment=segment,
                    code=form.cleaned_data["code"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                steps = saved.steps.count()
                messages.success(
                    request,
                    _("Saved %(steps)s of %(no)s as criteria %(code)s.")
                    % {
                        "steps": counted(ngettext("%(count)s criteria step", "%(count)s criteria steps", steps), steps),
                        "no": segment.no,
                        "code": saved.code,
                    },
                )
                return redirect(segment)
        return render_worksheet(request, segment, save_form=form, status=400)


class ReuseCriteriaView(SegmentPermissionMixin, View):
    """Replay saved criteria against today's contacts as one step (one undo reverses it)."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = ReuseCriteriaForm(request.POST)
        if form.is_valid():
            saved = form.cleaned_data["saved_criteria"]
            try:
                result = services.segment_reuse_criteria(user=request.user, segment=segment, code=saved.code)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Replayed %(steps)s of %(code)s: added %(added)s and removed %(removed)s; "
                        "the segment has %(lines)s (step %(n)s)."
                    )
                    % {
                        "n": result.step.position,
                        "steps": counted(
                            ngettext("%(count)s step", "%(count)s steps", saved.no_of_steps), saved.no_of_steps
                        ),
                        "code": saved.code,
                        "added": lines_text(result.added),
                        "removed": lines_text(result.removed),
                        "lines": lines_text(result.line_count),
                    },
                )
                if result.differences:
                    messages.warning(
                        request,
                        _(
                            "Not as recorded when %(code)s was saved (the contacts or hand edits changed since): "
                            "%(steps)s."
                        )
                        % {"code": saved.code, "steps": "; ".join(map(str, result.differences))},
                    )
                left_out_message(request, result)
                return redirect(segment)
        return render_worksheet(request, segment, reuse_form=form, status=400)


class ReuseLoggedView(SegmentPermissionMixin, View):
    """Reuse Segment (F3.7): one line per entry of a logged segment, as one undoable step."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = ReuseLoggedForm(request.POST)
        if form.is_valid():
            logged_id = form.cleaned_data["logged_segment"]
            try:
                result = services.segment_reuse_logged(user=request.user, segment=segment, logged_segment_id=logged_id)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _("Added %(added)s from logged segment %(id)s; the segment has %(lines)s (step %(n)s).")
                    % {
                        "added": lines_text(result.added),
                        "id": logged_id,
                        "lines": lines_text(result.line_count),
                        "n": result.step.position,
                    },
                )
                left_out_message(request, result)
                return redirect(segment)
        return render_worksheet(request, segment, reuse_logged_form=form, status=400)
