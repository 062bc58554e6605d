"""Which Word document each segment line is merged from, and the writes that change it
(SPEC R14, R66, R67; D9, D10).

A line's letter comes from, in order:
1. the line's own document (R67: a replacement uploaded for that line);
2. when the line uses the header's interaction template, the segment's copy of that template's
   Word document for the line's language (R14, R66: `SegmentLanguage.document`);
3. when the line overrides the template, that template's Word document for the line's language.

`with_word_document` computes this for any number of lines inside the one query that reads
them; the log stores it on each entry (`word_template`) so the letter can still be made after
the segment is gone.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BigIntegerField, Case, Count, F, OuterRef, Q, QuerySet, Subquery, When
from django.utils.translation import gettext as _

from crm.models import Language
from crm.permissions import require
from interactions.documents import delete_if_unused, document_create
from interactions.models import Document, InteractionTemplateLanguage
from interactions.wordtemplates import validate_template

from .models import Segment, SegmentLanguage, SegmentLine


def _language_document(rows: QuerySet) -> Case:
    """The `document_id` of the row of `rows` for the line's language; a line without a
    language takes the row without a language."""
    return Case(
        When(
            language_id__isnull=True,
            then=Subquery(rows.filter(language_id__isnull=True).values("document_id")[:1]),
        ),
        default=Subquery(rows.filter(language_id=OuterRef("language_id")).values("document_id")[:1]),
        output_field=BigIntegerField(),
    )


def word_document_expression(segment: Segment):
    """An expression over SegmentLine: the id of the document the line's letter is merged from,
    NULL when there is none."""
    segment_copy = _language_document(SegmentLanguage.objects.filter(segment_id=OuterRef("segment_id")))
    template_row = _language_document(
        InteractionTemplateLanguage.objects.filter(template_id=OuterRef("interaction_template_id"))
    )
    return Case(
        When(document_id__isnull=False, then=F("document_id")),
        When(
            Q(interaction_template_id=segment.interaction_template_id)
            if segment.interaction_template_id
            else Q(pk__in=[]),
            then=segment_copy,
        ),
        default=template_row,
        output_field=BigIntegerField(),
    )


def with_word_document(segment: Segment, lines: QuerySet[SegmentLine] | None = None) -> QuerySet[SegmentLine]:
    """`lines` (default: all of the segment's) annotated with `word_document_id`."""
    if lines is None:
        lines = SegmentLine.objects.filter(segment=segment)
    return lines.annotate(word_document_id=word_document_expression(segment))


def lines_without_word_document(segment: Segment, lines: QuerySet[SegmentLine] | None = None) -> QuerySet:
    """The (template, language) pairs of lines that have no Word document, with their counts."""
    return (
        with_word_document(segment, lines)
        .filter(word_document_id__isnull=True)
        .order_by()
        .values("interaction_template_id", "language_id")
        .annotate(lines=Count("pk"))
        .order_by("interaction_template_id", "language_id")
    )


def missing_word_document_problems(segment: Segment, lines: QuerySet[SegmentLine] | None = None) -> list[str]:
    """One message per (template, language) whose lines have no Word document to merge."""
    problems = []
    for row in lines_without_word_document(segment, lines):
        problems.append(
            _(
                'Interaction template "%(template)s" has no Word document for language %(language)s '
                "(%(count)s line(s)): attach one on the template page."
            )
            % {
                "template": row["interaction_template_id"] or _("(none)"),
                "language": row["language_id"] or _("(blank)"),
                "count": row["lines"],
            }
        )
    return problems


def segment_language_document_set(
    *, user, segment: Segment | str, language: Language | None, data: bytes, file_name: str
) -> Document:
    """Replace the segment's copy of the Word template for `language` (R66 "modify Word
    template"): checked completely first (invalid → WordTemplateInvalid, nothing written); the
    template's own document is not touched."""
    from .services import _lock

    require(user, "segments.change_segment")
    validate_template(data)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        row = SegmentLanguage.objects.filter(segment=segment, language=language).first()
        if row is None:
            raise ValidationError(
                _("%(no)s has no language row %(language)s: set an interaction template first."),
                code="no_language_row",
                params={"no": segment.no, "language": language.code if language else _("(blank)")},
            )
        previous = row.document_id
        document = document_create(data=data, file_name=file_name)
        row.document = document
        row.save(update_fields=["document"])
        if previous is not None:
            delete_if_unused(previous)  # kept while the template or anything else still uses it
    return document


def segment_line_document_set(
    *, user, segment: Segment | str, line_no: int, data: bytes | None, file_name: str = ""
) -> Document | None:
    """Give one line its own Word document (R67), or with `data=None` remove it so the line
    uses the segment's again. The document is checked like any Word template (it may still
    hold fields; a letter edited in Word holds none and is sent as it is)."""
    from .services import _lock

    require(user, "segments.change_segment")
    if data is not None:
        validate_template(data)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        line = SegmentLine.objects.filter(segment=segment, line_no=line_no).first()
        if line is None:
            raise ValidationError(
                _("%(no)s has no line %(line)s."), code="no_line", params={"no": segment.no, "line": line_no}
            )
        previous = line.document_id
        document = document_create(data=data, file_name=file_name) if data is not None else None
        line.document = document
        line.save(update_fields=["document"])
        if previous is not None:
            delete_if_unused(previous)  # kept while the undo journal or anything else still uses it
    return document
