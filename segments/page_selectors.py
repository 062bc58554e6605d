"""Reads for the start page and the delete confirmation of a segment.

The start page: what the user is working on, each part only with its permission.
A constant number of queries whatever the data: one per section shown (open segments with
their line counts, deliveries in progress, merge and Log jobs in progress, recent logged
segments), each limited to a few rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interactions.models import Delivery, DeliveryState, LoggedSegment

from .models import LOG_JOB_UNFINISHED, CriteriaStep, LogJob, MergeJob, Segment, SegmentLine
from .selectors import _count_of

SHOWN = 8


@dataclass
class StartPage:
    """The sections of the start page; None where the user may not see that section."""

    segments: list[Segment] | None = None
    more_segments: bool = False
    deliveries: list[Delivery] | None = None
    jobs: list[MergeJob | LogJob] | None = None
    logged: list[LoggedSegment] | None = None
    sections: list[str] = field(default_factory=list)


def _first(rows, limit: int = SHOWN) -> tuple[list, bool]:
    rows = list(rows[: limit + 1])
    return rows[:limit], len(rows) > limit


def start_page(*, user) -> StartPage:
    page = StartPage()
    if user.has_perm("segments.view_segment"):
        segments = (
            Segment.objects.filter(owner=user)
            .select_related("campaign")
            .annotate(no_of_lines=_count_of(SegmentLine))
            .order_by("-updated_at", "-pk")
        )
        page.segments, page.more_segments = _first(segments)
        # Merge jobs and Log jobs that are queued or running, started by the user.
        merges = MergeJob.objects.filter(created_by=user, state__in=LOG_JOB_UNFINISHED).order_by("-pk")[:SHOWN]
        logs = LogJob.objects.filter(created_by=user, state__in=LOG_JOB_UNFINISHED).order_by("-pk")[:SHOWN]
        page.jobs = sorted([*merges, *logs], key=lambda job: job.created_at, reverse=True)
    if user.has_perm("interactions.view_loggedsegment"):
        page.deliveries = list(
            Delivery.objects.filter(created_by=user, state__in=[DeliveryState.QUEUED, DeliveryState.RUNNING])
            .select_related("logged_segment")
            .order_by("-pk")[:SHOWN]
        )
        page.logged = list(LoggedSegment.objects.filter(user=user).order_by("-created_at", "-pk")[:SHOWN])
    return page


@dataclass(frozen=True)
class DeleteCounts:
    """What deleting a segment removes, for its confirmation page."""

    lines: int
    steps: int
    own_documents: int


def segment_delete_counts(*, segment: Segment) -> DeleteCounts:
    """The segment's lines, its steps (as the worksheet numbers them) and its lines with their own
    Word document: one query of three counts."""
    row = (
        Segment.objects.filter(pk=segment.pk)
        .annotate(
            n_lines=_count_of(SegmentLine),
            n_steps=_count_of(CriteriaStep, parent__isnull=True),
            n_documents=_count_of(SegmentLine, document__isnull=False),
        )
        .values("n_lines", "n_steps", "n_documents")
        .first()
    ) or {"n_lines": 0, "n_steps": 0, "n_documents": 0}
    return DeleteCounts(lines=row["n_lines"], steps=row["n_steps"], own_documents=row["n_documents"])
