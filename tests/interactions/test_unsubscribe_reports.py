"""Reports of unsubscribes (issue 15, "Reports"): the logged segment page's sent / skipped /
unsubscribed-from-this-mailing counts, and the statistics page's unsubscribe rate per logged
segment and per month. Entries are logged by the real Log; their delivery outcome is set on
them as a delivery leaves it, and unsubscribes go through crm.consent as the link's POST does."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.consent import contact_set_consent, withdraw_by_unsubscribe_link
from crm.models import CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions import logged_segment_selectors, selectors
from interactions.models import DeliveryStatus, InteractionLogEntry
from tests.factories import make_template
from tests.interactions.entry_builders import logged_company

pytestmark = pytest.mark.django_db

STATISTICS = reverse("interactions:statistics")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def mailing(n_persons: int, *, date: datetime.date | None = None, statuses=(), template=None):
    """A logged segment of a company and `n_persons` persons whose entries are e-mails: sent,
    unless `statuses` gives each entry's outcome in contact order."""
    result, contacts = logged_company(n_persons, template=template or make_template(correspondence_type=""))
    logged = result.logged_segment
    entries = InteractionLogEntry.objects.filter(logged_segment=logged)
    entries.update(correspondence_type=CorrespondenceType.EMAIL, delivery_status=DeliveryStatus.SENT)
    if date:
        entries.update(date=date)
    for contact, status in zip(contacts, statuses, strict=False):
        entries.filter(contact=contact).update(delivery_status=status)
    return logged, contacts


def unsubscribe(contact, logged) -> None:
    assert withdraw_by_unsubscribe_link(contact_id=contact.pk, logged_segment_id=logged.pk)


# --- The logged segment page --------------------------------------------------------------------


def test_the_logged_segment_page_counts_sent_skipped_and_unsubscribed_from_this_mailing(viewer_client):
    logged, (company, p1, p2, p3, p4) = mailing(
        4, statuses=[DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.ERROR]
    )
    other, (other_company, *_rest) = mailing(1)
    unsubscribe(company, logged)
    unsubscribe(p3, logged)
    # p3 grants again and unsubscribes again through the same mailing: one contact, counted once.
    contact_set_consent(actor=COMMAND_LINE, contact=p3, states={"email": "granted"}, source="phone call")
    unsubscribe(p3, logged)
    unsubscribe(other_company, other)  # another mailing's
    contact_set_consent(actor=COMMAND_LINE, contact=p4, states={"postal": "withdrawn"}, source="letter")

    page = text(viewer_client.get(reverse("interactions:logged_segment_detail", args=[logged.pk])))

    assert "<h2>E-mails</h2>" in page
    assert "<dt>Sent</dt><dd>3</dd>" in page
    assert "<dt>Skipped (consent withdrawn)</dt><dd>1</dd>" in page
    assert "<dt>Unsubscribed from this mailing</dt><dd>2</dd>" in page
    assert "Of 5 e-mail entries." in page


def test_the_counts_are_one_query_whatever_the_size_of_the_mailing(django_assert_num_queries):
    small, (company, *_persons) = mailing(1)
    big, contacts = mailing(30)
    for contact in contacts[:7]:
        unsubscribe(contact, big)

    with django_assert_num_queries(1):
        counts = logged_segment_selectors.logged_segment_mailing_counts(logged_segment=big)
    with django_assert_num_queries(1):
        logged_segment_selectors.logged_segment_mailing_counts(logged_segment=small)

    assert counts == logged_segment_selectors.MailingCounts(emails=31, sent=31, skipped=0, unsubscribed=7)


def test_a_logged_segment_without_emails_shows_no_email_counts(viewer_client):
    result, _contacts = logged_company(1)  # no correspondence type: nothing sent

    page = text(viewer_client.get(reverse("interactions:logged_segment_detail", args=[result.logged_segment.pk])))

    assert "<h2>E-mails</h2>" not in page


# --- The statistics page ------------------------------------------------------------------------

JANUARY, FEBRUARY = datetime.date(2025, 1, 15), datetime.date(2025, 2, 10)
RANGE = {"date_after": "2025-01-01", "date_before": "2025-03-31"}


@pytest.fixture
def two_mailings():
    """January: 4 e-mails sent, 1 unsubscribed through it, 1 error (not sent). February: 3 sent,
    one of them canceled (left out), none unsubscribed through it (its company unsubscribed
    through January's link)."""
    template = make_template(correspondence_type="")
    january, jan_contacts = mailing(4, date=JANUARY, statuses=[DeliveryStatus.SENT] * 4 + [DeliveryStatus.ERROR])
    february, feb_contacts = mailing(2, date=FEBRUARY, template=template)
    unsubscribe(jan_contacts[1], january)
    unsubscribe(jan_contacts[0], january)
    InteractionLogEntry.objects.filter(logged_segment=january, contact=jan_contacts[0]).update(canceled=True)
    unsubscribe(feb_contacts[0], january)  # a February contact using January's (made-up) link
    InteractionLogEntry.objects.filter(logged_segment=february, contact=feb_contacts[2]).update(canceled=True)
    return january, february


def test_statistics_show_the_unsubscribe_rate_per_logged_segment_and_per_month(viewer_client, two_mailings):
    january, february = two_mailings

    response = viewer_client.get(STATISTICS, RANGE)

    rates = response.context["unsubscribes"]
    assert (rates.total.sent, rates.total.unsubscribed) == (5, 1)
    assert [(r.logged_segment_id, r.sent, r.unsubscribed) for r in rates.mailings] == [
        (february.pk, 2, 0),
        (january.pk, 3, 1),
    ]
    assert [(r.month, r.sent, r.unsubscribed) for r in rates.months] == [
        (datetime.date(2025, 1, 1), 3, 1),
        (datetime.date(2025, 2, 1), 2, 0),
        (datetime.date(2025, 3, 1), 0, 0),
    ]
    page = text(response)
    assert "<h2>Unsubscribe rate</h2>" in page
    assert "<dt>Rate</dt><dd>20.00 %</dd>" in page
    assert re.search(
        rf'>{january.pk}</a> {january.segment_no}</td> <td>Spring mailing</td> <td class="num">3</td> '
        r'<td class="num">1</td> <td class="num nowrap">33.33 %</td>',
        page,
    )
    assert (
        '<td class="nowrap">Mar 2025</td> <td class="num">0</td> <td class="num">0</td> <td class="num nowrap">—</td>'
        in page
    )


def test_the_unsubscribe_rate_follows_the_pages_criteria(viewer_client, two_mailings):
    january, february = two_mailings

    rates = viewer_client.get(STATISTICS, {**RANGE, "date_before": "2025-01-31"}).context["unsubscribes"]

    assert [(r.logged_segment_id, r.sent, r.unsubscribed) for r in rates.mailings] == [(january.pk, 3, 1)]
    assert [(r.month, r.sent, r.unsubscribed) for r in rates.months] == [(datetime.date(2025, 1, 1), 3, 1)]


def test_without_emails_the_page_says_so(viewer_client):
    logged_company(1)

    page = text(viewer_client.get(STATISTICS))

    assert "No e-mails sent among these interactions." in page


def test_the_unsubscribe_rate_costs_two_queries_whatever_the_number_of_mailings(two_mailings):
    entries = InteractionLogEntry.objects.all()
    months = selectors.month_range(date_after=JANUARY, date_before=FEBRUARY, today=FEBRUARY)
    with CaptureQueriesContext(connection) as few:
        selectors.unsubscribe_rates(entries=entries, months=months)
    for _ in range(5):
        logged, contacts = mailing(3, date=FEBRUARY)
        unsubscribe(contacts[1], logged)
    with CaptureQueriesContext(connection) as many:
        rates = selectors.unsubscribe_rates(entries=entries, months=months)

    assert len(few) == len(many) == 2
    assert (rates.total.sent, rates.total.unsubscribed) == (5 + 5 * 4, 1 + 5)
