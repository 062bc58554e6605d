"""Who may write: the one permission rule of every service (STYLE.md "services for writes").

A service is called by an actor, named by its `user` keyword:
- a web user (`request.user`): the service checks the user's permissions with `require`, even
  when the page already did, so no caller can write what its user may not;
- `COMMAND_LINE`, the actor of batch commands (manage.py segment, interactions, …): a batch
  command acts as the command line: access to manage.py is the access control.

`None` is never an actor: `require(None, …)` raises PermissionDenied, so a caller that forgot
to say who acts finds out at once instead of skipping the check. What a service records as
"who" (owner, created_by, user) is `recorded_user(actor)`: the web user, or None for the
command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied


@dataclass(frozen=True)
class CommandLine:
    """The actor of a batch command: a batch command acts as the command line: access to
    manage.py is the access control. It holds every permission and is recorded as nobody."""

    is_command_line: ClassVar[bool] = True
    pk: ClassVar[None] = None

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return True

    def __str__(self) -> str:
        return "command line"


COMMAND_LINE = CommandLine()


def require(actor, perm: str | Iterable[str]) -> None:
    """Raise PermissionDenied ("<permission> needed") unless `actor` holds every permission of
    `perm` (one "app.codename" or several). COMMAND_LINE holds them all; None is refused."""
    perms = [perm] if isinstance(perm, str) else list(perm)
    if actor is None:
        raise PermissionDenied(f"{', '.join(perms)} needed: no actor given (a batch command passes COMMAND_LINE)")
    missing = [name for name in perms if not actor.has_perm(name)]
    if missing:
        raise PermissionDenied(f"{', '.join(missing)} needed")


def recorded_user(actor):
    """Who a service records as having written (owner, created_by, user): the web user, None
    for the command line (and for an anonymous user, which has no row either)."""
    return actor if getattr(actor, "pk", None) else None
