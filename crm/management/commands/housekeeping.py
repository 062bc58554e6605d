"""`manage.py housekeeping`: remove old task results, expired sessions and the rows of workers
gone for a day, and what the other apps register (crm.housekeeping). The workers run it daily;
run it by hand or from cron when no worker runs. Prints what it removed."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from crm.housekeeping import housekeeping


class Command(BaseCommand):
    help = "Remove old task results, expired sessions and other leftovers (the workers run this daily)."

    def handle(self, *args, **options) -> None:
        for name, count in housekeeping().items():
            self.stdout.write(f"{name}: {count} removed")
