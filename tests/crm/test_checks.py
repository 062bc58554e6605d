"""Our own deployment checks (crm/checks.py)."""

from __future__ import annotations

from django.core import checks
from django.test import override_settings

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def crm_ids(include_deployment_checks: bool) -> list[str]:
    messages = checks.run_checks(include_deployment_checks=include_deployment_checks, tags=["crm"])
    return [message.id for message in messages]


def test_immediate_tasks_without_debug_warn_on_check_deploy():
    with override_settings(DEBUG=False, TASKS=IMMEDIATE):
        (warning,) = checks.run_checks(include_deployment_checks=True, tags=["crm"])
    assert warning.id == "crm.W001"
    assert warning.level == checks.WARNING
    assert "inside web requests" in warning.msg
    assert "DJANGO_TASKS_BACKEND=django_tasks_db.DatabaseBackend" in warning.hint


def test_the_warning_is_a_deploy_check_only():
    with override_settings(DEBUG=False, TASKS=IMMEDIATE):
        assert crm_ids(include_deployment_checks=False) == []


def test_a_queue_or_debug_gives_no_warning():
    with override_settings(DEBUG=False, TASKS=QUEUE):
        assert crm_ids(include_deployment_checks=True) == []
    with override_settings(DEBUG=True, TASKS=IMMEDIATE):
        assert crm_ids(include_deployment_checks=True) == []
