"""`manage.py export_contacts [--json]` (CONTRACT.md, "Set-up and contacts")."""

from __future__ import annotations

from django.core.management.base import CommandError

from crm.filters import ContactFilterSet, query_dict
from crm.management.batch import BatchCommand, Failed
from crm.models import Contact
from crm.transfer import contacts_export_csv, contacts_export_json


class _Text:
    """A file-like view of a command's OutputWrapper that writes text exactly as given."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> int:
        self.wrapper.write(text, ending="")
        return len(text)


class Command(BatchCommand):
    nothing_done = "nothing was exported"

    help = (
        "Write contacts as CSV (default) or JSON with the columns of import_contacts, ordered by no. "
        "CSV cells that a spreadsheet would run as a formula get a leading apostrophe."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON array instead of CSV.")
        parser.add_argument("--output", "-o", metavar="PATH", help="Write to this file instead of stdout.")
        parser.add_argument(
            "--filter",
            metavar="QUERY",
            default="",
            help="Only contacts matching QUERY (the segment filter language, e.g. 'city=Utrecht&type=person').",
        )

    def run(self, *args, output: str | None, verbosity: int, **options) -> None:
        queryset = Contact.objects.all()
        if query := options["filter"]:
            filterset = ContactFilterSet(query_dict(query), queryset=queryset)
            if not filterset.is_valid():
                raise Failed(filterset.error_lines(), about="in --filter")
            queryset = filterset.qs
        export = contacts_export_json if options["json"] else contacts_export_csv
        if output:
            try:
                with open(output, "w", encoding="utf-8", newline="") as out:
                    count = export(out=out, queryset=queryset)
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc.strerror}", returncode=1) from exc
            if verbosity >= 1:
                self.stderr.write(f"{count} contacts written to {output}")
        else:
            export(out=_Text(self.stdout), queryset=queryset)
