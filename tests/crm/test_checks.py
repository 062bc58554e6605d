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


def test_batch_commands_run_without_the_system_checks(db, capsys):
    """A script runs `manage.py segment …` many times: each run skips the 0.3–0.4 s of system
    checks (URL modules, models); `migrate`, the server and `check --deploy` still run them."""
    from django.core.management import execute_from_command_line

    def failing(app_configs, **kwargs):
        return [checks.Error("a check that fails", id="tests.E001")]

    checks.register(failing)
    try:
        execute_from_command_line(["manage.py", "segment", "list", "--json"])  # as from the shell
    finally:
        checks.registry.registry.registered_checks.discard(failing)
    assert capsys.readouterr().out.strip() == "[]"
