"""Contact import (CSV upload) and export (CSV/JSON download), over crm.transfer's services.

Both pages behave exactly as the import_contacts / export_contacts commands do: the same
service, the same columns, the same all-or-nothing rule.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.filters import ContactFilterSet
from crm.models import Contact
from crm.transfer import ImportFailed, contacts_export_csv, contacts_export_json, contacts_import_csv
from crm.transfer_forms import ContactImportForm

# A file with thousands of bad lines lists the first ones and says how many more there are.
MAX_PROBLEMS_SHOWN = 500


@permission_required("crm.import_contacts", raise_exception=True)
@require_http_methods(["GET", "POST"])
def contact_import(request: HttpRequest) -> HttpResponse:
    """GET: the upload form. POST: import all or nothing, then redirect to the contact list with
    the counts, or show the form again with every problem of the file (nothing imported)."""
    problems, problem_count = [], 0
    if request.method == "POST":
        form = ContactImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = contacts_import_csv(
                    file=form.cleaned_data["file"],
                    user=request.user,
                    encoding=form.cleaned_data["encoding"],
                    file_name=form.cleaned_data["file"].name,
                )
            except ImportFailed as exc:
                problems, problem_count = exc.problems, exc.count
            else:
                messages.success(
                    request,
                    _("Imported: %(created)s created, %(updated)s updated.")
                    % {"created": result.created, "updated": result.updated},
                )
                return redirect("crm:contact_list")
    else:
        form = ContactImportForm()
    return render(
        request,
        "crm/contact_import.html",
        {
            "form": form,
            "problems": problems[:MAX_PROBLEMS_SHOWN],
            "problem_count": problem_count,
            "problems_hidden": max(problem_count - MAX_PROBLEMS_SHOWN, 0),
        },
    )


@permission_required("crm.export_contacts", raise_exception=True)
@require_GET
def contact_export(request: HttpRequest) -> HttpResponse:
    """The contacts the list's filter selects (all without one), or the rows ticked on it
    (`selection=picked&no=…`), as a CSV download, or JSON with `?format=json`. An unknown
    filter name or value is a 400 naming it, never "all contacts"."""
    filterset = ContactFilterSet(request.GET, queryset=Contact.objects.all(), ignore=("page", "format", "selection"))
    export_format = request.GET.get("format", "csv")
    # The list's bulk form sends the ticked rows as `selection=picked&no=…`: none ticked is not "all".
    nothing_picked = request.GET.get("selection") == "picked" and not any(v.strip() for v in request.GET.getlist("no"))
    if not filterset.is_valid() or export_format not in ("csv", "json") or nothing_picked:
        lines = filterset.error_lines()
        if nothing_picked:
            lines.append(_("No contact is ticked: tick some rows, or select all matching."))
        if export_format not in ("csv", "json"):
            lines.append(_('format: unknown format "%(format)s" (use csv or json)') % {"format": export_format[:20]})
        return HttpResponseBadRequest(
            _("Nothing was exported:") + "\n" + "\n".join(lines), content_type="text/plain; charset=utf-8"
        )
    filename = f"contacts-{timezone.localdate().isoformat()}.{export_format}"
    if export_format == "json":
        response = HttpResponse(content_type="application/json; charset=utf-8")
        contacts_export_json(out=response, queryset=filterset.qs)
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        # A byte-order mark makes Excel read the file as UTF-8; the import accepts it.
        response.write("\ufeff")
        contacts_export_csv(out=response, queryset=filterset.qs)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
