"""`manage.py contact …`: a contact's consent from scripts (CONTRACT.md, "Consent per channel
and unsubscribe").

- `contact consent NO [--email STATE] [--postal STATE] [--phone STATE] [--source TEXT]` sets
  the channels given through `crm.consent.contact_set_consent` (one transaction; a history
  row per channel whose state changes, with the source given and no user) and prints nothing.
- `contact consent-history NO --json` prints the contact's consent history, oldest first:
  `[{"channel", "state", "at", "source", "logged_segment"}]`. `at` is ISO 8601 with its offset
  (the server's time zone); `source` is the text recorded with the change, "" when none was
  given (a change by the command line without `--source`); `logged_segment` is the id of the
  logged segment whose unsubscribe link withdrew the consent, else null.

An unknown contact number, a state that is not `granted`, `withdrawn` or `unknown`, or a
source that is too long or holds control characters is an error: one line on stderr naming
the field and the value, exit status 1, nothing written (BatchCommand). The command acts as
the command line (`crm.permissions.COMMAND_LINE`), like every batch command.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.consent import clean_source, clean_states, consent_history, contact_set_consent
from crm.management.batch import BatchCommand, Failed
from crm.models import ConsentChannel, Contact
from crm.permissions import COMMAND_LINE


def contact_of(no: str) -> Contact:
    contact = Contact.objects.filter(no=no).only("pk", "no").first()
    if contact is None:
        raise Failed([f'contact_no: unknown contact "{no}"'])
    return contact


def consent_history_json(contact: Contact) -> list[dict[str, Any]]:
    """CONTRACT.md `contact consent-history --json`: one query, oldest first."""
    rows = consent_history(contact).values_list("channel", "state", "at", "source", "logged_segment_id")
    return [
        {
            "channel": channel,
            "state": state,
            "at": timezone.localtime(at).isoformat(),
            "source": source,
            "logged_segment": logged_segment_id,
        }
        for channel, state, at, source, logged_segment_id in rows
    ]


class Command(BatchCommand):
    help = (
        "A contact's consent per channel (email, postal, phone): set it, or print its history. On bad input "
        "every problem is written to stderr, one line each, nothing is written and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        p = sub.add_parser(
            "consent",
            help="Set the consent of the channels given (granted, withdrawn or unknown); each change is kept in "
            "the contact's consent history. Prints nothing.",
        )
        p.add_argument("contact_no", metavar="NO", help="Contact no.")
        for channel in ConsentChannel:
            p.add_argument(
                f"--{channel.value}",
                metavar="STATE",
                help=f"{channel.label.capitalize()}: granted, withdrawn or unknown.",
            )
        p.add_argument(
            "--source", metavar="TEXT", default="", help='Where the change comes from, e.g. "written request".'
        )

        p = sub.add_parser("consent-history", help="The contact's consent changes, oldest first.")
        p.add_argument("contact_no", metavar="NO", help="Contact no.")
        p.add_argument("--json", action="store_true", help="One JSON array (CONTRACT.md shape).")

    def do_consent(self, options) -> None:
        states = {channel.value: options[channel.value] for channel in ConsentChannel if options[channel.value]}
        problems: list[str] = []
        if not states:
            problems.append("give at least one of --email, --postal, --phone")
        # Every bad value is reported, each channel's on its own line.
        checks = [(clean_states, {channel: state}) for channel, state in states.items()]
        for check, value in [*checks, (clean_source, options["source"])]:
            try:
                check(value)
            except ValidationError as exc:
                problems += exc.messages
        try:
            contact = contact_of(options["contact_no"])
        except Failed as exc:
            problems[:0] = exc.problems
        if problems:
            raise Failed(problems)
        contact_set_consent(actor=COMMAND_LINE, contact=contact, states=states, source=options["source"])

    def do_consent_history(self, options) -> None:
        rows = consent_history_json(contact_of(options["contact_no"]))
        if options["json"]:
            self.out(json.dumps(rows, ensure_ascii=False))
            return
        for row in rows:
            where = f"logged segment {row['logged_segment']}" if row["logged_segment"] is not None else ""
            self.out("\t".join(part for part in (row["at"], row["channel"], row["state"], row["source"], where)))
