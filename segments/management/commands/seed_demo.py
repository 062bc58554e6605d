"""`manage.py seed_demo`: deterministic demo data, with --segments open demo segments (see segments.demo)."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand

from crm.models import Contact
from segments.demo import DEFAULT_SEED, demo_seed, demo_segments


def non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a whole number: "{value}"') from None
    if number < 0:
        raise argparse.ArgumentTypeError(f'must not be negative: "{value}"')
    return number


class Command(BaseCommand):
    help = (
        "Create demo reference data and N demo contacts (companies, their persons, private persons) in "
        "one transaction. The same --seed on an empty database gives the same data. Builds 1,000,000 "
        "contacts in minutes (set-based, memory-bounded). Prints a one-line summary (and, with --segments, "
        "a line naming the demo segments made)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--contacts", type=non_negative_int, default=2000, help="number of contacts to create (default 2000)"
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database holds any contact already"
        )
        parser.add_argument(
            "--segments",
            action="store_true",
            help="also create a few open demo segments (Danish, Norwegian, Finnish, English), owned by the demo "
            "users of those languages when they exist (create_demo_users)",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"random seed; same seed, same data (default {DEFAULT_SEED})"
        )

    def handle(self, *args, contacts: int, if_empty: bool, seed: int, segments: bool, **options):
        if if_empty and Contact.objects.exists():
            if options["verbosity"] >= 1:
                self.stderr.write("Contacts exist already: nothing seeded (--if-empty).")
            return
        progress = self._progress if self.stderr.isatty() and options["verbosity"] >= 1 else None
        summary = demo_seed(contacts=contacts, seed=seed, progress=progress)
        if progress:
            self.stderr.write("")
        if options["verbosity"] >= 1:
            self.stdout.write(summary.line())
        if segments:
            numbers = demo_segments()
            if options["verbosity"] >= 1:
                listed = f": {', '.join(numbers)}" if numbers else ""
                self.stdout.write(f"Created {len(numbers)} demo segments{listed}.")

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"\rSeeding contacts: {done:,} / {total:,} ({done * 100 // total}%)", ending="")
        self.stderr.flush()
