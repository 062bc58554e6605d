"""`manage.py create_demo_users`: the demo logins of a local install (DEBUG only)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.models import Profile
from crm.roles import ADMIN, MARKETING, VIEWER


@dataclass(frozen=True)
class DemoUser:
    """One demo login. `language` is their profile's ("": no language of their own, they follow
    the browser); the users of a language log in with their role's password (`marketing-demo`)."""

    username: str
    password: str
    group: str
    is_admin: bool = False
    language: str = ""
    first_name: str = ""
    last_name: str = ""

    @property
    def test_email(self) -> str:
        return f"{self.username}.test@example.com" if self.language else ""


DEMO_USERS = (
    DemoUser("admin", "admin-demo", ADMIN, True),
    DemoUser("marketing", "marketing-demo", MARKETING),
    DemoUser("viewer", "viewer-demo", VIEWER),
    # A marketing assistant per language of the pages, with that language on their profile.
    DemoUser("marketing-da", "marketing-demo", MARKETING, language="da", first_name="Sofie", last_name="Kjær"),
    DemoUser("marketing-nb", "marketing-demo", MARKETING, language="nb", first_name="Ingrid", last_name="Solberg"),
    DemoUser("marketing-fi", "marketing-demo", MARKETING, language="fi", first_name="Laura", last_name="Mäkinen"),
)
REFUSED_WITHOUT_DEBUG = (
    "Refusing to create demo users: DEBUG is off. Their passwords are public and must never reach a "
    "production database. Run with DJANGO_DEBUG=true, or pass --force on a throw-away install."
)


class Command(BaseCommand):
    help = (
        "Create or reset the demo users admin/admin-demo (superuser, Admin), marketing/marketing-demo "
        "(Marketing) and viewer/viewer-demo (Viewer), who follow the browser's language, and "
        "marketing-da, marketing-nb, marketing-fi (Marketing, password marketing-demo) whose profile "
        "says Danish, Norwegian Bokmål and Finnish. Idempotent: each run resets their passwords, flags, "
        "groups and profile languages. Refused when DEBUG is off unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="run even though DEBUG is off (never on a production database)"
        )

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(REFUSED_WITHOUT_DEBUG)
        wanted = {demo.group for demo in DEMO_USERS}
        groups = {group.name: group for group in Group.objects.filter(name__in=wanted)}
        missing = sorted(wanted - set(groups))
        if missing:
            raise CommandError(f"group {', '.join(missing)} is missing: run `manage.py migrate` first")
        with transaction.atomic():
            for demo in DEMO_USERS:
                user, _ = User.objects.get_or_create(username=demo.username)
                user.set_password(demo.password)
                user.email = f"{demo.username}@example.com"
                user.first_name, user.last_name = demo.first_name, demo.last_name
                user.is_active = True
                user.is_staff = demo.is_admin
                user.is_superuser = demo.is_admin
                user.save()
                user.groups.set([groups[demo.group]])
                if demo.language:
                    Profile.objects.update_or_create(
                        user=user, defaults={"language": demo.language, "test_email": demo.test_email}
                    )
                else:  # no language of their own: they follow the browser
                    Profile.objects.filter(user=user).update(language="")
        if options["verbosity"] >= 1:
            names = ", ".join(demo.username for demo in DEMO_USERS)
            self.stdout.write(f"Demo users ready: {names} (passwords reset).")
