"""`manage.py interaction_template attach CODE FILE.docx [--language CODE]` (CONTRACT.md,
"Set-up and contacts"; the rules of "Word template fields").

The command looks up the codes, reads the file (refusing one over the upload limit before
reading it) and makes one service call, `interactions.documents.interaction_template_attach`,
which checks the document completely before it writes anything. Every problem goes to stderr on
its own line and the exit status is 1; the previous document stays in place. On success the
exit status is 0 and a short message goes to stderr; stdout stays empty.

The command acts as the command line (`crm.permissions.COMMAND_LINE`): access to `manage.py` is
the access control.
"""

from __future__ import annotations

from pathlib import Path

from crm.management.batch import BatchCommand, Failed
from crm.models import Language
from crm.permissions import COMMAND_LINE
from interactions.documents import interaction_template_attach
from interactions.models import InteractionTemplate
from interactions.wordtemplates import MAX_FILE_BYTES, WordTemplateInvalid, file_size_problem


class Command(BatchCommand):
    nothing_done = "nothing was stored"

    help = (
        "Interaction templates' Word documents. `attach CODE FILE.docx [--language CODE]` sets the Word "
        "template (docxtpl) of the template's language row, the default language when omitted, creating or "
        "replacing the row's document. An unsafe or invalid document, or an unknown merge field, is an error: "
        "every problem is written to stderr, one line each, nothing is stored and the exit status is 1."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        p = sub.add_parser("attach", help="Set the Word template of a template language.")
        p.add_argument("code", metavar="CODE", help="Interaction template code.")
        p.add_argument("file", metavar="FILE.docx", help=f"Word document (.docx, at most {MAX_FILE_BYTES:,} bytes).")
        p.add_argument(
            "--language", metavar="CODE", help="Language code of the row (default: the template's default language)."
        )

    def do_attach(self, options) -> None:
        problems = self.attach(options["code"], options["file"], options["language"])
        if problems:
            raise Failed(problems)

    def attach(self, code: str, file: str, language_code: str | None) -> list[str]:
        problems = []
        template = InteractionTemplate.objects.filter(code=code).first()
        if template is None:
            problems.append(f'interaction_template: unknown code "{code}"')
        language = None
        if language_code is not None:
            language = Language.objects.filter(code=language_code).first()
            if language is None:
                problems.append(f'language: unknown code "{language_code}"')
        path = Path(file)
        try:
            size = path.stat().st_size
            data = None if file_size_problem(size) else path.read_bytes()
        except OSError as exc:
            problems.append(f"file: cannot read {file}: {exc.strerror}")
            data = None
        else:
            if problem := file_size_problem(size):
                problems.append(f"file: {problem}")
        if problems:
            return problems
        try:
            document = interaction_template_attach(
                user=COMMAND_LINE, template=template, language=language, data=data, file_name=path.name
            )
        except WordTemplateInvalid as exc:
            return exc.problems
        row_language = language.code if language else (template.language_id or "(blank)")
        self.stderr.write(
            f"attached {document.file_name} ({document.size:,} bytes) to {template.code}/{row_language} "
            f"as document {document.pk}"
        )
        return []
