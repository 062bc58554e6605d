"""A line's number reads the same everywhere: the worksheet's line 20000 is "Segment line 20000" on
its interaction log entry and "20000" in the logged segment's entries, never the line's row id."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from interactions.models import InteractionLogEntry
from segments.models import SegmentLine
from tests.interactions.test_log import build, log

pytestmark = pytest.mark.django_db


def test_entries_keep_the_line_number_the_worksheet_showed(viewer_client):
    segment, _contacts = build(n_persons=2)
    worksheet = viewer_client.get(segment.get_absolute_url()).content.decode()
    numbers = dict(SegmentLine.objects.filter(segment=segment).values_list("contact_id", "line_no"))
    assert sorted(numbers.values()) == [10_000, 20_000, 30_000]
    for line_no in numbers.values():
        assert f'id="line-{line_no}"' in worksheet

    logged = log(segment).logged_segment

    entries = InteractionLogEntry.objects.filter(logged_segment=logged)
    assert {entry.contact_id: entry.segment_line_no for entry in entries} == numbers
    entry = entries.get(contact_id=next(iter(numbers)))
    page = " ".join(viewer_client.get(entry.get_absolute_url()).content.decode().split())
    assert f"<dt>Segment line</dt><dd>{entry.segment_line_no}</dd>" in page
    detail = viewer_client.get(reverse("interactions:logged_segment_detail", args=[logged.pk])).content.decode()
    shown = re.findall(r'<td class="num">(\d+)</td>\s*<td class="contact-cell">', detail)
    assert shown == ["10000", "20000", "30000"]


def test_a_single_interaction_has_no_segment_line(viewer_client):
    segment, _contacts = build(n_persons=0)
    logged = log(segment).logged_segment
    entry = InteractionLogEntry.objects.get(logged_segment=logged)
    entry.segment_line_no = None
    entry.save(update_fields=["segment_line_no"])
    page = " ".join(viewer_client.get(entry.get_absolute_url()).content.decode().split())
    assert "<dt>Segment line</dt><dd>—</dd>" in page
