"""Logging for `manage.py bench` (issue 5), beside a raw-SQL floor that writes the same rows.

- segment log: `segments.services.segment_log` on a bench segment of N/10 lines (the
  first N/10 lines of a country=NL add with the demo template LETTER, whose campaign gives
  every line a campaign, so the log also writes a campaign entry) beside: INSERT the logged
  segment (its counts computed in the same statement), INSERT … SELECT the campaign entry
  (R46: dated and assigned like the campaign's first line), INSERT … SELECT the interaction
  log entries from the lines with the same values (R47, R43's correspondence type and
  contact via), DELETE the lines, the removed lines, the language rows, the steps and the
  segment. Pre-flight checks and the claim are ours only: the floor writes, it does not check.
  Each run starts from the same data: `prepare` builds the segment once and keeps a copy of
  its rows in temporary tables; the cleanup (untimed) deletes what the log wrote and puts the
  segment back from the copy, with the same ids, number and uuid.
- the first screen of the logged segments list and of the interaction log (GET through the
  test client) beside a COUNT and the first 50 rows, on a database holding one logged
  segment of N/10 entries. Registered only when their URLs exist.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from crm.permissions import COMMAND_LINE
from interactions.models import LoggedSegment
from segments import services as log_services
from segments.models import CriteriaStep, RemovedSegmentLine, Segment, SegmentLanguage, SegmentLine

from . import segment_operations as segment_ops
from .harness import Context, operation

LOG_SHARE = 0.10  # the logged segment has this share of N lines
LOG_NAME = "log"
PAGES_NAME = "log pages"
PAGE_SIZE = 50

# Snapshot tables (temporary, so they vanish with the connection): model → table.
SNAPSHOT = {
    Segment: "bench_log_segment",
    CriteriaStep: "bench_log_step",
    SegmentLanguage: "bench_log_language",
    SegmentLine: "bench_log_line",
    RemovedSegmentLine: "bench_log_removed",
}


def log_lines(contacts: int) -> int:
    return max(1, round(contacts * LOG_SHARE))


def _columns(model) -> str:
    return ", ".join(connection.ops.quote_name(field.column) for field in model._meta.concrete_fields)


def build_log_segment(ctx: Context, name: str) -> Segment:
    """A bench segment with the first N/10 lines of a country=NL add (raw trim, untimed),
    ready to log (no pre-flight problem)."""
    segment = segment_ops.new_segment(ctx, name, lines=True)
    wanted = log_lines(ctx.contacts)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT line_no FROM segments_segmentline WHERE segment_id = %s ORDER BY line_no LIMIT 1 OFFSET %s",
            [segment.pk, wanted - 1],
        )
        last = cursor.fetchone()
        if last is not None:
            cursor.execute(
                "DELETE FROM segments_segmentline WHERE segment_id = %s AND line_no > %s", [segment.pk, last[0]]
            )
        cursor.execute(
            "UPDATE segments_criteriastep SET lines_added ="
            " (SELECT COUNT(*) FROM segments_segmentline l WHERE l.step_id = segments_criteriastep.id)"
            " WHERE segment_id = %s",
            [segment.pk],
        )
    problems = log_services.segment_log_problems(segment=segment)
    if problems:
        raise RuntimeError(f"the bench segment cannot be logged: {problems}")
    segment_ops.analyze()
    return segment


def _analyze_log_tables() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cursor.execute(
                f"{command} interactions_interactionlogentry, interactions_campaignentry, interactions_loggedsegment"
            )


def prepare_log(ctx: Context) -> None:
    """Build the segment to log and keep a copy of its rows (temporary tables)."""
    ctx.data["log_segment"] = build_log_segment(ctx, LOG_NAME)
    snapshot(ctx)


def snapshot(ctx: Context) -> None:
    """Copy the rows of the segment to log into temporary tables, for `restore_log`."""
    segment = ctx.data["log_segment"]
    with transaction.atomic(), connection.cursor() as cursor:
        for model, table in SNAPSHOT.items():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            where = f"id = {int(segment.pk)}" if model is Segment else f"segment_id = {int(segment.pk)}"
            cursor.execute(
                f"CREATE TEMPORARY TABLE {table} AS SELECT {_columns(model)} FROM {model._meta.db_table} WHERE {where}"
            )
    _analyze_log_tables()


def restore_log(ctx: Context) -> None:
    """Delete what a log wrote and put the segment back as `prepare_log` left it (untimed)."""
    segment = ctx.data["log_segment"]
    uuid = LoggedSegment._meta.get_field("source_uuid").get_db_prep_value(segment.uuid, connection)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM interactions_loggedsegment WHERE source_uuid = %s", [uuid])
        for (logged_id,) in cursor.fetchall():
            cursor.execute("DELETE FROM interactions_interactionlogentry WHERE logged_segment_id = %s", [logged_id])
            cursor.execute("DELETE FROM interactions_campaignentry WHERE logged_segment_id = %s", [logged_id])
            cursor.execute("DELETE FROM interactions_loggedsegment WHERE id = %s", [logged_id])
        # Whatever is left of the segment (a failed run), then the copy.
        for model in (SegmentLine, RemovedSegmentLine, SegmentLanguage):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE segment_id = %s", [segment.pk])
        cursor.execute("UPDATE segments_criteriastep SET parent_id = NULL WHERE segment_id = %s", [segment.pk])
        cursor.execute("DELETE FROM segments_criteriastep WHERE segment_id = %s", [segment.pk])
        cursor.execute("DELETE FROM segments_segment WHERE id = %s", [segment.pk])
        for model, table in SNAPSHOT.items():
            columns = _columns(model)
            cursor.execute(f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {columns} FROM {table}")
    segment_ops.analyze()
    _analyze_log_tables()


# --- the floor -------------------------------------------------------------------------------------

# R43: an e-mail line whose contact and active alternate address have no e-mail address.
EMAIL_MISSING = "(l.correspondence_type = 'email' AND c.email = '' AND (a.id IS NULL OR a.email = ''))"
ENTRY_COLUMNS = {
    "contact_id": "l.contact_id",
    "contact_company_id": "CASE WHEN c.type = 'company' THEN c.id ELSE c.company_id END",
    "date": "l.date",
    "time": "%(time)s",
    "description": "l.description",
    "subject": "l.subject",
    "information_flow": "l.information_flow",
    "initiated_by": "l.initiated_by",
    "cost": "l.cost",
    "duration": "l.duration",
    "user_id": "%(user)s",
    "interaction_template_id": "l.interaction_template_id",
    "interaction_group_id": "l.interaction_group_id",
    "language_id": "l.language_id",
    "salesperson_id": "l.salesperson_id",
    "campaign_id": "l.campaign_id",
    "campaign_entry_id": "ce.id",
    "campaign_target": "l.campaign_target",
    "campaign_response": "l.campaign_response",
    "segment_no": "%(segment_no)s",
    "logged_segment_id": "%(logged)s",
    "segment_line_id": "l.id",
    "segment_line_no": "l.line_no",
    "evaluation": "l.evaluation",
    "attempt_failed": "%(false)s",
    "correspondence_type": f"CASE WHEN {EMAIL_MISSING} THEN '' ELSE l.correspondence_type END",
    "alt_address_id": "l.alt_address_id",
    "contact_via": (
        f"CASE WHEN l.correspondence_type = 'email' AND NOT {EMAIL_MISSING} THEN"
        " (CASE WHEN a.id IS NOT NULL AND a.email <> '' THEN a.email ELSE c.email END) ELSE '' END"
    ),
    "send_as_attachment": "l.send_as_attachment",
    "personal_text": "l.personal_text",
    # The line's own document, else the segment's copy for the line's language when the line
    # uses the header's template, else that template's row for the line's language.
    "word_template_id": (
        "COALESCE(l.document_id, CASE WHEN l.interaction_template_id = %(header_template)s THEN"
        " (SELECT sl.document_id FROM segments_segmentlanguage sl WHERE sl.segment_id = l.segment_id"
        " AND (sl.language_id = l.language_id OR (sl.language_id IS NULL AND l.language_id IS NULL)))"
        " ELSE (SELECT tl.document_id FROM interactions_interactiontemplatelanguage tl"
        " WHERE tl.template_id = l.interaction_template_id"
        " AND (tl.language_id = l.language_id OR (tl.language_id IS NULL AND l.language_id IS NULL))) END)"
    ),
    "delivery_status": "''",
    "delivery_error": "''",
    "canceled": "%(false)s",
    "created_at": "%(now)s",
}
ENTRY_INSERT = (
    f"INSERT INTO interactions_interactionlogentry ({', '.join(ENTRY_COLUMNS)})"
    f" SELECT {', '.join(ENTRY_COLUMNS.values())}"
    " FROM segments_segmentline l JOIN crm_contact c ON c.id = l.contact_id"
    " LEFT JOIN crm_contactaltaddress a ON a.id = l.alt_address_id"
    " LEFT JOIN interactions_campaignentry ce ON ce.logged_segment_id = %(logged)s AND ce.campaign_id = l.campaign_id"
    " WHERE l.segment_id = %(segment)s"
)


def log_floor(ctx: Context) -> None:
    """What the log writes, in plain SQL: the logged segment, the campaign entries, the
    entries, and the segment deleted with its lines, steps and language rows."""
    segment_id = ctx.data["log_segment"].pk
    ops = connection.ops
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        segment_ops._without_jit(cursor)
        cursor.execute(
            "SELECT no, uuid, description, interaction_template_id FROM segments_segment WHERE id = %s", [segment_id]
        )
        segment_no, uuid, description, header_template = cursor.fetchone()
        cursor.execute(
            "INSERT INTO interactions_loggedsegment (segment_no, source_uuid, description, created_at, user_id,"
            " canceled, canceled_at, no_of_interactions, no_of_campaign_entries)"
            " SELECT %s, %s, %s, %s, NULL, %s, NULL, COUNT(*), COUNT(DISTINCT campaign_id)"
            " FROM segments_segmentline WHERE segment_id = %s RETURNING id",
            [segment_no, uuid, description, ops.adapt_datetimefield_value(now), False, segment_id],
        )
        (logged_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO interactions_campaignentry (campaign_id, description, date, user_id, segment_no,"
            " logged_segment_id, salesperson_id, canceled, created_at)"
            " SELECT l.campaign_id, %s, MIN(l.date), NULL, %s, %s,"
            " (SELECT f.salesperson_id FROM segments_segmentline f WHERE f.segment_id = %s"
            " AND f.campaign_id = l.campaign_id ORDER BY f.date, f.line_no LIMIT 1), %s, %s"
            " FROM segments_segmentline l WHERE l.segment_id = %s AND l.campaign_id IS NOT NULL"
            " GROUP BY l.campaign_id",
            [description, segment_no, logged_id, segment_id, False, ops.adapt_datetimefield_value(now), segment_id],
        )
        values = {
            "time": ops.adapt_timefield_value(timezone.localtime(now).time().replace(microsecond=0)),
            "user": None,
            "segment_no": segment_no,
            "logged": logged_id,
            "false": False,
            "now": ops.adapt_datetimefield_value(now),
            "segment": segment_id,
            "header_template": header_template,
        }
        cursor.execute(ENTRY_INSERT, values)
        cursor.execute(
            "UPDATE interactions_document SET read_only = %s WHERE read_only = %s AND id IN"
            " (SELECT word_template_id FROM interactions_interactionlogentry WHERE logged_segment_id = %s"
            " AND word_template_id IS NOT NULL)",
            [True, False, logged_id],
        )
        cursor.execute("DELETE FROM segments_segmentline WHERE segment_id = %s", [segment_id])
        cursor.execute("DELETE FROM segments_removedsegmentline WHERE segment_id = %s", [segment_id])
        cursor.execute("DELETE FROM segments_segmentlanguage WHERE segment_id = %s", [segment_id])
        cursor.execute("UPDATE segments_criteriastep SET parent_id = NULL WHERE segment_id = %s", [segment_id])
        cursor.execute("DELETE FROM segments_criteriastep WHERE segment_id = %s", [segment_id])
        cursor.execute("DELETE FROM segments_segment WHERE id = %s", [segment_id])


@operation("segment log (N/10 lines)", floor=log_floor, prepare=prepare_log, cleanup=restore_log)
def segment_log(ctx: Context) -> None:
    result = log_services.segment_log(user=COMMAND_LINE, segment=ctx.data["log_segment"])
    expected = ctx.data.get("log_lines")
    if expected is None:
        ctx.data["log_lines"] = result.entries
    elif result.entries != expected:
        raise AssertionError(f"the log wrote {result.entries} entries, expected {expected}")


# --- list pages ------------------------------------------------------------------------------------


def prepare_pages(ctx: Context) -> None:
    """One logged segment of N/10 entries (logged by us, untimed), kept for the list pages."""
    if ctx.data.get("pages_ready"):
        return
    segment = build_log_segment(ctx, PAGES_NAME)
    log_services.segment_log(user=COMMAND_LINE, segment=segment)
    _analyze_log_tables()
    ctx.data["pages_ready"] = True


def _get(ctx: Context, url: str) -> None:
    response = ctx.client.get(url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def logged_list_floor(ctx: Context) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM interactions_loggedsegment")
        cursor.fetchone()
        cursor.execute(
            "SELECT s.*, u.username FROM interactions_loggedsegment s LEFT JOIN auth_user u ON u.id = s.user_id"
            f" ORDER BY s.id DESC LIMIT {PAGE_SIZE}"
        )
        cursor.fetchall()


def entry_list_floor(ctx: Context) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM interactions_interactionlogentry")
        cursor.fetchone()
        cursor.execute(
            "SELECT e.*, c.no, c.name FROM interactions_interactionlogentry e JOIN crm_contact c ON c.id = e.contact_id"
            f" ORDER BY e.id DESC LIMIT {PAGE_SIZE}"
        )
        cursor.fetchall()


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


LOGGED_LIST_URL = _url("interactions:logged_segment_list")
ENTRY_LIST_URL = _url("interactions:entry_list")

if LOGGED_LIST_URL:

    @operation("logged segments list, first screen (full request)", floor=logged_list_floor, prepare=prepare_pages)
    def logged_segment_list(ctx: Context) -> None:
        _get(ctx, LOGGED_LIST_URL)


if ENTRY_LIST_URL:

    @operation(
        "interaction log list, first screen (full request, N/10 entries)", floor=entry_list_floor, prepare=prepare_pages
    )
    def entry_list(ctx: Context) -> None:
        _get(ctx, ENTRY_LIST_URL)
