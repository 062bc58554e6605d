"""What interactions shows on crm's pages (crm.hooks panels, registered in InteractionsConfig.ready()).

Each returns the context its template (templates/interactions/includes/) needs, or None when the
user may not see it.
"""

from __future__ import annotations

from typing import Any

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
