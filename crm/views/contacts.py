"""Contact pages: list with criteria, card, create, edit, delete.

Views parse input (ContactFilterSet, ContactEditForms), call one selector or service, and
render or redirect. Login is required by LoginRequiredMiddleware; each view names the
permission it needs and answers 403 without it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from .. import hooks, selectors, services
from ..counts import contacts_text
from ..filters import CodeFilter, ContactFilterSet
from ..forms import ContactEditForms
from ..models import Contact, ContactMailingGroup, ContactType, MailingGroup

RESULTS_TARGET = "contact-results"
# Keys of the list page that are not criteria: the page, the order, "all matching selected".
PAGE_KEYS = ("page", "sort", "selected")


def query_without(query, *names: str) -> str:
    """The query string without the keys `names` and without empty values.

    Used for pagination, export and filter-removal links: a submitted filter form sends
    every box, and the links need only the criteria that were given.
    """
    kept = QueryDict(mutable=True)
    for name in query:
        values = [value for value in query.getlist(name) if value != ""]
        if name not in names and values:
            kept.setlist(name, values)
    return kept.urlencode()


class ContactListView(PermissionRequiredMixin, View):
    """Contacts matching the criteria of the query string, 50 a page, by no.

    An invalid criterion (unknown name, unknown code, bad value) shows its errors with status
    400 and no rows; it never falls back to "all contacts". An htmx request from the filter
    form or the pagination receives only the results block (`#results` partial).
    Queries: a constant number (session, user, permissions, one UNION for the filter form's
    code lists, criteria code checks, one COUNT, one page of rows).
    """

    permission_required = "crm.view_contact"
    raise_exception = True
    template_name = "crm/contact_list.html"
    paginate_by = 50

    def get(self, request) -> HttpResponse:
        filterset = ContactFilterSet(request.GET, ignore=PAGE_KEYS)
        sort = request.GET.get("sort")
        criteria = query_without(request.GET, *PAGE_KEYS)  # the filter, for "all matching selected"
        context = {
            "filterset": filterset,
            "active_filters": self.active_filters(filterset),
            "filter_groups": filterset.field_groups(),
            "query_without_page": query_without(request.GET, "page", "selected"),
            "criteria_query": criteria,
            "criteria_pairs": selection_pairs(criteria),
            "sort_headers": self.sort_headers(request.GET, sort),
            "all_selected": request.GET.get("selected") == "all",
        }
        status = 200
        if filterset.is_valid():
            rows = selectors.contact_list(filterset=filterset, sort=sort)
            paginator = selectors.DeferredJoinPaginator(rows, self.paginate_by)
            context["page_obj"] = paginator.get_page(request.GET.get("page"))
        else:
            status = 400
            context["filter_errors"] = filterset.error_lines()
        if request.htmx and request.htmx.target == RESULTS_TARGET:
            response = TemplateResponse(request, self.template_name + "#results", context, status=status)
            # The address bar shows the criteria given, not every empty box of the form.
            query = query_without(request.GET)
            response["HX-Push-Url"] = f"{request.path}?{query}" if query else request.path
            return response
        self.fill_code_choices(filterset)
        return TemplateResponse(request, self.template_name, context, status=status)

    @staticmethod
    def sort_headers(query, sort: str | None) -> dict[str, dict]:
        """Per sortable column: the link that sorts by it (ascending, or reversed when it is the
        current order; the page and the selection start over) and its aria-sort value."""
        current, descending = selectors.contact_sort(sort)
        headers = {}
        for key in selectors.CONTACT_SORTS:
            active = key == current.key
            value = f"-{key}" if active and not descending else key
            link = query_without(query, "page", "selected", "sort")
            link = f"{link}&sort={value}" if link else f"sort={value}"
            headers[key] = {
                "url": f"?{link}",
                "aria_sort": ("descending" if descending else "ascending") if active else "",
            }
        return headers

    @staticmethod
    def fill_code_choices(filterset: ContactFilterSet) -> None:
        """Give the form's code lists their options from one query instead of one per list."""
        code_filters = {
            name: f.queryset.model
            for name, f in filterset.filters.items()
            if isinstance(f, CodeFilter) and getattr(f.queryset.model, "code", None) is not None
        }
        choices = selectors.reference_choices(code_filters)
        for name, options in choices.items():
            filterset.form.fields[name].widget.choices = options

    @staticmethod
    def active_filters(filterset: ContactFilterSet) -> list[dict]:
        """One entry per criterion in the query string: label, values, link that removes it."""
        data = filterset.data
        type_labels = dict(ContactType.choices)
        active = []
        for name in [*filterset.filters, *filterset.unknown_names]:
            values = [value for value in data.getlist(name) if value != ""]
            if not values:
                continue
            if name == "type":
                values = [str(type_labels.get(value, value)) for value in values]
            label = filterset.filters[name].label if name in filterset.filters else name
            remove = query_without(data, name, "page", "selected")
            active.append({"name": name, "label": label, "values": values, "remove": remove})
        return active


class ContactDetailView(PermissionRequiredMixin, View):
    """The contact card: own fields, consent per channel with its last change and history,
    company or persons, alternate addresses, classifications, and the panels other apps add
    (crm.hooks.contact_card_panels: with interactions.view_interactionlogentry, the latest
    interactions and their statistics)."""

    permission_required = "crm.view_contact"
    raise_exception = True
    template_name = "crm/contact_detail.html"

    def get(self, request, pk: int) -> HttpResponse:
        contact = get_object_or_404(selectors.contact_detail_queryset(), pk=pk)
        card = selectors.contact_card(contact=contact, today=timezone.localdate())
        context = {
            "contact": contact,
            "card": card,
            "consent": selectors.contact_consent(contact=contact),
            **hooks.panels_context(hooks.contact_card_panels, request, contact),
        }
        return TemplateResponse(request, self.template_name, context)


class ContactFormMixin:
    template_name = "crm/contact_form.html"

    def render_forms(self, request, forms: ContactEditForms, *, contact_type: str, status: int = 200):
        context = {
            "forms": forms,
            "form": forms.form,
            "contact": forms.instance if forms.instance is not None and forms.instance.pk else None,
            "contact_type": contact_type,
            **form_labels(contact_type, forms.instance),
        }
        return TemplateResponse(request, self.template_name, context, status=status)


def form_labels(contact_type: str, contact: Contact | None) -> dict[str, str]:
    """The contact form's title, heading and button: one sentence each per contact type, so a
    translation can inflect "company" and "person" in its own way."""
    company = contact_type == ContactType.COMPANY
    labels = {
        "new_label": _("New company") if company else _("New person"),
        "create_label": _("Create company") if company else _("Create person"),
    }
    if contact is not None and contact.pk:
        edit = _("Edit company %(no)s · %(name)s") if company else _("Edit person %(no)s · %(name)s")
        labels["edit_label"] = edit % {"no": contact.no, "name": contact.name}
    return labels


class ContactCreateView(PermissionRequiredMixin, ContactFormMixin, View):
    """New company or person (`contact_type` "company" or "person"; anything else is 404)."""

    permission_required = "crm.add_contact"
    raise_exception = True

    def get(self, request, contact_type: str) -> HttpResponse:
        contact_type = self.valid_type(contact_type)
        initial = {}
        if contact_type == ContactType.PERSON and request.GET.get("company_no"):
            initial["company_no"] = request.GET["company_no"][:20]
        forms = ContactEditForms(contact_type=contact_type, initial=initial)
        return self.render_forms(request, forms, contact_type=contact_type)

    def post(self, request, contact_type: str) -> HttpResponse:
        contact_type = self.valid_type(contact_type)
        forms = ContactEditForms(contact_type=contact_type, data=request.POST)
        if forms.is_valid():
            try:
                contact = services.contact_create(user=request.user, **forms.service_kwargs())
            except ValidationError as error:
                forms.add_service_error(error)
            else:
                messages.success(request, _("%(no)s %(name)s was created.") % {"no": contact.no, "name": contact.name})
                return redirect(contact)
        return self.render_forms(request, forms, contact_type=contact_type, status=400)

    @staticmethod
    def valid_type(contact_type: str) -> str:
        if contact_type not in ContactType.values:
            raise Http404(_("There is no contact type %(type)r.") % {"type": contact_type})
        return contact_type


class ContactUpdateView(PermissionRequiredMixin, ContactFormMixin, View):
    """Edit a contact, its classifications, alternate addresses and date ranges."""

    permission_required = "crm.change_contact"
    raise_exception = True

    def get_contact(self, pk: int) -> Contact:
        return get_object_or_404(Contact.objects.select_related("company"), pk=pk)

    def get(self, request, pk: int) -> HttpResponse:
        contact = self.get_contact(pk)
        forms = ContactEditForms(contact_type=contact.type, instance=contact)
        return self.render_forms(request, forms, contact_type=contact.type)

    def post(self, request, pk: int) -> HttpResponse:
        contact = self.get_contact(pk)
        forms = ContactEditForms(contact_type=contact.type, instance=contact, data=request.POST)
        if forms.is_valid():
            try:
                services.contact_update(user=request.user, contact=contact, **forms.service_kwargs())
            except ValidationError as error:
                forms.add_service_error(error)
            else:
                messages.success(request, _("%(no)s %(name)s was saved.") % {"no": contact.no, "name": contact.name})
                return redirect(contact)
        return self.render_forms(request, forms, contact_type=contact.type, status=400)


class ContactDeleteView(PermissionRequiredMixin, View):
    """Confirm, then delete a contact with its alternate addresses and classifications.

    A company that still has persons, and a contact with history (D15: interaction log
    entries, segment lines), is refused: the page says why and offers no delete button; a
    POST anyway is refused by the service and reported on the card. For a contact with
    history, users who may anonymise (admins) get an "Anonymise" button instead, which posts
    `action=anonymise` here (anyone else: 403).
    """

    permission_required = "crm.delete_contact"
    raise_exception = True
    template_name = "crm/contact_confirm_delete.html"

    def get(self, request, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact, pk=pk)
        preview = selectors.contact_delete_preview(contact=contact)
        return TemplateResponse(request, self.template_name, {"contact": contact, "preview": preview})

    def post(self, request, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact, pk=pk)
        if request.POST.get("action") == "anonymise":
            return self.anonymise(request, contact)
        try:
            deletion = services.contact_delete(user=request.user, contact=contact)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(contact)
        messages.success(
            request,
            _(
                "%(no)s was deleted, with %(alt)d alternate address(es), %(ranges)d date range(s) "
                "and %(links)d classification(s)."
            )
            % {
                "no": deletion.no,
                "alt": deletion.alt_addresses,
                "ranges": deletion.date_ranges,
                "links": deletion.classifications,
            },
        )
        return redirect("crm:contact_list")

    @staticmethod
    def anonymise(request, contact: Contact) -> HttpResponse:
        # The service (interactions', through crm.hooks) checks the permissions (crm.delete_contact
        # and interactions.add_contactanonymisation) and answers PermissionDenied (403).
        hooks.contacts_anonymise(user=request.user, contacts=Contact.objects.filter(pk=contact.pk))
        messages.success(
            request,
            _(
                "%(no)s was anonymised: its name, address, e-mail and phone (also on its alternate addresses) "
                "were replaced; its interaction log entries and segment lines stay."
            )
            % {"no": contact.no},
        )
        return redirect(contact)


def selection_pairs(query: str) -> list[tuple[str, str]]:
    """(name, value) of each criterion of a query string: the hidden inputs that carry a
    selection from one step of a bulk action to the next."""
    data = QueryDict(query)
    return [(name, value) for name in data for value in data.getlist(name)]


class ContactMailingGroupView(PermissionRequiredMixin, View):
    """Bulk action "Set mailing group" on the contact list's selection (ticked rows, or all
    contacts matching the filter): the GET asks for the group and then says what will happen
    ("1,200 contacts get NEWS; 589 have it already"), the POST does it
    (services.contacts_set_mailing_group) and returns to the list of those contacts."""

    permission_required = "crm.change_contact"
    raise_exception = True
    template_name = "crm/contact_mailing_group.html"

    def get(self, request) -> HttpResponse:
        selection = selectors.contact_selection(request.GET, ignore=("group",))
        context = {
            "selection": selection,
            "pairs": selection_pairs(query_without(request.GET, "group")),
            "groups": MailingGroup.objects.order_by("code"),
        }
        if selection.errors:
            return TemplateResponse(request, self.template_name, context, status=400)
        code = request.GET.get("group", "").strip()
        if code:
            group = MailingGroup.objects.filter(code=code).first()
            if group is None:
                context["group_error"] = _('There is no mailing group "%(code)s".') % {"code": code[:20]}
                return TemplateResponse(request, self.template_name, context, status=400)
            already = selection.contacts.filter(pk__in=group_members(group)).order_by().count()
            context |= {"group": group, "already": already, "added": selection.count - already}
        return TemplateResponse(request, self.template_name, context)

    def post(self, request) -> HttpResponse:
        criteria = request.POST.get("criteria", "")
        filterset = ContactFilterSet(criteria)
        if not filterset.is_valid():
            messages.error(
                request, _("Nothing was changed: %(errors)s") % {"errors": "; ".join(filterset.error_lines())}
            )
            return redirect("crm:contact_list")
        try:
            result = services.contacts_set_mailing_group(
                user=request.user, contacts=filterset.qs, mailing_group=request.POST.get("group", "")
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("crm:contact_list")
        messages.success(
            request,
            _("Mailing group %(group)s: added to %(added)s; %(already)s had it already.")
            % {
                "group": result.mailing_group.code,
                "added": contacts_text(result.added),
                "already": contacts_text(result.already),
            },
        )
        url = reverse("crm:contact_list")
        return redirect(f"{url}?{criteria}" if criteria else url)


def group_members(group: MailingGroup):
    """The ids of the contacts that have mailing group `group` (a subquery)."""
    return ContactMailingGroup.objects.filter(mailing_group=group).values("contact_id")
