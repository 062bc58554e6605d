"""crm.hooks and ContactFilterSet.extend: how interactions and segments plug their data into
crm's pages and rules without crm importing them (issue 11, part 1)."""

from __future__ import annotations

import django_filters
import pytest
from django.apps import apps

from crm import hooks
from crm.filters import ContactFilterSet


def registrations() -> tuple:
    return (
        list(hooks.contact_card_panels),
        list(hooks.campaign_panels),
        list(hooks.contact_history),
        list(ContactFilterSet.extensions),
        list(ContactFilterSet.base_filters),
    )


def test_the_higher_apps_register_in_installed_apps_order():
    assert [counter.model._meta.label for counter in hooks.contact_history] == [
        "interactions.InteractionLogEntry",
        "segments.SegmentLine",
        "segments.RemovedSegmentLine",
    ]
    assert [panel.template_name for panel in hooks.contact_card_panels] == [
        "interactions/includes/contact_interactions.html"
    ]
    assert [panel.template_name for panel in hooks.campaign_panels] == ["interactions/includes/campaign_templates.html"]
    # The history names follow the contact's own, in CONTRACT order.
    assert list(ContactFilterSet.base_filters)[-4:] == [
        "campaign",
        "interaction_template",
        "interaction_date_after",
        "interaction_date_before",
    ]


def test_ready_again_registers_nothing_twice():
    before = registrations()
    apps.get_app_config("interactions").ready()
    apps.get_app_config("segments").ready()
    assert registrations() == before


def test_a_criterion_name_cannot_be_declared_twice():
    with pytest.raises(ValueError, match='contact criterion "city" is declared twice'):
        ContactFilterSet.extend({"city": django_filters.CharFilter()}, narrow=lambda queryset, data: queryset)
    assert "city" in ContactFilterSet.base_filters  # the contact's own filter stays
