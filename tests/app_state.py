"""Every row of the project's own tables, to show that a refused request wrote nothing."""

from __future__ import annotations

from django.apps import apps
from django.db.models import BinaryField

APPS = ("crm", "interactions", "segments")
# Counters every request writes, answered or refused: the public unsubscribe page's rate limit.
COUNTERS = {"interactions.UnsubscribeRequestCount"}


def app_state() -> dict[str, list[tuple]]:
    """The rows of every model of crm, interactions and segments but the request counters, in pk
    order (file contents left out)."""
    state = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.label in COUNTERS:
                continue
            columns = [field.attname for field in model._meta.concrete_fields if not isinstance(field, BinaryField)]
            state[model._meta.label] = list(model.objects.order_by("pk").values_list(*columns))
    return state
