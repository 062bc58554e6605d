"""The Log page's drift check in `manage.py bench` (issue 15: "at 1,000,000 contacts and 300,000
lines the drift check answers in under 1 s").

`prepare` (untimed) builds a bench segment with two criteria steps, `add country=NL` (~30% of N)
and `reduce mailing_group=PRESSREL` (~2% of those), then changes contacts as time would, each by
one raw UPDATE or INSERT over a fixed share picked by id: of the lines' contacts, 0.1% withdraw
consent (e-mail and postal), 0.1% are set to "exclude from segment", 0.1% are anonymised (a
ContactAnonymisation row), 0.5% move to Belgium (no longer match); of the other contacts, 0.5%
move to the Netherlands (match now); below 100,000 contacts 2.5% and 5%, so a small run has
each kind. These changes stay: the operation is registered last.

- ours: `segments.services.drift.segment_drift` (the replay of both steps, the five kinds, each
  its count and first ten rows);
- floor: the same five results in one statement of plain SQL written by hand: the replay as
  `country = NL, not excluded, not a PRESSREL member (NOT EXISTS)` and its two differences with the
  lines' contacts once in a WITH (a FULL JOIN on PostgreSQL, two EXCEPTs on SQLite), then per
  kind its rows from the few contacts concerned, `COUNT(*) OVER ()` and `ROW_NUMBER() OVER
  (ORDER BY …) <= 10`, and the number and name of the ten kept.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from crm.permissions import COMMAND_LINE
from segments import services
from segments.services.drift import DRIFT_EXAMPLES, NEW, WITHDRAWN, segment_drift
from segments.services.statistics import page_queries

from . import segment_operations as segment_ops
from .harness import Context, operation

DRIFT_REDUCE = "mailing_group=PRESSREL"
LINE_CONTACTS = "SELECT contact_id FROM segments_segmentline WHERE segment_id = %s"


def prepare_drift(ctx: Context) -> None:
    segment = segment_ops.new_segment(ctx, "drift", lines=True)
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action="reduce", query=DRIFT_REDUCE)
    # One contact in `rare` of the lines' withdraws, is excluded, is anonymised; one in `often`
    # moves out, one in `often` of the others moves in. A small run (the tests) changes more.
    rare, often = (1000, 200) if ctx.contacts >= 100_000 else (40, 20)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    on_lines = f"id IN ({LINE_CONTACTS})"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_contact SET email_consent = 'withdrawn', postal_consent = 'withdrawn'"
            f" WHERE {on_lines} AND id %% %s = 1",
            [segment.pk, rare],
        )
        cursor.execute(
            f"UPDATE crm_contact SET exclude_from_segment = %s WHERE {on_lines} AND id %% %s = 2",
            [True, segment.pk, rare],
        )
        cursor.execute(
            "INSERT INTO interactions_contactanonymisation (contact_id, created_at)"
            " SELECT contact_id, %s FROM segments_segmentline WHERE segment_id = %s AND contact_id %% %s = 3",
            [now, segment.pk, rare],
        )
        cursor.execute(
            f"UPDATE crm_contact SET country_id = 'BE' WHERE {on_lines} AND id %% %s = 4", [segment.pk, often]
        )
        cursor.execute(
            f"UPDATE crm_contact SET country_id = 'NL' WHERE NOT ({on_lines}) AND country_id <> 'NL' AND id %% %s = 5",
            [segment.pk, often],
        )
    segment_ops.analyze()
    ctx.data["drift_segment"] = segment


REPLAY_SQL = (
    "SELECT c.id FROM crm_contact c WHERE c.country_id = 'NL' AND NOT c.exclude_from_segment AND NOT EXISTS"
    " (SELECT 1 FROM crm_contactmailinggroup g WHERE g.contact_id = c.id AND g.mailing_group_id = 'PRESSREL')"
)
# The replay and its two differences with the lines, once: a FULL JOIN on PostgreSQL, two
# EXCEPTs on SQLite (no hash join there), as ours.
DIFFERENCE_SQL = {
    "postgresql": (
        f"WITH w AS MATERIALIZED ({REPLAY_SQL}),"
        " d AS MATERIALIZED (SELECT l.contact_id AS gone, w.id AS new FROM ({lines}) l"
        " FULL JOIN w ON w.id = l.contact_id WHERE l.contact_id IS NULL OR w.id IS NULL)"
    ).replace("{lines}", LINE_CONTACTS),
    "sqlite": (
        f"WITH w AS MATERIALIZED ({REPLAY_SQL}),"
        " d AS MATERIALIZED (SELECT g.contact_id AS gone, NULL AS new FROM ({lines} EXCEPT SELECT id FROM w) g"
        " UNION ALL SELECT NULL, n.id FROM (SELECT id FROM w EXCEPT {lines}) n)"
    ).replace("{lines}", LINE_CONTACTS),
}
LINES = "FROM segments_segmentline l JOIN segments_criteriastep s ON s.id = l.step_id WHERE l.segment_id = %s"
WITHDRAWN_SQL = (
    "EXISTS (SELECT 1 FROM crm_contact c WHERE c.id = l.contact_id"
    " AND ((l.correspondence_type = 'email' AND c.email_consent = 'withdrawn')"
    " OR (l.correspondence_type = 'hard_copy' AND c.postal_consent = 'withdrawn')))"
)
EXCLUDED_SQL = "(NOT s.ignore_exclusion AND l.contact_id IN (SELECT id FROM crm_contact WHERE exclude_from_segment))"
ANONYMISED_SQL = (
    "EXISTS (SELECT 1 FROM interactions_contactanonymisation a"
    " WHERE a.contact_id = l.contact_id AND a.created_at > s.created_at)"
)


def _floor_kinds(channel: str) -> dict[str, tuple[str, str, str]]:
    """Per kind: its line no. and contact columns, its rows (FROM … WHERE, `%s` the segment's
    id; `channel` a new line's correspondence type over contact `c`) and their order."""
    line = ("l.line_no", "l.contact_id")
    return {
        WITHDRAWN: (
            *line,
            f"{LINES} AND l.contact_id IN (SELECT id FROM crm_contact"
            f" WHERE email_consent = 'withdrawn' OR postal_consent = 'withdrawn') AND {WITHDRAWN_SQL}",
            "l.line_no",
        ),
        "excluded": (*line, f"{LINES} AND {EXCLUDED_SQL}", "l.line_no"),
        "anonymised": (*line, f"{LINES} AND {ANONYMISED_SQL}", "l.line_no"),
        "unmatched": (
            *line,
            f"{LINES} AND l.contact_id IN (SELECT gone FROM d WHERE gone IS NOT NULL)"
            f" AND NOT {WITHDRAWN_SQL} AND NOT {EXCLUDED_SQL} AND NOT {ANONYMISED_SQL}",
            "l.line_no",
        ),
        NEW: (
            "CAST(NULL AS BIGINT)",
            "c.id",
            "FROM crm_contact c WHERE c.id IN (SELECT new FROM d WHERE new IS NOT NULL)"
            f" AND NOT (c.email_consent = 'withdrawn' AND {channel} = 'email')"
            f" AND NOT (c.postal_consent = 'withdrawn' AND {channel} = 'hard_copy')"
            " AND NOT EXISTS (SELECT 1 FROM interactions_contactanonymisation a WHERE a.contact_id = c.id)",
            "c.no",
        ),
    }


def drift_floor(ctx: Context) -> dict[str, int]:
    """The five kinds in plain SQL, one statement as ours: the replay and its differences once
    (DIFFERENCE_SQL), then per kind its count and first ten rows (window functions), with the
    contact's number and name for those; returns each kind's count (a test compares them)."""
    segment = ctx.data["drift_segment"]
    with page_queries(), connection.cursor() as cursor:
        channel, channel_params = segment_ops.correspondence_sql(segment_ops._header(cursor, segment.pk))
        difference = DIFFERENCE_SQL[connection.vendor]
        parts, params = [], [segment.pk] * difference.count("%s")
        for kind, (line_no, contact_id, rows, order) in _floor_kinds(channel).items():
            parts.append(
                f"SELECT '{kind}' AS kind, k.line_no, (SELECT no FROM crm_contact WHERE id = k.contact_id),"
                " (SELECT name FROM crm_contact WHERE id = k.contact_id), k.total FROM"
                f" (SELECT {line_no} AS line_no, {contact_id} AS contact_id, COUNT(*) OVER () AS total,"
                f" ROW_NUMBER() OVER (ORDER BY {order}) AS rn {rows}) k WHERE k.rn <= {DRIFT_EXAMPLES}"
            )
            params += [*channel_params, *channel_params] if kind == NEW else [segment.pk]
        cursor.execute(f"{difference} {' UNION ALL '.join(parts)}", params)
        rows = cursor.fetchall()
    return {kind: total for kind, _line, _no, _name, total in rows}


@operation("segment drift check (Log page panel; ~30% of N lines, 2 steps)", floor=drift_floor, prepare=prepare_drift)
def drift_check(ctx: Context) -> dict:
    drift = segment_drift(segment=ctx.data["drift_segment"])
    return {group.kind: group.count for group in drift.groups}
