"""`manage.py create_demo_users`: the demo logins of a local install (DEBUG only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.roles import ADMIN, MARKETING, VIEWER

# (username, password, group, superuser and staff)
DEMO_USERS = (
    ("admin", "admin-demo", ADMIN, True),
    ("marketing", "marketing-demo", MARKETING, False),
    ("viewer", "viewer-demo", VIEWER, False),
)
REFUSED_WITHOUT_DEBUG = (
    "Refusing to create demo users: DEBUG is off. Their passwords are public and must never reach a "
    "production database. Run with DJANGO_DEBUG=true, or pass --force on a throw-away install."
)


class Command(BaseCommand):
    help = (
        "Create or reset the demo users admin/admin-demo (superuser, Admin), marketing/marketing-demo "
        "(Marketing) and viewer/viewer-demo (Viewer). Idempotent: each run resets their passwords, flags "
        "and groups. Refused when DEBUG is off unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="run even though DEBUG is off (never on a production database)"
        )

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(REFUSED_WITHOUT_DEBUG)
        groups = {group.name: group for group in Group.objects.filter(name__in=[g for _, _, g, _ in DEMO_USERS])}
        missing = sorted({g for _, _, g, _ in DEMO_USERS} - set(groups))
        if missing:
            raise CommandError(f"group {', '.join(missing)} is missing: run `manage.py migrate` first")
        with transaction.atomic():
            for username, password, group, is_admin in DEMO_USERS:
                user, _ = User.objects.get_or_create(username=username)
                user.set_password(password)
                user.email = f"{username}@example.com"
                user.is_active = True
                user.is_staff = is_admin
                user.is_superuser = is_admin
                user.save()
                user.groups.set([groups[group]])
        if options["verbosity"] >= 1:
            self.stdout.write("Demo users ready: admin, marketing, viewer (passwords reset to <name>-demo).")
