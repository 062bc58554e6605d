"""Two users changing one segment at once: no lost update (STYLE 5, RELIABILITY (a)).

Every segment write starts by claiming the segment row (`select_for_update` on PostgreSQL; an
IMMEDIATE transaction on SQLite), so concurrent steps queue. These tests use real commits and
threads that start together at a barrier; each thread closes its own connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from crm.models import Contact, ContactType
from crm.permissions import COMMAND_LINE
from segments import services
from segments.models import CriteriaStep, SegmentLine

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 3


def run_together(*jobs: Callable[[], object]) -> list[BaseException]:
    """Run `jobs` in threads released at once; return the errors they raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def work(job):
        try:
            barrier.wait(timeout=30)
            job()
        except BaseException as error:  # reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return errors


def contacts(city: str, count: int) -> None:
    Contact.objects.bulk_create(
        Contact(no=f"{city}{i:03d}", name=f"{city} {i}", type=ContactType.COMPANY, city=city) for i in range(count)
    )


def line_numbers(segment) -> list[int]:
    return list(SegmentLine.objects.filter(segment=segment).values_list("line_no", flat=True))


def test_two_adds_at_once_are_both_recorded_and_no_line_is_lost():
    contacts("A", 30)
    contacts("B", 30)
    segment = services.segment_create(user=COMMAND_LINE, values={"description": "Race"})

    for round_ in range(ROUNDS):
        errors = run_together(
            lambda: services.segment_add_contacts(
                user=COMMAND_LINE, segment=segment.no, query="city=A", allow_existing=True
            ),
            lambda: services.segment_add_contacts(
                user=COMMAND_LINE, segment=segment.no, query="city=B", allow_existing=True
            ),
        )
        assert errors == []
        steps = CriteriaStep.objects.filter(segment=segment)
        assert sorted(steps.values_list("position", flat=True)) == list(range(1, 2 * (round_ + 1) + 1))
        numbers = line_numbers(segment)
        assert len(numbers) == len(set(numbers)) == 60 * (round_ + 1)
        for step in steps:
            assert step.lines_added == 30
            assert SegmentLine.objects.filter(step=step).count() == 30


def test_the_same_add_twice_at_once_adds_each_contact_once():
    contacts("A", 40)
    segment = services.segment_create(user=COMMAND_LINE, values={"description": "Race"})

    errors = run_together(
        lambda: services.segment_add_contacts(user=COMMAND_LINE, segment=segment.no, query="city=A"),
        lambda: services.segment_add_contacts(user=COMMAND_LINE, segment=segment.no, query="city=A"),
    )

    assert errors == []
    assert sorted(CriteriaStep.objects.filter(segment=segment).values_list("lines_added", flat=True)) == [0, 40]
    ids = list(SegmentLine.objects.filter(segment=segment).values_list("contact_id", flat=True))
    assert len(ids) == len(set(ids)) == 40


def test_a_line_edit_a_header_change_and_steps_at_once_all_survive():
    contacts("A", 20)
    contacts("B", 20)
    segment = services.segment_create(user=COMMAND_LINE, values={"description": "Before"})
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment.no, query="city=A")
    edited = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()

    errors = run_together(
        lambda: services.segment_set_line(
            user=COMMAND_LINE, segment=segment.no, line_no=edited.line_no, values={"description": "Mine"}
        ),
        lambda: services.segment_update(user=COMMAND_LINE, segment=segment.no, values={"description": "After"}),
        lambda: services.segment_add_contacts(user=COMMAND_LINE, segment=segment.no, query="city=B"),
        lambda: services.segment_remove_contacts(
            user=COMMAND_LINE, segment=segment.no, action="reduce", query="no=A019"
        ),
    )

    assert errors == []
    descriptions = dict(SegmentLine.objects.filter(segment=segment).values_list("line_no", "description"))
    assert descriptions.pop(edited.line_no) == "Mine"
    assert len(descriptions) == 19 + 20 - 1
    # the B lines were written either before the header change (and followed it) or after it
    assert set(descriptions.values()) == {"After"}
    assert sorted(CriteriaStep.objects.filter(segment=segment).values_list("position", flat=True)) == [1, 2, 3]


def test_undo_and_a_step_at_once_leave_a_consistent_segment():
    contacts("A", 20)
    contacts("B", 20)
    segment = services.segment_create(user=COMMAND_LINE, values={"description": "Race"})
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment.no, query="city=A")

    errors = run_together(
        lambda: services.segment_undo(user=COMMAND_LINE, segment=segment.no),
        lambda: services.segment_add_contacts(user=COMMAND_LINE, segment=segment.no, query="city=B"),
    )

    assert errors == []
    steps = list(CriteriaStep.objects.filter(segment=segment).order_by("position"))
    lines = SegmentLine.objects.filter(segment=segment)
    # either the undo ran first (only the B step is left) or last (it undid the B step)
    if [step.filter for step in steps] == ["city=B"]:
        assert sorted(lines.values_list("contact__city", flat=True)) == ["B"] * 20
    else:
        assert [step.filter for step in steps] == ["city=A"]
        assert sorted(lines.values_list("contact__city", flat=True)) == ["A"] * 20
    assert all(line.step_id in {step.pk for step in steps} for line in lines)
