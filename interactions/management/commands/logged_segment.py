"""`manage.py logged_segment …`: logged segments from scripts (CONTRACT.md, "Logged segments and
interactions").

Each subcommand makes one service call (interactions/services.py, the transaction boundary;
`resend` and `resume`: interactions/delivery.py) and prints its result. An unknown id, or a
delete of a logged segment that is not canceled, is an error: one line on stderr, exit status 1,
nothing written (BatchCommand). The commands act as the command line
(`crm.permissions.COMMAND_LINE`), like `manage.py segment`: access to `manage.py` is the access
control.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils import timezone

from crm.management.batch import BatchCommand
from crm.permissions import COMMAND_LINE
from interactions import hooks, services
from interactions.delivery import NothingToDeliver, delivery_resend, delivery_resume, delivery_runs_inline
from interactions.models import LoggedSegment

from ._delivery import progress_on_terminal, report


def logged_segments_json() -> list[dict[str, Any]]:
    """CONTRACT.md `logged_segment list --json`: every logged segment by id, one query.

    The counts are the ones the services keep on the row (entries whose Canceled equals the
    logged segment's, F1.18); `created` is the local date of the log.
    """
    rows = LoggedSegment.objects.order_by("pk").values(
        "pk",
        "segment_no",
        "description",
        "no_of_interactions",
        "no_of_campaign_entries",
        "created_at",
        "user__username",
        "canceled",
    )
    return [
        {
            "id": row["pk"],
            "segment_no": row["segment_no"],
            "description": row["description"],
            "no_of_interactions": row["no_of_interactions"],
            "no_of_campaign_entries": row["no_of_campaign_entries"],
            "created": timezone.localtime(row["created_at"]).date().isoformat(),
            "user": row["user__username"] or None,
            "canceled": row["canceled"],
        }
        for row in rows
    ]


class Command(BatchCommand):
    help = (
        "Logged segments: list them, cancel or restore all their entries, start a follow-up segment with "
        "their contacts, delete a canceled one, resend the entries whose delivery failed, resume a stopped "
        "delivery. On bad input every problem is written to stderr, one line "
        "each, nothing is written and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        p = sub.add_parser("list", help="Every logged segment ordered by id.")
        p.add_argument("--json", action="store_true", help="One JSON array (CONTRACT.md shape).")

        p = sub.add_parser("cancel", help="Cancel the logged segment with all its entries and campaign entries.")
        p.add_argument("id", metavar="ID", type=int)

        p = sub.add_parser("uncancel", help="Restore the logged segment with all its entries and campaign entries.")
        p.add_argument("id", metavar="ID", type=int)

        p = sub.add_parser("follow-up", help="New segment with the same contacts; prints its number alone.")
        p.add_argument("id", metavar="ID", type=int)

        p = sub.add_parser(
            "delete", help="Delete a canceled logged segment with its entries and campaign entries (refused otherwise)."
        )
        p.add_argument("id", metavar="ID", type=int)

        p = sub.add_parser(
            "resend",
            help="Deliver again the entries whose delivery status is error (never one that was sent); prints "
            "their number alone (0: none).",
        )
        p.add_argument("id", metavar="ID", type=int)

        p = sub.add_parser(
            "resume",
            help="Enqueue again a delivery whose worker stopped (its lease has passed); with a queue backend "
            "prints the new task's id.",
        )
        p.add_argument("delivery_id", metavar="DELIVERY_ID", type=int)

    def do_list(self, options) -> None:
        rows = logged_segments_json()
        if options["json"]:
            self.out(json.dumps(rows, ensure_ascii=False))
            return
        for row in rows:
            self.out(
                f"{row['id']}\t{row['segment_no']}\t{row['description']}\t{row['no_of_interactions']} interactions\t"
                f"{row['no_of_campaign_entries']} campaign entries\t{row['created']}"
                + ("\tcanceled" if row["canceled"] else "")
            )

    def do_cancel(self, options) -> None:
        services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[options["id"]], canceled=True)

    def do_uncancel(self, options) -> None:
        services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[options["id"]], canceled=False)

    def do_follow_up(self, options) -> None:
        segment = hooks.logged_segment_follow_up(user=COMMAND_LINE, logged_segment_id=options["id"])
        # Contacts left out because they withdrew consent for their line's channel, per channel.
        left_out = getattr(segment, "consent_left_out", None)
        for message in left_out.messages() if left_out else ():
            self.stderr.write(message)
        self.out(segment.no)

    def do_delete(self, options) -> None:
        services.logged_segment_delete(user=COMMAND_LINE, logged_segment_id=options["id"])

    def do_resend(self, options) -> None:
        try:
            with progress_on_terminal(self, options["id"]):
                delivery = delivery_resend(user=COMMAND_LINE, logged_segment_id=options["id"])
        except NothingToDeliver:
            self.out(0)
            return
        self.out(delivery.total)
        if delivery_runs_inline():
            report(self, delivery)
        else:
            self.stderr.write(f"delivery {delivery.pk} queued as task {delivery.task_id}")

    def do_resume(self, options) -> None:
        report(self, delivery_resume(user=COMMAND_LINE, delivery_id=options["delivery_id"]))
