"""The main navigation, built from the pages that exist and the user's permissions."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (label, url name, permission needed to see it)
MAIN_NAV = [
    (_("Contacts"), "crm:contact_list", "crm.view_contact"),
    (_("Segments"), "segments:segment_list", "segments.view_segment"),
    (_("Logged Segments"), "interactions:logged_segment_list", "interactions.view_loggedsegment"),
    (_("Interaction Log"), "interactions:entry_list", "interactions.view_interactionlogentry"),
    (_("Interaction Templates"), "interactions:template_list", "interactions.view_interactiontemplate"),
    (_("Campaigns"), "crm:campaign_list", "crm.view_campaign"),
    # Routed under DEBUG only (make run's e-mails): without DEBUG the name does not reverse.
    (_("Outbox"), "interactions:outbox", "interactions.change_loggedsegment"),
]


def main_nav(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"main_nav": []}
    items = []
    for label, name, permission in MAIN_NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue  # the page arrives with a later part of the product
        if user.has_perm(permission):
            items.append({"label": label, "url": url, "active": request.path.startswith(url)})
    if user.is_staff:
        items.append({"label": _("Admin"), "url": reverse("admin:index"), "active": request.path.startswith("/admin/")})
    return {"main_nav": items}
