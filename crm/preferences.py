"""What a user chose to keep from visit to visit (crm.models.UserPreference): read a group of
keys in one query, write one key with one upsert."""

from __future__ import annotations

from collections.abc import Iterable

from .models import UserPreference


def preferences_of(user, keys: Iterable[str]) -> dict[str, str]:
    """The user's values of `keys` that were ever set (one query; none for an anonymous user)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    rows = UserPreference.objects.filter(user=user, key__in=list(keys)).values_list("key", "value")
    return dict(rows)


def set_preference(*, user, key: str, value: str) -> None:
    """Keep `value` under `key` for `user` (one statement: insert or update the one row)."""
    UserPreference.objects.bulk_create(
        [UserPreference(user=user, key=key, value=value)],
        update_conflicts=True,
        unique_fields=["user", "key"],
        update_fields=["value"],
    )
