"""Interaction log pages (SPEC F6, F8): the log, an entry, its comments, a single interaction,
statistics, and the actions on a selection (cancel or restore, evaluate, delete canceled).

Views parse input (InteractionLogEntryFilterSet, the forms of interactions.entry_forms), call
one selector or one service, then render, or add a message reporting what happened in numbers
and redirect (post/redirect/get). Irreversible work is confirmed first: the POST without
`confirm=yes` shows what will happen, the POST with it does it (as Django admin's actions do).
Login is required by LoginRequiredMiddleware; every view names its permission and answers 403
without it: reading needs interactions.view_interactionlogentry, cancel/restore and evaluate
interactions.change_interactionlogentry, deleting interactions.delete_interactionlogentry,
comments interactions.add_interactioncomment, a new interaction interactions.add_interactionlogentry.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from crm.counts import counted
from crm.models import Contact
from crm.untrusted import safe_next_url, validate_single_line
from crm.views.contacts import query_without

from .. import charts, selectors, services
from ..entry_forms import CommentForm, EvaluateForm, InteractionCreateForm
from ..filters import InteractionLogEntryFilterSet, ValueFilter
from ..models import Evaluation, InteractionLogEntry
from .logged_segments import entries_text

RESULTS_TARGET = "entry-results"
STATISTICS_TARGET = "statistics"
CHART_BY = {"template": gettext_lazy("template"), "campaign": gettext_lazy("campaign")}
# The criteria the statistics page offers in its form (the others still work in its query string).
STATISTICS_CRITERIA = (
    "date_after",
    "date_before",
    "interaction_template",
    "interaction_group",
    "campaign",
    "salesperson",
    "contact",
    "company",
)


def list_url(query: str = "") -> str:
    url = reverse("interactions:entry_list")
    return f"{url}?{query}" if query else url


def safe_next(request) -> str:
    """Where an action returns to: the `next` the page posted when it is a path of this site,
    else the log (crm.untrusted.safe_next_url)."""
    return safe_next_url(request, list_url())


def fill_code_choices(filterset: InteractionLogEntryFilterSet) -> None:
    """Give the form's code lists their options from one query instead of one per list."""
    for name, options in selectors.filter_choices().items():
        filterset.form.fields[name].widget.choices = options


def active_filters(filterset: InteractionLogEntryFilterSet, *, keep: tuple[str, ...] = ()) -> list[dict]:
    """One chip per criterion in the query string: label, readable values, link that removes it."""
    data = filterset.data
    active = []
    for name in [*filterset.filters, *filterset.unknown_names]:
        values = [value for value in data.getlist(name) if value != ""]
        if not values:
            continue
        known = filterset.filters.get(name)
        if isinstance(known, ValueFilter) or name == "canceled":
            labels = {"all": str(_("All")), **{str(key): str(label) for key, label in known.extra["choices"]}}
            values = [labels.get(value, value) for value in values]
        label = known.label if known is not None else name
        active.append({"name": name, "label": label, "values": values, "remove": query_without(data, name, "page")})
    return active


def create_query(filterset: InteractionLogEntryFilterSet) -> str:
    """The log's current criteria that pre-fill a new interaction (R60): a single contact (or
    company), salesperson, campaign or template."""
    query = QueryDict(mutable=True)
    contact = filterset.single_value("contact") or filterset.single_value("company")
    if contact:
        query["contact"] = contact
    for name in ("interaction_template", "salesperson", "campaign"):
        value = filterset.single_value(name)
        if value:
            query[name] = value
    return query.urlencode()


# --- The log ---------------------------------------------------------------------------------------


class EntryListView(PermissionRequiredMixin, View):
    """The interaction log: entries matching the criteria, 50 a page, newest first.

    Canceled entries are shown and marked unless the criteria leave them out (R57). An invalid
    criterion shows its errors with status 400 and no rows; it never falls back to "every
    entry". An htmx request from the filter form, a chip or the pagination receives only the
    results block. Queries: a constant number (session, user, permissions, one UNION for the
    form's code lists, one per criterion's code check, one COUNT, one page of rows).
    """

    permission_required = "interactions.view_interactionlogentry"
    raise_exception = True
    template_name = "interactions/entry_list.html"

    def get(self, request) -> HttpResponse:
        filterset = InteractionLogEntryFilterSet(request.GET, ignore=("page",))
        kept = query_without(request.GET)
        context = {
            "filterset": filterset,
            "active_filters": active_filters(filterset),
            "query_without_page": query_without(request.GET, "page"),
            "next_url": f"{request.path}?{kept}" if kept else request.path,
            "evaluate_form": EvaluateForm(auto_id="action_%s"),
        }
        status = 200
        if filterset.is_valid():
            context["page_obj"] = selectors.entry_page(filterset=filterset, number=request.GET.get("page"))
            context["create_query"] = create_query(filterset)
        else:
            status = 400
            context["filter_errors"] = filterset.error_lines()
        if request.htmx and request.htmx.target == RESULTS_TARGET:
            response = TemplateResponse(request, self.template_name + "#results", context, status=status)
            response["HX-Push-Url"] = context["next_url"]
            return response
        fill_code_choices(filterset)
        return TemplateResponse(request, self.template_name, context, status=status)


class SelectionActionMixin(PermissionRequiredMixin):
    """Actions on the entries selected in the log (or on one entry's page): POST only."""

    raise_exception = True

    @staticmethod
    def refuse(request, error: ValidationError, next_url: str) -> HttpResponse:
        for message in error.messages:
            messages.error(request, message)
        return redirect(next_url)


class EntrySetCanceledView(SelectionActionMixin, View):
    """Cancel or restore the selected entries (R57): the new state is the opposite of the first
    selected entry's. The first POST shows the confirmation with the numbers; the POST with
    `confirm=yes` applies the state shown. A refused restore (logged segment or campaign entry
    canceled) is shown on the confirmation page with the service's reasons (status 400)."""

    permission_required = "interactions.change_interactionlogentry"
    template_name = "interactions/entry_confirm_cancel.html"

    def post(self, request) -> HttpResponse:
        next_url = safe_next(request)
        try:
            preview = selectors.cancel_preview(entry_nos=request.POST.getlist("entry"))
        except ValidationError as error:
            return self.refuse(request, error, next_url)
        context = {"preview": preview, "next_url": next_url}
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(request, self.template_name, context)
        canceled = {"yes": True, "no": False}.get(request.POST.get("canceled", ""), preview.canceled)
        try:
            changed = services.interactions_set_canceled(
                user=request.user, entry_nos=preview.entry_nos, canceled=canceled
            )
        except ValidationError as error:
            context.update(refusals=error.messages, canceled=canceled)
            return TemplateResponse(request, self.template_name, context, status=400)
        same = preview.selected - changed
        if canceled:
            text = _("Canceled %(what)s: they stay in the log, marked, and no longer count in statistics.")
        else:
            text = _("Restored %(what)s: they count in statistics again.")
        text %= {"what": entries_text(changed)}
        if same:
            text += " " + counted(
                ngettext(
                    "%(count)s of the selected entries already had that state.",
                    "%(count)s of the selected entries already had that state.",
                    same,
                ),
                same,
            )
        messages.success(request, text)
        return redirect(next_url)


class EntryEvaluateView(SelectionActionMixin, View):
    """Give the selected entries one of the five evaluations (R58)."""

    permission_required = "interactions.change_interactionlogentry"

    def post(self, request) -> HttpResponse:
        next_url = safe_next(request)
        form = EvaluateForm(request.POST)
        if not form.is_valid():
            return self.refuse(request, ValidationError(form.errors["evaluation"]), next_url)
        evaluation = form.cleaned_data["evaluation"]
        try:
            count = services.interactions_evaluate(
                user=request.user, entry_nos=request.POST.getlist("entry"), evaluation=evaluation
            )
        except ValidationError as error:
            return self.refuse(request, error, next_url)
        label = dict(Evaluation.choices)[evaluation]
        messages.success(
            request, _("Evaluated %(what)s as %(label)s.") % {"what": entries_text(count), "label": str(label).lower()}
        )
        return redirect(next_url)


class EntryDeleteCanceledView(SelectionActionMixin, View):
    """Delete the canceled entries among the selection, or among all entries matching the
    log's criteria when nothing is selected (R63), with their comments. The first POST shows
    how many will go and how many stay; the POST with `confirm=yes` deletes."""

    permission_required = "interactions.delete_interactionlogentry"
    template_name = "interactions/entry_confirm_delete.html"

    def post(self, request) -> HttpResponse:
        next_url = safe_next(request)
        entry_nos = request.POST.getlist("entry")
        query = query_without(QueryDict(request.POST.get("query", "")), "page")
        filterset = None
        try:
            if entry_nos:
                entries = selectors.selected_entries(entry_nos=entry_nos)
            else:
                filterset = InteractionLogEntryFilterSet(QueryDict(query), ignore=("page",))
                entries = filterset.qs
        except ValidationError as error:
            return self.refuse(request, error, next_url)
        preview = selectors.delete_canceled_preview(entries=entries)
        if request.POST.get("confirm") != "yes" or not preview.canceled:
            context = {
                "preview": preview,
                "entry_nos": [str(no) for no in entries.values_list("pk", flat=True)] if entry_nos else [],
                "query": query,
                "criteria": active_filters(filterset) if filterset is not None else [],
                "selection": bool(entry_nos),
                "next_url": next_url,
            }
            return TemplateResponse(request, self.template_name, context)
        deleted = services.interactions_delete_canceled(user=request.user, entries=entries)
        text = _("Deleted %(what)s with their comments.") % {"what": entries_text(deleted)}
        kept = preview.considered - deleted
        if kept:
            text += " " + _("%(what)s that are not canceled stay.") % {"what": entries_text(kept)}
        messages.success(request, text)
        return redirect(next_url)


# --- One entry -----------------------------------------------------------------------------------------


def render_entry(request, pk: int, comment_form: CommentForm, status: int = 200) -> HttpResponse:
    """The entry page: the entry with its references (one query) and its comments (one query)."""
    documents = selectors.entry_detail_queryset().select_related("word_template", "document")
    entry = get_object_or_404(documents, pk=pk)
    logged_segment_url = ""
    if entry.logged_segment_id:
        try:
            logged_segment_url = reverse("interactions:logged_segment_detail", args=[entry.logged_segment_id])
        except NoReverseMatch:  # without the logged segment pages, the log shows its entries
            logged_segment_url = list_url(f"logged_segment={entry.logged_segment_id}")
    context = {
        "entry": entry,
        "logged_segment_url": logged_segment_url,
        "comments": selectors.entry_comments(entry=entry),
        "comment_form": comment_form,
        "evaluate_form": EvaluateForm(auto_id="action_%s"),
        "next_url": entry.get_absolute_url(),
        "list_url": list_url(),
    }
    return TemplateResponse(request, "interactions/entry_detail.html", context, status=status)


class EntryDetailView(PermissionRequiredMixin, View):
    """Every field of an entry in groups, its comments and the form to add one (two queries
    besides session and permissions)."""

    permission_required = "interactions.view_interactionlogentry"
    raise_exception = True

    def get(self, request, pk: int) -> HttpResponse:
        return render_entry(request, pk, CommentForm())


class EntryCommentAddView(PermissionRequiredMixin, View):
    """Add a comment line to an entry (R64); an empty comment is shown on the entry page (400)."""

    permission_required = "interactions.add_interactioncomment"
    raise_exception = True

    def post(self, request, pk: int) -> HttpResponse:
        entry = get_object_or_404(InteractionLogEntry, pk=pk)
        form = CommentForm(request.POST)
        if form.is_valid():
            try:
                services.interaction_comment_add(user=request.user, entry=entry, comment=form.cleaned_data["comment"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Comment added to entry %(no)s.") % {"no": entry.pk})
                return redirect(entry.get_absolute_url() + "#comments")
        return render_entry(request, pk, form, status=400)


# --- A single interaction (F8 with D13) ------------------------------------------------------------------


class EntryCreateView(PermissionRequiredMixin, View):
    """Record one interaction with one contact. The contact, template, campaign and
    salesperson can be pre-filled from the query string (?contact=NO from the contact card,
    the log's criteria, R60); the salesperson defaults to the contact's. Nothing is delivered.
    The form carries a token made when it is shown: posting it again records nothing and
    redirects to the entry the first post recorded, saying so."""

    permission_required = "interactions.add_interactionlogentry"
    raise_exception = True
    template_name = "interactions/entry_form.html"

    def get(self, request) -> HttpResponse:
        initial = {}
        for name in ("contact", "interaction_template", "campaign", "salesperson"):
            value = request.GET.get(name, "").strip()[:20]
            try:
                validate_single_line(value)
            except ValidationError:
                continue  # a link with a control character pre-fills nothing (the query would fail)
            if value:
                initial[name] = value
        contact = Contact.objects.filter(no=initial["contact"]).first() if "contact" in initial else None
        if contact is not None and "salesperson" not in initial and contact.salesperson_id:
            initial["salesperson"] = contact.salesperson_id
        return self.render(request, InteractionCreateForm(initial=initial), contact)

    def post(self, request) -> HttpResponse:
        form = InteractionCreateForm(request.POST)
        if form.is_valid():
            try:
                entry = services.interaction_create(
                    user=request.user,
                    contact=form.contact_obj,
                    interaction_template=form.cleaned_data["interaction_template"],
                    values=form.values(),
                    idempotency_token=form.cleaned_data["token"],
                )
            except ValidationError as error:
                form.add_service_error(error)
            else:
                if entry.already_recorded:
                    messages.info(
                        request, _("This interaction was already recorded as entry %(no)s.") % {"no": entry.pk}
                    )
                    return redirect(entry)
                messages.success(
                    request,
                    _("Recorded interaction %(no)s with %(contact)s %(name)s: %(description)s.")
                    % {
                        "no": entry.pk,
                        "contact": form.contact_obj.no,
                        "name": form.contact_obj.name,
                        "description": entry.description,
                    },
                )
                return redirect(entry)
        return self.render(request, form, form.contact_obj, status=400)

    def render(self, request, form, contact, status: int = 200) -> HttpResponse:
        return TemplateResponse(request, self.template_name, {"form": form, "contact": contact}, status=status)


# --- Statistics ----------------------------------------------------------------------------------------


class StatisticsView(PermissionRequiredMixin, View):
    """Count, cost and duration of non-canceled entries by template, group and campaign,
    interactions per month by template or campaign (`chart=`) as an inline SVG chart, and the
    unsubscribe rate of the e-mails sent, per logged segment and per month.

    Takes the log's criteria (an invalid one: status 400 with the reasons, no numbers).
    Queries: a constant number (the form's code lists, the criteria checks, totals, three
    GROUP BYs, the chart's GROUP BY and its names, the unsubscribe GROUP BY and its logged
    segments).
    """

    permission_required = "interactions.view_interactionlogentry"
    raise_exception = True
    template_name = "interactions/statistics.html"

    def get(self, request) -> HttpResponse:
        filterset = InteractionLogEntryFilterSet(request.GET, ignore=("chart",))
        chart_by = request.GET.get("chart") or "template"
        errors = [] if filterset.is_valid() else filterset.error_lines()
        if chart_by not in CHART_BY:
            errors.append(_('chart: unknown value "%(value)s" (use template or campaign)') % {"value": chart_by[:40]})
        criteria = query_without(request.GET, "chart")
        context = {
            "filterset": filterset,
            "criteria_fields": [filterset.form[name] for name in STATISTICS_CRITERIA],
            "active_filters": active_filters(filterset),
            "chart_by": chart_by,
            "chart_choices": CHART_BY,
            "criteria_query": criteria,
            "log_url": list_url(criteria),
        }
        status = 200
        if errors:
            status = 400
            context["filter_errors"] = errors
        else:
            entries = filterset.qs
            statistics = selectors.entry_statistics(entries=entries)
            context["totals"] = statistics.totals
            context["tables"] = [
                {
                    "title": title,
                    "by": by,
                    "rows": statistics.by(by),
                    "name": name,
                    "base": query_without(request.GET, "chart", "canceled", name),
                }
                for by, title, name in (
                    ("template", _("By interaction template"), "interaction_template"),
                    ("group", _("By interaction group"), "interaction_group"),
                    ("campaign", _("By campaign"), "campaign"),
                )
            ]
            data = filterset.form.cleaned_data
            months = selectors.month_range(
                date_after=data.get("date_after"), date_before=data.get("date_before"), today=timezone.localdate()
            )
            monthly = selectors.interactions_per_month(entries=entries, by=chart_by, months=months)
            context["monthly"] = monthly
            context["chart"] = charts.stacked_bars(monthly)
            context["unsubscribes"] = selectors.unsubscribe_rates(entries=entries, months=months)
        if request.htmx and request.htmx.target == STATISTICS_TARGET:
            return TemplateResponse(request, self.template_name + "#results", context, status=status)
        fill_code_choices(filterset)
        return TemplateResponse(request, self.template_name, context, status=status)
