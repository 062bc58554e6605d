"""Consent per channel (CONTRACT "Consent per channel and unsubscribe"): the only writer of a
contact's `email_consent` / `postal_consent` / `phone_consent` and of their history.

Every change of state writes one ConsentChange row in the same transaction; setting a channel
to the state it already has writes nothing, so a repeat (a second unsubscribe click, a re-run
import) changes nothing more. Reads that leave withdrawn contacts out use
`crm.models.consent_withdrawn_q`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .models import (
    CHANNEL_OF_CORRESPONDENCE,
    CONSENT_FIELDS,
    ConsentChange,
    ConsentChannel,
    ConsentState,
    Contact,
)
from .permissions import recorded_user, require
from .untrusted import text_problems

SOURCE_MAX_LENGTH = ConsentChange._meta.get_field("source").max_length
UNSUBSCRIBE_SOURCE = "unsubscribe link"


def channel_of(correspondence_type: str) -> ConsentChannel | None:
    """A line's channel from its correspondence type: None for a blank type (nothing is sent)."""
    return CHANNEL_OF_CORRESPONDENCE.get(correspondence_type)


def channel_label(channel: str) -> str:
    """How messages name a channel: "e-mail consent withdrawn", "postal consent withdrawn"."""
    return {
        ConsentChannel.EMAIL: pgettext("consent channel", "e-mail"),
        ConsentChannel.POSTAL: pgettext("consent channel", "postal"),
        ConsentChannel.PHONE: pgettext("consent channel", "phone"),
    }[ConsentChannel(channel)]


@dataclass(frozen=True)
class ConsentUpdate:
    """What `contact_set_consent` changed: the history rows written (empty when every channel
    already had its state)."""

    changes: list[ConsentChange]


def clean_states(states: Mapping[str, str | None]) -> dict[ConsentChannel, ConsentState]:
    """The channels to set, checked: {channel: state}; a None or blank state leaves the channel
    as it is. Raises ValidationError naming the channel and the states allowed."""
    cleaned: dict[ConsentChannel, ConsentState] = {}
    for channel, state in states.items():
        if channel not in ConsentChannel.values:
            raise ValidationError(
                _("%(channel)s: not a channel (use %(channels)s)")
                % {"channel": channel, "channels": ", ".join(ConsentChannel.values)},
                code="channel",
            )
        if state is None or state == "":
            continue
        if state not in ConsentState.values:
            raise ValidationError(
                _("%(channel)s: %(state)s is not a consent state (use %(states)s)")
                % {"channel": channel, "state": state, "states": ", ".join(ConsentState.values)},
                code="state",
            )
        cleaned[ConsentChannel(channel)] = ConsentState(state)
    return cleaned


def clean_source(source: str) -> str:
    source = (source or "").strip()
    if len(source) > SOURCE_MAX_LENGTH:
        raise ValidationError(
            _("source: at most %(max)d characters") % {"max": SOURCE_MAX_LENGTH}, code="source_length"
        )
    if problems := text_problems("source", source):
        raise ValidationError(problems, code="source_text")
    return source


def contact_set_consent(
    *, actor, contact: Contact | int, states: Mapping[str, str | None], source: str = ""
) -> ConsentUpdate:
    """Set the given channels of one contact, in one transaction; each channel whose state
    changes gets a history row (time, user, source). The contact row is locked first, so two
    writers at once record both changes in the order they happened."""
    require(actor, "crm.change_contact")
    cleaned = clean_states(states)
    source = clean_source(source)
    contact_id = contact if isinstance(contact, int) else contact.pk
    with transaction.atomic():
        current = Contact.objects.select_for_update().filter(pk=contact_id).values(*CONSENT_FIELDS.values()).first()
        if current is None:
            raise Contact.DoesNotExist(f"contact {contact_id} does not exist")
        changed = {channel: state for channel, state in cleaned.items() if current[CONSENT_FIELDS[channel]] != state}
        if not changed:
            return ConsentUpdate(changes=[])
        Contact.objects.filter(pk=contact_id).update(
            **{CONSENT_FIELDS[channel]: state for channel, state in changed.items()}, updated_at=timezone.now()
        )
        now = timezone.now()
        rows = ConsentChange.objects.bulk_create(
            ConsentChange(
                contact_id=contact_id,
                channel=channel,
                state=state,
                at=now,
                user=recorded_user(actor),
                source=source,
            )
            for channel, state in changed.items()
        )
    if not isinstance(contact, int):
        for channel, state in changed.items():
            setattr(contact, CONSENT_FIELDS[channel], state)
    return ConsentUpdate(changes=rows)


def record_bulk_changes(
    *, actor, changes: Iterable[tuple[int, str, str]], source: str, at=None, batch_size: int = 2000
) -> int:
    """History rows for states a set-based writer (an import) has already put on the contacts
    in the caller's transaction: (contact_id, channel, state) each. Returns the rows written."""
    at = at or timezone.now()
    user = recorded_user(actor)
    rows = ConsentChange.objects.bulk_create(
        (
            ConsentChange(contact_id=contact_id, channel=channel, state=state, at=at, user=user, source=source)
            for contact_id, channel, state in changes
        ),
        batch_size=batch_size,
    )
    return len(rows)


def withdraw_by_unsubscribe_link(*, contact_id: int, logged_segment_id: int | None) -> bool:
    """Withdraw a contact's e-mail consent because they used an e-mail's unsubscribe link; no
    user and no permission (the signed link is the authority). A conditional UPDATE claims the
    change, so a repeat or two clicks at once write one history row. True when it changed."""
    with transaction.atomic():
        now = timezone.now()
        changed = (
            Contact.objects.filter(pk=contact_id)
            .exclude(email_consent=ConsentState.WITHDRAWN)
            .update(email_consent=ConsentState.WITHDRAWN, updated_at=now)
        )
        if changed:
            ConsentChange.objects.create(
                contact_id=contact_id,
                channel=ConsentChannel.EMAIL,
                state=ConsentState.WITHDRAWN,
                at=now,
                source=UNSUBSCRIBE_SOURCE,
                logged_segment_id=logged_segment_id,
            )
    return bool(changed)


def consent_history(contact: Contact | int):
    """The contact's consent changes, oldest first."""
    contact_id = contact if isinstance(contact, int) else contact.pk
    return ConsentChange.objects.filter(contact_id=contact_id).select_related("user").order_by("at", "id")
