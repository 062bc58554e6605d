"""Writes on segments: header, selection steps, manual lines, undo, saved criteria.

Guarantees shared by every public service here:
- one transaction (`atomic(durable=True)` for top-level calls), which first locks the segment
  row (`select_for_update`; on SQLite the IMMEDIATE transaction mode serialises writers), so
  two users changing one segment queue instead of losing an update;
- set-based: a selection step is a constant number of SQL statements whatever the number of
  contacts (an INSERT … SELECT for added lines, an INSERT … SELECT plus a DELETE for removed
  ones); header changes reach the lines with at most two UPDATE statements;
- bad criteria (unknown name, unknown code, bad value) raise ValidationError before anything
  is written; never "all contacts", never an empty refine.

Selection predicates avoid `NOT IN (subquery)` and `IN … OR IN …` over large sets (which
PostgreSQL runs row by row once the set outgrows `work_mem`): a contact's company is one key
(`_company_key`: a company's own id, a person's company id, minus the own id of a private
person), so "same company as a matching contact" is one `IN` (a semi-join) and "no matching
contact in the company" one `NOT EXISTS` (an anti-join).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    DateField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.db.models.lookups import Exact, In
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.filters import ContactFilterSet
from crm.models import CHANNEL_OF_CORRESPONDENCE, Contact, ContactType, active_alt_address_id
from crm.permissions import recorded_user, require
from crm.services import number_series_next
from crm.sql import insert_select
from interactions.models import InteractionTemplate, InteractionTemplateLanguage, LoggedSegment

from ..models import (
    CONSENT_STEP_SOURCE,
    OVERRIDABLE_FIELDS,
    OVERRIDE_BIT,
    CriteriaStep,
    RemovedSegmentLine,
    SavedCriteria,
    SavedCriteriaStep,
    Segment,
    SegmentLanguage,
    SegmentLine,
    StepAction,
)
from .consent import NOTHING_LEFT_OUT, LeftOut, consenting, left_out, withdrawn_lines, withdrawn_reason
from .statistics import analyze_after_commit

LINE_NO_STEP = 10_000
SEGMENT_SERIES = "SEGMENT"

# Header fields copied to every line that follows the header (D1), header field → line field.
PROPAGATED_FIELDS = {
    "description": "description",
    "campaign": "campaign",
    "campaign_target": "campaign_target",
    "campaign_response": "campaign_response",
    "salesperson": "salesperson",
    "date": "date",
    "unit_cost": "cost",
    "unit_duration": "duration",
    "information_flow": "information_flow",
    "initiated_by": "initiated_by",
    "send_as_attachment": "send_as_attachment",
}
# Header fields whose change re-derives each following line's correspondence type (R13).
CORRESPONDENCE_INPUTS = {"correspondence_type", "ignore_contact_correspondence_type", "interaction_template"}
# What choosing a template copies to the header (SPEC R2).
TEMPLATE_DEFAULTS = {
    "interaction_group_id": "group_id",
    "language_id": "language_id",
    "unit_cost": "unit_cost",
    "unit_duration": "unit_duration",
    "information_flow": "information_flow",
    "initiated_by": "initiated_by",
    "campaign_target": "campaign_target",
    "campaign_response": "campaign_response",
    "correspondence_type": "correspondence_type",
    "ignore_contact_correspondence_type": "ignore_contact_correspondence_type",
}
# The line fields a template gives a line (R15): TEMPLATE_DEFAULTS as line fields, plus the
# campaign, description and subject that `_apply_template_defaults` also sets. Its group is
# set with the template itself.
TEMPLATE_LINE_FIELDS = frozenset(
    {PROPAGATED_FIELDS.get(name, name).removesuffix("_id") for name in TEMPLATE_DEFAULTS} & set(OVERRIDABLE_FIELDS)
    | {"campaign", "description", "subject"}
)
HEADER_FIELDS = frozenset(
    {
        "description",
        "interaction_template",
        "salesperson",
        "campaign",
        "campaign_target",
        "campaign_response",
        "date",
        "subject",
        "language",
        "correspondence_type",
        "ignore_contact_correspondence_type",
        "information_flow",
        "initiated_by",
        "unit_cost",
        "unit_duration",
        "send_as_attachment",
    }
)
# Every line field derived from the header (and the contact); `alt_address` follows the date.
DERIVED_LINE_FIELDS = (*OVERRIDABLE_FIELDS, "alt_address")


@dataclass(frozen=True)
class ReplayDifference:
    """A replayed step of saved criteria that did something else than it did when the criteria
    were saved (R36: a replay runs against today's data and today's worksheet)."""

    number: int  # the step's number in the saved criteria (1, 2, …), as the worksheet lists them
    action: str
    filter: str
    recorded: int  # lines the step added (positive) or removed (negative) on the saved segment
    now: int  # the same, on this replay

    def __str__(self) -> str:
        return _("step %(n)s (%(what)s): recorded %(recorded)s, now %(now)s") % {
            "n": self.number,
            "what": f"{self.action} {self.filter}".strip(),
            "recorded": _signed(self.recorded),
            "now": _signed(self.now),
        }


def _signed(count: int) -> str:
    return f"{count:+d}" if count else "0"


@dataclass(frozen=True)
class StepResult:
    step: CriteriaStep | None
    added: int
    removed: int
    line_count: int
    # A replay of saved criteria: the replayed steps whose counts differ from the recorded ones.
    differences: tuple[ReplayDifference, ...] = ()
    # The contacts an add left out because they withdrew consent for their line's channel.
    left_out: LeftOut = NOTHING_LEFT_OUT


def _without_jit() -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction.

    A step is one big statement run once; compiling it cost more than it saved (1.8 s of a
    2.3 s INSERT … SELECT of 300,000 lines at 1M contacts). Outside PostgreSQL a no-op.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


class SegmentAlreadyLogged(ValidationError):
    """The segment is gone because it was logged; `logged_segment` says by whom and when."""

    def __init__(self, logged_segment: LoggedSegment):
        self.logged_segment = logged_segment
        user = logged_segment.user.get_username() if logged_segment.user else _("another user")
        when = timezone.localtime(logged_segment.created_at).strftime("%Y-%m-%d %H:%M:%S")
        super().__init__(
            _("Segment %(no)s was already logged by %(user)s at %(time)s."),
            code="already_logged",
            params={"no": logged_segment.segment_no, "user": user, "time": when},
        )


def already_logged(segment: Segment | uuid.UUID | str) -> SegmentAlreadyLogged | None:
    """The error for a segment that was logged, found by its id (a segment's uuid) or number;
    else None. Every "was this segment logged?" asks here."""
    rows = LoggedSegment.objects.select_related("user")
    if isinstance(segment, Segment | uuid.UUID):
        logged = rows.filter(source_uuid=getattr(segment, "uuid", segment)).first()
    else:
        logged = rows.filter(segment_no=segment).order_by("-pk").first()
    return SegmentAlreadyLogged(logged) if logged else None


def _lock(segment: Segment | str) -> Segment:
    """Re-read the segment under a row lock (the claim every segment write starts with).

    A write that waited for a log of the same segment finds it gone and says so: "Segment …
    was already logged by … at …" (RELIABILITY case 4: the edit is refused, never lost).
    """
    _without_jit()
    lookup = {"no": segment} if isinstance(segment, str) else {"pk": segment.pk}
    try:
        return Segment.objects.select_for_update().get(**lookup)
    except Segment.DoesNotExist:
        logged = already_logged(segment)
        if logged is not None:
            raise logged from None
        raise ValidationError(
            _('segment "%(no)s" does not exist (it may have been logged or deleted).'),
            code="segment_gone",
            params={"no": lookup.get("no") or getattr(segment, "no", "")},
        ) from None


# --- Header ---------------------------------------------------------------------------------


def _apply_template_defaults(segment: Segment, template: InteractionTemplate | None) -> None:
    """SPEC R2 on the header instance: copy the template's defaults, clear the subject.

    Clearing the template (D2, fixing R4) clears the template and its group and keeps the
    other header values.
    """
    segment.interaction_template = template
    if template is None:
        segment.interaction_group = None
        return
    for header_field, template_field in TEMPLATE_DEFAULTS.items():
        setattr(segment, header_field, getattr(template, template_field))
    segment.subject = ""
    if segment.campaign_id is None and template.campaign_id:
        segment.campaign_id = template.campaign_id
    if not segment.description:
        segment.description = template.description


def _template_header(segment: Segment, template: InteractionTemplate | None) -> tuple[Segment, dict | None]:
    """What a line whose own template is `template` derives from (R15), and its languages.

    The header as it would be with that template (never saved): the template's defaults
    applied by `_apply_template_defaults` (R2) to a copy of the header, so the campaign is the
    header's, else the template's, and the description is the template's; its language rows
    are the template's (language → subject), its language the template's default, else the
    first of those rows. A template without any language leaves the language and subject to
    the header's rows (R14). For the header's own template (or none), the header and its rows.
    """
    if template is None or template.pk == segment.interaction_template_id:
        return segment, None
    header = copy.copy(segment)
    header.description = ""  # R15: a new template brings its description (see segment_set_line)
    _apply_template_defaults(header, template)
    rows = InteractionTemplateLanguage.objects.filter(template=template)
    languages = dict(rows.values_list("language_id", "subject"))
    if not languages and header.language_id is None:
        header.language_id, header.subject = segment.language_id, segment.subject
        return header, None
    if header.language_id is None:
        header.language_id = min((code for code in languages if code), default=None)
    header.subject = languages.get(header.language_id) or ""
    return header, languages


def _sync_languages(segment: Segment, *, template_changed: bool, language_changed: bool, subject_given: bool) -> bool:
    """Keep the segment's language rows (F1.14) and its default subject consistent.

    A new template replaces the rows by copies of the template's rows and the subject becomes
    the default language row's (R2); a new default language takes that row's subject (R11);
    a subject given explicitly wins and is stored on the default language's row too (R10), so
    lines in the default language get it. Returns whether the header subject changed.
    """
    before = segment.subject
    if template_changed:
        SegmentLanguage.objects.filter(segment=segment).delete()
        if segment.interaction_template_id is not None:
            rows = list(InteractionTemplateLanguage.objects.filter(template_id=segment.interaction_template_id))
            SegmentLanguage.objects.bulk_create(
                SegmentLanguage(
                    segment=segment,
                    language_id=row.language_id,
                    description=row.description,
                    subject=row.subject,
                    document_id=row.document_id,
                )
                for row in rows
            )
            if not subject_given:
                default = next((row for row in rows if row.language_id == segment.language_id), None)
                segment.subject = default.subject if default else ""
    elif language_changed and not subject_given:
        row = SegmentLanguage.objects.filter(segment=segment, language_id=segment.language_id).first()
        if row is not None:
            segment.subject = row.subject
    if subject_given or segment.subject != before:
        SegmentLanguage.objects.filter(segment=segment, language_id=segment.language_id).update(subject=segment.subject)
    return segment.subject != before


def segment_create(*, user, values: dict[str, Any]) -> Segment:
    """A new segment numbered from series SEGMENT (SEG00001…), dated today.

    A template given in `values` applies its defaults first (R2) and its language rows are
    copied to the segment; the other values given win over them. One durable transaction.
    """
    require(user, "segments.add_segment")
    unknown = set(values) - HEADER_FIELDS
    if unknown:
        raise TypeError(f"not header fields: {sorted(unknown)}")
    with transaction.atomic(durable=True):
        segment = Segment(no=number_series_next(code=SEGMENT_SERIES)[0], owner=recorded_user(user))
        template = values.get("interaction_template")
        if template is not None:
            _apply_template_defaults(segment, template)
        for field, value in values.items():
            setattr(segment, field, value)
        segment.full_clean(exclude=["owner"])
        segment.save()
        if template is not None and _sync_languages(
            segment, template_changed=True, language_changed=False, subject_given="subject" in values
        ):
            segment.save(update_fields=["subject"])
    return segment


def segment_update(*, user, segment: Segment | str, values: dict[str, Any]) -> Segment:
    """Change header fields; lines follow the header except fields overridden on a line (D1).

    A different template applies its defaults (options given in the same call win) and
    re-derives every template-derived field of the lines that follow the header, including
    each line's language (R14) and subject (D2); clearing the template is allowed. Lines
    whose template is overridden do not follow the header. One durable transaction, a
    constant number of statements whatever the number of lines.
    """
    require(user, "segments.change_segment")
    unknown = set(values) - HEADER_FIELDS
    if unknown:
        raise TypeError(f"not header fields: {sorted(unknown)}")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        before = {field: getattr(segment, _attname(field)) for field in HEADER_FIELDS}
        template_changed = "interaction_template" in values and (
            getattr(values["interaction_template"], "pk", None) != segment.interaction_template_id
        )
        if template_changed:
            _apply_template_defaults(segment, values["interaction_template"])
        for field, value in values.items():
            setattr(segment, field, value)
        segment.full_clean(exclude=["owner"])
        _sync_languages(
            segment,
            template_changed=template_changed,
            language_changed=segment.language_id != before["language"],
            subject_given="subject" in values,
        )
        segment.save()
        changed = {field for field in HEADER_FIELDS if getattr(segment, _attname(field)) != before[field]}
        _propagate(segment, changed, rederive=template_changed)
    return segment


def _attname(field: str) -> str:
    return f"{field}_id" if field in {"interaction_template", "salesperson", "campaign", "language"} else field


def _not_overridden(field: str) -> Exact:
    return Exact(F("overrides").bitand(OVERRIDE_BIT[field]), 0)


def _propagate(segment: Segment, changed: set[str], *, rederive: bool) -> None:
    """Push header changes to the lines that follow the header, skipping overridden fields."""
    if rederive:
        fields = {*PROPAGATED_FIELDS.values(), "interaction_template", "language", "subject", "correspondence_type"}
    else:
        fields = {line_field for header_field, line_field in PROPAGATED_FIELDS.items() if header_field in changed}
        if changed & {"language", "subject"}:
            fields |= {"language", "subject"}
        if changed & CORRESPONDENCE_INPUTS:
            fields.add("correspondence_type")
    if "date" in fields:
        fields.add("alt_address")
    if fields:
        lines = SegmentLine.objects.filter(segment=segment).filter(_not_overridden("interaction_template"))
        _rederive(segment, lines, fields)


def _rederive(segment: Segment, lines: QuerySet[SegmentLine], fields: set[str], languages: dict | None = None) -> None:
    """Set `fields` of `lines` to the value the header and the contact give them (F2.4).

    A field overridden on a line keeps its value. At most two UPDATE statements: the subject
    depends on the line's (new) language and the alternate address on its (new) date.
    `segment` may be the header a line's own template gives (`_template_header`), with that
    template's `languages`; by default the segment's language rows.
    """
    first: dict[str, Any] = {}
    for field in fields:
        if field in {"subject", "alt_address"}:
            continue
        value = _derived_value(segment, field, languages)
        first[_attname(field)] = Case(
            When(_not_overridden(field), then=value), default=F(_attname(field)), output_field=_column_type(field)
        )
        if field == "interaction_template":
            first["interaction_group_id"] = Case(
                When(_not_overridden(field), then=Value(segment.interaction_group_id, output_field=CharField())),
                default=F("interaction_group_id"),
                output_field=CharField(),
            )
    if first:
        lines.update(**first)
    second: dict[str, Any] = {}
    if "subject" in fields:
        second["subject"] = Case(
            When(_not_overridden("subject"), then=_line_subject(segment, "language_id", languages)),
            default=F("subject"),
            output_field=CharField(),
        )
    if "alt_address" in fields:
        second["alt_address_id"] = active_alt_address_id(OuterRef("contact_id"), OuterRef("date"))
    if second:
        lines.update(**second)


def _derived_value(segment: Segment, field: str, languages: dict | None = None):
    """The header-derived value of one line field, as an expression over an existing line."""
    if field == "language":
        return _line_language(segment, _of_line_contact("language_id"), languages)
    if field == "correspondence_type":
        return Subquery(
            Contact.objects.filter(pk=OuterRef("contact_id"))
            .annotate(ct=_correspondence_type(segment))
            .values("ct")[:1]
        )
    if field == "salesperson":
        if segment.salesperson_id:
            return Value(segment.salesperson_id, output_field=CharField())
        return _of_line_contact("salesperson_id")
    if field == "evaluation":
        return Value("", output_field=CharField())
    header_field = {line: header for header, line in PROPAGATED_FIELDS.items()}.get(field, field)
    return Value(getattr(segment, _attname(header_field)), output_field=_column_type(field))


def _column_type(field: str):
    """A plain field of the line column's type (a foreign key's target type)."""
    column = SegmentLine._meta.get_field(field)
    if column.is_relation:
        column = column.target_field
    if isinstance(column, DecimalField):
        return DecimalField(max_digits=column.max_digits, decimal_places=column.decimal_places)
    if isinstance(column, BigIntegerField):
        return BigIntegerField()
    return column.__class__()


def _of_line_contact(column: str):
    return Subquery(Contact.objects.filter(pk=OuterRef("contact_id")).values(column)[:1])


# --- Line values (F2.4) ---------------------------------------------------------------------


def _languages(segment: Segment) -> dict[str | None, str]:
    return dict(SegmentLanguage.objects.filter(segment=segment).values_list("language_id", "subject"))


def _line_language(segment: Segment, contact_language, languages: dict[str | None, str] | None = None):
    """R14: the contact's language if the segment has a row for it, else the header's default.

    `contact_language` is an expression for the contact's language code.
    """
    languages = _languages(segment) if languages is None else languages
    known = sorted(code for code in languages if code)
    default = Value(segment.language_id, output_field=CharField())
    if not known:
        return default
    return Case(When(In(contact_language, known), then=contact_language), default=default, output_field=CharField())


def _line_subject(segment: Segment, language: str, languages: dict[str | None, str] | None = None):
    """The subject of the segment's row for the line's language, else the header's subject."""
    languages = _languages(segment) if languages is None else languages
    whens = [When(**{language: code}, then=Value(subject)) for code, subject in languages.items() if code]
    if not whens:
        return Value(segment.subject, output_field=CharField())
    return Case(*whens, default=Value(segment.subject), output_field=CharField())


def _correspondence_type(segment: Segment):
    """R13 over Contact: the header default when it ignores the contact; else the template's
    default when the template ignores the contact or the contact has none; else the contact's."""
    if segment.ignore_contact_correspondence_type and segment.correspondence_type:
        return Value(segment.correspondence_type, output_field=CharField())
    template = segment.interaction_template
    if template is not None:
        if template.ignore_contact_correspondence_type:
            return Value(template.correspondence_type, output_field=CharField())
        return Case(
            When(correspondence_type="", then=Value(template.correspondence_type)),
            default=F("correspondence_type"),
            output_field=CharField(),
        )
    return F("correspondence_type")


def _line_order(*tail):
    """R21: company name, company no., company before person, name (then id, for a total order).

    A private person has a blank company name and number (F1.1), so private persons come first.
    `tail` orders rows of one contact (a contact on several entries of a logged segment).
    """
    is_company = Q(type=ContactType.COMPANY)
    return [
        Case(When(is_company, then=F("name")), default=Coalesce(F("company__name"), Value(""))).asc(),
        Case(When(is_company, then=F("no")), default=Coalesce(F("company__no"), Value(""))).asc(),
        F("type").asc(),
        F("name").asc(),
        F("pk").asc(),
        *tail,
    ]


def _line_columns(segment: Segment, step: CriteriaStep, first_line_no: int, *, order_tail=()) -> dict[str, Any]:
    """Column → expression over Contact for a new line initialised from header + contact (F2.4)."""

    def const(value, field):
        return Value(value, output_field=field)

    languages = _languages(segment)
    return {
        "segment_id": const(segment.pk, BigIntegerField()),
        "step_id": const(step.pk, BigIntegerField()),
        "line_no": const(first_line_no, BigIntegerField())
        + Window(RowNumber(), order_by=_line_order(*order_tail), output_field=BigIntegerField())
        * const(LINE_NO_STEP, BigIntegerField()),
        "contact_id": F("pk"),
        "alt_address_id": active_alt_address_id(OuterRef("pk"), segment.date),
        "description": const(segment.description, CharField()),
        "interaction_template_id": const(segment.interaction_template_id, CharField()),
        "interaction_group_id": const(segment.interaction_group_id, CharField()),
        "salesperson_id": const(segment.salesperson_id, CharField()) if segment.salesperson_id else F("salesperson_id"),
        "campaign_id": const(segment.campaign_id, BigIntegerField()),
        "campaign_target": const(segment.campaign_target, BooleanField()),
        "campaign_response": const(segment.campaign_response, BooleanField()),
        "date": const(segment.date, DateField()),
        "language_id": _line_language(segment, F("language_id"), languages),
        "subject": _line_subject(segment, "language_id", languages),
        "correspondence_type": _correspondence_type(segment),
        "information_flow": const(segment.information_flow, CharField()),
        "initiated_by": const(segment.initiated_by, CharField()),
        "send_as_attachment": const(segment.send_as_attachment, BooleanField()),
        "cost": const(segment.unit_cost, DecimalField(max_digits=12, decimal_places=2)),
        "duration": const(segment.unit_duration, DecimalField(max_digits=12, decimal_places=2)),
        "evaluation": const("", CharField()),
        "personal_text": const("", TextField()),
        "overrides": const(0, IntegerField()),
    }


# --- Selection steps (F3 with D3–D6) -----------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    """A validated QUERY: its canonical text (what a step stores) and the contacts it selects.

    Validation checks every name and code once (one query per code list); the selection is a
    lazy queryset, so a code deleted after validation selects nothing, never everything.
    """

    query: str
    contacts: QuerySet[Contact]


def criteria(query: str | Criteria) -> Criteria:
    """Validate a QUERY; ValidationError listing every problem when it is not valid."""
    if isinstance(query, Criteria):
        return query
    filterset = ContactFilterSet(query or "")
    if not filterset.is_valid():
        raise ValidationError(filterset.error_lines(), code="invalid_criteria")
    return Criteria(filterset.canonical_query(), filterset.qs)


def _criteria(query: str | Criteria) -> QuerySet[Contact]:
    """Contacts matching a QUERY; ValidationError listing every problem when it is not valid."""
    return criteria(query).contacts


def _company_key(prefix: str = ""):
    """One key per company: a company's own id, a person's company id; a private person is its
    own "company", keyed by minus its id (so it never equals a company's key).

    `prefix` reaches the contact from another model (`"contact__"` from a segment line).
    """
    own = F(f"{prefix}pk") if prefix else F("pk")
    return Case(
        When(Q(**{f"{prefix}type": ContactType.COMPANY}), then=own),
        When(Q(**{f"{prefix}company_id__isnull": False}), then=F(f"{prefix}company_id")),
        default=Value(0) - own,
        output_field=BigIntegerField(),
    )


def add_candidates(*, segment: Segment, query: str | Criteria, **options: bool) -> QuerySet[Contact]:
    """The contacts an Add Contacts step adds (`_add_selection`) less those who withdrew consent
    for the channel of the line they would get (D17; "ignore exclusion" or not): one query."""
    return consenting(_add_selection(segment=segment, query=query, **options), _correspondence_type(segment))


def _add_selection(
    *,
    segment: Segment,
    query: str | Criteria,
    allow_existing: bool = False,
    expand_contact: bool = False,
    allow_company_with_persons: bool = False,
    ignore_exclusion: bool = False,
) -> QuerySet[Contact]:
    """The contacts an Add Contacts step would add before consent (SPEC R18, R20): one query,
    each contact once.

    Expansion replaces each qualifying contact of a company by the company and all its
    persons (private persons stay as they are); "allow company with persons" then adds the
    company of each qualifying person (after expansion there is nothing left to add); the
    exclusion flag applies to the final set, so expansion never brings in an excluded contact
    unless the exclusion is ignored; contacts already on a line are skipped unless
    `allow_existing`.
    """
    matching = _criteria(query)
    candidates = matching
    if expand_contact:
        keys = matching.annotate(company_key=_company_key()).values("company_key")
        candidates = Contact.objects.annotate(company_key=_company_key()).filter(company_key__in=keys)
    elif allow_company_with_persons:
        companies = matching.filter(type=ContactType.PERSON, company_id__isnull=False).values("company_id")
        candidates = Contact.objects.filter(pk__in=matching.values("pk").union(companies, all=True))
    if not ignore_exclusion:
        candidates = candidates.filter(exclude_from_segment=False)
    if not allow_existing:
        candidates = candidates.filter(~Exists(SegmentLine.objects.filter(segment=segment, contact_id=OuterRef("pk"))))
    return candidates


def _lines_to_remove(
    segment: Segment, action: str, query: str | Criteria, entire_companies: bool
) -> QuerySet[SegmentLine]:
    """Lines a reduce (whose contact matches) or refine (whose contact does not) removes (R24, R25).

    With Entire Companies a line matches when any contact of its contact's current company
    (D4) matches, members that are not in the segment included. Reduce is a semi-join (`IN`),
    refine an anti-join (`NOT EXISTS`; PostgreSQL runs `NOT IN` row by row once the set
    outgrows `work_mem`). One query whatever the size.
    """
    matching = _criteria(query)
    lines = SegmentLine.objects.filter(segment=segment).order_by()
    if entire_companies:
        keyed = matching.annotate(company_key=_company_key())
        lines = lines.annotate(company_key=_company_key("contact__"))
        if action == StepAction.REDUCE:
            return lines.filter(company_key__in=keyed.values("company_key"))
        if connection.vendor == "sqlite":
            # SQLite has no hash anti-join: it runs NOT IN over an uncorrelated subquery by
            # building a temporary index once (the keys are never NULL, so NOT IN is exact).
            return lines.exclude(company_key__in=keyed.values("company_key"))
        return lines.filter(~Exists(keyed.filter(company_key=OuterRef("company_key"))))
    if action == StepAction.REDUCE:
        return lines.filter(contact_id__in=matching.values("pk"))
    return lines.filter(~Exists(matching.filter(pk=OuterRef("contact_id"))))


def segment_count(
    *, segment: Segment, action: str, query: str | Criteria, entire_companies: bool = False, **add_options: bool
) -> int:
    """Dry run (D5): how many lines a step would add or remove. Writes nothing; one COUNT
    query plus the queries that validate the criteria's codes. A reduce or refine without
    criteria is refused as the step itself is (`_require_criterion`)."""
    if action == StepAction.ADD:
        selection = add_candidates(segment=segment, query=query, **add_options)
    else:
        query = criteria(query)
        _require_criterion(action, query)
        selection = _lines_to_remove(segment, action, query, entire_companies)
    with transaction.atomic():
        _without_jit()
        return selection.count()


def _next_position(segment: Segment, parent: CriteriaStep | None = None) -> int:
    """The number of a new step: the segment's own steps are numbered 1, 2, 3 … as the worksheet
    shows them; a replay's steps 1, 2, … within the replay."""
    if parent is not None:
        steps = CriteriaStep.objects.filter(parent=parent)
    else:
        steps = CriteriaStep.objects.filter(segment=segment, parent__isnull=True)
    return (steps.aggregate(m=Max("position"))["m"] or 0) + 1


def _next_line_no_base(segment: Segment) -> int:
    """Largest line no. in use, counting lines kept for undo, so no number that may come back
    is given out again; new lines continue from it in steps of 10000 (R21)."""
    live = SegmentLine.objects.filter(segment=segment).aggregate(m=Max("line_no"))["m"] or 0
    removed = RemovedSegmentLine.objects.filter(segment=segment).aggregate(m=Max("line_no"))["m"] or 0
    return max(live, removed)


def _new_step(segment: Segment, user, *, parent: CriteriaStep | None = None, **fields) -> CriteriaStep:
    return CriteriaStep.objects.create(
        segment=segment,
        position=_next_position(segment, parent),
        parent=parent,
        created_by=recorded_user(user),
        **fields,
    )


def _insert_lines(segment: Segment, step: CriteriaStep, contacts: QuerySet[Contact]) -> int:
    """INSERT INTO lines SELECT … FROM contacts: one statement, lines initialised per F2.4."""
    return insert_select(SegmentLine, contacts, _line_columns(segment, step, _next_line_no_base(segment)))


LINE_COPY_FIELDS = [field.attname for field in SegmentLine._meta.concrete_fields if field.attname not in {"id"}]


def _remove_lines(segment: Segment, step: CriteriaStep, lines: QuerySet[SegmentLine]) -> int:
    """Copy `lines` with every value to RemovedSegmentLine (for undo), then delete them: an
    INSERT … SELECT and a DELETE."""
    columns = {name: F(name) for name in LINE_COPY_FIELDS}
    columns |= {"line_id": F("pk"), "removed_by_id": Value(step.pk, output_field=BigIntegerField())}
    removed = insert_select(RemovedSegmentLine, lines, columns)
    SegmentLine.objects.filter(pk__in=RemovedSegmentLine.objects.filter(removed_by=step).values("line_id")).delete()
    return removed


def _analyze_after(result: StepResult, *, removed_lines: bool = False) -> StepResult:
    """A big step's tables are analysed on PostgreSQL once it commits (services.statistics): the
    lines, and the removed lines when the step wrote or deleted some."""
    tables = [SegmentLine._meta.db_table, *([RemovedSegmentLine._meta.db_table] if removed_lines else [])]
    before = result.line_count - result.added + result.removed
    analyze_after_commit(
        tables, changed=result.added + result.removed, lines_before=before, lines_after=result.line_count
    )
    return result


def _finish(step: CriteriaStep, added: int, removed: int) -> StepResult:
    step.lines_added, step.lines_removed = added, removed
    step.save(update_fields=["lines_added", "lines_removed"])
    count = SegmentLine.objects.filter(segment_id=step.segment_id).count()
    return StepResult(step=step, added=added, removed=removed, line_count=count)


def _run_step(
    segment: Segment,
    user,
    *,
    parent=None,
    action: str,
    query: str | Criteria,
    manual: bool = False,
    at_most: int | None = None,
    **options: bool,
) -> StepResult:
    """Run one add/reduce/refine step. `at_most` caps a removal at that many lines, the newest
    (highest line no.) first: a manual removal replayed (segment_reuse_criteria)."""
    selection = criteria(query)
    if action == StepAction.ADD:
        add_options = {k: options.get(k, False) for k in ADD_OPTIONS}
        selected = _add_selection(segment=segment, query=selection, **add_options)
        line_type = _correspondence_type(segment)
        left = left_out(selected, line_type)
        step = _new_step(
            segment, user, parent=parent, action=action, filter=selection.query, manual=manual, **add_options
        )
        result = _finish(step, _insert_lines(segment, step, consenting(selected, line_type)), 0)
        return replace(result, left_out=left)
    entire = options.get("entire_companies", False)
    lines = _lines_to_remove(segment, action, selection, entire)
    if at_most is not None:
        lines = SegmentLine.objects.filter(pk__in=lines.order_by("-line_no").values("pk")[:at_most])
    step = _new_step(
        segment, user, parent=parent, action=action, filter=selection.query, entire_companies=entire, manual=manual
    )
    return _finish(step, 0, _remove_lines(segment, step, lines))


def _require_criterion(action: str, selection: Criteria) -> None:
    """A Reduce or Refine needs at least one criterion (replaces R26, where a reduce without
    criteria empties the worksheet): ValidationError "no_criteria" otherwise."""
    if action != StepAction.ADD and not selection.query:
        if action == StepAction.REDUCE:
            message = _("choose at least one criterion: a reduce without criteria would remove every line.")
        else:
            message = _("choose at least one criterion: a refine without criteria would keep every line.")
        raise ValidationError(message, code="no_criteria")


ADD_OPTIONS = ("allow_existing", "expand_contact", "allow_company_with_persons", "ignore_exclusion")


def segment_add_contacts(*, user, segment: Segment | str, query: str = "", **options: bool) -> StepResult:
    """Add Contacts (F3.1 with R18–R22): one step recorded with its canonical filter and options
    (even when it adds nothing), the lines inserted by one INSERT … SELECT in R21's order and
    numbered on from the last line, initialised per F2.4, each carrying the step (D6).

    Bad criteria raise ValidationError before anything is written. One durable transaction
    of a constant number of statements whatever the size; returns the counts and the line
    count afterwards.
    """
    require(user, "segments.change_segment")
    unknown = set(options) - set(ADD_OPTIONS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    selection = criteria(query)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        return _analyze_after(_run_step(segment, user, action=StepAction.ADD, query=selection, **options))


def segment_remove_contacts(
    *, user, segment: Segment | str, action: str, query: str, entire_companies: bool = False
) -> StepResult:
    """Reduce (drop matching lines) or Refine (keep only matching lines), F3.2 with D4.

    The removed lines are kept with every value for undo (D3). Bad criteria raise
    ValidationError before anything is written, and so does a query without any criterion
    (code "no_criteria"; R26's reduce without criteria emptied the worksheet). A replay of
    saved criteria still runs such a step when it was recorded (segment_reuse_criteria).
    One durable transaction of a constant number of statements whatever the size.
    """
    require(user, "segments.change_segment")
    if action not in (StepAction.REDUCE, StepAction.REFINE):
        raise ValueError(action)
    selection = criteria(query)
    _require_criterion(action, selection)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        result = _run_step(segment, user, action=action, query=selection, entire_companies=entire_companies)
        return _analyze_after(result, removed_lines=True)


def segment_add_contact(*, user, segment: Segment | str, contact: Contact, allow_existing: bool = False) -> StepResult:
    """A manual line (R28): a step "add no=X" (manual) that ignores "exclude from segment" (R29).

    A contact already on the worksheet is refused unless `allow_existing` (the user confirmed a
    second line): ValidationError "already_on_worksheet" naming its lines, with params
    `contact`, `line` (the lines, as text) and `lines`. This replaces R29's silent duplicate.
    The step records `allow_existing` as given, so a replay of saved criteria adds a second
    line for the contact only where the user confirmed one (elsewhere it adds nothing and the
    replay says so).

    A contact who withdrew consent for the channel the line would have (D17) is refused:
    ValidationError "consent_withdrawn" naming the contact and the channel ("CT000123: e-mail
    consent withdrawn"), nothing written. The insert itself leaves such a contact out, so a
    withdrawal that commits meanwhile is honoured too.
    """
    require(user, "segments.change_segment")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        if not allow_existing:
            existing = list(
                SegmentLine.objects.filter(segment=segment, contact=contact)
                .order_by("line_no")
                .values_list("line_no", flat=True)[:10]
            )
            if existing:
                raise ValidationError(
                    ngettext(
                        "%(contact)s is already on line %(line)s.",
                        "%(contact)s is already on lines %(line)s.",
                        len(existing),
                    ),
                    code="already_on_worksheet",
                    params={"contact": contact.no, "line": ", ".join(map(str, existing)), "lines": existing},
                )
        step = _new_step(
            segment,
            user,
            action=StepAction.ADD,
            filter=urlencode({"no": contact.no}),
            manual=True,
            allow_existing=allow_existing,
            ignore_exclusion=True,
        )
        line_type = _correspondence_type(segment)
        added = _insert_lines(segment, step, consenting(Contact.objects.filter(pk=contact.pk), line_type))
        if not added:
            raise _consent_withdrawn(contact, line_type)
        return _finish(step, added, 0)


def _consent_withdrawn(contact: Contact, line_type) -> ValidationError:
    """The error of a manual line refused because its contact withdrew consent for its channel."""
    kind = Contact.objects.filter(pk=contact.pk).annotate(line_type=line_type).values_list("line_type", flat=True)
    channel = CHANNEL_OF_CORRESPONDENCE[kind.first()]
    return ValidationError(
        "%(contact)s: %(reason)s",
        code="consent_withdrawn",
        params={"contact": contact.no, "reason": withdrawn_reason(channel), "channel": channel},
    )


def segment_remove_line(*, user, segment: Segment | str, line_no: int) -> StepResult:
    """Delete one line by hand: a step "reduce no=X" (manual) that removes exactly that line.

    The step records that it removed one line. Saved and replayed, it removes at most that one
    line of the contact, the newest (highest line no.): removing one of two lines of a contact
    (a confirmed duplicate) replays as the removal of one line, never of both.
    """
    require(user, "segments.change_segment")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        line = SegmentLine.objects.filter(segment=segment, line_no=line_no).select_related("contact").first()
        if line is None:
            raise ValidationError(
                _("%(no)s has no line %(line)s."), code="no_line", params={"no": segment.no, "line": line_no}
            )
        step = _new_step(
            segment, user, action=StepAction.REDUCE, filter=urlencode({"no": line.contact.no}), manual=True
        )
        return _finish(step, 0, _remove_lines(segment, step, SegmentLine.objects.filter(pk=line.pk)))


def segment_drop_withdrawn(*, user, segment: Segment | str) -> StepResult:
    """Remove the lines whose contact has withdrawn consent for the line's channel (D17; what the
    Log refuses), as one step that undo reverses: a reduce step whose source says why
    (`CONSENT_STEP_SOURCE`), the lines kept for undo as a reduce keeps them. No such line: no
    step, nothing written. One durable transaction of a constant number of statements, reading
    the lines from the contacts who withdrew (segments.services.consent.withdrawn_lines).
    """
    require(user, "segments.change_segment")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        lines = SegmentLine.objects.filter(segment=segment)
        withdrawn = SegmentLine.objects.filter(pk__in=withdrawn_lines(lines, "pk"))
        if not withdrawn.exists():
            return StepResult(step=None, added=0, removed=0, line_count=lines.count())
        step = _new_step(segment, user, action=StepAction.REDUCE, source=CONSENT_STEP_SOURCE)
        return _analyze_after(_finish(step, 0, _remove_lines(segment, step, withdrawn)), removed_lines=True)


def segment_undo(*, user, segment: Segment | str) -> StepResult:
    """Go back one step exactly (D3): its lines go, the lines it removed come back unchanged.

    Lines added by the step are deleted (an older line of the same contact stays); lines it
    removed come back with every value they had, overrides included, under their old line
    numbers. A replay (saved criteria, logged segment) is undone with all its replayed steps.
    No step to undo is a ValidationError. One durable transaction of a constant number of
    statements (a DELETE, an INSERT … SELECT from the removed lines, two DELETEs).
    """
    require(user, "segments.change_segment")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        last = CriteriaStep.objects.to_undo(segment)
        if last is None:
            raise ValidationError(_("%(no)s has no step to undo."), code="nothing_to_undo", params={"no": segment.no})
        unit = list(CriteriaStep.objects.undo_unit(last).order_by("-position"))
        unit_ids = [step.pk for step in unit]
        # SegmentLine has no dependants, so this is one DELETE and its count is the lines'.
        removed_count, _deleted = SegmentLine.objects.filter(step_id__in=unit_ids).delete()
        copy = ", ".join(connection.ops.quote_name(name) for name in LINE_COPY_FIELDS)
        line_table = connection.ops.quote_name(SegmentLine._meta.db_table)
        removed_table = connection.ops.quote_name(RemovedSegmentLine._meta.db_table)
        placeholders = ", ".join(["%s"] * len(unit_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {line_table} (id, {copy}) SELECT line_id, {copy} FROM {removed_table} "
                f"WHERE removed_by_id IN ({placeholders}) "
                f"AND step_id NOT IN ({placeholders})",
                [*unit_ids, *unit_ids],
            )
            restored = cursor.rowcount
        RemovedSegmentLine.objects.filter(removed_by_id__in=unit_ids).delete()
        CriteriaStep.objects.filter(pk__in=unit_ids).delete()
        count = SegmentLine.objects.filter(segment=segment).count()
        result = StepResult(step=None, added=restored, removed=removed_count, line_count=count)
        return _analyze_after(result, removed_lines=bool(restored))


# --- Saved criteria (F1.16, F3.6) ---------------------------------------------------------------


def segment_save_criteria(*, user, segment: Segment | str, code: str, description: str = "") -> SavedCriteria:
    """Save the segment's add/reduce/refine steps (replays expanded) under `code`.

    Each saved step keeps what it did (`lines_added`, `lines_removed`) and whether it was a
    manual line, so a replay can compare and a manual removal replays as that one removal.
    The steps are saved in the worksheet's order: a replay's steps in the place of the replay.
    A Refresh is not saved: it applied changes of the data, not criteria (services.drift).
    """
    require(user, "segments.add_savedcriteria")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        steps = list(
            CriteriaStep.objects.filter(segment=segment)
            .exclude(action__in=[StepAction.REUSE_CRITERIA, StepAction.REUSE_LOGGED, StepAction.REFRESH])
            .exclude(source=CONSENT_STEP_SOURCE)  # not criteria: every replay leaves withdrawn contacts out
            .order_by(Coalesce(F("parent__position"), F("position")), "position")
        )
        if not steps:
            raise ValidationError(
                _("%(no)s has no criteria steps to save."), code="no_steps", params={"no": segment.no}
            )
        if SavedCriteria.objects.filter(code=code).exists():
            raise ValidationError(
                _('saved criteria "%(code)s" already exist.'), code="duplicate", params={"code": code}
            )
        saved = SavedCriteria(code=code, description=description, created_by=recorded_user(user))
        saved.full_clean()
        saved.save()
        SavedCriteriaStep.objects.bulk_create(
            SavedCriteriaStep(
                saved_criteria=saved,
                position=index,
                action=step.action,
                filter=step.filter,
                allow_existing=step.allow_existing,
                expand_contact=step.expand_contact,
                allow_company_with_persons=step.allow_company_with_persons,
                ignore_exclusion=step.ignore_exclusion,
                entire_companies=step.entire_companies,
                manual=step.manual,
                lines_added=step.lines_added,
                lines_removed=step.lines_removed,
            )
            for index, step in enumerate(steps, start=1)
        )
    return saved


def segment_reuse_criteria(*, user, segment: Segment | str, code: str) -> StepResult:
    """Replay saved criteria against today's data as one undoable step (D3, R36).

    Every saved step is validated first: a criterion that no longer validates (a deleted
    code) is an error naming it, and nothing is written. Entire Companies is kept on refine
    steps (D4, fixing R35). Each step replays what was recorded: its criteria and options
    against today's data, except a manual removal (a line deleted by hand), which removes at
    most as many lines of its contact as it removed when recorded, the newest first. A step
    saved without criteria runs as recorded (today a reduce or refine needs one).

    The result's `differences` lists, in order, each replayed step whose count differs from
    the recorded one (the data or hand edits changed since): the page and the command say so.
    Steps saved before counts were recorded are not compared. Its `left_out` adds up the
    contacts each replayed add left out for consent (D17): a contact two of its adds would
    both have added counts twice.
    """
    require(user, "segments.change_segment")
    saved = SavedCriteria.objects.filter(code=code).first()
    if saved is None:
        raise ValidationError(_('unknown saved criteria "%(code)s"'), code="unknown_saved", params={"code": code})
    steps = list(saved.steps.order_by("position"))
    problems, selections = [], {}
    for step in steps:
        try:
            selections[step.pk] = criteria(step.filter)
        except ValidationError as error:
            problems += [
                _('step %(n)s: criterion "%(filter)s" is no longer valid: %(problem)s')
                % {"n": step.position, "filter": step.filter, "problem": problem}
                for problem in error.messages
            ]
    if problems:
        raise ValidationError(problems, code="stale_criteria")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        parent = _new_step(segment, user, action=StepAction.REUSE_CRITERIA, source=saved.code)
        added = removed = 0
        left = NOTHING_LEFT_OUT
        differences = []
        for saved_step in steps:
            options = {name: getattr(saved_step, name) for name in (*ADD_OPTIONS, "entire_companies")}
            if saved_step.action != StepAction.ADD:
                options = {"entire_companies": saved_step.entire_companies}
            else:
                options.pop("entire_companies")
            manual_removal = saved_step.manual and saved_step.action != StepAction.ADD
            result = _run_step(
                segment,
                user,
                parent=parent,
                action=saved_step.action,
                query=selections[saved_step.pk],
                manual=saved_step.manual,
                at_most=saved_step.lines_removed if manual_removal else None,
                **options,
            )
            added += result.added
            removed += result.removed
            left += result.left_out
            if saved_step.lines_added is not None and saved_step.lines_removed is not None:
                recorded = saved_step.lines_added - saved_step.lines_removed
                if recorded != result.added - result.removed:
                    differences.append(
                        ReplayDifference(
                            number=saved_step.position,
                            action=saved_step.action,
                            filter=saved_step.filter,
                            recorded=recorded,
                            now=result.added - result.removed,
                        )
                    )
        result = replace(_finish(parent, added, removed), differences=tuple(differences), left_out=left)
        return _analyze_after(result, removed_lines=bool(removed))


# --- Reuse of a logged segment (F3.7) -----------------------------------------------------------


def _logged_segment(logged_segment_id) -> LoggedSegment:
    try:
        return LoggedSegment.objects.get(pk=int(logged_segment_id))
    except (LoggedSegment.DoesNotExist, ValueError, TypeError):
        raise ValidationError(
            _('unknown logged segment "%(id)s"'), code="unknown_logged_segment", params={"id": logged_segment_id}
        ) from None


def reuse_logged_lines(segment: Segment, user, logged: LoggedSegment, *, parent: CriteriaStep | None = None):
    """Add one line per interaction entry of `logged` to a locked segment, as one step (R38).

    Canceled entries count, duplicates and excluded contacts are not filtered (R38); each line
    is initialised from the header, then takes its entry's campaign (even a blank one), which
    marks the campaign overridden when it differs from the header's. A contact who withdrew
    consent for the channel their line would have gets no line (D17): the result's `left_out`
    counts them. One INSERT … SELECT and one count.
    For callers inside a transaction that holds the segment's lock (the log's follow-up).
    """
    step = _new_step(
        segment,
        user,
        parent=parent,
        action=StepAction.REUSE_LOGGED,
        source=str(logged.pk),
        allow_existing=True,
        ignore_exclusion=True,
    )
    entries = Contact.objects.filter(interactions__logged_segment=logged)
    line_type = _correspondence_type(segment)
    left = left_out(entries, line_type)
    contacts = consenting(entries, line_type)
    columns = _line_columns(segment, step, _next_line_no_base(segment), order_tail=[F("interactions__pk").asc()])
    entry_campaign = F("interactions__campaign_id")
    columns["campaign_id"] = entry_campaign
    if segment.campaign_id is None:
        same = Q(interactions__campaign_id__isnull=True)
    else:
        same = Q(interactions__campaign_id=segment.campaign_id)
    columns["overrides"] = Case(
        When(same, then=Value(0)), default=Value(OVERRIDE_BIT["campaign"]), output_field=IntegerField()
    )
    return replace(_finish(step, insert_select(SegmentLine, contacts, columns), 0), left_out=left)


def segment_reuse_logged(*, user, segment: Segment | str, logged_segment_id) -> StepResult:
    """Reuse Segment (F3.7): the contacts of a logged segment, one line per entry, as one step
    that one undo reverses (D3). An unknown logged segment is an error and writes nothing."""
    require(user, "segments.change_segment")
    logged = _logged_segment(logged_segment_id)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        return _analyze_after(reuse_logged_lines(segment, user, logged))


# --- One line's values (D1) ---------------------------------------------------------------------

LINE_FIELDS = (*OVERRIDABLE_FIELDS, "personal_text")


def segment_set_line(
    *, user, segment: Segment | str, line_no: int, values: dict[str, Any], reset: list[str] | None = None
) -> SegmentLine:
    """Override fields of one line (they stop following the header) or reset them to the header.

    A value given marks its field overridden (D1); a new language brings the subject of that
    language's row and a new date the alternate address active on it, unless those are
    overridden too. `reset` names fields (or "all") to follow the header again: they get the
    value the header and the contact give them (F2.4). Resetting the template makes the line
    follow the header again, so each of its fields that is not overridden is re-derived.
    Unknown fields are a ValidationError and nothing is written.

    A new template on the line (R15) re-derives that line only, as the header would with
    that template (`_template_header`: the same defaults as R2): its group, cost, duration,
    information flow, initiated by, campaign flags, correspondence type (R13; the previous
    value stays when the contact and the template have none), campaign (the header's, else
    the template's), language (the contact's if the template has a row for it, else the
    template's default, else its first) with that row's subject, and the description unless
    the line had one and no template before. Fields overridden on the line (given in the same
    call or earlier) stay. The line then merges from the new template's Word document for its
    language (segments.documents); a document of the line's own (R67) stays. Clearing the
    template clears the group only. While a line has a template of its own, its language and
    reset fields derive from that template the same way.
    """
    require(user, "segments.change_segment")
    unknown = set(values) - set(LINE_FIELDS)
    if unknown:
        raise ValidationError(
            [_('unknown line field "%(name)s"') % {"name": name} for name in sorted(unknown)], code="unknown_field"
        )
    reset = list(OVERRIDABLE_FIELDS) if reset and "all" in reset else list(reset or [])
    bad = set(reset) - set(OVERRIDABLE_FIELDS)
    if bad:
        raise ValidationError(
            [_('unknown field to reset "%(name)s"') % {"name": name} for name in sorted(bad)], code="unknown_field"
        )
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        line = SegmentLine.objects.filter(segment=segment, line_no=line_no).first()
        if line is None:
            raise ValidationError(
                _("%(no)s has no line %(line)s."), code="no_line", params={"no": segment.no, "line": line_no}
            )
        before_template, before = line.interaction_template_id, (line.description, line.correspondence_type)
        for field, value in values.items():
            setattr(line, field, value)
            if field in OVERRIDE_BIT:
                line.overrides |= OVERRIDE_BIT[field]
        new_template = "interaction_template" in values and line.interaction_template_id != before_template
        if "interaction_template" in values:
            template = values["interaction_template"]
            line.interaction_group_id = template.group_id if template else None
        for field in reset:
            line.overrides &= ~OVERRIDE_BIT[field]
        line.full_clean(exclude=["segment", "step", "contact", "alt_address"])
        line.save()
        header, languages, fields = segment, None, set(reset)
        if "interaction_template" in reset:
            fields = set(DERIVED_LINE_FIELDS)
        elif line.is_overridden("interaction_template"):
            header, languages = _template_header(segment, line.interaction_template)
            if new_template and line.interaction_template_id is not None:
                fields |= TEMPLATE_LINE_FIELDS
                if before[0] and before_template is None:
                    fields.discard("description")  # R15: a description given without a template stays
        if "language" in values or "language" in fields:
            fields.add("subject")
        if "date" in values or "date" in fields:
            fields.add("alt_address")
        if fields:
            _rederive(header, SegmentLine.objects.filter(pk=line.pk), fields, languages)
            line.refresh_from_db()
        if new_template and not line.correspondence_type and not line.is_overridden("correspondence_type"):
            line.correspondence_type = before[1]  # R15: the contact and the template have none
            line.save(update_fields=["correspondence_type"])
    return line
