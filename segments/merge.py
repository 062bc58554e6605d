"""What a Word template is merged with for one segment line (SPEC F7.2 with D10, D14).

`line_contexts` turns lines into the plain nested dicts of CONTRACT.md's "Word template
fields" with `interactions.merge_fields.line_context` (the same fields a delivery gives an
interaction log entry's letter). A constant number of queries whatever the number of lines.

`segment_letters` renders each line's letter from its Word document (R14, R67), `merge_write`
writes a segment's letters as one combined .docx, a .zip, or one PDF of the combined .docx made
by LibreOffice (D9, R69; `interactions.pdf.letters_to_pdf`: more than CRM_PDF_CHUNK_LETTERS
letters are converted in chunks whose PDFs are joined; the `segment merge` command),
and `merge_job_start` runs that as a job with progress for the worksheet, through django.tasks
(`segments.tasks.merge_job_task`): in a worker in production, never inside the web request;
before `merge_job_start` returns when tasks run immediately (`make run`, the commands' default).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.languages import letter_language
from crm.models import ContactType, SalutationType
from crm.permissions import recorded_user, require
from crm.worker import job_lease, stop_requested
from interactions.documents import document_create
from interactions.letters import ZIP_CONTENT_TYPE, combine_docx, letter_file_name, zip_letters
from interactions.merge_fields import LETTER, MergeError, line_context, salutation_formulas
from interactions.models import Document
from interactions.ooxml import DOCX_CONTENT_TYPE
from interactions.pdf import PDF_CONTENT_TYPE, letters_to_pdf, pdf_require
from interactions.storage import file_store
from interactions.wordtemplates import (
    LetterRenderError,
    PreparedTemplate,
    WordTemplateInvalid,
    prepared_template,
    salutation_kinds,
)

from .documents import missing_word_document_problems, with_word_document
from .jobs import job_enqueue, jobs_heal, stale_running
from .models import MergeJob, MergeOutput, MergeState, Segment, SegmentLine

logger = logging.getLogger(__name__)


def merge_lines(segment: Segment, lines: QuerySet[SegmentLine] | None = None) -> QuerySet[SegmentLine]:
    """`lines` (default: all of the segment's) in line order with everything a letter shows
    (one query)."""
    return (
        (lines if lines is not None else SegmentLine.objects.filter(segment=segment))
        .select_related(
            "contact",
            "contact__company",
            "contact__country",
            "alt_address",
            "alt_address__country",
            "salesperson",
            "campaign",
        )
        .order_by("line_no")
    )


def line_contexts(
    segment: Segment,
    lines: QuerySet[SegmentLine] | None = None,
    *,
    salutation_types: Iterable[str] = SalutationType.values,
) -> Iterator[tuple[SegmentLine, dict[str, Any]]]:
    """(line, merge fields) for every line of `lines` (default: all of the segment's, in line
    order). `salutation_types` are the salutations the template uses: only those must have a
    formula. Two queries (lines, formulas) whatever the number of lines."""
    formulas = salutation_formulas()
    today = timezone.localdate()
    kinds = tuple(salutation_types)
    for line in (lines if lines is not None else merge_lines(segment)).iterator(chunk_size=2000):
        yield line, line_context(line, segment, formulas, today=today, salutation_types=kinds)


# --- Letters (SPEC D9, D10, R14, R67) ----------------------------------------------------------

#: A running job writes its progress every this many letters.
PROGRESS_EVERY = 50


def _prepared_documents(segment: Segment, lines: QuerySet[SegmentLine]) -> dict[int, PreparedTemplate]:
    """The prepared Word document of every document `lines` are merged from (two queries);
    MergeError naming each (template, language) whose lines have none, with their count."""
    ids = set(with_word_document(segment, lines).order_by().values_list("word_document_id", flat=True).distinct())
    if None in ids:
        raise MergeError(missing_word_document_problems(segment, lines), code="no_word_document")
    prepared: dict[int, PreparedTemplate] = {}
    for document in Document.objects.filter(pk__in=ids):
        try:
            prepared[document.pk] = prepared_template(document.read_bytes())
        except WordTemplateInvalid as exc:
            raise MergeError(
                [
                    _('Word document "%(file_name)s": %(problem)s')
                    % {"file_name": document.file_name, "problem": problem}
                    for problem in exc.problems
                ],
                code="invalid_word_document",
            ) from exc
    return prepared


def segment_letters(
    segment: Segment, lines: QuerySet[SegmentLine] | None = None, *, channel: str | None = LETTER
) -> Iterator[tuple[SegmentLine, bytes]]:
    """(line, letter as .docx bytes) for every line of `lines` (default: all of the segment's),
    in line order, whatever the line's correspondence type. The `channel` field is `letter`
    (CONTRACT: `segment merge` always renders letters); None gives each line its own
    (`email` for an e-mail line), as the preview shows what the contact will get.

    Each line's letter comes from its Word document (`segments.documents.with_word_document`:
    its own, else the segment's copy for its language, else its template's for its language),
    each distinct document prepared once. A salutation formula is required only for the kinds
    the line's document uses. Checked before the first letter (this call raises): a line
    without a Word document is a MergeError naming the template and language with the number
    of lines. While iterating: a line whose values cannot be merged (a missing salutation
    formula, a value the template cannot render) raises MergeError naming the line and contact.
    A constant number of queries whatever the number of lines. Writes nothing.
    """
    base = lines if lines is not None else SegmentLine.objects.filter(segment=segment)
    prepared = _prepared_documents(segment, base)
    kinds = {pk: tuple(salutation_kinds(template.fields)) for pk, template in prepared.items()}
    formulas = salutation_formulas()
    today = timezone.localdate()
    lines = with_word_document(segment, merge_lines(segment, base))
    return _letters(segment, lines, prepared, kinds, formulas, today, channel)


def _read_in_chunks(lines: QuerySet[SegmentLine], size: int = 500) -> Iterator[SegmentLine]:
    """The lines of one segment in line order, `size` at a time, each chunk read to its end
    (keyset on line_no) before its letters are made. A cursor held open across the job's
    progress writes would keep SQLite's read snapshot: once another connection commits (the
    worker's heartbeat, a user), the next write of this one fails at once with "database is
    locked"."""
    last = None
    while True:
        chunk = list((lines if last is None else lines.filter(line_no__gt=last))[:size])
        yield from chunk
        if len(chunk) < size:
            return
        last = chunk[-1].line_no


def _letters(segment, lines, prepared, kinds, formulas, today, channel) -> Iterator[tuple[SegmentLine, bytes]]:
    for line in _read_in_chunks(lines):
        document_id = line.word_document_id
        try:
            context = line_context(
                line, segment, formulas, today=today, salutation_types=kinds[document_id], channel=channel
            )
            letter = prepared[document_id].render(context, language=letter_language(line.language_id))
        except MergeError as exc:
            raise MergeError(
                [_("line %(line)s: %(message)s") % {"line": line.line_no, "message": m} for m in exc.messages],
                code="line_not_merged",
            ) from exc
        except LetterRenderError as exc:
            raise MergeError(
                _("line %(line)s: %(no)s %(name)s: the letter cannot be made: %(error)s")
                % {"line": line.line_no, "no": line.contact.no, "name": line.contact.name, "error": exc},
                code="line_not_merged",
            ) from exc
        yield line, letter


def line_letter(segment: Segment, line: SegmentLine) -> bytes:
    """One line's letter as .docx bytes, as the contact will get it (`channel` the line's own:
    `email` for an e-mail line), for the preview."""
    lines = SegmentLine.objects.filter(pk=line.pk, segment=segment)
    for _line, letter in segment_letters(segment, lines, channel=None):
        return letter
    raise MergeError(_("%(no)s has no line %(line)s.") % {"no": segment.no, "line": line.line_no}, code="no_line")


def line_file_name(line: SegmentLine, ext: str = "docx") -> str:
    """The letter's file name: "<company> - <name>.docx" for a person in a company (R69)."""
    contact = line.contact
    company = contact.company.name if contact.type == ContactType.PERSON and contact.company_id else ""
    return letter_file_name(contact.name, company, ext)


def merge_write(
    segment: Segment,
    output: str,
    out: BinaryIO,
    *,
    lines: QuerySet[SegmentLine] | None = None,
    progress: Callable[[int], None] | None = None,
    alive: Callable[[], None] | None = None,
) -> int:
    """Merge every line of `lines` (default: all of the segment's) and write the result to
    `out`: one combined .docx (`output="docx"`, one letter per page), a .zip of one .docx per
    line named after company and contact (`output="zip"`), or one PDF of that combined .docx
    (`output="pdf"`, made by LibreOffice; `alive()` is called every few seconds while it
    converts). Returns the number of letters; `progress(n)` is called after every
    PROGRESS_EVERY letters. Raises MergeError before writing anything when a line has no Word
    document, and PdfError (saying what to install) for a PDF without LibreOffice; a later
    error leaves `out` incomplete (callers write to a temporary file). Writes nothing to the
    database."""
    check_output(output)
    return _write_letters(segment_letters(segment, lines), output, out, progress, alive)


def check_output(output: str, *, letters: int = 0) -> None:
    """MergeError for an unknown output kind; PdfError (what to install) for a PDF without
    LibreOffice, or of more `letters` than one chunk without pdfunite."""
    if output not in MergeOutput.values:
        raise MergeError(
            _('output: unknown kind "%(output)s" (docx, zip or pdf)') % {"output": output}, code="bad_output"
        )
    if output == MergeOutput.PDF:
        pdf_require(letters=letters)


def _write_letters(
    letters: Iterator[tuple[SegmentLine, bytes]],
    output: str,
    out: BinaryIO,
    progress: Callable[[int], None] | None,
    alive: Callable[[], None] | None = None,
) -> int:
    def counted() -> Iterator[tuple[SegmentLine, bytes]]:
        number = 0
        for number, item in enumerate(letters, start=1):  # noqa: B007 - the count is used below
            yield item
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
        if output == MergeOutput.PDF and progress is not None and number % PROGRESS_EVERY:
            progress(number)  # every letter is made: the page says the PDF is being made

    if output == MergeOutput.PDF:
        return letters_to_pdf((letter for _line, letter in counted()), out, alive=alive)
    if output == MergeOutput.DOCX:
        return combine_docx((letter for _line, letter in counted()), out)
    return zip_letters(((line_file_name(line), letter) for line, letter in counted()), out)


def merge_output_of_path(path: str) -> str:
    """ "docx", "zip" or "pdf" from the file name's extension; MergeError for any other."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".docx", ".zip", ".pdf"):
        raise MergeError(
            _(
                '--output: "%(path)s" must end in .docx (one combined document), .zip (one document per line) '
                "or .pdf (one PDF of all letters)"
            )
            % {"path": path},
            code="bad_output",
        )
    return extension[1:]


def merge_to_path(segment: Segment, path: str, *, progress: Callable[[int], None] | None = None) -> int:
    """Merge every line of the segment into the file `path` (.docx: combined, .zip: one .docx
    per line, .pdf: one PDF of all letters) and return the number of letters (CONTRACT.md
    `segment merge`).

    The letters are written to a temporary file in the same folder, renamed to `path` only
    when complete: on any error no file is left (an existing `path` is left unchanged).
    Checked before anything is written: the extension, that LibreOffice is installed for a
    PDF, the folder, that the segment has lines and that every line has a Word document.
    Writes nothing to the database."""
    output = merge_output_of_path(path)
    check_output(output)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise MergeError(_('--output: the folder "%(folder)s" does not exist') % {"folder": folder}, code="bad_path")
    if os.path.isdir(path):
        raise MergeError(_('--output: "%(path)s" is a folder') % {"path": path}, code="bad_path")
    total = SegmentLine.objects.filter(segment=segment).count()
    check_output(output, letters=total)
    if not total:
        raise MergeError(_("%(no)s has no lines to merge.") % {"no": segment.no}, code="no_lines")
    letters = segment_letters(segment)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".merge-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            made = _write_letters(letters, output, out, progress)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return made


def merge_file_name(segment_no: str, output: str) -> str:
    return f"Segment {segment_no}.{output}"


# --- Merge jobs -------------------------------------------------------------------------------


def merge_job_start(*, user, segment: Segment, output: str) -> MergeJob:
    """Start a Word mail merge of the segment's lines into one combined .docx, a .zip or one
    PDF (`output`), and return its job.

    Needs segments.run_mail_merge. Checked first, nothing written on failure (MergeError,
    PdfError): the output kind, LibreOffice for a PDF, that the segment has lines, that every
    line has a Word document. The job is enqueued on the default task backend
    (`merge_job_task`): a worker makes the letters, never the web request (RELIABILITY: background work stays out of
    requests); with the immediate backend it has finished on return. The job ends finished with its file, or
    failed with the reason; never with a partial file. Writes only the job and its file.
    """
    require(user, "segments.run_mail_merge")
    total = SegmentLine.objects.filter(segment=segment).count()
    check_output(output, letters=total)
    if total == 0:
        raise MergeError(_("%(no)s has no lines to merge.") % {"no": segment.no}, code="no_lines")
    problems = missing_word_document_problems(segment)
    if problems:
        raise MergeError(problems, code="no_word_document")
    job = MergeJob.objects.create(
        segment=segment,
        segment_no=segment.no,
        output=output,
        total=total,
        created_by=recorded_user(user),
    )
    _run_or_enqueue(job)
    job.refresh_from_db()
    return job


# A running job that showed no sign of life for a job lease (crm.worker.job_lease, two minutes)
# lost its worker: progress is written every PROGRESS_EVERY letters, many times a second when a
# worker runs. Any live worker starts it again (`merge_jobs_heal`); the page offers it too.


def _stale(now: datetime.datetime):
    return stale_running(now)


def merge_job_stalled(job: MergeJob, now: datetime.datetime | None = None) -> bool:
    """Whether the job is running without a sign of life for a job lease (its worker was
    stopped or killed): a worker will start it again (merge_jobs_heal)."""
    now = now or timezone.now()
    return job.state == MergeState.RUNNING and (job.heartbeat_at is None or job.heartbeat_at < now - job_lease())


def merge_jobs_heal(now: datetime.datetime) -> int:
    """Start again the merge jobs whose worker stopped (a crm.hooks job healer, run by every
    worker; RELIABILITY 21); returns how many. A running job without a sign of life for a lease
    goes back to queued with a new task (its letters are made again from the start: a merge
    keeps no partial file); a queued job older than a lease whose task is no longer in the
    queue gets a new task. Conditional UPDATEs: two workers healing at once restart a job once.
    Always through the queue, never inline in the healing worker's watch thread."""
    from .tasks import merge_job_task

    return jobs_heal(MergeJob, merge_job_task, now, reset={"done": 0})


def merge_job_restart(*, user, job_id: int) -> MergeJob:
    """Start a stalled job again (merge_job_stalled): a conditional UPDATE back to queued,
    then the job is enqueued as `merge_job_start` does. A job that is queued,
    running with a live worker, finished or failed is refused (MergeError), nothing written."""
    require(user, "segments.run_mail_merge")
    now = timezone.now()
    if not MergeJob.objects.filter(_stale(now), pk=job_id).update(state=MergeState.QUEUED, done=0, heartbeat_at=None):
        raise MergeError(
            _("Merge %(pk)s is not stalled: only a merge whose worker stopped can be started again.") % {"pk": job_id},
            code="not_stalled",
        )
    job = MergeJob.objects.get(pk=job_id)
    _run_or_enqueue(job)
    job.refresh_from_db()
    return job


def _run_or_enqueue(job: MergeJob) -> None:
    from .tasks import merge_job_task

    job_enqueue(MergeJob, merge_job_task, job.pk)


def _job_progress(job_id: int, done: int) -> None:
    MergeJob.objects.filter(pk=job_id, state=MergeState.RUNNING, done__lt=done).update(
        done=done, heartbeat_at=timezone.now()
    )
    if stop_requested():
        raise _HandBack


def _job_alive(job_id: int) -> None:
    """The job's heartbeat while LibreOffice makes its PDF (no letters are counted then)."""
    MergeJob.objects.filter(pk=job_id, state=MergeState.RUNNING).update(heartbeat_at=timezone.now())
    if stop_requested():
        raise _HandBack


def _hand_back(job_id: int) -> None:
    """The worker is stopping (SIGTERM): the job goes back to queued with a new task, in one
    transaction, and the next free worker makes its letters again (no partial file is kept)."""
    from .tasks import merge_job_task

    with transaction.atomic():
        if MergeJob.objects.filter(pk=job_id, state=MergeState.RUNNING).update(
            state=MergeState.QUEUED, done=0, heartbeat_at=None
        ):
            job_enqueue(MergeJob, merge_job_task, job_id)
            logger.warning("merge job %s handed back to the queue: its worker is stopping", job_id)


def merge_job_run(job_id: int) -> None:
    """Run a queued merge job (the task's body; also called inline).

    Claims the job with a conditional UPDATE (queued → running), so a job runs once however
    often its task is delivered; the claim and every progress update are the job's heartbeat
    (a killed worker leaves a stalled job that `merge_job_restart` starts again). The letters
    are written to a temporary file on disk; only when all are made is that file streamed into
    storage as a Document (never whole in memory) and the job marked finished, in one
    transaction.
    Any failure marks the job failed with the reason and stores no file.
    """
    claimed = MergeJob.objects.filter(pk=job_id, state=MergeState.QUEUED).update(
        state=MergeState.RUNNING, done=0, heartbeat_at=timezone.now()
    )
    if not claimed:
        return
    job = MergeJob.objects.select_related("segment").get(pk=job_id)
    try:
        segment = job.segment
        if segment is None:
            raise MergeError(
                _("Segment %(no)s no longer exists (it was logged or deleted).") % {"no": job.segment_no},
                code="no_segment",
            )
        total = SegmentLine.objects.filter(segment=segment).count()
        if total == 0:
            raise MergeError(_("%(no)s has no lines to merge.") % {"no": segment.no}, code="no_lines")
        MergeJob.objects.filter(pk=job_id, state=MergeState.RUNNING).update(total=total)
        content_type = {MergeOutput.DOCX: DOCX_CONTENT_TYPE, MergeOutput.PDF: PDF_CONTENT_TYPE}.get(
            job.output, ZIP_CONTENT_TYPE
        )
        with tempfile.TemporaryFile() as out:
            made = merge_write(
                segment,
                job.output,
                out,
                progress=lambda done: _job_progress(job_id, done),
                alive=lambda: _job_alive(job_id),
            )
            out.flush()
            file_name = merge_file_name(job.segment_no, job.output)
            stored = file_store(out, file_name=file_name)  # before the transaction: it may take a while
        with transaction.atomic():
            document = document_create(data=stored, file_name=file_name, content_type=content_type)
            finished = MergeJob.objects.filter(pk=job_id, state=MergeState.RUNNING).update(
                state=MergeState.FINISHED,
                total=made,
                done=made,
                document=document,
                error="",
                finished_at=timezone.now(),
            )
            if not finished:
                raise _JobTakenAway  # its file has no row: housekeeping removes it
    except _JobTakenAway:
        return
    except _HandBack:
        _hand_back(job_id)
        return
    except Exception as exc:
        if isinstance(exc, ValidationError):
            message = "\n".join(exc.messages)
        else:
            logger.exception("merge job %s failed", job_id)
            message = _("The merge failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
        MergeJob.objects.filter(pk=job_id, state=MergeState.RUNNING).update(
            state=MergeState.FAILED, error=message, finished_at=timezone.now()
        )


class _JobTakenAway(Exception):
    """The job left the running state while its letters were made (its file is not stored)."""


class _HandBack(Exception):
    """The worker was asked to stop while the job's letters were made (crm.worker)."""
