"""Segment steps for `manage.py bench`, each beside a raw-SQL floor that writes the same rows.

Every operation works on its own bench segment (header from the demo template LETTER, so the
line values exercise the language, subject and correspondence-type rules), created by its
`prepare`; the previous bench segment is dropped first, so the line table holds one segment's
lines at a time. A segment that starts with lines gets them from our own add step (untimed).

- add: `segment_add_contacts(query="country=NL")` (~30% of N) beside: INSERT the step,
  INSERT … SELECT the lines (same values, order and numbers), UPDATE the step's count;
- preview count: `segment_count(action="add", query="country=NL")` beside one `SELECT COUNT(*)`;
- reduce (`mailing_group=NEWSLETTER`), refine (`mailing_group=PRODUCT`), refine with Entire
  Companies: `segment_remove_contacts` beside: INSERT the step, INSERT … SELECT the lines into
  the removed lines (IN for reduce, NOT EXISTS for refine, company keys with Entire
  Companies), DELETE them;
- undo of the add, undo of the refine: `segment_undo` beside: DELETE the step's lines,
  INSERT … SELECT the lines it removed back, DELETE those removed lines and the step;
- preview count of the reduce: `segment_count(action="reduce")` beside one `SELECT COUNT(*)`;
- the worksheet's first screen (GET through the test client: header, line count, first 50
  lines, steps) beside the header, the COUNT and the first 50 lines with their contacts.

Cleanups (untimed) bring the segment back to the operation's starting state: an add is cleared,
a removal undone with `segment_undo`, an undo redone with the same step.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm.permissions import COMMAND_LINE
from segments import services
from segments.models import Segment, SegmentLine, StepAction

from .harness import Context, operation

ADD_QUERY = "country=NL"  # ~30% of the demo contacts
REDUCE_QUERY = "mailing_group=NEWSLETTER"
REFINE_QUERY = "mailing_group=PRODUCT"
TEMPLATE = "LETTER"
STEP = services.LINE_NO_STEP

LINE_COLUMNS = [field.column for field in SegmentLine._meta.concrete_fields if field.column != "id"]
COPY = ", ".join(LINE_COLUMNS)
STEP_INSERT = (
    "INSERT INTO segments_criteriastep (segment_id, position, action, filter, allow_existing, expand_contact,"
    " allow_company_with_persons, ignore_exclusion, entire_companies, manual, source, lines_added, lines_removed,"
    " created_at) SELECT %s, COALESCE(MAX(position), 0) + 1, %s, %s, %s, %s, %s, %s, %s, %s, '', 0, 0, %s"
    " FROM segments_criteriastep WHERE segment_id = %s RETURNING id"
)


# --- segments for the operations ------------------------------------------------------------------


def drop_bench_segments() -> None:
    """Remove every bench segment with its lines, removed lines and steps (raw, untimed)."""
    with transaction.atomic(), connection.cursor() as cursor:
        ids = "SELECT id FROM segments_segment WHERE description LIKE 'bench %%'"
        for table in ("segments_segmentline", "segments_removedsegmentline", "segments_segmentlanguage"):
            cursor.execute(f"DELETE FROM {table} WHERE segment_id IN ({ids})")
        cursor.execute(f"UPDATE segments_criteriastep SET parent_id = NULL WHERE segment_id IN ({ids})")
        cursor.execute(f"DELETE FROM segments_criteriastep WHERE segment_id IN ({ids})")
        cursor.execute(f"DELETE FROM segments_segment WHERE id IN ({ids})")


def analyze() -> None:
    """After a big change of the segment tables, do what autovacuum would soon do (PostgreSQL),
    so it does not run in the middle of one side's timed runs."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # VACUUM cannot run inside a transaction (the tests run the operations in one).
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cursor.execute(f"{command} segments_segmentline, segments_removedsegmentline, segments_criteriastep")


def new_segment(ctx: Context, name: str, *, lines: bool) -> Segment:
    from interactions.models import InteractionTemplate

    drop_bench_segments()
    template = InteractionTemplate.objects.filter(code=TEMPLATE).first()
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": f"bench {name}", "interaction_template": template}
    )
    if lines:
        services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=ADD_QUERY)
    analyze()
    ctx.data["segment"] = segment
    return segment


def clear_lines(ctx: Context) -> None:
    """Back to an empty segment without steps (raw, untimed)."""
    segment_id = ctx.data["segment"].pk
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM segments_segmentline WHERE segment_id = %s", [segment_id])
        cursor.execute("DELETE FROM segments_removedsegmentline WHERE segment_id = %s", [segment_id])
        cursor.execute("DELETE FROM segments_criteriastep WHERE segment_id = %s", [segment_id])


def undo_last(ctx: Context) -> None:
    services.segment_undo(user=COMMAND_LINE, segment=ctx.data["segment"])


# --- floors ----------------------------------------------------------------------------------------


def _without_jit(cursor) -> None:
    """What our steps do on PostgreSQL (segments.services._without_jit), so the floor does too."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")


def _insert_step(cursor, segment_id: int, action: str, filter_: str, *, entire: bool = False) -> int:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    cursor.execute(
        STEP_INSERT,
        [segment_id, action, filter_, False, False, False, False, entire, False, now, segment_id],
    )
    return cursor.fetchone()[0]


def _header(cursor, segment_id: int) -> dict:
    cursor.execute(
        "SELECT s.description, s.interaction_template_id, s.interaction_group_id, s.salesperson_id, s.campaign_id,"
        " s.campaign_target, s.campaign_response, s.date, s.language_id, s.subject, s.correspondence_type,"
        " s.ignore_contact_correspondence_type, s.information_flow, s.initiated_by, s.send_as_attachment,"
        " s.unit_cost, s.unit_duration, t.correspondence_type, t.ignore_contact_correspondence_type"
        " FROM segments_segment s LEFT JOIN interactions_interactiontemplate t ON t.code = s.interaction_template_id"
        " WHERE s.id = %s",
        [segment_id],
    )
    names = [
        "description",
        "template",
        "group",
        "salesperson",
        "campaign",
        "target",
        "response",
        "date",
        "language",
        "subject",
        "correspondence",
        "ignore",
        "flow",
        "initiated",
        "send",
        "cost",
        "duration",
        "template_correspondence",
        "template_ignores",
    ]
    header = dict(zip(names, cursor.fetchone(), strict=True))
    cursor.execute("SELECT language_id, subject FROM segments_segmentlanguage WHERE segment_id = %s", [segment_id])
    header["rows"] = [(code, subject) for code, subject in cursor.fetchall() if code]
    return header


def correspondence_sql(header: dict) -> tuple[str, list]:
    """A new line's correspondence type (R13) over contact `c`, as the header gives it."""
    if header["ignore"] and header["correspondence"]:
        return "%s", [header["correspondence"]]
    if header["template"] and header["template_ignores"]:
        return "%s", [header["template_correspondence"]]
    if header["template"]:
        return "CASE WHEN c.correspondence_type = '' THEN %s ELSE c.correspondence_type END", [
            header["template_correspondence"]
        ]
    return "c.correspondence_type", []


def consent_sql(header: dict) -> tuple[str, list]:
    """The contacts `c` an add leaves out for consent (CONTRACT "Consent per channel"): those who
    withdrew it for the channel the new line would get from its correspondence type."""
    correspondence, params = correspondence_sql(header)
    return (
        f"(({correspondence}) = 'email' AND c.email_consent = 'withdrawn'"
        f" OR ({correspondence}) = 'hard_copy' AND c.postal_consent = 'withdrawn')",
        [*params, *params],
    )


def _add_floor_sql(header: dict, table: str = "segments_segmentline") -> tuple[str, list]:
    """The INSERT … SELECT of the lines of an add into `table`, with each value as SPEC F2.4
    gives it."""
    params: list = []
    codes = [code for code, _ in header["rows"]]
    if codes:
        language = f"CASE WHEN c.language_id IN ({', '.join(['%s'] * len(codes))}) THEN c.language_id ELSE %s END"
        language_params = [*codes, header["language"]]
        subject = "CASE " + " ".join("WHEN c.language_id = %s THEN %s" for _ in codes) + " ELSE %s END"
        subject_params = [value for row in header["rows"] for value in row] + [header["subject"]]
    else:
        language, language_params = "%s", [header["language"]]
        subject, subject_params = "%s", [header["subject"]]
    correspondence, correspondence_params = correspondence_sql(header)
    columns = {
        "segment_id": ("%s", [header["segment"]]),
        "step_id": ("%s", [header["step"]]),
        "line_no": (
            "%s + %s * ROW_NUMBER() OVER (ORDER BY"
            " CASE WHEN c.type = 'company' THEN c.name ELSE COALESCE(co.name, '') END,"
            " CASE WHEN c.type = 'company' THEN c.no ELSE COALESCE(co.no, '') END, c.type, c.name, c.id)",
            [header["base"], STEP],
        ),
        "contact_id": ("c.id", []),
        "alt_address_id": (
            "(SELECT r.alt_address_id FROM crm_contactaltaddressdaterange r WHERE r.contact_id = c.id"
            " AND r.starting_date <= %s AND (r.ending_date IS NULL OR r.ending_date >= %s)"
            " ORDER BY r.starting_date DESC LIMIT 1)",
            [header["date"], header["date"]],
        ),
        "description": ("%s", [header["description"]]),
        "interaction_template_id": ("%s", [header["template"]]),
        "interaction_group_id": ("%s", [header["group"]]),
        "salesperson_id": ("COALESCE(%s, c.salesperson_id)", [header["salesperson"]]),
        "campaign_id": ("%s", [header["campaign"]]),
        "campaign_target": ("%s", [header["target"]]),
        "campaign_response": ("%s", [header["response"]]),
        "date": ("%s", [header["date"]]),
        "language_id": (language, language_params),
        "subject": (subject, subject_params),
        "correspondence_type": (correspondence, correspondence_params),
        "information_flow": ("%s", [header["flow"]]),
        "initiated_by": ("%s", [header["initiated"]]),
        "send_as_attachment": ("%s", [header["send"]]),
        "cost": ("%s", [header["cost"]]),
        "duration": ("%s", [header["duration"]]),
        "evaluation": ("''", []),
        "personal_text": ("''", []),
        "overrides": ("0", []),
    }
    select = []
    for sql, values in columns.values():
        select.append(sql)
        params += values
    withdrawn, withdrawn_params = consent_sql(header)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(select)}"
        " FROM crm_contact c LEFT JOIN crm_contact co ON co.id = c.company_id"
        f" WHERE c.country_id = %s AND NOT c.exclude_from_segment AND NOT {withdrawn}"
        f" AND NOT EXISTS (SELECT 1 FROM {table} l WHERE l.segment_id = %s AND l.contact_id = c.id)"
    )
    return sql, [*params, ADD_QUERY.split("=")[1], *withdrawn_params, header["segment"]]


def add_floor(ctx: Context) -> None:
    segment_id = ctx.data["segment"].pk
    with transaction.atomic(), connection.cursor() as cursor:
        _without_jit(cursor)
        header = _header(cursor, segment_id)
        step_id = _insert_step(cursor, segment_id, StepAction.ADD, ADD_QUERY)
        cursor.execute(
            "SELECT COALESCE(MAX(line_no), 0) FROM (SELECT line_no FROM segments_segmentline WHERE segment_id = %s"
            " UNION ALL SELECT line_no FROM segments_removedsegmentline WHERE segment_id = %s) n",
            [segment_id, segment_id],
        )
        header.update(segment=segment_id, step=step_id, base=cursor.fetchone()[0])
        sql, params = _add_floor_sql(header)
        cursor.execute(sql, params)
        cursor.execute("UPDATE segments_criteriastep SET lines_added = %s WHERE id = %s", [cursor.rowcount, step_id])


def count_sql(cursor, segment_id: int, table: str) -> tuple[str, list]:
    """The count of the contacts an add would take into `table`."""
    withdrawn, withdrawn_params = consent_sql(_header(cursor, segment_id))
    return (
        "SELECT COUNT(*) FROM crm_contact c WHERE c.country_id = %s AND NOT c.exclude_from_segment"
        f" AND NOT {withdrawn}"
        f" AND NOT EXISTS (SELECT 1 FROM {table} l WHERE l.segment_id = %s AND l.contact_id = c.id)",
        [ADD_QUERY.split("=")[1], *withdrawn_params, segment_id],
    )


def count_floor(ctx: Context) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _without_jit(cursor)
        cursor.execute(*count_sql(cursor, ctx.data["segment"].pk, "segments_segmentline"))
        cursor.fetchone()


COMPANY_KEY = (
    "CASE WHEN {c}.type = 'company' THEN {c}.id WHEN {c}.company_id IS NOT NULL THEN {c}.company_id ELSE -{c}.id END"
)


def _removal_floor(ctx: Context, action: str, query: str, where: str, params: list, *, entire: bool = False) -> None:
    """INSERT the step; copy the lines `where` selects (alias l; with `entire`, their contact c)
    to the removed lines; DELETE them."""
    segment_id = ctx.data["segment"].pk
    join = " JOIN crm_contact c ON c.id = l.contact_id" if entire else ""
    with transaction.atomic(), connection.cursor() as cursor:
        _without_jit(cursor)
        step_id = _insert_step(cursor, segment_id, action, query, entire=entire)
        copy = ", ".join(f"l.{column}" for column in LINE_COLUMNS)
        cursor.execute(
            f"INSERT INTO segments_removedsegmentline ({COPY}, line_id, removed_by_id) SELECT {copy}, l.id, %s"
            f" FROM segments_segmentline l{join} WHERE l.segment_id = %s AND {where}",
            [step_id, segment_id, *params],
        )
        removed = cursor.rowcount
        cursor.execute(
            "DELETE FROM segments_segmentline WHERE id IN"
            " (SELECT line_id FROM segments_removedsegmentline WHERE removed_by_id = %s)",
            [step_id],
        )
        cursor.execute("UPDATE segments_criteriastep SET lines_removed = %s WHERE id = %s", [removed, step_id])


def _group(query: str) -> str:
    return query.split("=")[1]


def reduce_floor(ctx: Context) -> None:
    where = "l.contact_id IN (SELECT g.contact_id FROM crm_contactmailinggroup g WHERE g.mailing_group_id = %s)"
    _removal_floor(ctx, StepAction.REDUCE, REDUCE_QUERY, where, [_group(REDUCE_QUERY)])


def refine_floor(ctx: Context) -> None:
    where = (
        "NOT EXISTS (SELECT 1 FROM crm_contactmailinggroup g WHERE g.contact_id = l.contact_id"
        " AND g.mailing_group_id = %s)"
    )
    _removal_floor(ctx, StepAction.REFINE, REFINE_QUERY, where, [_group(REFINE_QUERY)])


def refine_entire_floor(ctx: Context) -> None:
    """No contact of the line's company (the company itself, one of its persons) and not the
    line's contact itself (a private person) is in the group: three anti-joins on indexes."""
    company = "CASE WHEN c.type = 'company' THEN c.id ELSE c.company_id END"
    in_group = "EXISTS (SELECT 1 FROM crm_contactmailinggroup g WHERE g.contact_id = {id} AND g.mailing_group_id = %s)"
    where = (
        f"NOT {in_group.format(id=company)}"
        f" AND NOT EXISTS (SELECT 1 FROM crm_contact m WHERE m.company_id = {company}"
        f" AND {in_group.format(id='m.id')})"
        f" AND NOT {in_group.format(id='l.contact_id')}"
    )
    group = _group(REFINE_QUERY)
    _removal_floor(ctx, StepAction.REFINE, REFINE_QUERY, where, [group, group, group], entire=True)


def undo_floor(ctx: Context) -> None:
    """Delete the last step's lines, put back the lines it removed, delete it."""
    segment_id = ctx.data["segment"].pk
    with transaction.atomic(), connection.cursor() as cursor:
        _without_jit(cursor)
        cursor.execute(
            "SELECT id FROM segments_criteriastep WHERE segment_id = %s ORDER BY position DESC LIMIT 1", [segment_id]
        )
        (step_id,) = cursor.fetchone()
        cursor.execute("DELETE FROM segments_segmentline WHERE step_id = %s", [step_id])
        cursor.execute(
            f"INSERT INTO segments_segmentline (id, {COPY}) SELECT line_id, {COPY}"
            " FROM segments_removedsegmentline WHERE removed_by_id = %s",
            [step_id],
        )
        cursor.execute("DELETE FROM segments_removedsegmentline WHERE removed_by_id = %s", [step_id])
        cursor.execute("DELETE FROM segments_criteriastep WHERE id = %s", [step_id])


# --- operations ------------------------------------------------------------------------------------


def prepare_empty(ctx: Context) -> None:
    new_segment(ctx, "add", lines=False)


def prepare_filled(ctx: Context) -> None:
    new_segment(ctx, "removal", lines=True)


def prepare_refined(ctx: Context) -> None:
    new_segment(ctx, "undo refine", lines=True)
    redo_refine(ctx)


def redo_add(ctx: Context) -> None:
    services.segment_add_contacts(user=COMMAND_LINE, segment=ctx.data["segment"], query=ADD_QUERY)


def redo_refine(ctx: Context) -> None:
    services.segment_remove_contacts(
        user=COMMAND_LINE, segment=ctx.data["segment"], action=StepAction.REFINE, query=REFINE_QUERY
    )


@operation(f"segment add ({ADD_QUERY}, ~30% of N)", floor=add_floor, prepare=prepare_empty, cleanup=clear_lines)
def segment_add(ctx: Context) -> None:
    services.segment_add_contacts(user=COMMAND_LINE, segment=ctx.data["segment"], query=ADD_QUERY)


@operation(f"segment preview count (add {ADD_QUERY})", floor=count_floor, prepare=prepare_empty)
def segment_count(ctx: Context) -> None:
    services.segment_count(segment=ctx.data["segment"], action=StepAction.ADD, query=ADD_QUERY)


@operation(f"segment reduce ({REDUCE_QUERY})", floor=reduce_floor, prepare=prepare_filled, cleanup=undo_last)
def segment_reduce(ctx: Context) -> None:
    services.segment_remove_contacts(
        user=COMMAND_LINE, segment=ctx.data["segment"], action=StepAction.REDUCE, query=REDUCE_QUERY
    )


@operation(f"segment refine ({REFINE_QUERY})", floor=refine_floor, prepare=prepare_filled, cleanup=undo_last)
def segment_refine(ctx: Context) -> None:
    redo_refine(ctx)


@operation(
    f"segment refine, entire companies ({REFINE_QUERY})",
    floor=refine_entire_floor,
    prepare=prepare_filled,
    cleanup=undo_last,
)
def segment_refine_entire(ctx: Context) -> None:
    services.segment_remove_contacts(
        user=COMMAND_LINE,
        segment=ctx.data["segment"],
        action=StepAction.REFINE,
        query=REFINE_QUERY,
        entire_companies=True,
    )


@operation("segment undo of the add", floor=undo_floor, prepare=prepare_filled, cleanup=redo_add)
def segment_undo_add(ctx: Context) -> None:
    services.segment_undo(user=COMMAND_LINE, segment=ctx.data["segment"])


@operation("segment undo of the refine", floor=undo_floor, prepare=prepare_refined, cleanup=redo_refine)
def segment_undo_refine(ctx: Context) -> None:
    services.segment_undo(user=COMMAND_LINE, segment=ctx.data["segment"])


def reduce_count_floor(ctx: Context) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _without_jit(cursor)
        cursor.execute(
            "SELECT COUNT(*) FROM segments_segmentline l WHERE l.segment_id = %s AND l.contact_id IN"
            " (SELECT contact_id FROM crm_contactmailinggroup WHERE mailing_group_id = %s)",
            [ctx.data["segment"].pk, REDUCE_QUERY.split("=")[1]],
        )
        cursor.fetchone()


@operation(f"segment preview count (reduce {REDUCE_QUERY})", floor=reduce_count_floor, prepare=prepare_filled)
def segment_count_reduce(ctx: Context) -> None:
    services.segment_count(segment=ctx.data["segment"], action=StepAction.REDUCE, query=REDUCE_QUERY)


WORKSHEET_PAGE = 50


def worksheet_floor(ctx: Context) -> None:
    """The least the first screen needs: the header, the line count, the first 50 lines with
    their contacts."""
    segment_id = ctx.data["segment"].pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM segments_segment WHERE id = %s", [segment_id])
        cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM segments_segmentline WHERE segment_id = %s", [segment_id])
        cursor.fetchone()
        cursor.execute(
            f"SELECT l.*, c.no, c.name FROM segments_segmentline l JOIN crm_contact c ON c.id = l.contact_id"
            f" WHERE l.segment_id = %s ORDER BY l.line_no LIMIT {WORKSHEET_PAGE}",
            [segment_id],
        )
        cursor.fetchall()


@operation(
    "segment worksheet, first screen (full request, ~30% of N lines)", floor=worksheet_floor, prepare=prepare_filled
)
def segment_worksheet(ctx: Context) -> None:
    url = reverse("segments:segment_detail", args=[ctx.data["segment"].no])
    response = ctx.client.get(url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
