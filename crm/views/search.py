"""The search box: find a contact by no., name, e-mail or city (crm.search).

One address, three answers:
- an htmx request (the box, as the user types): the listbox of at most 10 contacts
  (`crm/includes/search_listbox.html`), each option opening the contact card, or with
  `for=add` (the worksheet's "Add one contact") giving the contact's no. to the form;
- a plain GET (the form submitted, JavaScript or not): the results page, 50 a page, counted.
A text that is too long answers with its message (status 400 on the results page).
"""

from __future__ import annotations

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views import View

from ..search import DROPDOWN_LIMIT, SearchError, search_contacts, search_results
from .contacts import query_without

LISTBOX = "crm/includes/search_listbox.html"


class ContactSearchView(PermissionRequiredMixin, View):
    """Contacts matching `q` (or `contact_no`, the worksheet's field). Queries: session, user,
    permissions, then the listbox's look-ups (at most five) or the page's COUNT and page of rows."""

    permission_required = "crm.view_contact"
    raise_exception = True
    template_name = "crm/contact_search.html"
    paginate_by = 50

    def get(self, request) -> HttpResponse:
        q = request.GET.get("q", request.GET.get("contact_no", ""))
        if request.htmx:
            return self.listbox(request, q)
        context = {"q": q, "query_without_page": query_without(request.GET, "page")}
        try:
            results = search_results(q)
        except SearchError as error:
            context["error"] = str(error)
            return TemplateResponse(request, self.template_name, context, status=400)
        context["text"] = results.text
        if results.text:
            context["page_obj"] = Paginator(results.queryset, self.paginate_by).get_page(request.GET.get("page"))
        return TemplateResponse(request, self.template_name, context)

    def listbox(self, request, q: str) -> HttpResponse:
        context = {"mode": "add" if request.GET.get("for") == "add" else "open", "limit": DROPDOWN_LIMIT}
        try:
            context["contacts"] = search_contacts(q)
        except SearchError as error:
            context["error"] = str(error)
            context["contacts"] = []
        context["text"] = " ".join(q.split())
        context["listbox_id"] = request.GET.get("listbox", "nav-search-listbox")
        return TemplateResponse(request, LISTBOX, context)
