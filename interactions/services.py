"""Writes on interactions: logged segments, entries, single interactions, anonymisation.

The Log transaction that creates logged segments and their entries from a segment is
segments' (`segments/services/log.py`): logging is what a segment does.

Guarantees shared by the services here:
- one durable transaction each, so a failure half-way leaves nothing;
- set-based: cancel, uncancel, evaluate and delete are a constant number of statements;
- bad input raises ValidationError listing every problem, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    CharField,
    Count,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Contact, ContactAltAddress, ContactType
from crm.permissions import recorded_user, require
from crm.untrusted import parse_id

from .documents import documents_delete_with
from .models import (
    CampaignEntry,
    ContactAnonymisation,
    Delivery,
    DeliveryItem,
    DeliveryState,
    Evaluation,
    InteractionComment,
    InteractionLogEntry,
    InteractionTemplate,
    InteractionTemplateLanguage,
    LoggedSegment,
)
from .selectors import selected_entries


def interaction_template_ensure_language_row(*, template: InteractionTemplate) -> InteractionTemplateLanguage:
    """Make sure the template's default language has a language row (SPEC F1.9) and return it.

    A template's default language must be one of its languages: choosing a new one creates
    its row, described like the template. Idempotent; joins the caller's transaction.
    """
    with transaction.atomic():
        row, _ = InteractionTemplateLanguage.objects.get_or_create(
            template=template, language=template.language, defaults={"description": template.description}
        )
    return row


# --- Logged segments (F5) ---------------------------------------------------------------------


def _recount(logged_ids: Iterable[int]) -> None:
    """Recount entries and campaign entries whose Canceled equals their logged segment's (F1.18)."""
    ids = sorted(set(filter(None, logged_ids)))
    if not ids:
        return
    same = Q(canceled=OuterRef("canceled"))
    entries = (
        InteractionLogEntry.objects.filter(same, logged_segment=OuterRef("pk"))
        .order_by()
        .values("logged_segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    campaign = (
        CampaignEntry.objects.filter(same, logged_segment=OuterRef("pk"))
        .order_by()
        .values("logged_segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    LoggedSegment.objects.filter(pk__in=ids).update(
        no_of_interactions=Coalesce(Subquery(entries), 0), no_of_campaign_entries=Coalesce(Subquery(campaign), 0)
    )


def locked_logged_segments(ids: Iterable) -> list[LoggedSegment]:
    """The logged segments of `ids`, locked in key order; ValidationError naming every id that
    is not a number or does not exist. For callers inside a transaction."""
    wanted = []
    problems = []
    for value in ids:
        try:
            wanted.append(parse_id(value))
        except ValidationError as error:
            problems.extend(_("logged segment: %(problem)s") % {"problem": message} for message in error.messages)
    found = {row.pk: row for row in LoggedSegment.objects.select_for_update().filter(pk__in=wanted).order_by("pk")}
    problems += [_('unknown logged segment "%(id)s"') % {"id": pk} for pk in wanted if pk not in found]
    if problems:
        raise ValidationError(problems, code="unknown_logged_segment")
    return [found[pk] for pk in wanted]


def logged_segment_set_canceled(*, user, ids: Iterable, canceled: bool) -> int:
    """Cancel or restore logged segments (R52): each one, all its campaign entries and all its
    interaction entries take the new state, overriding entries canceled one by one. Returns
    how many logged segments changed. Three UPDATEs and a recount whatever the size."""
    require(user, "interactions.change_loggedsegment")
    with transaction.atomic(durable=True):
        rows = locked_logged_segments(ids)
        pks = [row.pk for row in rows]
        changed = (
            LoggedSegment.objects.filter(pk__in=pks)
            .exclude(canceled=canceled)
            .update(canceled=canceled, canceled_at=timezone.now() if canceled else None)
        )
        InteractionLogEntry.objects.filter(logged_segment_id__in=pks).exclude(canceled=canceled).update(
            canceled=canceled
        )
        CampaignEntry.objects.filter(logged_segment_id__in=pks).exclude(canceled=canceled).update(canceled=canceled)
        _recount(pks)
    return changed


@dataclass(frozen=True)
class LoggedSegmentDeletion:
    logged_segment_id: int
    entries: int
    campaign_entries: int


def logged_segment_delete(*, user, logged_segment_id) -> LoggedSegmentDeletion:
    """Delete a canceled logged segment with its interaction entries (and their comments) and
    campaign entries (CONTRACT `logged_segment delete`). An uncanceled one is refused.
    Deleting it also lifts R39's block: the segment number could be logged again."""
    require(user, "interactions.delete_loggedsegment")
    with transaction.atomic(durable=True):
        (logged,) = locked_logged_segments([logged_segment_id])
        if not logged.canceled:
            raise ValidationError(
                _("logged segment %(id)s is not canceled: cancel it first, then delete it."),
                code="not_canceled",
                params={"id": logged.pk},
            )
        if Delivery.objects.filter(logged_segment=logged).exclude(state=DeliveryState.FINISHED).exists():
            raise ValidationError(
                _("logged segment %(id)s has a delivery under way: delete it when the delivery has finished."),
                code="delivery_under_way",
                params={"id": logged.pk},
            )
        entries = InteractionLogEntry.objects.filter(logged_segment=logged)
        InteractionComment.objects.filter(entry__in=entries.values("pk")).delete()
        DeliveryItem.objects.filter(delivery__logged_segment=logged).delete()
        documents_delete_with(entries, deliveries=Delivery.objects.filter(logged_segment=logged))
        entry_count = entries.delete()[0]
        campaign_count = CampaignEntry.objects.filter(logged_segment=logged).delete()[0]
        logged.delete()
    return LoggedSegmentDeletion(
        logged_segment_id=int(logged_segment_id), entries=entry_count, campaign_entries=campaign_count
    )


# --- Interaction log entries (F6) -------------------------------------------------------------


def _entries(numbers: Iterable):
    """The entries numbered, locked in key order; ValidationError naming every number that is
    not a number or does not exist, or an empty selection."""
    return selected_entries(entry_nos=numbers, rows=InteractionLogEntry.objects.select_for_update())


def interactions_set_canceled(*, user, entry_nos: Iterable, canceled: bool) -> int:
    """Cancel or restore entries (R57). Restoring is refused, for all of them, while an entry's
    logged segment or campaign entry is canceled (one error per entry and reason). Canceled
    entries stay visible and drop out of every statistic. Returns how many entries changed."""
    require(user, "interactions.change_interactionlogentry")
    with transaction.atomic(durable=True):
        entries = _entries(entry_nos)
        if not canceled:
            problems = []
            for pk, logged in entries.filter(logged_segment__canceled=True).values_list("pk", "logged_segment_id"):
                problems.append(
                    _("entry %(no)s: its logged segment %(logged)s is canceled; restore the logged segment instead.")
                    % {"no": pk, "logged": logged}
                )
            for pk, campaign in entries.filter(campaign_entry__canceled=True).values_list("pk", "campaign__no"):
                problems.append(
                    _("entry %(no)s: its campaign entry (campaign %(campaign)s) is canceled.")
                    % {"no": pk, "campaign": campaign}
                )
            if problems:
                raise ValidationError(sorted(problems), code="cannot_restore")
        logged_ids = set(entries.values_list("logged_segment_id", flat=True).distinct())
        changed = entries.exclude(canceled=canceled).update(canceled=canceled)
        _recount(logged_ids)
    return changed


def interactions_evaluate(*, user, entry_nos: Iterable, evaluation: str) -> int:
    """Set the evaluation of entries (R58); blank cannot be chosen. Returns the number updated."""
    require(user, "interactions.change_interactionlogentry")
    if evaluation not in Evaluation.values:
        raise ValidationError(
            _('evaluation: unknown value "%(value)s" (use %(choices)s)'),
            code="invalid_evaluation",
            params={"value": evaluation, "choices": ", ".join(Evaluation.values)},
        )
    with transaction.atomic(durable=True):
        return _entries(entry_nos).update(evaluation=evaluation)


def interactions_delete_canceled(*, user, entries) -> int:
    """Delete the canceled entries among `entries` (a queryset) with their comments (R63);
    uncanceled ones stay. Returns how many were deleted. A few statements whatever the size."""
    require(user, "interactions.delete_interactionlogentry")
    with transaction.atomic(durable=True):
        doomed = InteractionLogEntry.objects.filter(pk__in=entries.filter(canceled=True).values("pk"))
        # Lock them first, so a restore running at the same time waits and every statement
        # below sees the same entries (ids streamed, never held in a list).
        for _pk in doomed.select_for_update().values_list("pk", flat=True).iterator(chunk_size=5000):
            pass
        logged_ids = set(doomed.values_list("logged_segment_id", flat=True).distinct())
        InteractionComment.objects.filter(entry__in=doomed.values("pk")).delete()
        DeliveryItem.objects.filter(entry__in=doomed.values("pk")).delete()
        documents_delete_with(doomed)
        deleted = doomed.delete()[0]
        _recount(logged_ids)
    return deleted


def interaction_comment_add(*, user, entry: InteractionLogEntry, comment: str) -> InteractionComment:
    """Add a comment line to an entry (R64)."""
    require(user, "interactions.add_interactioncomment")
    row = InteractionComment(entry=entry, comment=comment.strip(), created_by=recorded_user(user))
    row.full_clean(exclude=["entry", "created_by"])
    with transaction.atomic(durable=True):
        row.save()
    return row


# --- Single interaction (F8 with D13) -----------------------------------------------------------


SINGLE_FIELDS = frozenset(
    {
        "description",
        "date",
        "salesperson",
        "cost",
        "duration",
        "correspondence_type",
        "evaluation",
        "subject",
        "language",
        "campaign",
        "campaign_target",
        "campaign_response",
        "information_flow",
        "initiated_by",
        "attempt_failed",
    }
)


def _single_correspondence_type(template: InteractionTemplate, contact: Contact) -> str:
    """R13 for one contact: the template's type when it ignores the contact or the contact has none."""
    if template.ignore_contact_correspondence_type or not contact.correspondence_type:
        return template.correspondence_type
    return contact.correspondence_type


def interaction_create(
    *,
    user,
    contact: Contact,
    interaction_template: InteractionTemplate,
    values: dict[str, Any] | None = None,
    idempotency_token: UUID | None = None,
) -> InteractionLogEntry:
    """Record one interaction with one contact (F8 with D13); returns the entry.

    Values not given come from the template and the contact as for a segment line: the
    template's description (in the contact's language when the template has that language),
    date today, the contact's salesperson, correspondence type by R13, the template's cost,
    duration, flow, initiated by and campaign. Contact, template, salesperson, date and
    description are required (F8). An entry with a campaign joins the campaign entry that all
    single interactions of that campaign share. Records only: nothing is delivered.

    Idempotent per `idempotency_token` (the token of the form the user filled in): when an
    entry was recorded with the same token, nothing is written and that entry is returned with
    `already_recorded` True (False on an entry this call recorded), whatever the values of the
    second call. The unique constraint on the token decides between two concurrent calls: the
    loser's insert fails inside a savepoint and it returns the winner's entry. Without a token
    (the command) every call records an entry.
    """
    require(user, "interactions.add_interactionlogentry")
    recorded = _entry_recorded_with(idempotency_token)
    if recorded is not None:
        return recorded
    values = dict(values or {})
    unknown = set(values) - SINGLE_FIELDS
    if unknown:
        raise TypeError(f"not interaction fields: {sorted(unknown)}")
    rows = {row.language_id: row for row in InteractionTemplateLanguage.objects.filter(template=interaction_template)}
    language_id = (
        contact.language_id if contact.language_id in rows and contact.language_id else interaction_template.language_id
    )
    row = rows.get(language_id)
    entry = InteractionLogEntry(
        contact=contact,
        contact_company_id=contact.pk if contact.type == ContactType.COMPANY else contact.company_id,
        date=timezone.localdate(),
        time=_next_minute(),
        description=(row.description if row and row.description else interaction_template.description),
        subject=row.subject if row else "",
        language_id=language_id,
        information_flow=interaction_template.information_flow,
        initiated_by=interaction_template.initiated_by,
        cost=interaction_template.unit_cost,
        duration=interaction_template.unit_duration,
        user=recorded_user(user),
        interaction_template=interaction_template,
        interaction_group_id=interaction_template.group_id,
        salesperson_id=contact.salesperson_id,
        campaign_id=interaction_template.campaign_id,
        campaign_target=interaction_template.campaign_target,
        campaign_response=interaction_template.campaign_response,
        correspondence_type=_single_correspondence_type(interaction_template, contact),
        idempotency_token=idempotency_token,
    )
    for field, value in values.items():
        if value is not None:
            setattr(entry, field, value)
    problems = {}
    if entry.salesperson_id is None:
        problems["salesperson"] = _("salesperson: required (the contact %(no)s has none; give one).") % {
            "no": contact.no
        }
    if not (entry.description or "").strip():
        problems["description"] = _("description: required.")
    try:
        entry.full_clean(
            exclude=["contact", "contact_company", "user", "campaign_entry", "logged_segment", "idempotency_token"]
        )
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            problems.setdefault(field, f"{field}: {' '.join(messages)}")
    if problems:
        raise ValidationError(list(problems.values()), code="invalid_interaction")
    with transaction.atomic(durable=True):
        if entry.campaign_id is not None:
            entry.campaign_entry = _single_campaign_entry(entry, user)
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError:
            recorded = _entry_recorded_with(idempotency_token)
            if recorded is None:
                raise
            return recorded
    entry.already_recorded = False
    return entry


def _entry_recorded_with(token: UUID | None) -> InteractionLogEntry | None:
    """The entry recorded with `token` (marked `already_recorded`), or None."""
    if token is None:
        return None
    entry = InteractionLogEntry.objects.filter(idempotency_token=token).first()
    if entry is not None:
        entry.already_recorded = True
    return entry


def _next_minute():
    """F8: now, rounded up to the next minute."""
    now = timezone.localtime()
    rounded = now.replace(second=0, microsecond=0)
    if rounded < now:
        rounded += timedelta(minutes=1)
    return rounded.time()


def _single_campaign_entry(entry: InteractionLogEntry, user) -> CampaignEntry:
    """The campaign entry all single interactions of the entry's campaign share (F8), created
    by the first; the unique constraint makes a concurrent first a lookup, not a duplicate."""
    lookup = {"campaign_id": entry.campaign_id, "logged_segment": None, "segment_no": ""}
    existing = CampaignEntry.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CampaignEntry.objects.create(
                **lookup,
                description=_("Single interactions"),
                date=entry.date,
                user=recorded_user(user),
                salesperson_id=entry.salesperson_id,
            )
    except IntegrityError:
        return CampaignEntry.objects.get(**lookup)


# --- Contacts with history (D15) ------------------------------------------------------------------

ANONYMOUS_NAME = "Anonymised contact"
CONTACT_PERSONAL_FIELDS = (
    "name_2",
    "first_name",
    "middle_name",
    "surname",
    "initials",
    "job_title",
    "address",
    "address_2",
    "post_code",
    "city",
    "county",
    "phone",
    "mobile_phone",
    "email",
)
ALT_ADDRESS_PERSONAL_FIELDS = (
    "company_name",
    "company_name_2",
    "address",
    "address_2",
    "post_code",
    "city",
    "county",
    "phone",
    "mobile_phone",
    "email",
)


def contact_anonymise(*, user, contact: Contact) -> Contact:
    """Replace a contact's personal data (name, address, e-mail, phone, also on its alternate
    addresses) instead of deleting it (D15); its number, lines and entries stay, and the
    anonymisation is recorded. Admins only (crm.delete_contact and interactions.add_contactanonymisation)."""
    contacts_anonymise(user=user, contacts=Contact.objects.filter(pk=contact.pk))
    return Contact.objects.get(pk=contact.pk)


ANONYMISE_BATCH = 5000


def contacts_anonymise(*, user, contacts) -> int:
    """`contact_anonymise` for every contact of `contacts` (a queryset) in one transaction,
    set-based: three statements per 5,000 contacts (the admin action). Returns how many
    contacts were anonymised.

    The name becomes "Anonymised contact <no.>", every other personal field is blanked, on the
    contact and its alternate addresses; one ContactAnonymisation row per contact records who
    and when. The selection is read once, before anything changes (a selection by name must
    not move under its own update). Same permissions as `contact_anonymise`.
    """
    require(user, ("crm.delete_contact", "interactions.add_contactanonymisation"))
    with transaction.atomic(durable=True):
        # Read (and on PostgreSQL lock) the rows in key order, so two admins cannot interleave.
        pks = list(
            Contact.objects.select_for_update()
            .filter(pk__in=contacts.values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        count = 0
        for start in range(0, len(pks), ANONYMISE_BATCH):
            batch = pks[start : start + ANONYMISE_BATCH]
            count += Contact.objects.filter(pk__in=batch).update(
                name=Concat(Value(f"{ANONYMOUS_NAME} "), F("no"), output_field=CharField()),
                updated_at=now,
                **dict.fromkeys(CONTACT_PERSONAL_FIELDS, ""),
            )
            ContactAltAddress.objects.filter(contact_id__in=batch).update(
                **dict.fromkeys(ALT_ADDRESS_PERSONAL_FIELDS, "")
            )
            ContactAnonymisation.objects.bulk_create(
                [ContactAnonymisation(contact_id=pk, user=recorded_user(user), created_at=now) for pk in batch]
            )
    return count


__all__ = [
    "contact_anonymise",
    "contacts_anonymise",
    "interaction_create",
    "interactions_delete_canceled",
    "interactions_evaluate",
    "interactions_set_canceled",
    "locked_logged_segments",
    "logged_segment_delete",
    "logged_segment_set_canceled",
]
