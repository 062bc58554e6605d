"""`manage.py segment …`: build segments from scripts (CONTRACT.md, "Segments").

Each subcommand parses its options, looks up the codes and numbers they name, makes one
service call (segments/services/, which is the transaction boundary; `log` calls
segments.services.segment_log) and prints its result. A segment that was logged is gone:
naming it reports "Segment … was already logged by … at …".
Bad input never writes: codes are looked up before the service runs, and a ValidationError
from the service rolls its transaction back. Every problem goes to stderr on its own line and
the exit status is 1 (2 when argparse rejects the command line itself).

The commands act as the command line (`crm.permissions.COMMAND_LINE`), which holds every
permission and is recorded as no user: access to `manage.py` is the access control.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from crm.management.batch import BatchCommand, Failed, json_date, json_decimal, json_null, parse_amount, parse_date
from crm.models import Campaign, Contact, ContactType, CorrespondenceType, Language, Salesperson
from crm.permissions import COMMAND_LINE
from crm.untrusted import text_problems
from interactions.models import Evaluation, InteractionTemplate
from segments import services
from segments.models import OVERRIDABLE_FIELDS, CriteriaStep, Segment, SegmentLine, StepAction

# Options that name a row: option dest → (model, lookup field). An empty value clears the field.
REFERENCES: dict[str, tuple[type, str]] = {
    "interaction_template": (InteractionTemplate, "code"),
    "salesperson": (Salesperson, "code"),
    "campaign": (Campaign, "no"),
    "language": (Language, "code"),
}
HEADER_OPTIONS = (
    "description",
    "interaction_template",
    "salesperson",
    "campaign",
    "campaign_target",
    "date",
    "subject",
    "language",
    "correspondence_type",
    "send_as_attachment",
)
LINE_OPTIONS = (
    "description",
    "subject",
    "correspondence_type",
    "language",
    "interaction_template",
    "salesperson",
    "date",
    "cost",
    "duration",
    "evaluation",
    "personal_text",
)
ADD_OPTIONS = services.ADD_OPTIONS
# Options of free text → whether it may hold several lines (a subject or description becomes an
# e-mail header: one line; crm.untrusted.text_problems).
TEXT_OPTIONS = {"description": False, "subject": False, "personal_text": True}
# `set-line --reset` names: every field a line may override (`all` resets those), plus its personal
# text, which follows no header: resetting it clears it.
RESETTABLE = (*OVERRIDABLE_FIELDS, "personal_text")


# --- Parsing helpers --------------------------------------------------------------------------


def flag(parser: argparse.ArgumentParser, name: str, help_text: str, default: bool | None = None) -> None:
    """A yes/no option with its `--no-…` form (`default=None` means "not given")."""
    parser.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=default, help=help_text)


def add_header_options(parser: argparse.ArgumentParser, *, create: bool) -> None:
    given = "" if create else " (only the options given change)"
    parser.add_argument(
        "--description", required=create, metavar="TEXT", help="Description of the segment and its lines." + given
    )
    parser.add_argument(
        "--interaction-template",
        metavar="CODE",
        help="Interaction template; setting or changing it applies its defaults (other options given win). "
        'An empty value ("") clears it.',
    )
    parser.add_argument("--salesperson", metavar="CODE", help='Salesperson code ("" clears it).')
    parser.add_argument("--campaign", metavar="NO", help='Campaign number ("" clears it).')
    flag(parser, "campaign-target", "Lines are campaign targets.")
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="Interaction date of the lines.")
    parser.add_argument("--subject", metavar="TEXT", help="E-mail subject.")
    parser.add_argument("--language", metavar="CODE", help='Default language ("" clears it).')
    parser.add_argument("--correspondence-type", choices=CorrespondenceType.values, help="Default correspondence type.")
    flag(parser, "send-as-attachment", "E-mail: attach the merged Word document instead of using it as the body.")


def add_add_options(parser: argparse.ArgumentParser) -> None:
    flag(parser, "allow-existing", "Also add contacts that already have a line.", default=False)
    flag(parser, "expand-contact", "Add the company and all persons of each matching contact.", default=False)
    flag(parser, "allow-company-with-persons", "Also add the company of each matching person.", default=False)
    flag(parser, "ignore-exclusion", "Also add contacts marked 'exclude from segment'.", default=False)


def lookup(name: str, value: str):
    """The row an option names; None for an empty value (clears the field)."""
    if value == "":
        return None
    model, field = REFERENCES[name]
    row = model.objects.filter(**{field: value}).first()
    if row is None:
        what = "number" if field == "no" else "code"
        raise Failed([f'{name}: unknown {what} "{value}"'])
    return row


def field_values(options: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Model values for the options that were given; every problem is reported together."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in names:
        value = options.get(name)
        if value is None:
            continue
        try:
            if name in REFERENCES:
                values[name] = lookup(name, value)
            elif name == "date":
                values[name] = parse_date(name, value)
            elif name in ("cost", "duration"):
                values[name] = parse_amount(name, value)
            else:
                if name in TEXT_OPTIONS:
                    problems += text_problems(name, value, several_lines=TEXT_OPTIONS[name])
                values[name] = value
        except Failed as exc:
            problems += exc.problems
    if problems:
        raise Failed(problems)
    return values


def segment_of(no: str) -> Segment:
    segment = Segment.objects.filter(no=no).first()
    if segment is None:
        logged = services.already_logged(no)
        if logged is not None:
            raise logged  # "Segment … was already logged by … at …"
        raise Failed([f'segment "{no}" does not exist'])
    return segment


# --- JSON shaping -----------------------------------------------------------------------------


LINE_COLUMNS = (
    "line_no",
    "contact__no",
    "contact__type",
    "contact__company__no",
    "contact__name",
    "description",
    "interaction_template_id",
    "salesperson_id",
    "date",
    "subject",
    "language_id",
    "correspondence_type",
    "cost",
    "duration",
    "information_flow",
    "initiated_by",
    "evaluation",
    "campaign__no",
    "campaign_target",
    "personal_text",
)


def line_json(row: dict[str, Any]) -> dict[str, Any]:
    company_no = row["contact__no"] if row["contact__type"] == ContactType.COMPANY else row["contact__company__no"]
    return {
        "line_no": row["line_no"],
        "contact_no": row["contact__no"],
        "contact_company_no": json_null(company_no),
        "contact_name": row["contact__name"],
        "description": row["description"],
        "interaction_template": json_null(row["interaction_template_id"]),
        "salesperson": json_null(row["salesperson_id"]),
        "date": json_date(row["date"]),
        "subject": row["subject"],
        "language": json_null(row["language_id"]),
        "correspondence_type": json_null(row["correspondence_type"]),
        "cost": json_decimal(row["cost"]),
        "duration": json_decimal(row["duration"]),
        "information_flow": json_null(row["information_flow"]),
        "initiated_by": json_null(row["initiated_by"]),
        "evaluation": json_null(row["evaluation"]),
        "campaign": json_null(row["campaign__no"]),
        "campaign_target": row["campaign_target"],
        "personal_text": row["personal_text"],
    }


def step_json(step: CriteriaStep) -> dict[str, Any]:
    replay = step.action in (StepAction.REUSE_CRITERIA, StepAction.REUSE_LOGGED)
    return {
        "action": step.action,
        # A replay has no QUERY of its own: its replayed steps follow it in the list; nor has the
        # reduce of `drop-withdrawn` (the lines whose contact withdrew consent).
        "filter": None if replay or step.drops_withdrawn else step.filter,
        "allow_existing": step.allow_existing,
        "expand_contact": step.expand_contact,
        "allow_company_with_persons": step.allow_company_with_persons,
        "ignore_exclusion": step.ignore_exclusion,
        "entire_companies": step.entire_companies,
    }


def segment_steps_in_order(segment: Segment):
    """The segment's steps as the worksheet lists them: its steps 1, 2, 3 …, each replay
    followed by the steps it replayed (numbered 1, 2, … within it); `number` is the step's
    worksheet number. One query."""
    return (
        CriteriaStep.objects.filter(segment=segment)
        .annotate(number=Coalesce(F("parent__position"), F("position")))
        .order_by("number", F("parent_id").asc(nulls_first=True), "position")
    )


def segment_json(segment: Segment) -> dict[str, Any]:
    """CONTRACT.md `segment show --json`: three queries whatever the number of lines.

    `criteria` lists the steps as the worksheet does: a replay (`reuse_criteria`,
    `reuse_logged`, filter null) is followed by the steps it replayed. A Refresh (the Log
    page's drift check) is no criterion and not listed: replaying the listed steps selects
    the same contacts (segments.services.drift).
    """
    lines = SegmentLine.objects.filter(segment=segment).order_by("line_no").values(*LINE_COLUMNS)
    steps = segment_steps_in_order(segment).exclude(action=StepAction.REFRESH)
    return {
        "no": segment.no,
        "description": segment.description,
        "interaction_template": json_null(segment.interaction_template_id),
        "salesperson": json_null(segment.salesperson_id),
        "campaign": segment.campaign.no if segment.campaign else None,
        "campaign_target": segment.campaign_target,
        "date": json_date(segment.date),
        "subject": segment.subject,
        "language": json_null(segment.language_id),
        "correspondence_type": json_null(segment.correspondence_type),
        "unit_cost": json_decimal(segment.unit_cost),
        "unit_duration": json_decimal(segment.unit_duration),
        "information_flow": json_null(segment.information_flow),
        "initiated_by": json_null(segment.initiated_by),
        "lines": [line_json(row) for row in lines.iterator(chunk_size=2000)],
        "criteria": [step_json(step) for step in steps],
    }


def _count_of(model, **filters):
    rows = model.objects.filter(segment=OuterRef("pk"), **filters).order_by().values("segment")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), 0, output_field=IntegerField())


def segment_list_json() -> list[dict[str, Any]]:
    """CONTRACT.md `segment list --json`: every open segment by number, one query.

    `no_of_criteria_actions` counts the steps the worksheet numbers 1, 2, 3 … (and the segment
    list page counts): a replay of saved criteria or of a logged segment is one.
    """
    segments = (
        Segment.objects.order_by("no")
        .annotate(
            no_of_lines=_count_of(SegmentLine),
            no_of_criteria_actions=_count_of(CriteriaStep, parent__isnull=True),
        )
        .values("no", "description", "interaction_template_id", "campaign__no", "no_of_lines", "no_of_criteria_actions")
    )
    return [
        {
            "no": row["no"],
            "description": row["description"],
            "interaction_template": json_null(row["interaction_template_id"]),
            "campaign": json_null(row["campaign__no"]),
            "no_of_lines": row["no_of_lines"],
            "no_of_criteria_actions": row["no_of_criteria_actions"],
        }
        for row in segments
    ]


# --- The command ------------------------------------------------------------------------------


class Command(BatchCommand):
    help = (
        "Build segments: create and change headers, add/reduce/refine lines by criteria (QUERY), manual "
        "lines, per-line overrides, undo, saved criteria, reuse of a logged segment, counts, JSON views, and "
        "logging (one interaction log entry per line). On bad input every problem "
        "is written to stderr, one line each, nothing is written and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        p = sub.add_parser("create", help="New segment; prints its number alone.")
        add_header_options(p, create=True)

        p = sub.add_parser("update", help="Change header fields; lines follow unless overridden.")
        p.add_argument("no", metavar="NO")
        add_header_options(p, create=False)

        p = sub.add_parser(
            "add",
            help="Add Contacts; prints the number of lines afterwards. Contacts who withdrew consent for their "
            "line's channel are left out, --ignore-exclusion or not; how many goes to stderr, e.g. "
            "'3 contacts left out: e-mail consent withdrawn'.",
        )
        p.add_argument("no", metavar="NO")
        p.add_argument("--filter", metavar="QUERY", help="Contact criteria; omitted: every contact.")
        add_add_options(p)

        for action, text in (
            ("reduce", "Remove Contacts – Reduce: drop the lines whose contact matches."),
            ("refine", "Remove Contacts – Refine: keep only the lines whose contact matches."),
        ):
            p = sub.add_parser(action, help=text + " Prints the number of lines afterwards.")
            p.add_argument("no", metavar="NO")
            p.add_argument("--filter", metavar="QUERY", help="Contact criteria (required, at least one criterion).")
            flag(p, "entire-companies", "Match every line of a matching contact's company.", default=False)

        p = sub.add_parser(
            "add-contact",
            help="One manual line (an undoable step); prints the number of lines. A contact already on the "
            "worksheet is an error naming its line unless --allow-existing.",
        )
        p.add_argument("no", metavar="NO")
        p.add_argument("contact_no", metavar="CONTACT_NO")
        flag(p, "allow-existing", "Add another line for a contact already on the worksheet.", default=False)

        p = sub.add_parser("remove-line", help="Delete one line (an undoable step); prints the number of lines.")
        p.add_argument("no", metavar="NO")
        p.add_argument("line_no", metavar="LINE_NO", type=int)

        p = sub.add_parser("set-line", help="Override fields of one line, or --reset them to follow the header.")
        p.add_argument("no", metavar="NO")
        p.add_argument("line_no", metavar="LINE_NO", type=int)
        p.add_argument("--description", metavar="TEXT")
        p.add_argument("--subject", metavar="TEXT")
        p.add_argument("--correspondence-type", choices=CorrespondenceType.values)
        p.add_argument("--language", metavar="CODE", help='Language ("" clears it).')
        p.add_argument("--interaction-template", metavar="CODE", help='Interaction template ("" clears it).')
        p.add_argument("--salesperson", metavar="CODE", help='Salesperson ("" clears it).')
        p.add_argument("--date", metavar="YYYY-MM-DD")
        p.add_argument("--cost", metavar="N", help="Decimal, 0 or more.")
        p.add_argument("--duration", metavar="N", help="Minutes, decimal, 0 or more.")
        p.add_argument("--evaluation", choices=Evaluation.values)
        p.add_argument("--personal-text", metavar="TEXT")
        p.add_argument(
            "--reset",
            metavar="FIELD",
            action="append",
            default=[],
            help="Follow the header again for FIELD (an option name without dashes, e.g. description) or 'all'; "
            "repeatable. Resetting personal-text clears it ('all' keeps it).",
        )

        p = sub.add_parser(
            "drop-withdrawn",
            help="Remove, as one step that undo restores, the lines whose contact has withdrawn consent for the "
            "line's channel (what the Log refuses); prints the number of lines afterwards.",
        )
        p.add_argument("no", metavar="NO")

        p = sub.add_parser("undo", help="Go back one step; prints the number of lines afterwards.")
        p.add_argument("no", metavar="NO")

        p = sub.add_parser("save-criteria", help="Save the segment's criteria steps under CODE.")
        p.add_argument("no", metavar="NO")
        p.add_argument("code", metavar="CODE")
        p.add_argument("--description", metavar="TEXT", default="")

        p = sub.add_parser(
            "reuse-criteria",
            help="Replay saved criteria as one step; prints the number of lines. Each replayed step that added "
            "or removed other than when the criteria were saved is written to stderr, e.g. "
            "'step 3 (reduce no=CT000123): recorded -1, now -2'.",
        )
        p.add_argument("no", metavar="NO")
        p.add_argument("code", metavar="CODE")

        p = sub.add_parser(
            "reuse-logged", help="Add the contacts of a logged segment as one step; prints the number of lines."
        )
        p.add_argument("no", metavar="NO")
        p.add_argument("logged_id", metavar="LOGGED_ID", type=int)

        p = sub.add_parser("count", help="Dry run: lines an add would create, or a reduce/refine would remove.")
        p.add_argument("no", metavar="NO")
        p.add_argument("--filter", metavar="QUERY", help="Contact criteria (required with --reduce/--refine).")
        add_add_options(p)
        which = p.add_mutually_exclusive_group()
        which.add_argument("--reduce", action="store_true", help="Count the lines a reduce would remove.")
        which.add_argument("--refine", action="store_true", help="Count the lines a refine would remove.")
        flag(p, "entire-companies", "With --reduce/--refine: match whole companies.", default=False)

        p = sub.add_parser(
            "merge",
            help="Word mail merge of every line, each from the Word document of its language, into one combined "
            ".docx (one letter per page), a .zip of one .docx per line, or one PDF of all letters (needs "
            "LibreOffice). Writes only the output file.",
        )
        p.add_argument("no", metavar="NO")
        p.add_argument("--output", required=True, metavar="PATH.docx|PATH.zip|PATH.pdf", help="The file to write.")

        p = sub.add_parser("show", help="Header, lines and criteria.")
        p.add_argument("no", metavar="NO")
        p.add_argument("--json", action="store_true", help="One JSON document (CONTRACT.md shape).")

        p = sub.add_parser("list", help="Open segments ordered by number.")
        p.add_argument("--json", action="store_true", help="One JSON array (CONTRACT.md shape).")

        p = sub.add_parser(
            "log",
            help="Log the segment: one interaction log entry per line, then the segment is gone. Prints the "
            "logged segment id, then with --follow-up the follow-up segment's number, then with --deliver on a "
            "queue backend the delivery task's id, each alone on its line.",
        )
        p.add_argument("no", metavar="NO")
        p.add_argument("--follow-up", action="store_true", help="Also create a new segment with the same contacts.")
        p.add_argument(
            "--deliver",
            action="store_true",
            help="Also deliver the e-mail and hard-copy entries after the log: with a queue backend "
            "(DJANGO_TASKS_BACKEND) prints the delivery task's id, else delivers before the command exits.",
        )

    # Header ---------------------------------------------------------------------------------

    def do_create(self, options) -> None:
        values = field_values(options, HEADER_OPTIONS)
        self.out(services.segment_create(user=COMMAND_LINE, values=values).no)

    def do_update(self, options) -> None:
        segment = segment_of(options["no"])
        values = field_values(options, HEADER_OPTIONS)
        if values:
            services.segment_update(user=COMMAND_LINE, segment=segment, values=values)

    # Steps ----------------------------------------------------------------------------------

    def do_add(self, options) -> None:
        segment = segment_of(options["no"])
        result = services.segment_add_contacts(
            user=COMMAND_LINE, segment=segment, query=options["filter"] or "", **{k: options[k] for k in ADD_OPTIONS}
        )
        self.left_out(result.left_out)
        self.out(result.line_count)

    def left_out(self, left_out) -> None:
        """The contacts a selection left out for consent, one line per channel on stderr."""
        for message in left_out.messages() if left_out else ():
            self.stderr.write(message)

    def _remove(self, options, action: str) -> None:
        segment = segment_of(options["no"])
        if options["filter"] is None:
            raise Failed([f"--filter is required for {action}: choose at least one criterion"])
        result = services.segment_remove_contacts(
            user=COMMAND_LINE,
            segment=segment,
            action=action,
            query=options["filter"],
            entire_companies=options["entire_companies"],
        )
        self.out(result.line_count)

    def do_reduce(self, options) -> None:
        self._remove(options, StepAction.REDUCE)

    def do_refine(self, options) -> None:
        self._remove(options, StepAction.REFINE)

    def do_add_contact(self, options) -> None:
        segment = segment_of(options["no"])
        contact = Contact.objects.filter(no=options["contact_no"]).first()
        if contact is None:
            raise Failed([f'contact_no: unknown contact "{options["contact_no"]}"'])
        try:
            result = services.segment_add_contact(
                user=COMMAND_LINE, segment=segment, contact=contact, allow_existing=options["allow_existing"]
            )
        except ValidationError as exc:
            codes = [error.code for error in getattr(exc, "error_list", [])]
            if codes == ["consent_withdrawn"]:
                raise Failed([f"contact_no: {message}" for message in exc.messages]) from None
            if codes != ["already_on_worksheet"]:
                raise
            problems = [
                f"contact_no: {message.rstrip('.')} (--allow-existing adds another line)" for message in exc.messages
            ]
            raise Failed(problems) from None
        self.out(result.line_count)

    def do_remove_line(self, options) -> None:
        segment = segment_of(options["no"])
        self.out(
            services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=options["line_no"]).line_count
        )

    def do_drop_withdrawn(self, options) -> None:
        segment = segment_of(options["no"])
        self.out(services.segment_drop_withdrawn(user=COMMAND_LINE, segment=segment).line_count)

    def do_undo(self, options) -> None:
        segment = segment_of(options["no"])
        self.out(services.segment_undo(user=COMMAND_LINE, segment=segment).line_count)

    def do_count(self, options) -> None:
        segment = segment_of(options["no"])
        add_given = [k for k in ADD_OPTIONS if options[k]]
        if options["reduce"] or options["refine"]:
            action = StepAction.REDUCE if options["reduce"] else StepAction.REFINE
            problems = [f"--{k.replace('_', '-')} applies to an add only, not to --{action}" for k in add_given]
            if options["filter"] is None:
                problems.append(f"--filter is required with --{action}")
            if problems:
                raise Failed(problems)
            count = services.segment_count(
                segment=segment,
                action=action,
                query=options["filter"],
                entire_companies=options["entire_companies"],
            )
        else:
            if options["entire_companies"]:
                raise Failed(["--entire-companies applies to --reduce or --refine only"])
            count = services.segment_count(
                segment=segment,
                action=StepAction.ADD,
                query=options["filter"] or "",
                **{k: options[k] for k in ADD_OPTIONS},
            )
        self.out(count)

    # Lines ----------------------------------------------------------------------------------

    def do_set_line(self, options) -> None:
        segment = segment_of(options["no"])
        reset = []
        problems = []
        for name in options["reset"]:
            field = name.strip().replace("-", "_")
            if field == "all" or field in RESETTABLE:
                reset.append(field)
            else:
                problems.append(f'reset: unknown field "{name}"')
        try:
            values = field_values(options, LINE_OPTIONS)
        except Failed as exc:
            problems = exc.problems + problems
        if problems:
            raise Failed(problems)
        if "personal_text" in reset:
            values["personal_text"] = ""
        reset = [field for field in reset if field != "personal_text"]
        services.segment_set_line(
            user=COMMAND_LINE, segment=segment, line_no=options["line_no"], values=values, reset=reset
        )

    # Saved criteria -------------------------------------------------------------------------

    def do_save_criteria(self, options) -> None:
        segment = segment_of(options["no"])
        services.segment_save_criteria(
            user=COMMAND_LINE, segment=segment, code=options["code"], description=options["description"]
        )

    def do_reuse_criteria(self, options) -> None:
        segment = segment_of(options["no"])
        result = services.segment_reuse_criteria(user=COMMAND_LINE, segment=segment, code=options["code"])
        for difference in result.differences:
            self.stderr.write(str(difference))
        self.left_out(result.left_out)
        self.out(result.line_count)

    def do_reuse_logged(self, options) -> None:
        segment = segment_of(options["no"])
        result = services.segment_reuse_logged(
            user=COMMAND_LINE, segment=segment, logged_segment_id=options["logged_id"]
        )
        self.left_out(result.left_out)
        self.out(result.line_count)

    # Merge ----------------------------------------------------------------------------------

    def do_merge(self, options) -> None:
        from segments.merge import check_output, merge_output_of_path, merge_to_path

        path = options["output"]
        # A bad extension, or a PDF without LibreOffice, is reported before the segment is looked up.
        check_output(merge_output_of_path(path))
        segment = segment_of(options["no"])
        progress = None
        if self.stderr.isatty():
            total = SegmentLine.objects.filter(segment=segment).count()

            def progress(done: int) -> None:
                self.stderr.write(f"\rMerging letters: {done:,} / {total:,}", ending="")
                self.stderr.flush()

        try:
            made = merge_to_path(segment, path, progress=progress)
        except OSError as exc:
            raise Failed([f'--output: cannot write "{path}": {exc.strerror or exc}']) from exc
        if progress is not None:
            self.stderr.write("")
        if options["verbosity"] >= 1:
            self.stderr.write(f"{segment.no}: {made} letter(s) written to {path}")

    # Log ------------------------------------------------------------------------------------

    def do_log(self, options) -> None:
        segment = segment_of(options["no"])
        result = services.segment_log(
            user=COMMAND_LINE, segment=segment, follow_up=options["follow_up"], deliver=options["deliver"]
        )
        self.out(result.logged_segment.pk)
        if result.follow_up is not None:
            self.left_out(getattr(result.follow_up, "consent_left_out", None))
            self.out(result.follow_up.no)
        if options["deliver"]:
            from interactions.management.commands._delivery import start_and_report

            start_and_report(self, result.logged_segment, deliverable=result.deliveries)

    # Reads ----------------------------------------------------------------------------------

    def do_show(self, options) -> None:
        segment = Segment.objects.select_related("campaign").filter(no=options["no"]).first()
        if segment is None:
            raise Failed([f'segment "{options["no"]}" does not exist'])
        document = segment_json(segment)
        if options["json"]:
            self.out(json.dumps(document, ensure_ascii=False))
            return
        header = {k: v for k, v in document.items() if k not in ("lines", "criteria")}
        for key, value in header.items():
            self.out(f"{key}: {'' if value is None else value}")
        self.out(f"lines: {len(document['lines'])}")
        for line in document["lines"]:
            self.out(f"  {line['line_no']}\t{line['contact_no']}\t{line['contact_name']}\t{line['description']}")
        steps = list(segment_steps_in_order(segment))
        self.out(f"criteria: {sum(step.parent_id is None for step in steps)}")
        for step in steps:
            number = f"  {step.number}." if step.parent_id is None else f"     {step.number}.{step.position}"
            self.out(f"{number} {step.action} {step.filter or step.source}".rstrip())

    def do_list(self, options) -> None:
        rows = segment_list_json()
        if options["json"]:
            self.out(json.dumps(rows, ensure_ascii=False))
            return
        for row in rows:
            self.out(
                f"{row['no']}\t{row['description']}\t{row['interaction_template'] or ''}\t"
                f"{row['no_of_lines']} lines\t{row['no_of_criteria_actions']} steps"
            )
