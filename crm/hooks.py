"""What higher apps plug into crm's pages and rules, registered in their AppConfig.ready().

crm sits on the ground floor (crm ← interactions ← segments) and never imports the others.
Where a contact page shows what they record, or a contact rule depends on it, the app that
owns that data registers it here:

- `contact_card_panels`, `campaign_panels`: sections of the contact card and the campaign
  page (a template, and the context it needs, or None when the user may not see it);
- `contact_history`: the rows that keep a contact from being deleted (SPEC D15), counted;
- `anonymiser`: the service that anonymises contacts with history instead (D15);
- `logged_segment_describer`: names and links the logged segments a contact's consent history
  refers to by id (an unsubscribe link came from one of its e-mails);
- the contact criteria of other apps' data: `crm.filters.ContactFilterSet.extend`;
- `job_healers`: `healer(now)` re-queues the app's background jobs whose worker stopped and
  returns how many (run by every task worker, crm.worker.heal);
- `housekeepers`: `Chore`-style cleaners, `housekeeper(now)` returns how many rows or files it
  removed (crm.housekeeping, run daily by the workers).

Registration happens once per process, in INSTALLED_APPS order (interactions, then segments),
so the order of panels and history counts is fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet


@dataclass(frozen=True)
class Panel:
    """A section of a page: `template_name` is included with the page's context updated by
    `context(request, obj)`; a None context leaves the section out."""

    template_name: str
    context: Callable[[Any, Model], dict[str, Any] | None]


@dataclass(frozen=True)
class HistoryCounter:
    """Rows of `model` that keep a contact (D15): `rows(contact)`, named by the model's
    verbose names ("2 interaction log entries")."""

    model: type[Model]
    rows: Callable[[Model], QuerySet]


@dataclass(frozen=True)
class Reference:
    """A row of a higher app as a crm page shows it: its label and the page that shows it."""

    label: str
    url: str


contact_card_panels: list[Panel] = []
campaign_panels: list[Panel] = []
contact_history: list[HistoryCounter] = []
job_healers: list[Callable[[Any], int]] = []
housekeepers: list[tuple[str, Callable[[Any], int]]] = []
_anonymiser: Callable[..., int] | None = None
_logged_segment_describer: Callable[[Iterable[int]], dict[int, Reference]] | None = None


def register(hooks: list, item) -> None:
    """Append `item` to one of the lists above, once (ready() may run again in tests)."""
    if item not in hooks:
        hooks.append(item)


def register_anonymiser(function: Callable[..., int]) -> None:
    """`function(*, user, contacts)` anonymises the contacts of a queryset; returns how many."""
    global _anonymiser
    _anonymiser = function


def contacts_anonymise(*, user, contacts) -> int:
    """Anonymise `contacts` (a queryset) with the registered service (interactions'), which
    checks the permissions and records the anonymisation (D15)."""
    if _anonymiser is None:
        raise ImproperlyConfigured("no installed app anonymises contacts (the interactions app registers it)")
    return _anonymiser(user=user, contacts=contacts)


def register_logged_segment_describer(function: Callable[[Iterable[int]], dict[int, Reference]]) -> None:
    """`function(ids)` returns {id: Reference} for the logged segments that exist (one query)."""
    global _logged_segment_describer
    _logged_segment_describer = function


def logged_segments_describe(ids: Iterable[int]) -> dict[int, Reference]:
    """The logged segments of `ids` that exist, named and linked; {} when no installed app
    records logged segments (a page then shows the bare id)."""
    ids = {pk for pk in ids if pk is not None}
    if not ids or _logged_segment_describer is None:
        return {}
    return _logged_segment_describer(ids)


def panels_context(panels: list[Panel], request, obj: Model) -> dict[str, Any]:
    """The context the shown panels need, with `panels`: their template names in order."""
    context: dict[str, Any] = {}
    shown = []
    for panel in panels:
        extra = panel.context(request, obj)
        if extra is not None:
            context.update(extra)
            shown.append(panel.template_name)
    return {**context, "panels": shown}
