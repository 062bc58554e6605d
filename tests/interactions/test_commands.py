"""`manage.py segment log / reuse-logged`, `logged_segment …` and `interactions …` (CONTRACT.md,
"Logged segments and interactions"): outputs, JSON shapes, exit codes, nothing written on errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from crm.models import NumberSeries
from crm.permissions import COMMAND_LINE
from interactions import services
from interactions.models import CampaignEntry, InteractionComment, InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import CriteriaStep, Segment, SegmentLine
from tests.factories import (
    bulk_contacts,
    make_campaign,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_template,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = (LoggedSegment, CampaignEntry, InteractionLogEntry, InteractionComment, Segment, SegmentLine, CriteriaStep)
EXPORT_KEYS = [
    "entry_no",
    "contact_no",
    "contact_company_no",
    "date",
    "description",
    "interaction_template",
    "interaction_group",
    "information_flow",
    "initiated_by",
    "cost",
    "duration",
    "correspondence_type",
    "subject",
    "language",
    "salesperson",
    "campaign",
    "campaign_target",
    "campaign_response",
    "segment_no",
    "logged_segment",
    "evaluation",
    "canceled",
    "attempt_failed",
    "delivery_status",
    "has_attachment",
]
LIST_KEYS = [
    "id",
    "segment_no",
    "description",
    "no_of_interactions",
    "no_of_campaign_entries",
    "created",
    "user",
    "canceled",
]


def run(command: str, *args: str) -> str:
    """stdout of a successful call."""
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue()


def fail(command: str, *args: str) -> list[str]:
    """stderr lines of a failing call; checks exit status 1 and an empty stdout."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(command, *args, stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    return err.getvalue().splitlines()


def rejected(command: str, *args: str) -> str:
    """argparse's rejection (exit status 2 from a shell; a CommandError through call_command)."""
    with pytest.raises(CommandError) as excinfo:
        call_command(command, *args, stdout=StringIO(), stderr=StringIO())
    assert excinfo.value.returncode == 1  # call_command's; test_exit_statuses_from_the_shell checks the 2
    return str(excinfo.value)


def snapshot() -> dict:
    """Every row of every table these commands write, and the segment number series."""
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in WRITTEN}
    state["series"] = NumberSeries.objects.get(code="SEGMENT").last_no
    return state


def export(*args: str) -> list[dict]:
    return json.loads(run("interactions", "export", "--json", *args))


@pytest.fixture
def world(db):
    """Reference data; a company with a person, a private person without a salesperson."""
    data = {
        "sp1": make_salesperson("SP1"),
        "sp2": make_salesperson("SP2"),
        "en": make_language("EN"),
        "campaign": make_campaign(no="CP0001"),
    }
    data["letter"] = make_template(
        "LETTER",
        description="Spring letter",
        unit_cost=Decimal("1.50"),
        unit_duration=Decimal("5"),
        correspondence_type="hard_copy",
        information_flow="outbound",
        initiated_by="us",
    )
    data["call"] = make_template(
        "CALL",
        description="Phone call",
        unit_cost=Decimal("3"),
        unit_duration=Decimal("10"),
        correspondence_type="",
        campaign=data["campaign"],
        campaign_target=True,
    )
    data["acme"] = make_company(no="CO1", name="Acme", salesperson=data["sp1"])
    data["ann"] = make_person(data["acme"], no="PE1", name="Ann Smith", salesperson=data["sp1"])
    data["bob"] = make_person(None, no="PE2", name="Bob Jones", correspondence_type="email")
    return data


def new_segment(*options: str, contacts: str = "no=CO1&no=PE1") -> str:
    """A segment of LETTER lines for SP1, with the contacts matching `contacts`."""
    no = run(
        "segment", "create", "--description", "Spring mailing", "--interaction-template", "LETTER", *options
    ).strip()
    run("segment", "add", no, "--filter", contacts)
    return no


@pytest.fixture
def logged(world) -> int:
    """A logged segment of two entries (CO1, PE1) in campaign CP0001; returns its id."""
    no = new_segment("--salesperson", "SP1", "--campaign", "CP0001")
    return int(run("segment", "log", no))


def entry_nos(logged_id: int) -> list[int]:
    return list(
        InteractionLogEntry.objects.filter(logged_segment_id=logged_id).order_by("pk").values_list("pk", flat=True)
    )


# --- segment log -------------------------------------------------------------------------------


def test_log_prints_the_logged_segment_id_alone(world):
    no = new_segment("--salesperson", "SP1")

    out = run("segment", "log", no)

    logged = LoggedSegment.objects.get()
    assert out == f"{logged.pk}\n"
    assert logged.segment_no == no and logged.no_of_interactions == 2
    assert not Segment.objects.filter(no=no).exists()
    assert sorted(InteractionLogEntry.objects.values_list("contact__no", flat=True)) == ["CO1", "PE1"]


def test_log_with_follow_up_prints_the_new_segment_number_on_the_next_line(world):
    no = new_segment("--salesperson", "SP1", "--campaign", "CP0001")

    out = run("segment", "log", no, "--follow-up")

    logged = LoggedSegment.objects.get()
    follow_up = Segment.objects.get()
    assert out == f"{logged.pk}\n{follow_up.no}\n"
    assert follow_up.no != no
    assert follow_up.description == f"Follow-up on segment {no}"
    assert follow_up.campaign == world["campaign"]
    assert sorted(SegmentLine.objects.filter(segment=follow_up).values_list("contact__no", flat=True)) == [
        "CO1",
        "PE1",
    ]


def test_log_reports_every_preflight_problem_and_writes_nothing(world):
    # no salesperson on the header, and PE2 has none of its own
    no = new_segment(contacts="no=PE2")
    line_no = SegmentLine.objects.get(segment__no=no).line_no
    before = snapshot()

    assert fail("segment", "log", no, "--follow-up") == [f"Line {line_no} has no salesperson."]
    assert snapshot() == before


def test_log_of_an_empty_segment(world):
    no = run("segment", "create", "--description", "Empty").strip()
    before = snapshot()
    assert fail("segment", "log", no) == ["The segment has no lines: add contacts before logging."]
    assert snapshot() == before


def test_log_of_a_segment_without_template_lists_each_problem_on_its_own_line(world):
    no = run("segment", "create", "--description", "Bare").strip()
    run("segment", "add", no, "--filter", "no=PE2")
    line_no = SegmentLine.objects.get(segment__no=no).line_no
    before = snapshot()
    assert fail("segment", "log", no) == [
        f"Line {line_no} has no interaction template.",
        f"Line {line_no} has no salesperson.",
    ]
    assert snapshot() == before


def test_log_twice_says_who_logged_it_and_when(world):
    no = new_segment("--salesperson", "SP1")
    run("segment", "log", no)
    logged = LoggedSegment.objects.get()
    when = timezone.localtime(logged.created_at).strftime("%Y-%m-%d %H:%M:%S")
    before = snapshot()

    assert fail("segment", "log", no) == [f"Segment {no} was already logged by another user at {when}."]
    assert snapshot() == before


def test_log_twice_names_the_user_who_logged_it(world, marketing):
    no = new_segment("--salesperson", "SP1")
    segment_services.segment_log(user=marketing, segment=Segment.objects.get(no=no))
    when = timezone.localtime(LoggedSegment.objects.get().created_at).strftime("%Y-%m-%d %H:%M:%S")

    assert fail("segment", "log", no) == [f"Segment {no} was already logged by marketing-user at {when}."]


def test_other_segment_commands_on_a_logged_segment_say_it_was_logged(world):
    no = new_segment("--salesperson", "SP1")
    run("segment", "log", no)
    when = timezone.localtime(LoggedSegment.objects.get().created_at).strftime("%Y-%m-%d %H:%M:%S")
    before = snapshot()
    message = [f"Segment {no} was already logged by another user at {when}."]
    assert fail("segment", "add", no) == message
    assert fail("segment", "update", no, "--description", "x") == message
    assert snapshot() == before


def test_log_of_an_unknown_segment(world):
    before = snapshot()
    assert fail("segment", "log", "SEG99999") == ['segment "SEG99999" does not exist']
    assert snapshot() == before


# --- segment reuse-logged ------------------------------------------------------------------------


def test_reuse_logged_prints_the_line_count_afterwards(logged):
    no = run("segment", "create", "--description", "Again").strip()
    run("segment", "add", no, "--filter", "no=PE2")

    assert run("segment", "reuse-logged", no, str(logged)) == "3\n"

    assert sorted(SegmentLine.objects.filter(segment__no=no).values_list("contact__no", flat=True)) == [
        "CO1",
        "PE1",
        "PE2",
    ]
    step = CriteriaStep.objects.filter(segment__no=no).order_by("position").last()
    assert step.action == "reuse_logged"
    assert run("segment", "undo", no) == "1\n"


def test_reuse_of_an_unknown_logged_segment_writes_nothing(logged):
    no = run("segment", "create", "--description", "Again").strip()
    before = snapshot()
    assert fail("segment", "reuse-logged", no, "999") == ['unknown logged segment "999"']
    assert fail("segment", "reuse-logged", "SEG99999", str(logged)) == ['segment "SEG99999" does not exist']
    assert snapshot() == before
    assert "invalid int value: 'abc'" in rejected("segment", "reuse-logged", no, "abc")


# --- logged_segment list -------------------------------------------------------------------------


def test_list_json_is_empty_without_logged_segments(db):
    assert run("logged_segment", "list", "--json") == "[]\n"


def test_list_json_shape_and_order(world, marketing):
    first = int(run("segment", "log", new_segment("--salesperson", "SP1", "--campaign", "CP0001")))
    second_no = new_segment("--salesperson", "SP1", contacts="no=PE1")
    second = segment_services.segment_log(user=marketing, segment=Segment.objects.get(no=second_no)).logged_segment.pk
    today = timezone.localdate().isoformat()

    rows = json.loads(run("logged_segment", "list", "--json"))

    assert [list(row) for row in rows] == [LIST_KEYS, LIST_KEYS]
    assert rows == [
        {
            "id": first,
            "segment_no": "SEG00001",
            "description": "Spring mailing",
            "no_of_interactions": 2,
            "no_of_campaign_entries": 1,
            "created": today,
            "user": None,
            "canceled": False,
        },
        {
            "id": second,
            "segment_no": second_no,
            "description": "Spring mailing",
            "no_of_interactions": 1,
            "no_of_campaign_entries": 0,
            "created": today,
            "user": "marketing-user",
            "canceled": False,
        },
    ]


def test_list_json_takes_one_query(logged, django_assert_num_queries):
    with django_assert_num_queries(1):
        run("logged_segment", "list", "--json")


def test_list_without_json_prints_one_line_per_logged_segment(logged):
    run("logged_segment", "cancel", str(logged))
    today = timezone.localdate().isoformat()
    assert run("logged_segment", "list") == (
        f"{logged}\tSEG00001\tSpring mailing\t2 interactions\t1 campaign entries\t{today}\tcanceled\n"
    )


# --- logged_segment cancel / uncancel ------------------------------------------------------------


def listed(logged_id: int) -> dict:
    (row,) = [row for row in json.loads(run("logged_segment", "list", "--json")) if row["id"] == logged_id]
    return row


def test_cancel_and_uncancel_switch_every_entry_and_keep_the_counts(logged):
    first, _second = entry_nos(logged)
    run("interactions", "cancel", str(first))
    row = listed(logged)
    assert (row["canceled"], row["no_of_interactions"], row["no_of_campaign_entries"]) == (False, 1, 1)

    assert run("logged_segment", "cancel", str(logged)) == ""

    row = listed(logged)
    assert (row["canceled"], row["no_of_interactions"], row["no_of_campaign_entries"]) == (True, 2, 1)
    assert set(InteractionLogEntry.objects.values_list("canceled", flat=True)) == {True}
    assert set(CampaignEntry.objects.values_list("canceled", flat=True)) == {True}

    assert run("logged_segment", "uncancel", str(logged)) == ""

    row = listed(logged)
    assert (row["canceled"], row["no_of_interactions"], row["no_of_campaign_entries"]) == (False, 2, 1)
    assert set(InteractionLogEntry.objects.values_list("canceled", flat=True)) == {False}
    assert set(CampaignEntry.objects.values_list("canceled", flat=True)) == {False}


@pytest.mark.parametrize("action", ["cancel", "uncancel", "follow-up", "delete"])
def test_an_unknown_logged_segment_is_an_error(logged, action):
    before = snapshot()
    assert fail("logged_segment", action, "999") == ['unknown logged segment "999"']
    assert snapshot() == before
    assert "invalid int value: 'x'" in rejected("logged_segment", action, "x")


# --- logged_segment follow-up / delete -------------------------------------------------------------


def test_follow_up_prints_the_new_segment_number_alone(logged):
    assert run("logged_segment", "follow-up", str(logged)) == "SEG00002\n"
    segment = Segment.objects.get(no="SEG00002")
    assert segment.description == "Follow-up on segment SEG00001"
    assert segment.campaign.no == "CP0001"
    assert sorted(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True)) == ["CO1", "PE1"]


def test_delete_of_an_uncanceled_logged_segment_is_refused(logged):
    before = snapshot()
    assert fail("logged_segment", "delete", str(logged)) == [
        f"logged segment {logged} is not canceled: cancel it first, then delete it."
    ]
    assert snapshot() == before


def test_delete_of_a_canceled_logged_segment_removes_it_with_its_entries(logged, world):
    other = int(run("segment", "log", new_segment("--salesperson", "SP1", contacts="no=PE1")))
    services.interaction_comment_add(
        user=COMMAND_LINE, entry=InteractionLogEntry.objects.get(pk=entry_nos(logged)[0]), comment="Called back"
    )
    run("logged_segment", "cancel", str(logged))

    assert run("logged_segment", "delete", str(logged)) == ""

    assert list(LoggedSegment.objects.values_list("pk", flat=True)) == [other]
    assert set(InteractionLogEntry.objects.values_list("logged_segment_id", flat=True)) == {other}
    assert not CampaignEntry.objects.exists()
    assert not InteractionComment.objects.exists()


# --- interactions cancel / uncancel / evaluate -----------------------------------------------------


def test_cancel_and_uncancel_entries(logged):
    first, second = entry_nos(logged)

    assert run("interactions", "cancel", str(first), str(second)) == ""
    assert set(InteractionLogEntry.objects.values_list("canceled", flat=True)) == {True}
    assert listed(logged)["no_of_interactions"] == 0

    assert run("interactions", "uncancel", str(second)) == ""
    assert dict(InteractionLogEntry.objects.values_list("pk", "canceled")) == {first: True, second: False}
    assert listed(logged)["no_of_interactions"] == 1


def test_uncancel_is_refused_while_the_logged_segment_is_canceled(logged):
    first, second = entry_nos(logged)
    run("logged_segment", "cancel", str(logged))
    before = snapshot()

    # one line per entry and reason: its campaign entry was canceled with the logged segment
    assert fail("interactions", "uncancel", str(first), str(second)) == [
        f"entry {first}: its campaign entry (campaign CP0001) is canceled.",
        f"entry {first}: its logged segment {logged} is canceled; restore the logged segment instead.",
        f"entry {second}: its campaign entry (campaign CP0001) is canceled.",
        f"entry {second}: its logged segment {logged} is canceled; restore the logged segment instead.",
    ]
    assert snapshot() == before


def test_uncancel_is_refused_while_the_campaign_entry_is_canceled(logged):
    first, _second = entry_nos(logged)
    run("interactions", "cancel", str(first))
    CampaignEntry.objects.update(canceled=True)
    before = snapshot()

    assert fail("interactions", "uncancel", str(first)) == [
        f"entry {first}: its campaign entry (campaign CP0001) is canceled."
    ]
    assert snapshot() == before


@pytest.mark.parametrize("action", [["cancel"], ["uncancel"], ["evaluate", "--evaluation", "positive"]])
def test_an_unknown_entry_is_an_error_and_nothing_changes(logged, action):
    first, _second = entry_nos(logged)
    before = snapshot()
    assert fail("interactions", action[0], str(first), "999", "998", *action[1:]) == [
        'unknown interaction log entry "999"',
        'unknown interaction log entry "998"',
    ]
    assert snapshot() == before
    assert "invalid int value: 'x'" in rejected("interactions", action[0], "x", *action[1:])
    assert "ENTRY_NO" in rejected("interactions", action[0], *action[1:])


def test_evaluate_sets_the_evaluation_of_the_entries(logged):
    first, second = entry_nos(logged)
    assert run("interactions", "evaluate", str(first), "--evaluation", "very_positive") == ""
    assert dict(InteractionLogEntry.objects.values_list("pk", "evaluation")) == {first: "very_positive", second: ""}
    run("interactions", "evaluate", str(first), str(second), "--evaluation", "negative")
    assert set(InteractionLogEntry.objects.values_list("evaluation", flat=True)) == {"negative"}


def test_evaluate_needs_one_of_the_five_values(logged):
    first, _second = entry_nos(logged)
    assert "invalid choice: 'great'" in rejected("interactions", "evaluate", str(first), "--evaluation", "great")
    assert "--evaluation" in rejected("interactions", "evaluate", str(first))
    assert "invalid choice: ''" in rejected("interactions", "evaluate", str(first), "--evaluation", "")
    assert set(InteractionLogEntry.objects.values_list("evaluation", flat=True)) == {""}


# --- interactions export ---------------------------------------------------------------------------


def test_export_json_is_empty_without_entries(db):
    assert run("interactions", "export", "--json") == "[]\n"


def test_export_json_shape_values_and_nulls(logged, world):
    run("interactions", "evaluate", str(entry_nos(logged)[1]), "--evaluation", "positive")
    single = int(run("interactions", "create", "PE2", "--interaction-template", "LETTER", "--salesperson", "SP2"))
    company_entry, person_entry = entry_nos(logged)
    date = timezone.localdate().isoformat()
    group = world["letter"].group_id
    segment_entry = {
        "entry_no": company_entry,
        "contact_no": "CO1",
        "contact_company_no": "CO1",
        "date": date,
        "description": "Spring mailing",
        "interaction_template": "LETTER",
        "interaction_group": group,
        "information_flow": "outbound",
        "initiated_by": "us",
        "cost": "1.50",
        "duration": "5.00",
        "correspondence_type": "hard_copy",
        "subject": "",
        "language": None,
        "salesperson": "SP1",
        "campaign": "CP0001",
        "campaign_target": False,
        "campaign_response": False,
        "segment_no": "SEG00001",
        "logged_segment": logged,
        "evaluation": None,
        "canceled": False,
        "attempt_failed": False,
        "delivery_status": None,
        "has_attachment": False,
    }

    rows = export()

    assert [list(row) for row in rows] == [EXPORT_KEYS] * 3
    assert [row["entry_no"] for row in rows] == [company_entry, person_entry, single]
    assert rows[0] == segment_entry
    assert rows[1] == {
        **segment_entry,
        "entry_no": person_entry,
        "contact_no": "PE1",
        "evaluation": "positive",
    }
    # a single interaction of a private person: no company, segment, logged segment or campaign
    assert rows[2] == {
        **segment_entry,
        "entry_no": single,
        "contact_no": "PE2",
        "contact_company_no": None,
        "description": "Spring letter",
        "salesperson": "SP2",
        "campaign": None,
        "segment_no": None,
        "logged_segment": None,
        "correspondence_type": "email",  # R13: the contact's type (the template does not ignore it)
    }


def test_export_says_which_entries_have_their_letter_stored(logged, world):
    from interactions.documents import document_create

    entry = InteractionLogEntry.objects.filter(logged_segment_id=logged).order_by("pk").first()
    entry.document = document_create(data=b"PK letter", file_name="letter.docx")
    entry.save(update_fields=["document"])

    rows = export()

    assert [row["has_attachment"] for row in rows] == [row["entry_no"] == entry.pk for row in rows]


def test_export_shows_canceled_entries_and_blank_correspondence_type_as_null(logged, world):
    first, _second = entry_nos(logged)
    run("interactions", "cancel", str(first))
    InteractionLogEntry.objects.filter(pk=first).update(correspondence_type="", information_flow="", initiated_by="")
    row = export()[0]
    assert (row["canceled"], row["correspondence_type"], row["information_flow"], row["initiated_by"]) == (
        True,
        None,
        None,
        None,
    )


def test_export_filters_by_contact_and_logged_segment(logged, world):
    other = int(run("segment", "log", new_segment("--salesperson", "SP1", contacts="no=PE1")))
    single = int(run("interactions", "create", "PE1", "--interaction-template", "LETTER"))
    first, second = entry_nos(logged)
    (other_entry,) = entry_nos(other)

    assert [row["entry_no"] for row in export("--contact", "PE1")] == [second, other_entry, single]
    assert [row["entry_no"] for row in export("--logged-segment", str(logged))] == [first, second]
    assert [row["entry_no"] for row in export("--logged-segment", str(other))] == [other_entry]
    assert [row["entry_no"] for row in export("--contact", "PE1", "--logged-segment", str(logged))] == [second]
    assert export("--contact", "PE2") == []


def test_export_with_unknown_contact_or_logged_segment_is_an_error(logged):
    assert fail("interactions", "export", "--json", "--contact", "NOPE", "--logged-segment", "999") == [
        'contact: unknown contact "NOPE"',
        'logged_segment: unknown logged segment "999"',
    ]
    assert "invalid int value: 'x'" in rejected("interactions", "export", "--json", "--logged-segment", "x")


def test_export_without_json_prints_one_line_per_entry(logged):
    first, second = entry_nos(logged)
    run("interactions", "cancel", str(second))
    today = timezone.localdate().isoformat()
    assert run("interactions", "export") == (
        f"{first}\t{today}\tCO1\tSpring mailing\n{second}\t{today}\tPE1\tSpring mailing\tcanceled\n"
    )


def test_export_takes_the_same_number_of_queries_for_few_and_many_entries(world, django_assert_max_num_queries):
    campaign = "CP0001"
    few = int(run("segment", "log", new_segment("--salesperson", "SP1", "--campaign", campaign)))
    with django_assert_max_num_queries(1):
        assert len(export()) == 2
    with django_assert_max_num_queries(3):  # + the contact and the logged segment looked up
        assert len(export("--contact", "PE1", "--logged-segment", str(few))) == 1

    bulk_contacts(2500, prefix="MANY", salesperson=world["sp1"])
    many = int(run("segment", "log", new_segment("--salesperson", "SP1", "--campaign", campaign, contacts="")))
    total = InteractionLogEntry.objects.count()
    assert total > 2500

    with django_assert_max_num_queries(1):
        rows = export()
    assert len(rows) == total
    assert [row["entry_no"] for row in rows] == sorted(row["entry_no"] for row in rows)
    with django_assert_max_num_queries(3):
        assert len(export("--logged-segment", str(many))) == total - 2


# --- interactions create ---------------------------------------------------------------------------


def test_create_takes_its_defaults_from_the_template_and_the_contact(world):
    out = run("interactions", "create", "PE1", "--interaction-template", "LETTER")

    entry = InteractionLogEntry.objects.get()
    assert out == f"{entry.pk}\n"
    assert entry.contact == world["ann"] and entry.contact_company == world["acme"]
    assert entry.description == "Spring letter"  # the template's
    assert entry.date == timezone.localdate()
    assert entry.salesperson_id == "SP1"  # the contact's
    assert entry.correspondence_type == "hard_copy"  # R13: the contact has none, so the template's
    assert (entry.cost, entry.duration) == (Decimal("1.50"), Decimal("5.00"))
    assert (entry.information_flow, entry.initiated_by) == ("outbound", "us")
    assert entry.interaction_group_id == world["letter"].group_id
    assert entry.evaluation == "" and entry.delivery_status == ""
    assert entry.logged_segment_id is None and entry.segment_no == ""


@pytest.mark.parametrize(
    ("template", "contact_type", "ignore", "expected"),
    [
        ("hard_copy", "email", False, "email"),  # the contact's type
        ("hard_copy", "email", True, "hard_copy"),  # the template ignores the contact's
        ("email", "", False, "email"),  # the contact has none
        ("", "", False, ""),  # neither has one
    ],
)
def test_create_correspondence_type_follows_r13(world, template, contact_type, ignore, expected):
    make_template(
        "R13", correspondence_type=template, ignore_contact_correspondence_type=ignore, description="R13 test"
    )
    make_person(None, no="PE9", salesperson=world["sp1"], correspondence_type=contact_type)
    run("interactions", "create", "PE9", "--interaction-template", "R13")
    assert InteractionLogEntry.objects.get().correspondence_type == expected


def test_create_with_every_option(world):
    entry_no = run(
        "interactions",
        "create",
        "PE2",
        "--interaction-template",
        "LETTER",
        "--description",
        "Met at the fair",
        "--date",
        "2025-03-01",
        "--salesperson",
        "SP2",
        "--cost",
        "12.5",
        "--duration",
        "30",
        "--correspondence-type",
        "hard_copy",
        "--evaluation",
        "very_positive",
    ).strip()

    (row,) = export("--contact", "PE2")
    assert row["entry_no"] == int(entry_no)
    assert {key: row[key] for key in ("description", "date", "salesperson", "cost", "duration")} == {
        "description": "Met at the fair",
        "date": "2025-03-01",
        "salesperson": "SP2",
        "cost": "12.50",
        "duration": "30.00",
    }
    assert (row["correspondence_type"], row["evaluation"]) == ("hard_copy", "very_positive")


def test_create_with_a_campaign_template_joins_the_shared_campaign_entry(world):
    first = int(run("interactions", "create", "PE1", "--interaction-template", "CALL"))
    second = int(run("interactions", "create", "CO1", "--interaction-template", "CALL"))
    campaign_entry = CampaignEntry.objects.get()
    assert campaign_entry.campaign == world["campaign"] and campaign_entry.logged_segment is None
    assert set(InteractionLogEntry.objects.values_list("pk", "campaign_entry_id")) == {
        (first, campaign_entry.pk),
        (second, campaign_entry.pk),
    }
    assert [row["campaign"] for row in export()] == ["CP0001", "CP0001"]


@pytest.mark.parametrize(
    ("args", "problems"),
    [
        (
            ["NOPE", "--interaction-template", "NOSUCH", "--salesperson", "NOBODY"],
            [
                'contact_no: unknown contact "NOPE"',
                'interaction_template: unknown code "NOSUCH"',
                'salesperson: unknown code "NOBODY"',
            ],
        ),
        (["PE1", "--interaction-template", "LETTER", "--salesperson", ""], ['salesperson: unknown code ""']),
        (
            ["PE1", "--interaction-template", "LETTER", "--date", "2025-02-30", "--cost", "abc", "--duration", "-1"],
            [
                'date: invalid date "2025-02-30" (use YYYY-MM-DD)',
                'cost: invalid number "abc"',
                'duration: must be 0 or more, not "-1"',
            ],
        ),
        (
            ["PE2", "--interaction-template", "LETTER"],
            ["salesperson: required (the contact PE2 has none; give one)."],
        ),
        (["PE1", "--interaction-template", "LETTER", "--description", ""], ["description: required."]),
        (
            ["PE1", "--interaction-template", "LETTER", "--description", "x" * 101],
            ["description: Ensure this value has at most 100 characters (it has 101)."],
        ),
        (
            ["PE1", "--interaction-template", "LETTER", "--cost", "1.234"],
            ["cost: Ensure that there are no more than 2 decimal places."],
        ),
    ],
)
def test_create_with_bad_input_writes_nothing(world, args, problems):
    before = snapshot()
    assert fail("interactions", "create", *args) == problems
    assert snapshot() == before


def test_create_rejects_a_malformed_command_line(world):
    assert "--interaction-template" in rejected("interactions", "create", "PE1")
    assert "invalid choice: 'fax'" in rejected(
        "interactions", "create", "PE1", "--interaction-template", "LETTER", "--correspondence-type", "fax"
    )
    assert "invalid choice: 'great'" in rejected(
        "interactions", "create", "PE1", "--interaction-template", "LETTER", "--evaluation", "great"
    )
    assert not InteractionLogEntry.objects.exists()


# --- the real command line: exit statuses and streams ----------------------------------------------


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] or ""
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_exit_statuses_from_the_shell():
    salesperson = make_salesperson("SP1")
    make_template("LETTER")
    make_company(no="CO1", salesperson=salesperson)

    created = manage("interactions", "create", "CO1", "--interaction-template", "LETTER")
    assert (created.returncode, created.stdout) == (0, f"{InteractionLogEntry.objects.get().pk}\n")

    unknown = manage("interactions", "create", "CO1", "--interaction-template", "NOSUCH")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert 'interaction_template: unknown code "NOSUCH"' in unknown.stderr.splitlines()
    assert "Traceback" not in unknown.stderr

    malformed = manage("logged_segment", "delete", "one")
    assert malformed.returncode == 2
    assert "invalid int value: 'one'" in malformed.stderr

    exported = manage("interactions", "export", "--json")
    assert exported.returncode == 0
    assert [row["contact_no"] for row in json.loads(exported.stdout)] == ["CO1"]
    assert InteractionLogEntry.objects.count() == 1
