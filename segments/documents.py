"""Which Word document each segment line is merged from, and the writes that change it
(SPEC R14, R66, R67; D9, D10).

A line's letter comes from, in order:
1. the line's own document (R67: a replacement uploaded for that line);
2. when the line uses the header's interaction template, the segment's copy of that template's
   Word document for the line's language (R14, R66: `SegmentLanguage.document`);
3. when the line overrides the template, that template's Word document for the line's language.

`with_word_document` computes this for any number of lines inside the one query that reads
them (two outer joins on (segment, language) and (template, language), no subquery per line);
the log stores it on each entry (`word_template`) so the letter can still be made after the
segment is gone.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BigIntegerField, Case, Count, F, FilteredRelation, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.models import Contact, Language
from crm.permissions import require
from interactions.documents import delete_if_unused, document_create
from interactions.models import Document, InteractionTemplateLanguage
from interactions.wordtemplates import validate_template

from .models import Segment, SegmentLanguage, SegmentLine

SEGMENT_COPY = "word_segment_copy"
TEMPLATE_ROW = "word_template_row"


def _language_row(relation: str) -> FilteredRelation:
    """The row of `relation` (a segment's or a template's language rows) for the line's
    language, joined to the line: equal codes, or both without a language. The rows are unique
    per (segment or template, language), so a line gets at most one. The languages are compared
    as COALESCE(code, '') (codes are never blank, CODE_VALIDATOR), an equality a hash join can
    use as its key, where "equal or both NULL" would be a filter on every candidate row."""
    return FilteredRelation(
        relation,
        condition=Q(Exact(Coalesce(F(f"{relation}__language_id"), Value("")), Coalesce(F("language_id"), Value("")))),
    )


def with_word_document(segment: Segment, lines: QuerySet[SegmentLine] | None = None) -> QuerySet[SegmentLine]:
    """`lines` (default: all of the segment's) annotated with `word_document_id`: the id of the
    document the line's letter is merged from, NULL when there is none.

    Set-based: the segment's language rows are joined to the lines on (segment, language) and the
    template's on (template, language), two outer joins in the one query that reads the lines (a
    hash join each at scale), never a subquery per line."""
    if lines is None:
        lines = SegmentLine.objects.filter(segment=segment)
    return lines.alias(
        **{
            SEGMENT_COPY: _language_row("segment__languages"),
            TEMPLATE_ROW: _language_row("interaction_template__languages"),
        }
    ).annotate(
        word_document_id=Case(
            When(document_id__isnull=False, then=F("document_id")),
            When(_header_template(segment), then=F(f"{SEGMENT_COPY}__document_id")),
            default=F(f"{TEMPLATE_ROW}__document_id"),
            output_field=BigIntegerField(),
        )
    )


def _header_template(segment: Segment) -> Q:
    if segment.interaction_template_id:
        return Q(interaction_template_id=segment.interaction_template_id)
    return Q(pk__in=[])


def word_document_groups(segment: Segment, lines: QuerySet[SegmentLine], *fields: str) -> list[dict]:
    """`lines` counted by what decides their Word document (their own document, template and
    language) and by `fields`: dicts of those values, `lines` (the count) and `word_document_id`.

    For the pages that only count: one pass over the lines grouped without any join, then each
    group's document is looked up among the segment's and the templates' language rows (two small
    queries) the way `with_word_document` joins them, so the pass costs what counting costs."""
    groups = list(
        lines.order_by()
        .values("document_id", "interaction_template_id", "language_id", *fields)
        .annotate(lines=Count("pk"))
        .order_by()
    )
    return resolve_word_documents(segment, groups)


def resolve_word_documents(segment: Segment, groups: list[dict]) -> list[dict]:
    """Give each of `groups` (dicts with the lines' `document_id`, `interaction_template_id` and
    `language_id`) its `word_document_id`, as `with_word_document` would: two small queries."""
    copies = dict(SegmentLanguage.objects.filter(segment=segment).values_list("language_id", "document_id"))
    templates = {row["interaction_template_id"] for row in groups} - {None}
    rows = {
        (template, language): document
        for template, language, document in InteractionTemplateLanguage.objects.filter(
            template_id__in=templates
        ).values_list("template_id", "language_id", "document_id")
    }
    header = segment.interaction_template_id
    for row in groups:
        template, language = row["interaction_template_id"], row["language_id"]
        if row["document_id"] is not None:
            row["word_document_id"] = row["document_id"]
        elif header and template == header:
            row["word_document_id"] = copies.get(language)
        else:
            row["word_document_id"] = rows.get((template, language))
    return groups


def nulls_first(*values) -> tuple:
    """A sort key for values that may be None, None first."""
    return tuple((value is not None, value if value is not None else "") for value in values)


def missing_word_document_counts(groups: list[dict]) -> list[tuple[str | None, str | None, int]]:
    """(template, language, lines) of the groups (`word_document_groups`) without a Word document."""
    counts: dict[tuple, int] = {}
    for row in groups:
        if row["word_document_id"] is None:
            key = (row["interaction_template_id"], row["language_id"])
            counts[key] = counts.get(key, 0) + row["lines"]
    return [(*key, count) for key, count in sorted(counts.items(), key=lambda item: nulls_first(*item[0]))]


def missing_word_document_problem(template: str | None, language: str | None, count: int) -> str:
    """The message for `count` lines of `template` and `language` without a Word document."""
    message = ngettext(
        'Interaction template "%(template)s" has no Word document for language %(language)s '
        "(%(count)s line): attach one on the template page.",
        'Interaction template "%(template)s" has no Word document for language %(language)s '
        "(%(count)s lines): attach one on the template page.",
        count,
    )
    return message % {"template": template or _("(none)"), "language": language or _("(blank)"), "count": count}


def missing_word_document_problems(segment: Segment, lines: QuerySet[SegmentLine] | None = None) -> list[str]:
    """One message per (template, language) whose lines have no Word document to merge."""
    if lines is None:
        lines = SegmentLine.objects.filter(segment=segment)
    return [
        missing_word_document_problem(*row)
        for row in missing_word_document_counts(word_document_groups(segment, lines))
    ]


def language_fallback_counts(
    segment: Segment, lines: QuerySet[SegmentLine], templates: set[str | None]
) -> list[tuple[str, str | None, int]]:
    """(contact's language, document's language, lines) of the `lines` whose contact's language
    has no Word document in their template (R14: the segment has no row for it, so the line
    took the default language; or the row has no document) and whose letter is merged from
    their own language's document instead. Lines with a document of their own (R67) or without
    any document (a problem, `missing_word_document_counts`) are not counted. `templates`: the
    templates the lines use (from the page's grouped pass).

    The languages with a document in each template (two small queries, as
    `resolve_word_documents`) and the languages some of them have none for (one more); only when
    there are such languages, one grouped pass over the lines whose contact speaks one of them: a
    semi-join to those contacts, so the lines of the others are never joined to their contact."""
    templates = templates - {None}
    if not templates:
        return []
    documented: dict[str, set] = {template: set() for template in templates}
    header = segment.interaction_template_id
    if header in templates:
        documented[header] = set(
            SegmentLanguage.objects.filter(segment=segment, document__isnull=False).values_list(
                "language_id", flat=True
            )
        )
    for template, language in InteractionTemplateLanguage.objects.filter(
        template_id__in=templates - {header}, document__isnull=False
    ).values_list("template_id", "language_id"):
        documented[template].add(language)
    everywhere = set.intersection(*documented.values()) - {None}
    suspects = list(Language.objects.exclude(code__in=everywhere).values_list("code", flat=True))
    if not suspects:  # every language has a document in every template: no line is read
        return []
    groups = (
        lines.filter(
            document_id__isnull=True, contact_id__in=Contact.objects.filter(language_id__in=suspects).values("pk")
        )
        .exclude(contact__language_id=F("language_id"))
        .order_by()
        .values("interaction_template_id", "language_id", contact_language=F("contact__language_id"))
        .annotate(lines=Count("pk"))
        .order_by()
    )
    counts: dict[tuple, int] = {}
    for row in groups:
        languages = documented.get(row["interaction_template_id"], set())
        if row["language_id"] in languages and row["contact_language"] not in languages:
            key = (row["contact_language"], row["language_id"])
            counts[key] = counts.get(key, 0) + row["lines"]
    return [(*key, count) for key, count in sorted(counts.items(), key=lambda item: nulls_first(*item[0]))]


def language_fallback_notice(language: str, document_language: str | None, count: int) -> str:
    """ "12 lines in FI use the EN document" (`language_fallback_counts`)."""
    return ngettext(
        "%(count)s line in %(language)s uses the %(document)s document (no Word document for %(language)s).",
        "%(count)s lines in %(language)s use the %(document)s document (no Word document for %(language)s).",
        count,
    ) % {"count": count, "language": language, "document": document_language or _("(blank)")}


def language_fallback_notices(segment: Segment, lines: QuerySet[SegmentLine], templates: set[str | None]) -> list[str]:
    """One notice per (contact's language, document's language) of `language_fallback_counts`."""
    return [language_fallback_notice(*row) for row in language_fallback_counts(segment, lines, templates)]


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
