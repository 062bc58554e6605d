"""What interactions shows on crm's pages (crm.hooks panels, registered in InteractionsConfig.ready()).

Each returns the context its template (templates/interactions/includes/) needs, or None when the
user may not see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse

from crm.hooks import Reference

from .models import LoggedSegment
from .selectors import contact_interactions
from .template_selectors import campaign_templates


def contact_interactions_panel(request, contact) -> dict[str, Any] | None:
    """The contact card's latest interactions and their statistics (interactions.view_interactionlogentry)."""
    if not request.user.has_perm("interactions.view_interactionlogentry"):
        return None
    return {"interactions": contact_interactions(contact=contact)}


def campaign_templates_panel(request, campaign) -> dict[str, Any]:
    """The interaction templates that default to the campaign (its page)."""
    return {"templates": campaign_templates(campaign=campaign)}


def logged_segments_describe(ids: Iterable[int]) -> dict[int, Reference]:
    """Logged segments as the contact card's consent history names them ("12 · SEG00012"),
    with their page; ids of deleted ones are left out. One query."""
    rows = LoggedSegment.objects.filter(pk__in=list(ids)).values_list("pk", "segment_no")
    return {
        pk: Reference(label=f"{pk} · {segment_no}", url=reverse("interactions:logged_segment_detail", args=[pk]))
        for pk, segment_no in rows
    }
