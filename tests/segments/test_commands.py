"""`manage.py segment …` (CONTRACT.md, "Segments"): options, outputs, exit codes, nothing written on errors."""

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

from crm.models import NumberSeries
from segments.models import (
    OVERRIDE_BIT,
    CriteriaStep,
    RemovedSegmentLine,
    SavedCriteria,
    SavedCriteriaStep,
    Segment,
    SegmentLanguage,
    SegmentLine,
)
from tests.factories import (
    make_campaign,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_template,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = (Segment, SegmentLine, RemovedSegmentLine, CriteriaStep, SavedCriteria, SavedCriteriaStep, SegmentLanguage)


def run(*args: str) -> str:
    """stdout of a successful `segment …` call."""
    out, err = StringIO(), StringIO()
    call_command("segment", *args, stdout=out, stderr=err)
    return out.getvalue()


def fail(*args: str) -> list[str]:
    """stderr lines of a failing call; checks exit status 1 and an empty stdout."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("segment", *args, stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    return err.getvalue().splitlines()


def snapshot() -> dict:
    """Every row of every segment table, and the segment number series."""
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in WRITTEN}
    state["series"] = NumberSeries.objects.get(code="SEGMENT").last_no
    return state


@pytest.fixture
def world(db):
    """Reference data and four contacts: a company with a person, a private person, an excluded company."""
    data = {
        "sp1": make_salesperson("SP1"),
        "sp2": make_salesperson("SP2"),
        "en": make_language("EN"),
        "nl": make_language("NL"),
        "campaign": make_campaign(no="CP0001"),
        "template": make_template(
            "LETTER",
            description="Spring letter",
            unit_cost=Decimal("1.50"),
            unit_duration=Decimal("5"),
            correspondence_type="hard_copy",
            information_flow="outbound",
            initiated_by="us",
        ),
        "other_template": make_template("CALL", description="Phone call", unit_cost=Decimal("3"), campaign_target=True),
    }
    data["acme"] = make_company(no="CO1", name="Acme", city="Utrecht", salesperson=data["sp1"])
    data["ann"] = make_person(data["acme"], no="PE1", name="Ann Smith", city="Utrecht")
    data["bob"] = make_person(None, no="PE2", name="Bob Jones", city="Delft", correspondence_type="email")
    data["zed"] = make_company(no="CO2", name="Zed", city="Delft", exclude_from_segment=True)
    return data


@pytest.fixture
def seg(world) -> str:
    return run("create", "--description", "Spring mailing").strip()


def lines_of(no: str) -> list[str]:
    return list(SegmentLine.objects.filter(segment__no=no).order_by("line_no").values_list("contact__no", flat=True))


# --- create / update ---------------------------------------------------------------------------


def test_create_prints_the_new_number_alone(world):
    assert run("create", "--description", "Spring mailing") == "SEG00001\n"
    assert run("create", "--description", "Autumn") == "SEG00002\n"
    segment = Segment.objects.get(no="SEG00001")
    assert segment.description == "Spring mailing"
    assert segment.interaction_template_id is None
    assert segment.owner is None


def test_create_with_every_option_stores_the_header(world):
    no = run(
        "create",
        "--description",
        "Spring mailing",
        "--interaction-template",
        "LETTER",
        "--salesperson",
        "SP2",
        "--campaign",
        "CP0001",
        "--campaign-target",
        "--date",
        "2025-03-01",
        "--subject",
        "Hello",
        "--language",
        "NL",
        "--correspondence-type",
        "email",
        "--send-as-attachment",
    ).strip()
    segment = Segment.objects.get(no=no)
    assert segment.description == "Spring mailing"
    assert segment.interaction_template_id == "LETTER"
    assert segment.interaction_group_id == world["template"].group_id
    assert segment.salesperson_id == "SP2"
    assert segment.campaign == world["campaign"]
    assert segment.campaign_target is True
    assert str(segment.date) == "2025-03-01"
    assert segment.subject == "Hello"
    assert segment.language_id == "NL"
    # the template says hard_copy; the option given in the same command wins
    assert segment.correspondence_type == "email"
    assert segment.send_as_attachment is True
    assert segment.unit_cost == Decimal("1.50")
    assert segment.information_flow == "outbound"


def test_create_without_options_leaves_flags_off(world):
    segment = Segment.objects.get(no=run("create", "--description", "x").strip())
    assert segment.campaign_target is False
    assert segment.send_as_attachment is False


def test_update_changes_only_the_options_given(world):
    no = run("create", "--description", "Old", "--subject", "Keep me", "--salesperson", "SP1").strip()
    assert run("update", no, "--description", "New") == ""
    segment = Segment.objects.get(no=no)
    assert (segment.description, segment.subject, segment.salesperson_id) == ("New", "Keep me", "SP1")


def test_update_no_forms_switch_flags_off_and_on_again(world):
    no = run("create", "--description", "x", "--campaign-target", "--send-as-attachment").strip()
    run("update", no, "--no-campaign-target", "--no-send-as-attachment")
    segment = Segment.objects.get(no=no)
    assert (segment.campaign_target, segment.send_as_attachment) == (False, False)
    run("update", no, "--campaign-target")
    segment.refresh_from_db()
    assert (segment.campaign_target, segment.send_as_attachment) == (True, False)


def test_update_with_an_empty_code_clears_the_reference(world):
    no = run("create", "--description", "x", "--salesperson", "SP1", "--campaign", "CP0001").strip()
    run("update", no, "--salesperson", "", "--campaign", "")
    segment = Segment.objects.get(no=no)
    assert (segment.salesperson_id, segment.campaign_id) == (None, None)


def test_update_template_change_applies_its_defaults_and_given_options_win(world):
    no = run("create", "--description", "x", "--interaction-template", "LETTER").strip()
    run("update", no, "--interaction-template", "CALL", "--no-campaign-target")
    segment = Segment.objects.get(no=no)
    assert segment.interaction_template_id == "CALL"
    assert segment.unit_cost == Decimal("3.00")  # the new template's default
    assert segment.campaign_target is False  # CALL says True; the option wins


def test_update_header_propagates_to_the_lines(seg, world):
    run("add", seg)
    run("update", seg, "--description", "Renamed", "--date", "2025-05-05")
    assert set(SegmentLine.objects.values_list("description", "date__year")) == {("Renamed", 2025)}


# --- steps -----------------------------------------------------------------------------------


def test_add_without_filter_adds_every_contact_not_excluded_and_prints_the_line_count(seg):
    assert run("add", seg) == "3\n"
    # R21: by company name; the private person PE2 has a blank company name and comes first.
    assert lines_of(seg) == ["PE2", "CO1", "PE1"]
    assert run("add", seg) == "3\n"  # existing contacts are skipped


def test_add_with_filter(seg):
    assert run("add", seg, "--filter", "city=Delft") == "1\n"
    assert lines_of(seg) == ["PE2"]
    step = CriteriaStep.objects.get(segment__no=seg)
    assert (step.action, step.filter) == ("add", "city=Delft")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["PE1"]),
        (["--expand-contact"], ["CO1", "PE1"]),
        (["--allow-company-with-persons"], ["CO1", "PE1"]),
        (["--expand-contact", "--no-expand-contact"], ["PE1"]),
    ],
)
def test_add_expand_options(seg, options, expected):
    run("add", seg, "--filter", "no=PE1", *options)
    assert lines_of(seg) == expected


def test_add_ignore_exclusion(seg):
    assert run("add", seg, "--filter", "no=CO2") == "0\n"
    assert run("add", seg, "--filter", "no=CO2", "--ignore-exclusion") == "1\n"
    assert CriteriaStep.objects.filter(segment__no=seg, ignore_exclusion=True).count() == 1


def test_add_allow_existing(seg):
    run("add", seg, "--filter", "no=PE2")
    assert run("add", seg, "--filter", "no=PE2") == "1\n"
    assert run("add", seg, "--filter", "no=PE2", "--allow-existing") == "2\n"


def test_reduce_and_refine_print_the_line_count(seg):
    run("add", seg)
    assert run("reduce", seg, "--filter", "city=Delft") == "2\n"
    assert lines_of(seg) == ["CO1", "PE1"]
    assert run("refine", seg, "--filter", "type=person") == "1\n"
    assert lines_of(seg) == ["PE1"]


def test_reduce_entire_companies(seg):
    run("add", seg)
    assert run("reduce", seg, "--filter", "no=PE1", "--entire-companies") == "1\n"
    assert lines_of(seg) == ["PE2"]
    assert CriteriaStep.objects.get(segment__no=seg, action="reduce").entire_companies is True


def test_refine_entire_companies(seg):
    run("add", seg)
    assert run("refine", seg, "--filter", "no=PE1", "--entire-companies") == "2\n"
    assert lines_of(seg) == ["CO1", "PE1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["reduce", "--filter", ""],
            "choose at least one criterion: a reduce without criteria would remove every line.",
        ),
        (["refine", "--filter", ""], "choose at least one criterion: a refine without criteria would keep every line."),
        (
            ["reduce", "--filter", "city="],
            "choose at least one criterion: a reduce without criteria would remove every line.",
        ),
        (
            ["count", "--reduce", "--filter", ""],
            "choose at least one criterion: a reduce without criteria would remove every line.",
        ),
        (
            ["count", "--refine", "--filter", ""],
            "choose at least one criterion: a refine without criteria would keep every line.",
        ),
    ],
)
def test_reduce_or_refine_without_any_criterion_is_an_error(seg, args, message):
    # Before: `reduce --filter ""` emptied the segment.
    run("add", seg)
    before = snapshot()
    assert fail(args[0], seg, *args[1:]) == [message]
    assert snapshot() == before


def test_add_contact_adds_a_manual_line_and_prints_the_line_count(seg):
    assert run("add-contact", seg, "CO2") == "1\n"  # manual lines ignore the exclusion
    step = CriteriaStep.objects.get(segment__no=seg)
    assert (step.action, step.filter, step.manual) == ("add", "no=CO2", True)


def test_add_contact_already_on_the_worksheet_is_an_error_naming_its_line_unless_allow_existing(seg):
    run("add", seg, "--filter", "city=Utrecht")
    before = snapshot()

    assert fail("add-contact", seg, "PE1") == [
        "contact_no: PE1 is already on line 20000 (--allow-existing adds another line)"
    ]
    assert snapshot() == before
    assert run("add-contact", seg, "PE1", "--allow-existing") == "3\n"
    assert fail("add-contact", seg, "PE1") == [
        "contact_no: PE1 is already on lines 20000, 30000 (--allow-existing adds another line)"
    ]
    assert lines_of(seg) == ["CO1", "PE1", "PE1"]


def test_remove_line_prints_the_line_count(seg):
    run("add", seg)
    line_no = SegmentLine.objects.get(contact__no="PE1").line_no
    assert run("remove-line", seg, str(line_no)) == "2\n"
    assert lines_of(seg) == ["PE2", "CO1"]


def test_undo_prints_the_line_count_and_restores_exactly(seg):
    run("add", seg)
    before = list(SegmentLine.objects.order_by("line_no").values())
    run("reduce", seg, "--filter", "type=person")
    assert run("undo", seg) == "3\n"
    assert list(SegmentLine.objects.order_by("line_no").values()) == before
    assert run("undo", seg) == "0\n"


def test_save_and_reuse_criteria(seg, world):
    run("add", seg, "--filter", "city=Utrecht")
    run("refine", seg, "--filter", "type=person")
    assert run("save-criteria", seg, "UTR", "--description", "Utrecht people") == ""
    saved = SavedCriteria.objects.get(code="UTR")
    assert saved.description == "Utrecht people"
    assert list(saved.steps.order_by("position").values_list("action", "filter")) == [
        ("add", "city=Utrecht"),
        ("refine", "type=person"),
    ]
    other = run("create", "--description", "Other").strip()
    assert run("reuse-criteria", other, "UTR") == "1\n"
    assert lines_of(other) == ["PE1"]
    assert run("undo", other) == "0\n"


def test_reuse_criteria_writes_each_step_that_did_other_than_recorded_to_stderr(seg, world):
    run("add", seg, "--filter", "city=Utrecht")
    run("add-contact", seg, "PE1", "--allow-existing")
    line_no = SegmentLine.objects.filter(segment__no=seg, contact__no="PE1").order_by("line_no").last().line_no
    run("remove-line", seg, str(line_no))
    run("add-contact", seg, "PE2")
    run("save-criteria", seg, "HAND")
    other = run("create", "--description", "Other").strip()
    run("add-contact", other, "PE2")
    out, err = StringIO(), StringIO()

    call_command("segment", "reuse-criteria", other, "HAND", stdout=out, stderr=err)

    # the duplicate of PE1 added and removed by hand replays as one line removed, not two
    assert out.getvalue() == "3\n"
    assert lines_of(other) == ["PE2", "CO1", "PE1"]
    assert err.getvalue().splitlines() == ["step 4 (add no=PE2): recorded +1, now 0"]


def test_reuse_criteria_replaying_as_recorded_writes_nothing_to_stderr(seg, world):
    run("add", seg, "--filter", "city=Utrecht")
    run("reduce", seg, "--filter", "no=CO1")
    run("save-criteria", seg, "SAME")
    other = run("create", "--description", "Other").strip()
    out, err = StringIO(), StringIO()

    call_command("segment", "reuse-criteria", other, "SAME", stdout=out, stderr=err)

    assert (out.getvalue(), err.getvalue()) == ("1\n", "")


def test_set_line_with_another_template_re_derives_the_line_from_it(seg, line, world):
    run("update", seg, "--interaction-template", "LETTER", "--campaign", "CP0001")
    row = SegmentLine.objects.get(segment__no=seg)
    assert (row.interaction_template_id, row.cost, row.information_flow) == ("LETTER", Decimal("1.50"), "outbound")

    run("set-line", seg, str(line), "--interaction-template", "CALL", "--duration", "2")

    row.refresh_from_db()
    call = world["other_template"]
    assert (
        row.interaction_template_id,
        row.interaction_group_id,
        row.description,
        row.cost,
        row.duration,
        row.information_flow,
        row.initiated_by,
        row.campaign_target,
        row.campaign_id,
    ) == ("CALL", call.group_id, "Phone call", Decimal("3.00"), Decimal("2.00"), "", "", True, world["campaign"].pk)
    assert set(row.overridden_fields) == {"interaction_template", "duration"}


def test_steps_after_a_reuse_are_numbered_and_counted_as_the_worksheet_shows_them(seg, world):
    run("add", seg, "--filter", "city=Utrecht")
    run("refine", seg, "--filter", "type=person")
    run("save-criteria", seg, "UTR")
    other = run("create", "--description", "Other").strip()
    run("reuse-criteria", other, "UTR")
    run("add-contact", other, "PE2")

    rows = {row["no"]: row["no_of_criteria_actions"] for row in json.loads(run("list", "--json"))}
    text = run("show", other)

    assert rows == {seg: 2, other: 2}
    assert CriteriaStep.objects.get(segment__no=other, filter="no=PE2").position == 2
    assert text.split("criteria: ")[1].splitlines() == [
        "2",
        "  1. reuse_criteria UTR",
        "     1.1 add city=Utrecht",
        "     1.2 refine type=person",
        "  2. add no=PE2",
    ]
    criteria = json.loads(run("show", other, "--json"))["criteria"]
    assert [(step["action"], step["filter"]) for step in criteria] == [
        ("reuse_criteria", None),
        ("add", "city=Utrecht"),
        ("refine", "type=person"),
        ("add", "no=PE2"),
    ]


# --- count -----------------------------------------------------------------------------------


def test_count_prints_what_a_step_would_do_and_writes_nothing(seg):
    assert run("count", seg, "--filter", "city=Utrecht") == "2\n"
    assert run("count", seg) == "3\n"
    assert run("count", seg, "--filter", "no=CO2", "--ignore-exclusion") == "1\n"
    assert run("count", seg, "--filter", "no=PE1", "--expand-contact") == "2\n"
    run("add", seg)
    assert run("count", seg, "--filter", "no=PE2", "--allow-existing") == "1\n"
    before = snapshot()
    assert run("count", seg, "--filter", "city=Delft", "--reduce") == "1\n"
    assert run("count", seg, "--filter", "city=Delft", "--refine") == "2\n"
    assert run("count", seg, "--filter", "no=PE1", "--reduce", "--entire-companies") == "2\n"
    assert run("count", seg, "--filter", "no=PE1", "--refine", "--entire-companies") == "1\n"
    assert snapshot() == before


def test_count_rejects_inconsistent_options(seg):
    before = snapshot()
    assert fail("count", seg, "--reduce") == ["--filter is required with --reduce"]
    assert fail("count", seg, "--filter", "city=X", "--entire-companies") == [
        "--entire-companies applies to --reduce or --refine only"
    ]
    assert fail("count", seg, "--filter", "city=X", "--refine", "--expand-contact") == [
        "--expand-contact applies to an add only, not to --refine"
    ]
    assert snapshot() == before


# --- set-line --------------------------------------------------------------------------------


@pytest.fixture
def line(seg) -> int:
    run("add", seg, "--filter", "no=PE2")
    return SegmentLine.objects.get(segment__no=seg).line_no


def test_set_line_overrides_every_option(seg, line, world):
    args = [
        "--description",
        "Just for Bob",
        "--subject",
        "Hi Bob",
        "--correspondence-type",
        "hard_copy",
        "--language",
        "NL",
        "--interaction-template",
        "CALL",
        "--salesperson",
        "SP2",
        "--date",
        "2025-06-30",
        "--cost",
        "12.5",
        "--duration",
        "7",
        "--evaluation",
        "very_positive",
        "--personal-text",
        "See you soon",
    ]
    assert run("set-line", seg, str(line), *args) == ""
    row = SegmentLine.objects.get(segment__no=seg)
    assert row.description == "Just for Bob"
    assert row.subject == "Hi Bob"
    assert row.correspondence_type == "hard_copy"
    assert row.language_id == "NL"
    assert row.interaction_template_id == "CALL"
    assert row.interaction_group_id == world["other_template"].group_id
    assert row.salesperson_id == "SP2"
    assert str(row.date) == "2025-06-30"
    assert (row.cost, row.duration) == (Decimal("12.50"), Decimal("7.00"))
    assert row.evaluation == "very_positive"
    assert row.personal_text == "See you soon"
    assert set(row.overridden_fields) == {
        "description",
        "subject",
        "correspondence_type",
        "language",
        "interaction_template",
        "salesperson",
        "date",
        "cost",
        "duration",
        "evaluation",
    }


def test_set_line_reset_one_field_follows_the_header_again(seg, line):
    run("set-line", seg, str(line), "--description", "Mine", "--subject", "Mine too")
    run("set-line", seg, str(line), "--reset", "description")
    row = SegmentLine.objects.get(segment__no=seg)
    assert row.description == "Spring mailing"
    assert row.overrides == OVERRIDE_BIT["subject"]
    run("update", seg, "--description", "Header changed")
    row.refresh_from_db()
    assert (row.description, row.subject) == ("Header changed", "Mine too")


@pytest.mark.parametrize("name", ["correspondence-type", "correspondence_type"])
def test_set_line_reset_accepts_the_option_name_with_dashes_or_underscores(seg, line, name):
    run("set-line", seg, str(line), "--correspondence-type", "hard_copy")
    run("set-line", seg, str(line), "--reset", name)
    row = SegmentLine.objects.get(segment__no=seg)
    assert (row.correspondence_type, row.overrides) == ("email", 0)  # Bob's own type again


def test_set_line_reset_all_and_personal_text(seg, line):
    run("set-line", seg, str(line), "--description", "Mine", "--cost", "9", "--personal-text", "Dear Bob")
    run("set-line", seg, str(line), "--reset", "personal-text")
    assert SegmentLine.objects.get(segment__no=seg).personal_text == ""
    run("set-line", seg, str(line), "--personal-text", "Dear Bob", "--evaluation", "neutral")
    run("set-line", seg, str(line), "--reset", "all")
    row = SegmentLine.objects.get(segment__no=seg)
    # personal text is no override: `all` keeps it
    assert (row.description, row.cost, row.evaluation, row.personal_text, row.overrides) == (
        "Spring mailing",
        Decimal("0.00"),
        "",
        "Dear Bob",
        0,
    )


# --- show / list -------------------------------------------------------------------------------

LINE_KEYS = [
    "line_no",
    "contact_no",
    "contact_company_no",
    "contact_name",
    "description",
    "interaction_template",
    "salesperson",
    "date",
    "subject",
    "language",
    "correspondence_type",
    "cost",
    "duration",
    "information_flow",
    "initiated_by",
    "evaluation",
    "campaign",
    "campaign_target",
    "personal_text",
]


def test_show_json_has_the_contract_shape(world):
    no = run(
        "create",
        "--description",
        "Spring mailing",
        "--interaction-template",
        "LETTER",
        "--salesperson",
        "SP2",
        "--campaign",
        "CP0001",
        "--campaign-target",
        "--date",
        "2025-03-01",
        "--subject",
        "Hello",
    ).strip()
    run("add", no)
    run("reduce", no, "--filter", "city=Delft", "--entire-companies")
    run("add-contact", no, "PE2")
    run("set-line", no, "40000", "--evaluation", "positive", "--cost", "12.5", "--personal-text", "Hi")
    document = json.loads(run("show", no, "--json"))
    line = {
        "description": "Spring mailing",
        "interaction_template": "LETTER",
        "salesperson": "SP2",
        "date": "2025-03-01",
        "subject": "Hello",
        "language": None,
        "cost": "1.50",
        "duration": "5.00",
        "information_flow": "outbound",
        "initiated_by": "us",
        "evaluation": None,
        "campaign": "CP0001",
        "campaign_target": True,
        "personal_text": "",
    }
    step = {
        "allow_existing": False,
        "expand_contact": False,
        "allow_company_with_persons": False,
        "ignore_exclusion": False,
        "entire_companies": False,
    }
    expected = {
        "no": no,
        "description": "Spring mailing",
        "interaction_template": "LETTER",
        "salesperson": "SP2",
        "campaign": "CP0001",
        "campaign_target": True,
        "date": "2025-03-01",
        "subject": "Hello",
        "language": None,
        "correspondence_type": "hard_copy",
        "unit_cost": "1.50",
        "unit_duration": "5.00",
        "information_flow": "outbound",
        "initiated_by": "us",
        "lines": [
            {
                "line_no": 20000,
                "contact_no": "CO1",
                "contact_company_no": "CO1",
                "contact_name": "Acme",
                **line,
                "correspondence_type": "hard_copy",
            },
            {
                "line_no": 30000,
                "contact_no": "PE1",
                "contact_company_no": "CO1",
                "contact_name": "Ann Smith",
                **line,
                "correspondence_type": "hard_copy",
            },
            {
                "line_no": 40000,
                "contact_no": "PE2",
                "contact_company_no": None,
                "contact_name": "Bob Jones",
                **line,
                "correspondence_type": "email",
                "cost": "12.50",
                "evaluation": "positive",
                "personal_text": "Hi",
            },
        ],
        "criteria": [
            {"action": "add", "filter": "", **step},
            {"action": "reduce", "filter": "city=Delft", **step, "entire_companies": True},
            {"action": "add", "filter": "no=PE2", **step, "ignore_exclusion": True},
        ],
    }
    assert document == expected
    assert list(document) == list(expected)
    assert [list(item) for item in document["lines"]] == [LINE_KEYS] * 3
    assert list(document["criteria"][0]) == [
        "action",
        "filter",
        "allow_existing",
        "expand_contact",
        "allow_company_with_persons",
        "ignore_exclusion",
        "entire_companies",
    ]


def test_show_json_blank_values_are_null_never_empty_strings(world):
    no = run("create", "--description", "Plain").strip()
    run("add", no, "--filter", "no=CO1")
    document = json.loads(run("show", no, "--json"))
    for key in ("interaction_template", "salesperson", "campaign", "language", "correspondence_type"):
        assert document[key] is None, key
    assert (document["information_flow"], document["initiated_by"]) == (None, None)
    [line] = document["lines"]
    for key in ("interaction_template", "language", "correspondence_type", "information_flow", "initiated_by"):
        assert line[key] is None, key
    for key in ("evaluation", "campaign"):
        assert line[key] is None, key
    assert line["salesperson"] == "SP1"  # the contact's salesperson when the header has none
    assert (line["cost"], line["duration"]) == ("0.00", "0.00")
    assert document["criteria"] == [
        {
            "action": "add",
            "filter": "no=CO1",
            "allow_existing": False,
            "expand_contact": False,
            "allow_company_with_persons": False,
            "ignore_exclusion": False,
            "entire_companies": False,
        }
    ]


def test_show_json_lists_a_reuse_step_before_its_replayed_steps(seg):
    run("add", seg, "--filter", "city=Utrecht")
    run("save-criteria", seg, "UTR")
    other = run("create", "--description", "Other").strip()
    run("reuse-criteria", other, "UTR")
    criteria = json.loads(run("show", other, "--json"))["criteria"]
    assert [(step["action"], step["filter"]) for step in criteria] == [
        ("reuse_criteria", None),
        ("add", "city=Utrecht"),
    ]


def test_show_is_a_constant_number_of_queries(seg, django_assert_max_num_queries):
    run("add", seg)
    with django_assert_max_num_queries(3):
        run("show", seg, "--json")
    for n in range(20):
        make_person(None, city="Leiden", name=f"Extra {n}")
    run("add", seg)
    with django_assert_max_num_queries(3):
        document = json.loads(run("show", seg, "--json"))
    assert len(document["lines"]) == 23


def test_show_without_json_is_readable_text(seg):
    run("add", seg)
    text = run("show", seg)
    assert f"no: {seg}" in text
    assert "lines: 3" in text


def test_list_json(seg, world, django_assert_max_num_queries):
    run("add", seg)
    run("reduce", seg, "--filter", "city=Delft")
    second = run("create", "--description", "With template", "--interaction-template", "LETTER").strip()
    run("update", second, "--campaign", "CP0001")
    with django_assert_max_num_queries(1):
        rows = json.loads(run("list", "--json"))
    assert rows == [
        {
            "no": seg,
            "description": "Spring mailing",
            "interaction_template": None,
            "campaign": None,
            "no_of_lines": 2,
            "no_of_criteria_actions": 2,
        },
        {
            "no": second,
            "description": "With template",
            "interaction_template": "LETTER",
            "campaign": "CP0001",
            "no_of_lines": 0,
            "no_of_criteria_actions": 0,
        },
    ]
    assert list(rows[0]) == [
        "no",
        "description",
        "interaction_template",
        "campaign",
        "no_of_lines",
        "no_of_criteria_actions",
    ]


def test_list_json_of_no_segments_is_an_empty_array(db):
    assert run("list", "--json") == "[]\n"


# --- errors: exit 1, one line per problem, nothing written -----------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--interaction-template", "NOPE", 'interaction_template: unknown code "NOPE"'),
        ("--salesperson", "NOSUCH", 'salesperson: unknown code "NOSUCH"'),
        ("--campaign", "CP9999", 'campaign: unknown number "CP9999"'),
        ("--language", "XX", 'language: unknown code "XX"'),
        ("--date", "2025-02-30", 'date: invalid date "2025-02-30" (use YYYY-MM-DD)'),
        ("--date", "20250201", 'date: invalid date "20250201" (use YYYY-MM-DD)'),
    ],
)
def test_create_and_update_with_a_bad_value_write_nothing(seg, option, value, message):
    before = snapshot()
    assert fail("create", "--description", "x", option, value) == [message]
    assert fail("update", seg, "--description", "changed", option, value) == [message]
    assert snapshot() == before


def test_every_problem_is_reported_on_its_own_line(world):
    before = snapshot()
    assert fail("create", "--description", "x", "--salesperson", "NOSUCH", "--language", "XX") == [
        'salesperson: unknown code "NOSUCH"',
        'language: unknown code "XX"',
    ]
    assert snapshot() == before


def test_a_model_validation_error_names_the_field(seg):
    before = snapshot()
    assert fail("update", seg, "--subject", "x" * 101) == [
        "subject: Ensure this value has at most 100 characters (it has 101)."
    ]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fax=1", 'unknown filter name "fax"'),
        ("salesperson=NOSUCH", 'salesperson: unknown code "NOSUCH"'),
        ("company_no=CO999", 'company_no: unknown company "CO999"'),
        ("type=robot", 'type: unknown type "robot" (use company or person)'),
    ],
)
@pytest.mark.parametrize("command", ["add", "reduce", "refine", "count"])
def test_a_bad_filter_is_an_error_that_writes_nothing(seg, command, query, message):
    run("add", seg, "--filter", "no=PE1")
    before = snapshot()
    assert fail(command, seg, "--filter", query) == [message]
    assert snapshot() == before


@pytest.mark.parametrize(
    "args",
    [
        ["update", "--description", "x"],
        ["add"],
        ["reduce", "--filter", "city=X"],
        ["refine", "--filter", "city=X"],
        ["add-contact", "PE1"],
        ["remove-line", "10000"],
        ["set-line", "10000", "--description", "x"],
        ["undo"],
        ["save-criteria", "CODE"],
        ["reuse-criteria", "CODE"],
        ["count"],
        ["show", "--json"],
    ],
)
def test_an_unknown_segment_is_an_error(world, args):
    before = snapshot()
    assert fail(args[0], "SEG99999", *args[1:]) == ['segment "SEG99999" does not exist']
    assert snapshot() == before


@pytest.mark.parametrize("command", ["reduce", "refine"])
def test_reduce_and_refine_require_a_filter(seg, command):
    run("add", seg)
    before = snapshot()
    assert fail(command, seg) == [f"--filter is required for {command}: choose at least one criterion"]
    assert snapshot() == before


def test_add_contact_of_an_unknown_contact(seg):
    before = snapshot()
    assert fail("add-contact", seg, "NOPE") == ['contact_no: unknown contact "NOPE"']
    assert snapshot() == before


def test_remove_or_set_an_unknown_line(seg):
    before = snapshot()
    assert fail("remove-line", seg, "123") == [f"{seg} has no line 123."]
    assert fail("set-line", seg, "123", "--description", "x") == [f"{seg} has no line 123."]
    assert snapshot() == before


def test_undo_with_no_step(seg):
    before = snapshot()
    assert fail("undo", seg) == [f"{seg} has no step to undo."]
    assert snapshot() == before


def test_saved_criteria_errors(seg):
    before = snapshot()
    assert fail("save-criteria", seg, "UTR") == [f"{seg} has no criteria steps to save."]
    assert fail("reuse-criteria", seg, "NOPE") == ['unknown saved criteria "NOPE"']
    assert snapshot() == before
    run("add", seg, "--filter", "no=PE1")
    run("save-criteria", seg, "UTR")
    before = snapshot()
    assert fail("save-criteria", seg, "UTR") == ['saved criteria "UTR" already exist.']
    assert fail("save-criteria", seg, "X" * 11) == ["code: Ensure this value has at most 10 characters (it has 11)."]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reset", "colour"], 'reset: unknown field "colour"'),
        (["--cost", "abc"], 'cost: invalid number "abc"'),
        (["--cost", "NaN"], 'cost: invalid number "NaN"'),
        (["--duration", "-1"], 'duration: must be 0 or more, not "-1"'),
        (["--date", "yesterday"], 'date: invalid date "yesterday" (use YYYY-MM-DD)'),
        (["--salesperson", "NOSUCH"], 'salesperson: unknown code "NOSUCH"'),
        (["--interaction-template", "NOPE"], 'interaction_template: unknown code "NOPE"'),
        (["--language", "XX"], 'language: unknown code "XX"'),
        (["--cost", "1.234"], "cost: Ensure that there are no more than 2 decimal places."),
    ],
)
def test_set_line_bad_values_write_nothing(seg, line, args, message):
    before = snapshot()
    assert fail("set-line", seg, str(line), "--description", "changed", *args) == [message]
    assert snapshot() == before


def test_set_line_reports_every_problem(seg, line):
    assert fail("set-line", seg, str(line), "--cost", "x", "--reset", "colour", "--reset", "size") == [
        'cost: invalid number "x"',
        'reset: unknown field "colour"',
        'reset: unknown field "size"',
    ]


def test_a_malformed_command_line_is_rejected_by_argparse(seg):
    # call_command turns argparse errors into CommandError; from a shell they exit 2 (see below)
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("segment", "set-line", seg, "1", "--evaluation", "great", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="required: --description"):
        call_command("segment", "create", stdout=StringIO(), stderr=StringIO())


# --- the real command line: exit statuses and streams ------------------------------------------------


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
        [sys.executable, "manage.py", "segment", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_exit_statuses_from_the_shell():
    make_salesperson("SP1")
    created = manage("create", "--description", "From a script", "--salesperson", "SP1")
    assert (created.returncode, created.stdout) == (0, "SEG00001\n")

    bad = manage("add", "SEG00001", "--filter", "fax=1&salesperson=NOSUCH")
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert 'unknown filter name "fax"' in bad.stderr.splitlines()
    assert 'salesperson: unknown code "NOSUCH"' in bad.stderr.splitlines()
    assert "Traceback" not in bad.stderr

    missing = manage("show", "SEG99999", "--json")
    assert missing.returncode == 1
    assert 'segment "SEG99999" does not exist' in missing.stderr.splitlines()

    malformed = manage("create")
    assert malformed.returncode == 2
    assert "--description" in malformed.stderr

    shown = manage("show", "SEG00001", "--json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["salesperson"] == "SP1"
    assert list(Segment.objects.values_list("no", flat=True)) == ["SEG00001"]
    assert not CriteriaStep.objects.exists()
