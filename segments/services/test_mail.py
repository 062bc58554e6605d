"""A test e-mail before the real thing (issue 14, part 5): one line's e-mail, as the delivery
after the Log would build it, sent to the user who asks for it.

`segment_line_test_mail` makes the line's letter as the contact will get it
(segments.merge.line_letter: the line's Word document, channel `email`), wraps it with the
delivery's own builder (interactions.delivery.entry_email, on the entry the Log would make of
the line, unsaved) and sends it through the default mailer with "[Test] " before the subject and
the user's own address as the only recipient. Every header the real e-mail carries (From,
Reply-To, Message-ID) is the same.

It writes nothing: no interaction log entry, no delivery or delivery item (so no delivery
statistics count it), no document, and no change to the segment or its lines. Every refusal
is a TestMailRefused with one message, and nothing was sent: the user has no e-mail address,
the line does not go out as an e-mail, its letter or its e-mail cannot be made, the mail server
cannot be reached (interactions.mail.mail_server_problem, the Log pre-flight's check), or the
server refused the message.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.mail import mailers
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.languages import test_email_address
from crm.models import CorrespondenceType
from crm.permissions import require
from interactions.delivery import entry_email, failure_reason
from interactions.mail import mail_server_problem
from interactions.merge_fields import MergeError
from interactions.models import InteractionLogEntry
from interactions.unsubscribe import TEST_LOGGED_SEGMENT

from ..document_selectors import first_email_line_no, letter_line
from ..merge import line_letter
from ..models import Segment, SegmentLine

# Translators: the subject of a test e-mail: the real subject after a mark that it is a test.
SUBJECT_PREFIX = gettext_noop("[Test] %(subject)s")


class TestMailRefused(ValidationError):
    """A test e-mail that was not sent, with the reason (nothing was sent, nothing written)."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class TestMail:
    """A test e-mail that the mail server took: to whom, and for which line and contact."""

    __test__ = False

    address: str
    line_no: int
    contact_no: str

    @property
    def message(self) -> str:
        return _("Test e-mail sent to %(address)s (line %(line)s, %(contact)s)") % {
            "address": self.address,
            "line": self.line_no,
            "contact": self.contact_no,
        }


def _refused(reason: str) -> TestMailRefused:
    return TestMailRefused(_("No test e-mail was sent: %(reason)s.") % {"reason": reason.rstrip(".")})


def line_entry(segment: Segment, line: SegmentLine) -> InteractionLogEntry:
    """The interaction log entry the Log would make of `line` (segments.services.log's
    `_entry_columns`), unsaved: what the delivery builds the e-mail from. `contact_via` is the
    line's alternate address's e-mail when it has one, else the contact's."""
    alt_address = line.alt_address if line.alt_address_id else None
    contact_via = (alt_address.email if alt_address is not None else "") or line.contact.email
    return InteractionLogEntry(
        contact=line.contact,
        date=line.date,
        description=line.description,
        subject=line.subject,
        interaction_template_id=line.interaction_template_id,
        language_id=line.language_id,
        salesperson=line.salesperson,
        campaign=line.campaign,
        segment_no=segment.no,
        segment_line_id=line.pk,
        segment_line_no=line.line_no,
        correspondence_type=line.correspondence_type,
        alt_address=alt_address,
        contact_via=contact_via,
        send_as_attachment=line.send_as_attachment,
        personal_text=line.personal_text,
        word_template_id=line.word_document_id,
    )


def _line(segment: Segment, line_no: int | None) -> SegmentLine:
    if line_no is None:
        line_no = first_email_line_no(segment=segment)
        if line_no is None:
            raise _refused(_("%(no)s has no e-mail line") % {"no": segment.no})
    line = letter_line(segment=segment, line_no=line_no)
    if line is None:
        raise _refused(_("%(no)s has no line %(line)s") % {"no": segment.no, "line": line_no})
    if line.correspondence_type == CorrespondenceType.HARD_COPY:
        raise _refused(_("line %(line)s goes out as a letter, not an e-mail") % {"line": line_no})
    if line.correspondence_type != CorrespondenceType.EMAIL:
        raise _refused(_("line %(line)s has no correspondence type: nothing goes out for it") % {"line": line_no})
    return line


def segment_line_test_mail(*, user, segment: Segment, line_no: int | None = None) -> TestMail:
    """Send line `line_no` of `segment` (default: its first e-mail line) to `user`'s own e-mail
    address as the delivery would send it to the contact, with "[Test] " before the subject.

    Needs segments.log_segment (the Log page's permission). Raises TestMailRefused with the
    reason, and sends nothing, when it cannot send (see the module docstring). Writes nothing;
    reads the line with everything its letter shows, its Word document and the salutation
    formulas (a handful of queries), then asks the mail server (up to 10 s per step when it
    does not answer) and sends over one connection."""
    require(user, "segments.log_segment")
    address = test_email_address(user).strip()  # the profile's test address, else the user's e-mail
    if not address:
        raise TestMailRefused(_("Your user has no e-mail address: add one in your profile/admin."))
    try:
        validate_email(address)
    except ValidationError as error:
        raise _refused(_('your user\'s e-mail address "%(address)s" is not valid') % {"address": address}) from error
    line = _line(segment, line_no)
    entry = line_entry(segment, line)
    if not entry.contact_via.strip():
        raise _refused(
            _("line %(line)s's contact %(contact)s has no e-mail address: the Log would send it nothing")
            % {"line": line.line_no, "contact": line.contact.no}
        )
    try:
        letter = line_letter(segment, line)
    except MergeError as error:
        raise _refused("; ".join(error.messages)) from error
    # Its unsubscribe link names no mailing: it shows where the contact's link will be, and
    # using it changes nothing (interactions.unsubscribe.TEST_LOGGED_SEGMENT).
    entry.logged_segment_id = TEST_LOGGED_SEGMENT
    try:
        message = entry_email(entry, letter)
    except (ValidationError, ValueError) as error:
        reason = failure_reason(error)
        raise _refused(_("line %(line)s: %(reason)s") % {"line": line.line_no, "reason": reason}) from error
    message.subject = _(SUBJECT_PREFIX) % {"subject": message.subject}
    message.to = [address]
    problem = mail_server_problem()
    if problem:
        raise _refused(problem)
    try:
        sent = mailers.default.send_messages([message])
    except (smtplib.SMTPException, OSError) as error:
        raise _refused(failure_reason(error)) from error
    if not sent:
        raise _refused(_("the mail backend did not accept the message"))
    return TestMail(address=address, line_no=line.line_no, contact_no=line.contact.no)
