"""What a higher app plugs into interactions, registered in its AppConfig.ready().

interactions never imports segments (crm ← interactions ← segments). Where a page or command
of interactions starts something that belongs to segments — a follow-up segment with the
contacts of a logged segment (R50) — segments registers the function here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_follow_up: Callable[..., Any] | None = None


def register_follow_up(function: Callable[..., Any]) -> None:
    """`function(*, user, logged_segment_id)` makes a follow-up segment and returns it."""
    global _follow_up
    _follow_up = function


def logged_segment_follow_up(*, user, logged_segment_id) -> Any:
    """A new segment with the contacts of a logged segment (R50), made by the app that
    registered it (segments.services.logged_segment_follow_up)."""
    if _follow_up is None:
        raise ImproperlyConfigured("no installed app makes follow-up segments (the segments app registers it)")
    return _follow_up(user=user, logged_segment_id=logged_segment_id)
