"""Delete a segment that was never logged, with everything that belongs to it.

A logged segment is gone already (the Log deletes it); this is the worksheet's "Delete…".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from crm.permissions import require
from interactions.models import Document
from interactions.storage import files_delete_on_commit

from ..models import LOG_JOB_UNFINISHED, LogJob, RemovedSegmentLine, Segment, SegmentLanguage, SegmentLine
from .statistics import analyze_after_commit
from .worksheet import _lock


@dataclass(frozen=True)
class SegmentDeleted:
    no: str
    lines: int
    documents: int


def _own_documents(segment: Segment) -> set[int]:
    """The documents only this segment may use: its lines' own Word documents (live and kept for
    undo) and its copies of the template's Word documents. Deleting one that something else still
    uses is refused by the database's PROTECT and skipped."""
    ids: set[int] = set()
    for rows in (
        SegmentLine.objects.filter(segment=segment, document__isnull=False),
        RemovedSegmentLine.objects.filter(segment=segment, document__isnull=False),
        SegmentLanguage.objects.filter(segment=segment, document__isnull=False),
    ):
        ids.update(rows.order_by().values_list("document_id", flat=True).distinct())
    return ids


def _delete_documents(ids: set[int]) -> int:
    """Delete the documents `ids` that nothing else uses and are not read-only (a read-only one
    made a logged entry's letter). One DELETE when none is in use elsewhere; else one by one,
    skipping those in use (a segment has few documents of its own)."""
    rows = Document.objects.filter(pk__in=ids, read_only=False)
    names = dict(rows.values_list("pk", "file"))
    if not names:
        return 0
    try:
        with transaction.atomic():
            deleted = rows.delete()[1].get(Document._meta.label, 0)
        files_delete_on_commit(names.values())
        return deleted
    except (ProtectedError, RestrictedError):
        pass
    deleted = 0
    for pk, name in names.items():
        try:
            with transaction.atomic():
                count = Document.objects.filter(pk=pk, read_only=False).delete()[1].get(Document._meta.label, 0)
        except (ProtectedError, RestrictedError):
            continue
        if count:
            deleted += count
            files_delete_on_commit([name])
    return deleted


def segment_delete(*, user, segment: Segment | str) -> SegmentDeleted:
    """Delete the segment, its lines, the lines kept for undo, its steps, its language rows and the
    Word documents only it used, in one durable transaction with the segment row locked.

    The lines' reference to their segment has no database constraint (a check per line cost an
    add too much), so nothing would stop the segment going while its lines stay: the lines and the
    undo journal are deleted first, each with one set-based DELETE. A second delete (double click,
    another user) finds the segment gone and says so, writing nothing; a segment that was logged
    meanwhile says who logged it. A segment with a Log queued or running is refused. Needs
    segments.delete_segment.
    """
    require(user, "segments.delete_segment")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        if LogJob.objects.filter(segment=segment, state__in=LOG_JOB_UNFINISHED).exists():
            raise ValidationError(
                _("%(no)s is being logged: it cannot be deleted while its Log runs."),
                code="log_running",
                params={"no": segment.no},
            )
        documents = _own_documents(segment)
        lines, _deleted = SegmentLine.objects.filter(segment=segment).delete()
        RemovedSegmentLine.objects.filter(segment=segment).delete()
        no = segment.no
        segment.delete()  # its steps and language rows; jobs keep their segment no.
        deleted_documents = _delete_documents(documents)
        if lines:
            analyze_after_commit(
                [SegmentLine._meta.db_table, RemovedSegmentLine._meta.db_table],
                changed=lines,
                lines_before=lines,
                lines_after=0,
            )
    return SegmentDeleted(no=no, lines=lines, documents=deleted_documents)
