"""Reads of a segment's Word documents (SPEC R14, R66, R67): its language rows with their
documents, the lines with a document of their own, and the document a line's letter is merged
from. No query loads a document's bytes except the download of that one document."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from crm.models import CorrespondenceType
from interactions.models import Document, InteractionTemplateLanguage
from interactions.template_forms import BLANK_LANGUAGE

from .documents import with_word_document
from .merge import merge_lines
from .models import Segment, SegmentLanguage, SegmentLine

LINES_SHOWN = 50


@dataclass(frozen=True)
class LanguageDocument:
    """A language row of the segment, its document and the template's current one for that language."""

    row: SegmentLanguage
    template_document: Document | None

    @property
    def key(self) -> str:
        return self.row.language_id or BLANK_LANGUAGE

    @property
    def same_as_template(self) -> bool:
        return self.template_document is not None and self.template_document.pk == self.row.document_id


def segment_language_documents(*, segment: Segment) -> list[LanguageDocument]:
    """The segment's language rows (language order, the row without one first), each with its
    document and the template's current document for the same language: two queries."""
    rows = list(
        SegmentLanguage.objects.filter(segment=segment)
        .select_related("language", "document")
        .order_by(F("language_id").asc(nulls_first=True))
    )
    template_rows = {}
    if segment.interaction_template_id:
        template_rows = {
            row.language_id: row.document
            for row in InteractionTemplateLanguage.objects.filter(
                template_id=segment.interaction_template_id
            ).select_related("document")
        }
    return [LanguageDocument(row, template_rows.get(row.language_id)) for row in rows]


def lines_with_own_document(*, segment: Segment) -> QuerySet[SegmentLine]:
    """The segment's lines that have their own document, in line order, with contact and
    document (without its bytes)."""
    return (
        SegmentLine.objects.filter(segment=segment, document__isnull=False)
        .select_related("contact", "document")
        .order_by("line_no")
    )


def segment_document(*, segment: Segment, document_id: int) -> Document | None:
    """Document `document_id` when a language row or a line of the segment uses it."""
    used = Q(pk__in=SegmentLanguage.objects.filter(segment=segment).values("document_id")) | Q(
        pk__in=SegmentLine.objects.filter(segment=segment, document_id=document_id).values("document_id")
    )
    return Document.objects.filter(used, pk=document_id).first()


def letter_line(*, segment: Segment, line_no: int) -> SegmentLine | None:
    """Line `line_no` with everything its letter shows and `word_document_id` (one query)."""
    return with_word_document(segment, merge_lines(segment).filter(line_no=line_no)).first()


def first_email_line_no(*, segment: Segment) -> int | None:
    """The number of the segment's first line that goes out as an e-mail, or None (one query
    on the (segment, line no.) index)."""
    return (
        SegmentLine.objects.filter(segment=segment, correspondence_type=CorrespondenceType.EMAIL)
        .order_by("line_no")
        .values_list("line_no", flat=True)
        .first()
    )


def word_document(document_id: int | None) -> Document | None:
    """A document's description (not its bytes)."""
    if document_id is None:
        return None
    return Document.objects.filter(pk=document_id).first()
