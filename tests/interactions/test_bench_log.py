"""The logging operations of the benchmark: the floor writes exactly what our log writes."""

from __future__ import annotations

import datetime

import pytest

import bench.operations  # noqa: F401 - registers the operations
from bench import log_operations as ops
from bench.harness import REGISTRY, Context
from crm.models import Contact, ContactAltAddress, CorrespondenceType
from interactions.models import CampaignEntry, InteractionLogEntry, LoggedSegment
from segments.demo import demo_seed
from segments.models import CriteriaStep, RemovedSegmentLine, Segment, SegmentLanguage, SegmentLine
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db

CONTACTS = 900
ENTRY_SKIPPED = {"id", "logged_segment", "campaign_entry", "time", "created_at"}


def segment_rows(segment_id: int) -> tuple:
    """Everything of the segment: header, steps, language rows, lines, removed lines."""
    return tuple(
        tuple(sorted(map(repr, model.objects.filter(**{key: segment_id}).values_list())))
        for model, key in (
            (Segment, "pk"),
            (CriteriaStep, "segment_id"),
            (SegmentLanguage, "segment_id"),
            (SegmentLine, "segment_id"),
            (RemovedSegmentLine, "segment_id"),
        )
    )


def logged_state(segment) -> dict:
    """What a log of `segment` wrote, without keys, times and timestamps of new rows."""
    logged = LoggedSegment.objects.get(source_uuid=segment.uuid)
    header = LoggedSegment.objects.filter(pk=logged.pk).values(
        "segment_no",
        "source_uuid",
        "description",
        "user_id",
        "canceled",
        "canceled_at",
        "no_of_interactions",
        "no_of_campaign_entries",
    )[0]
    campaign_entries = sorted(
        CampaignEntry.objects.filter(logged_segment=logged).values_list(
            "campaign_id", "description", "date", "user_id", "segment_no", "salesperson_id", "canceled"
        )
    )
    columns = [f.attname for f in InteractionLogEntry._meta.concrete_fields if f.name not in ENTRY_SKIPPED]
    entries = sorted(
        InteractionLogEntry.objects.filter(logged_segment=logged).values_list(
            *columns, "campaign_entry__campaign_id", "campaign_entry__logged_segment_id"
        )
    )
    assert all(row[-1] == logged.pk for row in entries if row[-2] is not None)  # its own campaign entry
    entries = [row[:-1] for row in entries]
    assert not InteractionLogEntry.objects.filter(logged_segment=logged, time__isnull=True).exists()
    return {"header": header, "campaign_entries": campaign_entries, "entries": entries}


def vary_the_lines(segment) -> None:
    """Lines that exercise R43 (e-mail without address, alternate address with e-mail), two
    campaigns with different first lines, and lines without campaign."""
    lines = SegmentLine.objects.filter(segment=segment)
    other = make_campaign(no="CPBENCH")
    lines.filter(line_no__in=[no for no in lines.values_list("line_no", flat=True) if no % 7 == 0]).update(
        campaign=other
    )
    lines.filter(line_no__in=[no for no in lines.values_list("line_no", flat=True) if no % 11 == 0]).update(
        campaign=None
    )
    emails = [no for no in lines.values_list("line_no", flat=True) if no % 3 == 0]
    lines.filter(line_no__in=emails).update(correspondence_type=CorrespondenceType.EMAIL)
    without = list(lines.filter(line_no__in=emails[::2]).values_list("contact_id", flat=True))
    Contact.objects.filter(pk__in=without).update(email="")
    # One of those gets an alternate address with an e-mail, one without.
    for line, email in zip(
        lines.filter(contact_id__in=without).order_by("line_no")[:2], ["alt@x.test", ""], strict=True
    ):
        address = ContactAltAddress.objects.create(contact_id=line.contact_id, code="BENCH", email=email)
        line.alt_address = address
        line.save(update_fields=["alt_address"])
    lines.filter(line_no=lines.order_by("line_no").values_list("line_no", flat=True)[1]).update(
        date=datetime.date(2020, 1, 1)
    )


def test_the_log_floor_writes_what_our_log_writes():
    demo_seed(contacts=CONTACTS)
    ctx = Context(contacts=CONTACTS)
    ops.prepare_log(ctx)
    segment = ctx.data["log_segment"]
    vary_the_lines(segment)
    ops.snapshot(ctx)
    before = segment_rows(segment.pk)
    assert len(before[3]) == ops.log_lines(CONTACTS)

    ops.segment_log(ctx)
    ours = logged_state(segment)
    assert segment_rows(segment.pk) == ((), (), (), (), ())
    ops.restore_log(ctx)
    assert segment_rows(segment.pk) == before
    assert not LoggedSegment.objects.filter(source_uuid=segment.uuid).exists()
    ops.log_floor(ctx)
    floor = logged_state(segment)
    assert segment_rows(segment.pk) == ((), (), (), (), ())

    assert ours["header"]["no_of_interactions"] == ops.log_lines(CONTACTS)
    assert ours["header"]["no_of_campaign_entries"] == 2
    assert len(ours["campaign_entries"]) == 2
    columns = [f.attname for f in InteractionLogEntry._meta.concrete_fields if f.name not in ENTRY_SKIPPED]
    names = [*columns, "campaign_entry__campaign_id"]
    differences = [
        {name: (a, b) for name, a, b in zip(names, row_floor, row_ours, strict=True) if a != b}
        for row_floor, row_ours in zip(floor["entries"], ours["entries"], strict=True)
        if row_floor != row_ours
    ]
    assert differences[:3] == []
    assert floor == ours
    # The variations reached the entries: R43 blanks the type of an e-mail line without an address.
    types = InteractionLogEntry.objects.filter(logged_segment__source_uuid=segment.uuid)
    assert types.filter(correspondence_type="", segment_line_id__isnull=False).exists()
    assert types.filter(contact_via="alt@x.test").exists()
    assert types.filter(campaign__isnull=True).exists()

    ops.restore_log(ctx)
    assert segment_rows(segment.pk) == before


def test_the_list_page_operations_are_registered_when_their_urls_exist():
    names = [op.name for op in REGISTRY]
    assert "segment log (N/10 lines)" in names
    assert names.index("segment log (N/10 lines)") > names.index("segment add (country=NL, ~30% of N)")
    if ops.LOGGED_LIST_URL:
        assert "logged segments list, first screen (full request)" in names
    if ops.ENTRY_LIST_URL:
        assert "interaction log list, first screen (full request, N/10 entries)" in names
