"""`manage.py interactions …`: interaction log entries from scripts (CONTRACT.md, "Logged
segments and interactions").

Each subcommand looks up the numbers and codes it is given, makes one service call
(interactions/services.py, the transaction boundary) and prints its result. An unknown entry,
contact or code is an error naming the field and quoting the value: one line per problem on
stderr, exit status 1, nothing written (BatchCommand). The commands act as the command line
(`crm.permissions.COMMAND_LINE`), like `manage.py segment`: access to `manage.py` is the access
control.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from crm.management.batch import BatchCommand, Failed, json_date, json_decimal, json_null, parse_amount, parse_date
from crm.models import Contact, CorrespondenceType, Salesperson
from crm.permissions import COMMAND_LINE
from crm.untrusted import text_problems
from interactions import services
from interactions.models import Evaluation, InteractionLogEntry, InteractionTemplate, LoggedSegment

EXPORT_COLUMNS = (
    "pk",
    "document_id",
    "contact__no",
    "contact_company__no",
    "date",
    "description",
    "interaction_template_id",
    "interaction_group_id",
    "information_flow",
    "initiated_by",
    "cost",
    "duration",
    "correspondence_type",
    "subject",
    "language_id",
    "salesperson_id",
    "campaign__no",
    "campaign_target",
    "campaign_response",
    "segment_no",
    "logged_segment_id",
    "evaluation",
    "canceled",
    "attempt_failed",
    "delivery_status",
)


def entry_json(row: dict[str, Any]) -> dict[str, Any]:
    """One entry in CONTRACT.md's `interactions export --json` shape (keys in its order)."""
    return {
        "entry_no": row["pk"],
        "contact_no": row["contact__no"],
        "contact_company_no": json_null(row["contact_company__no"]),
        "date": json_date(row["date"]),
        "description": row["description"],
        "interaction_template": json_null(row["interaction_template_id"]),
        "interaction_group": json_null(row["interaction_group_id"]),
        "information_flow": json_null(row["information_flow"]),
        "initiated_by": json_null(row["initiated_by"]),
        "cost": json_decimal(row["cost"]),
        "duration": json_decimal(row["duration"]),
        "correspondence_type": json_null(row["correspondence_type"]),
        "subject": row["subject"],
        "language": json_null(row["language_id"]),
        "salesperson": json_null(row["salesperson_id"]),
        "campaign": json_null(row["campaign__no"]),
        "campaign_target": row["campaign_target"],
        "campaign_response": row["campaign_response"],
        "segment_no": json_null(row["segment_no"]),
        "logged_segment": row["logged_segment_id"],
        "evaluation": json_null(row["evaluation"]),
        "canceled": row["canceled"],
        "attempt_failed": row["attempt_failed"],
        "delivery_status": json_null(row["delivery_status"]),
        # The letter made for the entry (R72), stored when it was delivered or printed.
        "has_attachment": row["document_id"] is not None,
    }


def entries_json(*, contact: Contact | None = None, logged_segment_id: int | None = None) -> Iterator[dict[str, Any]]:
    """The entries (of one contact, of one logged segment, or all) by entry no., streamed.

    One query whatever the number of entries: the contact, company and campaign numbers come
    through joins, codes are the entry's own columns, and rows are fetched in chunks.
    """
    entries = InteractionLogEntry.objects.order_by("pk")
    if contact is not None:
        entries = entries.filter(contact=contact)
    if logged_segment_id is not None:
        entries = entries.filter(logged_segment_id=logged_segment_id)
    for row in entries.values(*EXPORT_COLUMNS).iterator(chunk_size=2000):
        yield entry_json(row)


class Command(BatchCommand):
    help = (
        "Interaction log entries: cancel or restore them, evaluate them, export them as JSON, record one "
        "interaction with one contact. On bad input every problem is written to stderr, one line each, "
        "nothing is written and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        p = sub.add_parser("cancel", help="Cancel entries (they stay visible and leave every statistic).")
        p.add_argument("entry_nos", metavar="ENTRY_NO", type=int, nargs="+")

        p = sub.add_parser(
            "uncancel",
            help="Restore entries; refused for all of them while an entry's logged segment or campaign entry "
            "is canceled.",
        )
        p.add_argument("entry_nos", metavar="ENTRY_NO", type=int, nargs="+")

        p = sub.add_parser("evaluate", help="Set the evaluation of entries.")
        p.add_argument("entry_nos", metavar="ENTRY_NO", type=int, nargs="+")
        p.add_argument("--evaluation", required=True, choices=Evaluation.values)

        p = sub.add_parser("export", help="Entries ordered by entry no.")
        p.add_argument("--json", action="store_true", help="One JSON array (CONTRACT.md shape).")
        p.add_argument("--contact", metavar="NO", help="Only the entries of this contact.")
        p.add_argument("--logged-segment", metavar="ID", type=int, help="Only the entries of this logged segment.")

        p = sub.add_parser(
            "create",
            help="Record one interaction with one contact; prints its entry no. alone. Values not given come from "
            "the template and the contact (description from the template, date today, the contact's "
            "salesperson, the correspondence type the template and the contact call for). Nothing is delivered.",
        )
        p.add_argument("contact_no", metavar="CONTACT_NO")
        p.add_argument("--interaction-template", metavar="CODE", required=True)
        p.add_argument("--description", metavar="TEXT")
        p.add_argument("--date", metavar="YYYY-MM-DD")
        p.add_argument("--salesperson", metavar="CODE")
        p.add_argument("--cost", metavar="N", help="Decimal, 0 or more.")
        p.add_argument("--duration", metavar="N", help="Minutes, decimal, 0 or more.")
        p.add_argument("--correspondence-type", choices=CorrespondenceType.values)
        p.add_argument("--evaluation", choices=Evaluation.values)

    # Writes on entries ----------------------------------------------------------------------

    def do_cancel(self, options) -> None:
        services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=options["entry_nos"], canceled=True)

    def do_uncancel(self, options) -> None:
        services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=options["entry_nos"], canceled=False)

    def do_evaluate(self, options) -> None:
        services.interactions_evaluate(
            user=COMMAND_LINE, entry_nos=options["entry_nos"], evaluation=options["evaluation"]
        )

    # Export ---------------------------------------------------------------------------------

    def do_export(self, options) -> None:
        problems = []
        contact = None
        if options["contact"] is not None:
            contact = Contact.objects.filter(no=options["contact"]).first()
            if contact is None:
                problems.append(f'contact: unknown contact "{options["contact"]}"')
        logged_id = options["logged_segment"]
        if logged_id is not None and not LoggedSegment.objects.filter(pk=logged_id).exists():
            problems.append(f'logged_segment: unknown logged segment "{logged_id}"')
        if problems:
            raise Failed(problems)
        entries = entries_json(contact=contact, logged_segment_id=logged_id)
        if options["json"]:
            self.write_json_array(entries)
            return
        for entry in entries:
            self.out(
                f"{entry['entry_no']}\t{entry['date']}\t{entry['contact_no']}\t{entry['description']}"
                + ("\tcanceled" if entry["canceled"] else "")
            )

    def write_json_array(self, items) -> None:
        """One JSON array, written item by item so that memory stays flat."""
        count = 0
        for item in items:
            self.stdout.write(("[\n" if count == 0 else ",\n") + json.dumps(item, ensure_ascii=False), ending="")
            count += 1
        self.stdout.write("\n]\n" if count else "[]\n", ending="")

    # One interaction ------------------------------------------------------------------------

    def do_create(self, options) -> None:
        problems: list[str] = []
        values: dict[str, Any] = {}
        contact = Contact.objects.filter(no=options["contact_no"]).first()
        if contact is None:
            problems.append(f'contact_no: unknown contact "{options["contact_no"]}"')
        template = InteractionTemplate.objects.filter(code=options["interaction_template"]).first()
        if template is None:
            problems.append(f'interaction_template: unknown code "{options["interaction_template"]}"')
        if options["salesperson"] is not None:
            values["salesperson"] = Salesperson.objects.filter(code=options["salesperson"]).first()
            if values["salesperson"] is None:
                problems.append(f'salesperson: unknown code "{options["salesperson"]}"')
        if options["description"] is not None:
            problems += text_problems("description", options["description"])
        parsers = {"date": parse_date, "cost": parse_amount, "duration": parse_amount}
        for name, parse in parsers.items():
            if options[name] is not None:
                try:
                    values[name] = parse(name, options[name])
                except Failed as exc:
                    problems += exc.problems
        if problems:
            raise Failed(problems)
        for name in ("description", "correspondence_type", "evaluation"):
            if options[name] is not None:
                values[name] = options[name]
        entry = services.interaction_create(
            user=COMMAND_LINE, contact=contact, interaction_template=template, values=values
        )
        self.out(entry.pk)
