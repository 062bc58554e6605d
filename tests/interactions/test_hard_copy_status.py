"""A hard-copy letter that a delivery put into a print file reads "In print file" in the pages
(entry list, entry page, logged segment), with a link to that delivery's print file; an e-mail
that went out still reads "Sent"; `interactions export` keeps CONTRACT's `sent` for both."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import strip_tags

from crm.models import CorrespondenceType
from interactions.models import Delivery, InteractionLogEntry, LoggedSegment
from tests.interactions.test_views_deliveries import build_segment, log_and_deliver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivered(marketing_client):
    """One e-mail and two hard-copy letters logged and delivered from the page."""
    segment = build_segment(emails=1, letters=2)
    assert log_and_deliver(marketing_client, segment).status_code == 302
    logged = LoggedSegment.objects.get()
    delivery = Delivery.objects.get()
    assert delivery.print_document_id is not None
    entries = InteractionLogEntry.objects.filter(logged_segment=logged).select_related("contact")
    by_type = {
        kind: [entry for entry in entries if entry.correspondence_type == kind]
        for kind in (CorrespondenceType.EMAIL, CorrespondenceType.HARD_COPY)
    }
    return logged, delivery, by_type


def print_link(delivery: Delivery) -> str:
    return reverse("interactions:delivery_print_document", args=[delivery.pk])


def cells(html: str, css_class: str) -> list[str]:
    """The text of each element with the badge class `css_class`."""
    return [
        re.sub(r"\s+", " ", strip_tags(match)).strip()
        for match in re.findall(rf'<[^>]*class="badge {css_class}"[^>]*>.*?</(?:a|span)>', html)
    ]


def test_entry_page_says_in_print_file_with_the_print_file_link(marketing_client, delivered):
    _logged, delivery, by_type = delivered
    letter, email = by_type[CorrespondenceType.HARD_COPY][0], by_type[CorrespondenceType.EMAIL][0]

    letter_page = marketing_client.get(letter.get_absolute_url()).content.decode()
    email_page = marketing_client.get(email.get_absolute_url()).content.decode()

    assert cells(letter_page, "delivery-printed") == ["In print file"]
    assert f'href="{print_link(delivery)}"' in letter_page
    assert "delivery-sent" not in letter_page
    assert cells(email_page, "delivery-sent") == ["Sent"]
    assert "In print file" not in email_page


def test_entry_list_and_logged_segment_page_tell_letters_from_emails(marketing_client, delivered):
    logged, delivery, by_type = delivered
    entry_list = marketing_client.get(reverse("interactions:entry_list"), {"logged_segment": logged.pk})
    logged_page = marketing_client.get(reverse("interactions:logged_segment_detail", args=[logged.pk]))

    for response in (entry_list, logged_page):
        html = response.content.decode()
        assert response.status_code == 200
        assert cells(html, "delivery-printed") == ["In print file"] * 2
        assert cells(html, "delivery-sent") == ["Sent"]
        assert html.count(f'href="{print_link(delivery)}"') >= 2


def test_the_print_file_link_leads_to_the_print_file(marketing_client, delivered):
    _logged, delivery, _by_type = delivered

    response = marketing_client.get(print_link(delivery))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")


def test_a_hard_copy_letter_without_a_print_file_reads_in_print_file_without_a_link(marketing_client, delivered):
    _logged, delivery, by_type = delivered
    letter = by_type[CorrespondenceType.HARD_COPY][0]
    # a delivery whose print file is not (yet) stored: nothing to link to
    Delivery.objects.filter(pk=delivery.pk).update(print_document=None)

    page = marketing_client.get(letter.get_absolute_url()).content.decode()

    assert cells(page, "delivery-printed") == ["In print file"]
    assert print_link(delivery) not in page


def test_export_keeps_sent_for_printed_letters_and_emails(delivered):
    logged, _delivery, by_type = delivered
    out = StringIO()
    call_command("interactions", "export", "--json", "--logged-segment", str(logged.pk), stdout=out)
    rows = {row["entry_no"]: row for row in json.loads(out.getvalue())}

    for entry in by_type[CorrespondenceType.HARD_COPY] + by_type[CorrespondenceType.EMAIL]:
        assert rows[entry.pk]["delivery_status"] == "sent"
    assert {rows[entry.pk]["correspondence_type"] for entry in by_type[CorrespondenceType.HARD_COPY]} == {"hard_copy"}


def test_entry_list_with_print_links_stays_one_page_query(marketing_client, delivered, django_assert_max_num_queries):
    logged, _delivery, _by_type = delivered
    url = reverse("interactions:entry_list")
    marketing_client.get(url)  # warm the session and permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        marketing_client.get(url, {"logged_segment": logged.pk})
    expected = len(few.captured_queries)
    more = build_segment(emails=3, letters=6)
    log_and_deliver(marketing_client, more)

    with django_assert_max_num_queries(expected):
        response = marketing_client.get(url)
    assert cells(response.content.decode(), "delivery-printed") == ["In print file"] * 8
