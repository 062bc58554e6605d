"""Writes on segments: header, selection steps, manual lines, undo, saved criteria.

Guarantees shared by every public service here:
- one transaction (`atomic(durable=True)` for top-level calls), which first locks the segment
  row (`select_for_update`; on SQLite the IMMEDIATE transaction mode serialises writers), so
  two users changing one segment queue instead of losing an update;
- set-based: a selection step is a constant number of SQL statements whatever the number of
  contacts (an INSERT … SELECT for added lines, an INSERT … SELECT plus a DELETE for removed
  ones);
- bad criteria (unknown name, unknown code, bad value) raise ValidationError before anything
  is written; never "all contacts", never an empty refine.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
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
from django.db.models.lookups import In
from django.utils.translation import gettext as _

from crm.filters import ContactFilterSet
from crm.models import Contact, ContactAltAddressDateRange, ContactType
from crm.services import number_series_next
from interactions.models import InteractionTemplate, InteractionTemplateLanguage

from .models import (
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


class SegmentBusy(ValidationError):
    pass


@dataclass(frozen=True)
class StepResult:
    step: CriteriaStep | None
    added: int
    removed: int
    line_count: int


def _check_permission(user, permission: str = "segments.change_segment") -> None:
    if user is not None and not user.has_perm(permission):
        raise PermissionDenied(f"{permission} needed")


def _lock(segment: Segment | str) -> Segment:
    """Re-read the segment under a row lock (the claim every segment write starts with)."""
    lookup = {"no": segment} if isinstance(segment, str) else {"pk": segment.pk}
    try:
        return Segment.objects.select_for_update().get(**lookup)
    except Segment.DoesNotExist:
        raise ValidationError(
            _('segment "%(no)s" does not exist (it may have been logged or deleted).'),
            code="segment_gone",
            params={"no": lookup.get("no") or getattr(segment, "no", "")},
        ) from None


# --- Header ---------------------------------------------------------------------------------


def _apply_template_defaults(segment: Segment, template: InteractionTemplate | None) -> None:
    """SPEC R2 on the header instance: copy the template's defaults, clear the subject."""
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


def _rebuild_languages(segment: Segment) -> None:
    """The segment's own copy of its template's language rows (F1.14); subject follows the default."""
    SegmentLanguage.objects.filter(segment=segment).delete()
    if segment.interaction_template_id is None:
        return
    rows = InteractionTemplateLanguage.objects.filter(template_id=segment.interaction_template_id)
    SegmentLanguage.objects.bulk_create(
        SegmentLanguage(segment=segment, language_id=row.language_id, description=row.description, subject=row.subject)
        for row in rows
    )
    if not segment.subject:
        default = next((row for row in rows if row.language_id == segment.language_id), None)
        segment.subject = default.subject if default else ""


def segment_create(*, user, values: dict[str, Any]) -> Segment:
    """A new segment numbered from series SEGMENT (SEG00001…), dated today.

    A template given in `values` applies its defaults first (R2); the other values given win
    over them. One durable transaction.
    """
    _check_permission(user, "segments.add_segment")
    unknown = set(values) - HEADER_FIELDS
    if unknown:
        raise TypeError(f"not header fields: {sorted(unknown)}")
    with transaction.atomic(durable=True):
        segment = Segment(no=number_series_next(code=SEGMENT_SERIES)[0], owner=user if user and user.pk else None)
        if values.get("interaction_template") is not None:
            _apply_template_defaults(segment, values["interaction_template"])
        for field, value in values.items():
            setattr(segment, field, value)
        if segment.salesperson_id is None:
            segment.salesperson = None
        segment.full_clean(exclude=["owner"])
        segment.save()
        _rebuild_languages(segment)
        if segment.subject:
            segment.save(update_fields=["subject"])
    return segment


def segment_update(*, user, segment: Segment | str, values: dict[str, Any]) -> Segment:
    """Change header fields; lines follow the header except fields overridden on a line (D1).

    A different template applies its defaults (options given in the same call win) and
    re-derives every template-derived field of the lines that follow the header (D2);
    clearing the template is allowed. Lines whose template is overridden are not touched.
    One durable transaction, a constant number of statements whatever the number of lines.
    """
    _check_permission(user)
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
        segment.save()
        if template_changed or "language" in values:
            _rebuild_languages(segment)
            segment.save(update_fields=["subject"])
        changed = {field for field in HEADER_FIELDS if getattr(segment, _attname(field)) != before[field]}
        _propagate(segment, changed, rederive=template_changed)
    return segment


def _attname(field: str) -> str:
    return f"{field}_id" if field in {"interaction_template", "salesperson", "campaign", "language"} else field


def _with_bits(qs: QuerySet, *fields: str) -> QuerySet:
    return qs.annotate(**{f"ovr_{field}": F("overrides").bitand(OVERRIDE_BIT[field]) for field in fields})


def _propagate(segment: Segment, changed: set[str], *, rederive: bool) -> None:
    """Push header changes to the lines that follow the header, skipping overridden fields."""
    lines = SegmentLine.objects.filter(segment=segment)
    lines = _with_bits(lines, *OVERRIDABLE_FIELDS).filter(ovr_interaction_template=0)
    if rederive:
        changed = changed | set(PROPAGATED_FIELDS) | {"interaction_template", "language", "subject"}
        lines.filter(ovr_interaction_template=0).update(
            interaction_template_id=segment.interaction_template_id,
            interaction_group_id=segment.interaction_group_id,
        )
    for header_field, line_field in PROPAGATED_FIELDS.items():
        if header_field not in changed:
            continue
        value = getattr(segment, _attname(header_field))
        lines.filter(**{f"ovr_{line_field}": 0}).update(**{_attname(line_field): value})
    if changed & {"language", "subject", "interaction_template"}:
        lines.filter(ovr_language=0).update(language_id=_line_language(segment, _contact_language_of_line()))
        lines.filter(ovr_subject=0).update(subject=_line_subject(segment, "language_id"))
    if changed & CORRESPONDENCE_INPUTS:
        lines.filter(ovr_correspondence_type=0).update(correspondence_type=_line_correspondence_type(segment))
    if "date" in changed:
        lines.update(alt_address_id=_active_alt_address(OuterRef("contact_id"), segment.date, outer_date=F("date")))


def _line_correspondence_type(segment: Segment):
    """R13 for existing lines: a subquery over the line's contact."""
    return Subquery(
        Contact.objects.filter(pk=OuterRef("contact_id")).annotate(ct=_correspondence_type(segment)).values("ct")[:1]
    )


# --- Line values (F2.4) ---------------------------------------------------------------------


def _languages(segment: Segment) -> dict[str | None, str]:
    return dict(SegmentLanguage.objects.filter(segment=segment).values_list("language_id", "subject"))


def _line_language(segment: Segment, contact_language):
    """R14: the contact's language if the segment has a row for it, else the header's default.

    `contact_language` is an expression for the contact's language code.
    """
    known = [code for code in _languages(segment) if code]
    default = Value(segment.language_id, output_field=CharField())
    if not known:
        return default
    return Case(When(In(contact_language, known), then=contact_language), default=default, output_field=CharField())


def _contact_language_of_line():
    return Subquery(Contact.objects.filter(pk=OuterRef("contact_id")).values("language_id")[:1])


def _line_subject(segment: Segment, language: str):
    """The subject of the segment's row for the line's language, else the header's subject."""
    whens = [When(**{language: code}, then=Value(subject)) for code, subject in _languages(segment).items() if code]
    if not whens:
        return Value(segment.subject, output_field=CharField())
    return Case(*whens, default=Value(segment.subject), output_field=CharField())


def _active_alt_address(contact_ref, on: datetime.date, *, outer_date=None):
    """Subquery: the alternate address active on the line date (F1.2), else NULL."""
    ranges = ContactAltAddressDateRange.objects.filter(contact_id=contact_ref)
    if outer_date is not None:
        ranges = ranges.filter(starting_date__lte=OuterRef("date")).filter(
            Q(ending_date__isnull=True) | Q(ending_date__gte=OuterRef("date"))
        )
    else:
        ranges = ranges.filter(starting_date__lte=on).filter(Q(ending_date__isnull=True) | Q(ending_date__gte=on))
    return Subquery(ranges.order_by("-starting_date").values("alt_address_id")[:1])


def _correspondence_type(segment: Segment):
    """R13: header default when it ignores the contact; else the template's rule; else the contact's."""
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


def _line_columns(segment: Segment, step: CriteriaStep, first_line_no: int) -> dict[str, Any]:
    """Column → expression over Contact for a new line initialised from header + contact."""

    def const(value, field):
        return Value(value, output_field=field)

    order = [
        Case(When(type=ContactType.COMPANY, then=F("name")), default=Coalesce(F("company__name"), F("name"))).asc(),
        Coalesce(F("company__no"), Case(When(type=ContactType.COMPANY, then=F("no")), default=Value(""))).asc(),
        F("type").asc(),
        F("name").asc(),
        F("pk").asc(),
    ]
    return {
        "segment_id": const(segment.pk, BigIntegerField()),
        "step_id": const(step.pk, BigIntegerField()),
        "line_no": const(first_line_no, BigIntegerField())
        + Window(RowNumber(), order_by=order, output_field=BigIntegerField()) * const(LINE_NO_STEP, BigIntegerField()),
        "contact_id": F("pk"),
        "alt_address_id": _active_alt_address(OuterRef("pk"), segment.date),
        "description": const(segment.description, CharField()),
        "interaction_template_id": const(segment.interaction_template_id, CharField()),
        "interaction_group_id": const(segment.interaction_group_id, CharField()),
        "salesperson_id": const(segment.salesperson_id, CharField()) if segment.salesperson_id else F("salesperson_id"),
        "campaign_id": const(segment.campaign_id, BigIntegerField()),
        "campaign_target": const(segment.campaign_target, BooleanField()),
        "campaign_response": const(segment.campaign_response, BooleanField()),
        "date": const(segment.date, DateField()),
        "language_id": _line_language(segment, F("language_id")),
        "subject": _line_subject(segment, "language_id"),
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


def _criteria(query: str) -> QuerySet[Contact]:
    """Contacts matching a QUERY; ValidationError listing every problem when it is not valid."""
    filterset = ContactFilterSet(query or "")
    if not filterset.is_valid():
        raise ValidationError(filterset.error_lines(), code="invalid_criteria")
    return filterset.qs


def canonical_filter(query: str) -> str:
    filterset = ContactFilterSet(query or "")
    return filterset.canonical_query()


def _company_keys(contacts: QuerySet[Contact]):
    """Ids of the companies of `contacts`: a company's own id, a person's company id."""
    return (
        contacts.annotate(key=Case(When(type=ContactType.COMPANY, then=F("pk")), default=F("company_id")))
        .filter(key__isnull=False)
        .values("key")
    )


def add_candidates(
    *,
    segment: Segment,
    query: str,
    allow_existing: bool = False,
    expand_contact: bool = False,
    allow_company_with_persons: bool = False,
    ignore_exclusion: bool = False,
) -> QuerySet[Contact]:
    """The contacts an Add Contacts step would add (SPEC R18, R20 with D16): one query.

    Expansion replaces each qualifying contact of a company by the company and all its
    persons; "allow company with persons" then adds the company of each qualifying person;
    the exclusion flag applies to the final set; contacts already on a line are skipped
    unless `allow_existing`.
    """
    matching = _criteria(query)
    candidates = matching
    if expand_contact:
        keys = _company_keys(matching)
        candidates = Contact.objects.filter(Q(pk__in=matching.values("pk")) | Q(pk__in=keys) | Q(company_id__in=keys))
    if allow_company_with_persons:
        companies = candidates.filter(type=ContactType.PERSON, company_id__isnull=False).values("company_id")
        candidates = Contact.objects.filter(Q(pk__in=candidates.values("pk")) | Q(pk__in=companies))
    if not ignore_exclusion:
        candidates = candidates.filter(exclude_from_segment=False)
    if not allow_existing:
        candidates = candidates.filter(~Exists(SegmentLine.objects.filter(segment=segment, contact_id=OuterRef("pk"))))
    return candidates


def _matching_lines(segment: Segment, query: str, *, entire_companies: bool) -> QuerySet[SegmentLine]:
    """Lines whose contact matches (D4: the contact's current company for Entire Companies)."""
    matching = _criteria(query)
    condition = Q(contact_id__in=matching.values("pk"))
    if entire_companies:
        keys = _company_keys(matching)
        condition |= Exists(
            Contact.objects.filter(pk=OuterRef("contact_id")).filter(Q(pk__in=keys) | Q(company_id__in=keys))
        )
    return SegmentLine.objects.filter(segment=segment).filter(condition)


def _lines_to_remove(segment: Segment, action: str, query: str, entire_companies: bool) -> QuerySet[SegmentLine]:
    matched = _matching_lines(segment, query, entire_companies=entire_companies)
    if action == StepAction.REDUCE:
        return matched
    return SegmentLine.objects.filter(segment=segment).exclude(pk__in=matched.values("pk"))


def segment_count(
    *, segment: Segment, action: str, query: str, entire_companies: bool = False, **add_options: bool
) -> int:
    """Dry run (D5): how many lines a step would add or remove. Writes nothing."""
    if action == StepAction.ADD:
        return add_candidates(segment=segment, query=query, **add_options).count()
    return _lines_to_remove(segment, action, query, entire_companies).count()


def _next_position(segment: Segment) -> int:
    return (CriteriaStep.objects.filter(segment=segment).aggregate(m=Max("position"))["m"] or 0) + 1


def _next_line_no_base(segment: Segment) -> int:
    """Largest line no. in use, counting lines kept for undo, so no number is ever reused."""
    live = SegmentLine.objects.filter(segment=segment).aggregate(m=Max("line_no"))["m"] or 0
    removed = RemovedSegmentLine.objects.filter(segment=segment).aggregate(m=Max("line_no"))["m"] or 0
    return max(live, removed)


def _new_step(segment: Segment, user, *, parent: CriteriaStep | None = None, **fields) -> CriteriaStep:
    return CriteriaStep.objects.create(
        segment=segment,
        position=_next_position(segment),
        parent=parent,
        created_by=user if user and user.pk else None,
        **fields,
    )


def _insert_lines(segment: Segment, step: CriteriaStep, contacts: QuerySet[Contact]) -> int:
    """INSERT INTO lines SELECT … FROM contacts: one statement, lines initialised per F2.4."""
    columns = _line_columns(segment, step, _next_line_no_base(segment))
    aliases = {f"col_{name}": expr for name, expr in columns.items()}
    select = Contact.objects.filter(pk__in=contacts.values("pk")).annotate(**aliases).values(*aliases).order_by()
    compiler = select.query.get_compiler(using=SegmentLine.objects.db)
    sql, params = compiler.as_sql()
    selected = [alias for _expr, _sql, alias in compiler.select]
    names = [alias.removeprefix("col_") for alias in selected]
    table = connection.ops.quote_name(SegmentLine._meta.db_table)
    target = ", ".join(connection.ops.quote_name(name) for name in names)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({target}) {sql}", params)
        return cursor.rowcount


LINE_COPY_FIELDS = [field.attname for field in SegmentLine._meta.concrete_fields if field.attname not in {"id"}]


def _remove_lines(segment: Segment, step: CriteriaStep, lines: QuerySet[SegmentLine]) -> int:
    """Move `lines` to RemovedSegmentLine (for undo) and delete them: two statements."""
    copy = ", ".join(connection.ops.quote_name(name) for name in LINE_COPY_FIELDS)
    select = lines.values("pk").query.get_compiler(using=SegmentLine.objects.db).as_sql()
    line_table = connection.ops.quote_name(SegmentLine._meta.db_table)
    removed_table = connection.ops.quote_name(RemovedSegmentLine._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {removed_table} ({copy}, line_id, removed_by_id) "
            f"SELECT {copy}, id, %s FROM {line_table} WHERE id IN ({select[0]})",
            [step.pk, *select[1]],
        )
        removed = cursor.rowcount
    SegmentLine.objects.filter(pk__in=RemovedSegmentLine.objects.filter(removed_by=step).values("line_id")).delete()
    return removed


def _finish(step: CriteriaStep, added: int, removed: int) -> StepResult:
    step.lines_added, step.lines_removed = added, removed
    step.save(update_fields=["lines_added", "lines_removed"])
    count = SegmentLine.objects.filter(segment_id=step.segment_id).count()
    return StepResult(step=step, added=added, removed=removed, line_count=count)


def _run_step(segment: Segment, user, *, parent=None, action: str, query: str, **options: bool) -> StepResult:
    query = canonical_filter(query)
    if action == StepAction.ADD:
        add_options = {k: options.get(k, False) for k in ADD_OPTIONS}
        contacts = add_candidates(segment=segment, query=query, **add_options)
        step = _new_step(segment, user, parent=parent, action=action, filter=query, **add_options)
        return _finish(step, _insert_lines(segment, step, contacts), 0)
    entire = options.get("entire_companies", False)
    lines = _lines_to_remove(segment, action, query, entire)
    step = _new_step(segment, user, parent=parent, action=action, filter=query, entire_companies=entire)
    return _finish(step, 0, _remove_lines(segment, step, lines))


ADD_OPTIONS = ("allow_existing", "expand_contact", "allow_company_with_persons", "ignore_exclusion")


def segment_add_contacts(*, user, segment: Segment | str, query: str = "", **options: bool) -> StepResult:
    """Add Contacts (F3.1): one step, a constant number of statements whatever the size."""
    _check_permission(user)
    unknown = set(options) - set(ADD_OPTIONS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    _criteria(query)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        return _run_step(segment, user, action=StepAction.ADD, query=query, **options)


def segment_remove_contacts(
    *, user, segment: Segment | str, action: str, query: str, entire_companies: bool = False
) -> StepResult:
    """Reduce (drop matching lines) or Refine (keep only matching lines), F3.2 with D4."""
    _check_permission(user)
    if action not in (StepAction.REDUCE, StepAction.REFINE):
        raise ValueError(action)
    _criteria(query)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        return _run_step(segment, user, action=action, query=query, entire_companies=entire_companies)


def segment_add_contact(*, user, segment: Segment | str, contact: Contact) -> StepResult:
    """A manual line (R28/R29): a step "add no=X", exclusion and duplicates not checked."""
    _check_permission(user)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        step = _new_step(
            segment,
            user,
            action=StepAction.ADD,
            filter=f"no={contact.no}",
            manual=True,
            allow_existing=True,
            ignore_exclusion=True,
        )
        return _finish(step, _insert_lines(segment, step, Contact.objects.filter(pk=contact.pk)), 0)


def segment_remove_line(*, user, segment: Segment | str, line_no: int) -> StepResult:
    """Delete one line by hand: a step "reduce no=X" that removes exactly that line."""
    _check_permission(user)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        line = SegmentLine.objects.filter(segment=segment, line_no=line_no).select_related("contact").first()
        if line is None:
            raise ValidationError(
                _("%(no)s has no line %(line)s."), code="no_line", params={"no": segment.no, "line": line_no}
            )
        step = _new_step(segment, user, action=StepAction.REDUCE, filter=f"no={line.contact.no}", manual=True)
        return _finish(step, 0, _remove_lines(segment, step, SegmentLine.objects.filter(pk=line.pk)))


def segment_undo(*, user, segment: Segment | str) -> StepResult:
    """Go back one step exactly (D3): its lines go, the lines it removed come back unchanged.

    A replay (saved criteria, logged segment) is undone with all its replayed steps.
    """
    _check_permission(user)
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        last = CriteriaStep.objects.filter(segment=segment, parent__isnull=True).order_by("-position").first()
        if last is None:
            raise ValidationError(_("%(no)s has no step to undo."), code="nothing_to_undo", params={"no": segment.no})
        unit = list(CriteriaStep.objects.filter(Q(pk=last.pk) | Q(parent=last)).order_by("-position"))
        unit_ids = [step.pk for step in unit]
        added = SegmentLine.objects.filter(step_id__in=unit_ids)
        removed_count = added.count()
        added.delete()
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
        CriteriaStep.objects.filter(pk__in=[s for s in unit_ids if s != last.pk]).delete()
        last.delete()
        count = SegmentLine.objects.filter(segment=segment).count()
        return StepResult(step=None, added=restored, removed=removed_count, line_count=count)


# --- Saved criteria (F1.16, F3.6) ---------------------------------------------------------------


def segment_save_criteria(*, user, segment: Segment | str, code: str, description: str = "") -> SavedCriteria:
    """Save the segment's add/reduce/refine steps (replays expanded) under `code`."""
    _check_permission(user, "segments.add_savedcriteria")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        steps = list(
            CriteriaStep.objects.filter(segment=segment)
            .exclude(action__in=[StepAction.REUSE_CRITERIA, StepAction.REUSE_LOGGED])
            .order_by("position")
        )
        if not steps:
            raise ValidationError(
                _("%(no)s has no criteria steps to save."), code="no_steps", params={"no": segment.no}
            )
        if SavedCriteria.objects.filter(code=code).exists():
            raise ValidationError(
                _('saved criteria "%(code)s" already exist.'), code="duplicate", params={"code": code}
            )
        saved = SavedCriteria(code=code, description=description, created_by=user if user and user.pk else None)
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
            )
            for index, step in enumerate(steps, start=1)
        )
    return saved


def segment_reuse_criteria(*, user, segment: Segment | str, code: str) -> StepResult:
    """Replay saved criteria against today's data as one undoable step (D3, R36).

    Every saved step is validated first: a criterion that no longer validates (a deleted
    code) is an error naming it, and nothing is written. Entire Companies is kept on refine
    steps (D4, fixing R35).
    """
    _check_permission(user)
    saved = SavedCriteria.objects.filter(code=code).first()
    if saved is None:
        raise ValidationError(_('unknown saved criteria "%(code)s"'), code="unknown_saved", params={"code": code})
    steps = list(saved.steps.order_by("position"))
    problems = []
    for step in steps:
        filterset = ContactFilterSet(step.filter)
        if not filterset.is_valid():
            problems += [
                _("step %(n)s: criterion %(problem)s is no longer valid") % {"n": step.position, "problem": p}
                for p in filterset.error_lines()
            ]
    if problems:
        raise ValidationError(problems, code="stale_criteria")
    with transaction.atomic(durable=True):
        segment = _lock(segment)
        parent = _new_step(segment, user, action=StepAction.REUSE_CRITERIA, source=saved.code)
        added = removed = 0
        for saved_step in steps:
            options = {name: getattr(saved_step, name) for name in (*ADD_OPTIONS, "entire_companies")}
            if saved_step.action != StepAction.ADD:
                options = {"entire_companies": saved_step.entire_companies}
            else:
                options.pop("entire_companies")
            result = _run_step(
                segment, user, parent=parent, action=saved_step.action, query=saved_step.filter, **options
            )
            added += result.added
            removed += result.removed
        return _finish(parent, added, removed)


# --- One line's values (D1) ---------------------------------------------------------------------

LINE_FIELDS = (*OVERRIDABLE_FIELDS, "personal_text")


def segment_set_line(
    *, user, segment: Segment | str, line_no: int, values: dict[str, Any], reset: list[str] | None = None
) -> SegmentLine:
    """Override fields of one line (they stop following the header) or reset them to the header.

    `reset` names fields (or "all") to follow the header again; their header value is put back.
    """
    _check_permission(user)
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
        line = SegmentLine.objects.filter(segment=segment, line_no=line_no).select_related("contact").first()
        if line is None:
            raise ValidationError(
                _("%(no)s has no line %(line)s."), code="no_line", params={"no": segment.no, "line": line_no}
            )
        for field, value in values.items():
            setattr(line, field, value)
            if field in OVERRIDE_BIT:
                line.overrides |= OVERRIDE_BIT[field]
        if "interaction_template" in values and "interaction_template" not in reset:
            template = values["interaction_template"]
            line.interaction_group_id = template.group_id if template else None
        for field in reset:
            line.overrides &= ~OVERRIDE_BIT[field]
        line.full_clean(exclude=["segment", "step", "contact", "alt_address"])
        line.save()
        if reset:
            _reset_line_fields(segment, line, reset)
            line.refresh_from_db()
    return line


def _reset_line_fields(segment: Segment, line: SegmentLine, fields: list[str]) -> None:
    header_to_line = {line_field: header_field for header_field, line_field in PROPAGATED_FIELDS.items()}
    updates: dict[str, Any] = {}
    for field in fields:
        if field in header_to_line:
            updates[_attname(field)] = getattr(segment, _attname(header_to_line[field]))
        elif field == "interaction_template":
            updates["interaction_template_id"] = segment.interaction_template_id
            updates["interaction_group_id"] = segment.interaction_group_id
        elif field == "evaluation":
            updates["evaluation"] = ""
    lines = SegmentLine.objects.filter(pk=line.pk)
    if updates:
        lines.update(**updates)
    if "language" in fields:
        lines.update(language_id=_line_language(segment, _contact_language_of_line()))
    if "subject" in fields or "language" in fields:
        line.refresh_from_db()
        if not line.is_overridden("subject"):
            lines.update(subject=_line_subject(segment, "language_id"))
    if "date" in fields:
        lines.update(alt_address_id=_active_alt_address(OuterRef("contact_id"), segment.date, outer_date=F("date")))
    if "correspondence_type" in fields:
        lines.update(correspondence_type=_line_correspondence_type(segment))
