"""The one permission rule of the services (crm/permissions.py): `require` and `recorded_user`."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from crm.permissions import COMMAND_LINE, CommandLine, recorded_user, require
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_web_user_with_the_permission_passes(marketing):
    require(marketing, "crm.add_contact")
    require(marketing, ["crm.add_contact", "segments.change_segment"])


def test_a_web_user_without_the_permission_is_refused_naming_it(viewer):
    with pytest.raises(PermissionDenied) as error:
        require(viewer, "crm.add_contact")
    assert str(error.value) == "crm.add_contact needed"


def test_several_permissions_are_all_needed_and_the_missing_ones_named(marketing):
    with pytest.raises(PermissionDenied) as error:
        require(marketing, ("crm.delete_contact", "interactions.add_contactanonymisation", "crm.change_country"))
    assert str(error.value) == "interactions.add_contactanonymisation, crm.change_country needed"


def test_a_superuser_holds_every_permission(db):
    superuser = make_user(None, is_superuser=True)
    require(superuser, ("crm.add_contact", "segments.run_mail_merge", "interactions.add_contactanonymisation"))


def test_an_anonymous_user_is_refused():
    with pytest.raises(PermissionDenied) as error:
        require(AnonymousUser(), "crm.view_contact")
    assert str(error.value) == "crm.view_contact needed"


def test_the_command_line_holds_every_permission():
    require(COMMAND_LINE, "crm.add_contact")
    require(COMMAND_LINE, ["segments.run_mail_merge", "no_such_app.no_such_permission"])


@pytest.mark.parametrize("perm", ["crm.add_contact", ["crm.add_contact", "segments.log_segment"]])
def test_none_is_never_an_actor(perm):
    with pytest.raises(PermissionDenied) as error:
        require(None, perm)
    assert str(error.value).startswith("crm.add_contact")
    assert "needed: no actor given (a batch command passes COMMAND_LINE)" in str(error.value)


def test_the_command_line_is_a_small_frozen_sentinel():
    assert COMMAND_LINE.is_command_line is True
    assert COMMAND_LINE.pk is None
    assert str(COMMAND_LINE) == "command line"
    assert CommandLine() == COMMAND_LINE
    with pytest.raises(dataclasses.FrozenInstanceError):
        COMMAND_LINE.pk = 1  # type: ignore[misc]


def test_recorded_user_is_the_web_user_or_nobody(marketing):
    assert recorded_user(marketing) == marketing
    assert recorded_user(COMMAND_LINE) is None
    assert recorded_user(AnonymousUser()) is None
