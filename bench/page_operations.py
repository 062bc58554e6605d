"""The worksheet's Log and Print letters pages in `manage.py bench` (issue 13, "Pages stay fast at
scale"), on a bench segment holding every contact (N lines, the demo template LETTER, whose
sample letter exists in every language, so each line gets its language's Word document).

- Log page: `GET segments:segment_log` through the test client (its pre-flight with delivery
  ticked: line checks, e-mail addresses, Word documents, salutation formulas, and the numbers).
  Floor: the same counts in plain SQL, counted the way the page counts them: the lines grouped
  by (campaign, correspondence type, own document, template, language) with the lines without
  description, template or salesperson; the e-mail lines of the contacts without e-mail (`IN`)
  and no alternate address with one; the language rows; per salutation kind the documents use,
  one COUNT of the lines whose contact is among those of the salutations without that formula in
  the line's language (`IN`). JIT is off on both sides.
- Print letters page: `GET segments:segment_merge`. Floor: the lines grouped by (own document,
  template, language) and the language rows.
"""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from crm.permissions import COMMAND_LINE
from segments import services
from segments.documents import word_document_groups
from segments.models import SegmentLine
from segments.services.log import _kinds_by_document
from segments.services.statistics import page_queries

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
    # The salutation kinds the documents use (the floor cannot read Word documents).
    groups = word_document_groups(segment, SegmentLine.objects.filter(segment=segment))
    kinds, _problems = _kinds_by_document({row["word_document_id"] for row in groups} - {None})
    ctx.data["pages_kinds"] = [kind for kind, documents in kinds.items() if documents]


def _get(ctx: Context, name: str) -> None:
    url = reverse(name, args=[ctx.data["pages_segment"].no])
    response = ctx.client.get(url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


NO_ADDRESS = (
    "l.correspondence_type = 'email' AND l.contact_id IN (SELECT id FROM crm_contact WHERE email = '')"
    " AND (l.alt_address_id IS NULL OR a.email = '')"
)


def _missing_formula(cursor, segment, kinds: list[str]) -> int:
    """Lines to deliver whose contact has no salutation, or one without a formula of a kind the
    documents use in the line's language: the formulas read, then one COUNT per kind of the lines
    whose contact is among those of the salutations without it (`IN`)."""
    cursor.execute("SELECT code FROM crm_salutation")
    salutations = {code for (code,) in cursor.fetchall()}
    cursor.execute(
        "SELECT DISTINCT language_id FROM segments_segmentline WHERE segment_id = %s AND correspondence_type <> ''",
        [segment.pk],
    )
    languages = [language for (language,) in cursor.fetchall()]
    missing = 0
    for kind in kinds:
        cursor.execute("SELECT salutation_id, language_id FROM crm_salutationformula WHERE type = %s", [kind])
        having = {(salutation, language) for salutation, language in cursor.fetchall()}
        by_missing: dict[tuple, list] = {}
        for language in languages:
            by_missing.setdefault(tuple(sorted(c for c in salutations if (c, language) not in having)), []).append(
                language
            )
        conditions, params = [], []
        for without, group in by_missing.items():
            named = [language for language in group if language is not None]
            same = [f"l.language_id IN ({', '.join(['%s'] * len(named))})"] if named else []
            same += ["l.language_id IS NULL"] if None in group else []
            contacts = "SELECT id FROM crm_contact WHERE salutation_id IS NULL"
            if without:
                contacts += f" OR salutation_id IN ({', '.join(['%s'] * len(without))})"
            conditions.append(f"(({' OR '.join(same)}) AND l.contact_id IN ({contacts}))")
            params += [*named, *without]
        cursor.execute(
            "SELECT COUNT(*) FROM segments_segmentline l LEFT JOIN crm_contactaltaddress a ON a.id = l.alt_address_id"
            f" WHERE l.segment_id = %s AND l.correspondence_type <> '' AND NOT ({NO_ADDRESS})"
            f" AND ({' OR '.join(conditions) or '1 = 0'})",
            [segment.pk, *params],
        )
        missing += cursor.fetchone()[0]
    return missing


def log_page_floor(ctx: Context) -> dict:
    """The Log page's counts in plain SQL, the way the page counts them; returns them (a test
    compares them with the page's)."""
    segment = ctx.data["pages_segment"]
    with page_queries(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT campaign_id, correspondence_type, {DOCUMENT_KEY}, COUNT(*),"
            " SUM(CASE WHEN description = '' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN interaction_template_id IS NULL THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN salesperson_id IS NULL THEN 1 ELSE 0 END)"
            " FROM segments_segmentline l WHERE segment_id = %s GROUP BY 1, 2, 3, 4, 5",
            [segment.pk],
        )
        by_kind = cursor.fetchall()
        cursor.execute(
            f"SELECT {DOCUMENT_KEY}, COUNT(*) FROM segments_segmentline l"
            " LEFT JOIN crm_contactaltaddress a ON a.id = l.alt_address_id"
            f" WHERE l.segment_id = %s AND {NO_ADDRESS} GROUP BY 1, 2, 3",
            [segment.pk],
        )
        no_address = cursor.fetchall()
        _language_rows(cursor, segment)
        missing_formula = _missing_formula(cursor, segment, ctx.data.get("pages_kinds", []))
    return {
        "entries": sum(row[5] for row in by_kind),
        "campaign_entries": len({row[0] for row in by_kind} - {None}),
        "emails": sum(row[5] for row in by_kind if row[1] == "email"),
        "letters": sum(row[5] for row in by_kind if row[1] == "hard_copy"),
        "no_address": sum(row[3] for row in no_address),
        "deliverable": sum(row[5] for row in by_kind if row[1]) - sum(row[3] for row in no_address),
        "missing_formula": missing_formula,
    }


def print_page_floor(ctx: Context) -> dict:
    """The Print letters page's counts in plain SQL; returns letters and lines without a document."""
    segment = ctx.data["pages_segment"]
    with page_queries(), connection.cursor() as cursor:
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


# --- the contact list sorted by name (issue 16): the first and the last page ------------------
# Ours: the page through the test client (COUNT, the page's keys from the (name, id) index, the
# rows joined). Floor: the COUNT and the page's rows in plain SQL; the last page read as the
# floor would, the reversed index order with LIMIT (no OFFSET over a million rows).

LIST_COLUMNS_BY_NAME = (
    "SELECT c.id, c.no, c.type, c.name, c.city, c.email, co.no, co.name, cy.name, s.name FROM crm_contact c"
    " LEFT JOIN crm_contact co ON co.id = c.company_id LEFT JOIN crm_country cy ON cy.code = c.country_id"
    " LEFT JOIN crm_salesperson s ON s.code = c.salesperson_id"
)


def prepare_sorted_list(ctx: Context) -> None:
    """The number of the last page and its size (untimed)."""
    from crm.models import Contact
    from crm.views.contacts import ContactListView

    size = ContactListView.paginate_by
    count = Contact.objects.count()
    pages = max(1, -(-count // size))
    ctx.data["list_last_page"] = pages
    ctx.data["list_last_size"] = count - (pages - 1) * size


def _get_sorted_list(ctx: Context, query: dict) -> None:
    url = reverse("crm:contact_list")
    response = ctx.client.get(url, query, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def _sorted_list_floor(order: str, limit: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM crm_contact c")
        cursor.fetchone()
        cursor.execute(f"{LIST_COLUMNS_BY_NAME} ORDER BY {order} LIMIT {limit}")
        cursor.fetchall()


def sorted_list_first_floor(ctx: Context) -> None:
    _sorted_list_floor("c.name, c.id", 50)


def sorted_list_last_floor(ctx: Context) -> None:
    _sorted_list_floor("c.name DESC, c.id DESC", ctx.data["list_last_size"])


@operation("contact list sorted by name, first page", floor=sorted_list_first_floor, prepare=prepare_sorted_list)
def contact_list_by_name_first(ctx: Context) -> None:
    _get_sorted_list(ctx, {"sort": "name"})


@operation("contact list sorted by name, last page", floor=sorted_list_last_floor, prepare=prepare_sorted_list)
def contact_list_by_name_last(ctx: Context) -> None:
    _get_sorted_list(ctx, {"sort": "name", "page": ctx.data["list_last_page"]})
