"""Shared fixtures: one user per role, logged-in clients, reference data."""

from __future__ import annotations

import importlib
import shutil

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from crm.roles import ADMIN, MARKETING, VIEWER, apply_roles

ROLE_GROUPS = {"viewer": VIEWER, "marketing": MARKETING, "admin": ADMIN}


@pytest.fixture(autouse=True)
def _no_settings_left_behind():
    """Fail the test that leaves overridden settings behind (e.g. @override_settings beside
    pytest-django's `settings` fixture keeps the override after the test): later tests would
    run against its URLconf or settings, and fail far from the cause."""
    from django.conf import settings

    before = (settings.SETTINGS_MODULE, settings.ROOT_URLCONF, settings.DEBUG)
    yield
    after = (settings.SETTINGS_MODULE, settings.ROOT_URLCONF, settings.DEBUG)
    assert after == before, f"settings left overridden after the test: {before} became {after}"


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A page rendered in Danish leaves Danish active in the thread (the test client runs the
    middleware in it): start every test from the default language, whatever ran before."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _migration_data(request):
    """Give transactional tests the rows data migrations create (roles, number series).

    Transactional tests flush the database after each test, which also removes those rows.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    apply_roles(apps)
    number_series = importlib.import_module("crm.migrations.0004_number_series")
    number_series.forward(apps, None)


def pytest_sessionfinish(session, exitstatus):
    """Remove the stored documents' folder of this test process (tests/settings.py)."""
    from django.conf import settings

    if str(settings.MEDIA_ROOT).startswith("/tmp/crm-test-media-"):
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


def make_user(role: str | None, username: str | None = None, **kwargs) -> User:
    """A user in the role's group; admins are staff (they use Django admin)."""
    username = username or f"{role or 'nobody'}-user"
    user = User.objects.create_user(username=username, password="pw-" + username, **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
        if role == "admin":
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def viewer(db) -> User:
    return make_user("viewer")


@pytest.fixture
def marketing(db) -> User:
    return make_user("marketing")


@pytest.fixture
def admin_user(db) -> User:
    return make_user("admin")


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client_for(viewer)


@pytest.fixture
def marketing_client(marketing) -> Client:
    return _client_for(marketing)


@pytest.fixture
def admin_client_crm(admin_user) -> Client:
    return _client_for(admin_user)
