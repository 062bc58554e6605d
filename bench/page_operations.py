"""The worksheet's Log and Print letters pages in `manage.py bench` (issue 13, "Pages stay fast at
scale"), on a bench segment holding every contact (N lines, the demo template LETTER, whose
sample letter exists in every language, so each line gets its language's Word document).

- Log page: `GET segments:segment_log` through the test client (its pre-flight with delivery
  ticked: line checks, e-mail addresses, Word documents, salutation formulas, and the numbers).
  Floor: the same counts in plain SQL: one pass over the lines grouped by campaign (lines, e-mail
  and hard-copy lines, lines without description, template or salesperson), one pass over the
  e-mail and hard-copy lines joined to their contact and alternate address, grouped by (own
  document, template, language, salutation, address missing), and the language rows that give
  each group its Word document.
- Print letters page: `GET segments:segment_merge`. Floor: the lines grouped by (own document,
  template, language) and the language rows.
"""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from crm.permissions import COMMAND_LINE
from segments import services

from . import segment_operations as segment_ops
from .harness import Context, operation

# What decides a line's Word document: its own, else its template's (the segment's copy for the
# header's template) row for its language. The floor counts the lines by it and reads the rows.
DOCUMENT_KEY = "l.document_id, l.interaction_template_id, l.language_id"


def _language_rows(cursor, segment) -> None:
    cursor.execute("SELECT language_id, document_id FROM segments_segmentlanguage WHERE segment_id = %s", [segment.pk])
    cursor.fetchall()
    cursor.execute("SELECT template_id, language_id, document_id FROM interactions_interactiontemplatelanguage")
    cursor.fetchall()


def prepare_pages(ctx: Context) -> None:
    """A bench segment with one line per contact (untimed)."""
    segment = segment_ops.new_segment(ctx, "pages", lines=False)
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    segment_ops.analyze()
    segment.refresh_from_db()
    ctx.data["pages_segment"] = segment


def _get(ctx: Context, name: str) -> None:
    url = reverse(name, args=[ctx.data["pages_segment"].no])
    response = ctx.client.get(url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def log_page_floor(ctx: Context) -> dict:
    """The Log page's counts in plain SQL; returns them (a test compares them with the page's)."""
    segment = ctx.data["pages_segment"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT campaign_id, COUNT(*),"
            " SUM(CASE WHEN correspondence_type = 'email' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN correspondence_type = 'hard_copy' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN description = '' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN interaction_template_id IS NULL THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN salesperson_id IS NULL THEN 1 ELSE 0 END)"
            " FROM segments_segmentline WHERE segment_id = %s GROUP BY campaign_id",
            [segment.pk],
        )
        by_campaign = cursor.fetchall()
        cursor.execute(
            f"SELECT {DOCUMENT_KEY}, c.salutation_id,"
            " CASE WHEN l.correspondence_type = 'email' AND c.email = '' AND (a.id IS NULL OR a.email = '')"
            " THEN 1 ELSE 0 END, COUNT(*)"
            " FROM segments_segmentline l JOIN crm_contact c ON c.id = l.contact_id"
            " LEFT JOIN crm_contactaltaddress a ON a.id = l.alt_address_id"
            " WHERE l.segment_id = %s AND l.correspondence_type <> '' GROUP BY 1, 2, 3, 4, 5",
            [segment.pk],
        )
        groups = cursor.fetchall()
        _language_rows(cursor, segment)
    return {
        "entries": sum(row[1] for row in by_campaign),
        "campaign_entries": sum(1 for row in by_campaign if row[0] is not None),
        "emails": sum(row[2] for row in by_campaign),
        "letters": sum(row[3] for row in by_campaign),
        "no_address": sum(row[5] for row in groups if row[4]),
        "deliverable": sum(row[5] for row in groups if not row[4]),
    }


def print_page_floor(ctx: Context) -> dict:
    """The Print letters page's counts in plain SQL; returns letters and lines without a document."""
    segment = ctx.data["pages_segment"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {DOCUMENT_KEY}, COUNT(*) FROM segments_segmentline l WHERE l.segment_id = %s GROUP BY 1, 2, 3",
            [segment.pk],
        )
        rows = cursor.fetchall()
        _language_rows(cursor, segment)
    return {"letters": sum(row[3] for row in rows)}


@operation("Log page (N lines, with delivery: full request)", floor=log_page_floor, prepare=prepare_pages)
def log_page(ctx: Context) -> None:
    _get(ctx, "segments:segment_log")


@operation("Print letters page (N lines: full request)", floor=print_page_floor, prepare=prepare_pages)
def print_letters_page(ctx: Context) -> None:
    _get(ctx, "segments:segment_merge")
