"""Consent on the worksheet (CONTRACT "Consent per channel and unsubscribe"; SPEC D17).

A line's channel follows the line's correspondence type (`e-mail` for email, `postal` for
hard copy, none for a blank type). Two rules are read here, set-based:

- a selection (Add, reuse of saved criteria or of a logged segment, follow-up) never creates a
  line for a contact who withdrew consent for the channel the line will have: the contacts are
  filtered in the step's own INSERT … SELECT by the correspondence type expression the insert
  writes (`consenting`), and the ones left out are counted by one aggregate query over the few
  withdrawn contacts only (`left_out`);
- the lines whose contact has withdrawn consent for the line's channel (`withdrawn_lines`):
  what the Log refuses and `segment drop-withdrawn` removes. Read from the contacts' side: the
  partial indexes of the contacts who withdrew (crm_contact_email_wd_idx, crm_contact_post_wd_idx)
  give the few contacts, then their lines by the lines' (contact, segment) index, so a segment
  whose contacts all consent is checked without reading its lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext, ngettext

from crm.consent import channel_of
from crm.counts import grouped
from crm.models import (
    CHANNEL_OF_CORRESPONDENCE,
    ConsentChannel,
    ConsentState,
    Contact,
    CorrespondenceType,
    consent_withdrawn_q,
)

from ..models import SegmentLine

WITHDRAWN = ConsentState.WITHDRAWN
# The alias a selection gives the correspondence type its lines will have.
LINE_TYPE = "consent_line_type"
# The correspondence type of each channel a line sends by (crm's CHANNEL_OF_CORRESPONDENCE turned
# round), in the order messages name them: e-mail, then postal.
CHANNEL_TYPES = {channel: kind for kind, channel in CHANNEL_OF_CORRESPONDENCE.items()}


def withdrawn_reason(channel: str) -> str:
    """ "e-mail consent withdrawn", "postal consent withdrawn" (CONTRACT wording; translated in pages)."""
    return {
        ConsentChannel.EMAIL: gettext("e-mail consent withdrawn"),
        ConsentChannel.POSTAL: gettext("postal consent withdrawn"),
        ConsentChannel.PHONE: gettext("phone consent withdrawn"),
    }[ConsentChannel(channel)]


@dataclass(frozen=True)
class LeftOut:
    """Contacts a selection left out because they withdrew consent for the channel their line
    would have had: how many per channel."""

    email: int = 0
    postal: int = 0

    def __bool__(self) -> bool:
        return bool(self.email or self.postal)

    def __add__(self, other: LeftOut) -> LeftOut:
        return LeftOut(email=self.email + other.email, postal=self.postal + other.postal)

    def messages(self) -> list[str]:
        """One line per channel with contacts left out: "3 contacts left out: e-mail consent
        withdrawn" (the page's message and the commands' stderr)."""
        counts = {ConsentChannel.EMAIL: self.email, ConsentChannel.POSTAL: self.postal}
        return [
            ngettext("%(count)s contact left out: %(reason)s", "%(count)s contacts left out: %(reason)s", count)
            % {"count": grouped(count), "reason": withdrawn_reason(channel)}
            for channel, count in counts.items()
            if count
        ]

    def __str__(self) -> str:
        return "; ".join(self.messages())


NOTHING_LEFT_OUT = LeftOut()


def consenting(contacts: QuerySet[Contact], line_type) -> QuerySet[Contact]:
    """`contacts` less those who withdrew consent for the channel of `line_type`, the expression
    (over Contact) of the correspondence type their line would get. A filter of the same query."""
    return contacts.alias(**{LINE_TYPE: line_type}).exclude(consent_withdrawn_q(LINE_TYPE, contact=""))


def left_out(contacts: QuerySet[Contact], line_type) -> LeftOut:
    """How many of `contacts` `consenting` leaves out, per channel: one aggregate query, which
    reads only the contacts who withdrew some consent (the partial indexes)."""
    withdrew = contacts.filter(Q(email_consent=WITHDRAWN) | Q(postal_consent=WITHDRAWN)).alias(**{LINE_TYPE: line_type})
    counts = withdrew.aggregate(
        email=Count("pk", distinct=True, filter=Q(**{LINE_TYPE: CorrespondenceType.EMAIL, "email_consent": WITHDRAWN})),
        postal=Count(
            "pk", distinct=True, filter=Q(**{LINE_TYPE: CorrespondenceType.HARD_COPY, "postal_consent": WITHDRAWN})
        ),
    )
    return LeftOut(email=counts["email"] or 0, postal=counts["postal"] or 0)


def _withdrawn_of_channel(lines: QuerySet[SegmentLine], channel: str) -> QuerySet[SegmentLine]:
    field = "email_consent" if channel == ConsentChannel.EMAIL else "postal_consent"
    withdrew = Contact.objects.filter(**{field: WITHDRAWN}).values("pk")
    return lines.filter(correspondence_type=CHANNEL_TYPES[channel], contact_id__in=withdrew)


def withdrawn_lines(lines: QuerySet[SegmentLine], *fields: str):
    """The rows (`fields` of each) of `lines` whose contact has withdrawn consent for the line's
    channel: a UNION ALL of one query per channel, each from the contacts who withdrew that
    consent (`IN`: the partial index, then those contacts' lines), ordered by `line_no` when
    `line_no` is among `fields`."""
    parts = [_withdrawn_of_channel(lines.order_by(), channel).values(*fields) for channel in CHANNEL_TYPES]
    union = parts[0].union(*parts[1:], all=True)
    return union.order_by("line_no") if "line_no" in fields else union.order_by()


def withdrawn_line_problem(row: dict) -> str:
    """ "line 30000: CT000123: e-mail consent withdrawn" (CONTRACT, `segment log`)."""
    channel = channel_of(row["correspondence_type"])
    return gettext("line %(line_no)s: %(contact)s: %(reason)s") % {
        "line_no": row["line_no"],
        "contact": row["contact__no"],
        "reason": withdrawn_reason(channel),
    }
