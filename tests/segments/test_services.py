"""Segment services (segments/services.py): SPEC F2–F3 with Part 1's D1–D6, rule by rule."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import Contact, ContactAltAddress, ContactAltAddressDateRange, ContactMailingGroup, MailingGroup
from crm.permissions import COMMAND_LINE
from interactions.models import InteractionTemplateLanguage
from segments import services
from segments.models import (
    OVERRIDE_BIT,
    CriteriaStep,
    RemovedSegmentLine,
    SavedCriteria,
    Segment,
    SegmentLanguage,
    SegmentLine,
    StepAction,
)
from tests.factories import (
    make_campaign,
    make_company,
    make_industry_group,
    make_interaction_group,
    make_language,
    make_mailing_group,
    make_person,
    make_salesperson,
    make_template,
)

pytestmark = pytest.mark.django_db

REDUCE, REFINE = StepAction.REDUCE, StepAction.REFINE


# --- helpers ----------------------------------------------------------------------------------


def new_segment(**values) -> Segment:
    return services.segment_create(user=COMMAND_LINE, values={"description": "Spring mailing", **values})


def add(segment, query="", **options):
    return services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=query, **options)


def remove(segment, action, query="", entire_companies=False):
    return services.segment_remove_contacts(
        user=COMMAND_LINE, segment=segment, action=action, query=query, entire_companies=entire_companies
    )


def undo(segment):
    return services.segment_undo(user=COMMAND_LINE, segment=segment)


def set_line(segment, line_no, reset=None, **values):
    return services.segment_set_line(user=COMMAND_LINE, segment=segment, line_no=line_no, values=values, reset=reset)


def numbers(segment) -> list[str]:
    """Contact numbers of the segment's lines in line order."""
    return list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("contact__no", flat=True))


def lines(segment) -> list[tuple[str, int]]:
    return list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("contact__no", "line_no"))


def line_of(segment, contact) -> SegmentLine:
    return SegmentLine.objects.get(segment=segment, contact=contact)


def in_group(code: str, *contacts: Contact) -> MailingGroup:
    group = make_mailing_group(code)
    ContactMailingGroup.objects.bulk_create(ContactMailingGroup(contact=c, mailing_group=group) for c in contacts)
    return group


def nothing_written(segment, before_lines, before_steps) -> None:
    assert lines(segment) == before_lines
    assert CriteriaStep.objects.filter(segment=segment).count() == before_steps


@pytest.fixture
def world():
    """Two companies with persons, a private person, in cities X and Y.

    ACME (X): ann (X), bob (Y, excluded); BOLT (Y): carl (Y); solo: a private person (X).
    """
    acme = make_company(no="C1", name="Acme", city="X")
    bolt = make_company(no="C2", name="Bolt", city="Y")
    ann = make_person(acme, no="P1", name="Ann", city="X")
    bob = make_person(acme, no="P2", name="Bob", city="Y", exclude_from_segment=True)
    carl = make_person(bolt, no="P3", name="Carl", city="Y")
    solo = make_person(None, no="P4", name="Solo", city="X")
    return {"acme": acme, "bolt": bolt, "ann": ann, "bob": bob, "carl": carl, "solo": solo}


# --- Add Contacts: options (R20) ------------------------------------------------------------------


def test_add_skips_a_contact_already_on_a_line_unless_allow_existing(world):
    segment = new_segment()
    add(segment, "no=P1")

    result = add(segment, "no=P1&no=P3")
    assert result.added == 1
    assert numbers(segment) == ["P1", "P3"]

    result = add(segment, "no=P1", allow_existing=True)
    assert result.added == 1
    assert numbers(segment) == ["P1", "P3", "P1"]


def test_add_drops_excluded_contacts_unless_the_exclusion_is_ignored(world):
    segment = new_segment()
    assert add(segment, "no=P2").added == 0
    assert add(segment, "no=P2", ignore_exclusion=True).added == 1
    assert numbers(segment) == ["P2"]


def test_expand_contact_replaces_a_qualifying_person_by_its_company_and_all_its_persons(world):
    segment = new_segment()

    add(segment, "no=P1", expand_contact=True, ignore_exclusion=True)

    assert sorted(numbers(segment)) == ["C1", "P1", "P2"]


def test_expand_contact_of_a_company_brings_its_persons_and_private_persons_stay_as_they_are(world):
    segment = new_segment()

    add(segment, "no=C2&no=P4", expand_contact=True)

    assert sorted(numbers(segment)) == ["C2", "P3", "P4"]


def test_exclusion_applies_after_expansion_so_expansion_never_brings_in_an_excluded_contact(world):
    segment = new_segment()

    add(segment, "no=P1", expand_contact=True)

    assert sorted(numbers(segment)) == ["C1", "P1"]  # bob (P2) is excluded


def test_allow_company_with_persons_adds_the_company_of_each_qualifying_person(world):
    segment = new_segment()

    add(segment, "city=X&type=person", allow_company_with_persons=True)

    assert sorted(numbers(segment)) == ["C1", "P1", "P4"]  # solo has no company; bob is not in X


def test_allow_company_with_persons_applies_after_expansion_and_exclusion_still_applies(world):
    world["bolt"].exclude_from_segment = True
    world["bolt"].save()
    segment = new_segment()

    add(segment, "no=P3", allow_company_with_persons=True)
    assert numbers(segment) == ["P3"]  # its company is excluded

    undo(segment)
    add(segment, "no=P3", allow_company_with_persons=True, ignore_exclusion=True)
    assert sorted(numbers(segment)) == ["C2", "P3"]

    undo(segment)
    add(segment, "no=P1", expand_contact=True, allow_company_with_persons=True, ignore_exclusion=True)
    assert sorted(numbers(segment)) == ["C1", "P1", "P2"]


def test_an_add_records_one_step_with_its_canonical_filter_and_options_even_when_nothing_is_added(world):
    segment = new_segment()

    result = add(segment, "type=person&city=Z", expand_contact=True)

    assert result.added == 0
    step = CriteriaStep.objects.get(segment=segment)
    assert (step.action, step.position, step.filter, step.expand_contact, step.allow_existing) == (
        StepAction.ADD,
        1,
        "type=person&city=Z",
        True,
        False,
    )


# --- Add Contacts: order and numbering (R21) ---------------------------------------------------------


def test_new_lines_are_sorted_by_company_name_company_no_type_then_name():
    # two companies named alike are told apart by number; the company comes before its persons;
    # a private person has a blank company name, so private persons come first
    zed = make_company(no="C9", name="Zed")
    alpha_2 = make_company(no="C5", name="Alpha")
    alpha_1 = make_company(no="C3", name="Alpha")
    make_person(zed, no="P1", name="Amy")
    make_person(alpha_2, no="P2", name="Bea")
    make_person(alpha_2, no="P3", name="Abe")
    make_person(alpha_1, no="P4", name="Cid")
    make_person(None, no="P5", name="Yul")
    make_person(None, no="P6", name="Ada")
    segment = new_segment()

    add(segment)

    assert lines(segment) == [
        ("P6", 10000),
        ("P5", 20000),
        ("C3", 30000),
        ("P4", 40000),
        ("C5", 50000),
        ("P3", 60000),
        ("P2", 70000),
        ("C9", 80000),
        ("P1", 90000),
    ]


def test_line_numbers_continue_after_the_last_line_and_are_never_given_twice(world):
    segment = new_segment()
    add(segment, "no=P1&no=P3")  # 10000, 20000
    remove(segment, REDUCE, "no=P3")  # 20000 is kept for undo

    add(segment, "no=P4")
    assert lines(segment) == [("P1", 10000), ("P4", 30000)]

    undo(segment)
    undo(segment)
    assert lines(segment) == [("P1", 10000), ("P3", 20000)]


def test_line_numbers_are_64_bit(world):
    segment = new_segment()
    add(segment, "no=P1")
    SegmentLine.objects.filter(segment=segment).update(line_no=2**31 - 5_000)

    add(segment, "no=P3&no=P4")

    assert [no for _, no in lines(segment)] == [2**31 - 5_000, 2**31 + 5_000, 2**31 + 15_000]


def test_many_lines_get_numbers_past_the_32_bit_range_in_one_step():
    Contact.objects.bulk_create(Contact(no=f"B{i:06d}", name=f"B{i:06d}", type="company") for i in range(300))
    segment = new_segment()
    add(segment, "no=B000000")
    SegmentLine.objects.filter(segment=segment).update(line_no=2**31 - 1_000_000)

    add(segment)

    assert SegmentLine.objects.filter(segment=segment).count() == 300
    assert max(no for _, no in lines(segment)) == 2**31 - 1_000_000 + 299 * 10_000


# --- Reduce / Refine (R24–R26 with D4) ------------------------------------------------------------


def test_reduce_removes_the_lines_whose_contact_matches_and_refine_keeps_only_those(world):
    segment = new_segment()
    add(segment, ignore_exclusion=True)

    assert remove(segment, REDUCE, "city=Y").removed == 3
    assert sorted(numbers(segment)) == ["C1", "P1", "P4"]

    assert remove(segment, REFINE, "type=person").removed == 1
    assert sorted(numbers(segment)) == ["P1", "P4"]


@pytest.mark.parametrize(
    ("action", "query", "message"),
    [
        (REDUCE, "", "choose at least one criterion: a reduce without criteria would remove every line."),
        (REDUCE, "city=&name=", "choose at least one criterion: a reduce without criteria would remove every line."),
        (REFINE, "", "choose at least one criterion: a refine without criteria would keep every line."),
    ],
)
def test_reduce_or_refine_without_any_criterion_is_refused_and_writes_nothing(world, action, query, message):
    # Replaces R26 (a reduce without criteria emptied the segment, silently).
    segment = new_segment()
    add(segment)
    before = lines(segment)

    with pytest.raises(ValidationError) as refused:
        remove(segment, action, query)
    with pytest.raises(ValidationError) as counted:
        services.segment_count(segment=segment, action=action, query=query)

    assert refused.value.messages == counted.value.messages == [message]
    assert refused.value.error_list[0].code == counted.value.error_list[0].code == "no_criteria"
    nothing_written(segment, before, 1)


def test_reduce_with_entire_companies_removes_every_line_of_a_company_with_a_match(world):
    segment = new_segment()
    add(segment, "no=C1&no=P1&no=C2&no=P4")

    # bob (P2) is not in the segment, but he works for ACME and lives in Y
    remove(segment, REDUCE, "no=P2", entire_companies=True)

    assert sorted(numbers(segment)) == ["C2", "P4"]


def test_reduce_without_entire_companies_tests_each_line_s_own_contact(world):
    segment = new_segment()
    add(segment, "no=C1&no=P1&no=C2")

    remove(segment, REDUCE, "no=P2")

    assert sorted(numbers(segment)) == ["C1", "C2", "P1"]


def test_refine_with_entire_companies_keeps_every_line_of_a_company_with_a_match(world):
    segment = new_segment()
    add(segment, ignore_exclusion=True)

    # carl (P3) of BOLT matches; solo matches itself; nobody of ACME is called Carl or Solo
    remove(segment, REFINE, "no=P3&no=P4", entire_companies=True)

    assert sorted(numbers(segment)) == ["C2", "P3", "P4"]


def test_refine_without_entire_companies_keeps_only_matching_contacts(world):
    segment = new_segment()
    add(segment, ignore_exclusion=True)

    remove(segment, REFINE, "no=P3&no=P4")

    assert sorted(numbers(segment)) == ["P3", "P4"]


def test_entire_companies_matches_on_the_contact_s_current_company(world):
    segment = new_segment()
    add(segment, "no=P1&no=P3")
    ann = world["ann"]
    ann.company = world["bolt"]  # ann moves to BOLT after she was added
    ann.save()

    remove(segment, REDUCE, "no=C2", entire_companies=True)

    assert numbers(segment) == []


def test_a_private_person_matches_only_itself_with_entire_companies(world):
    other_private = make_person(None, no="P9", name="Otto", city="X")
    segment = new_segment()
    add(segment, "no=P4&no=P9")

    remove(segment, REDUCE, "no=P4", entire_companies=True)

    assert numbers(segment) == [other_private.no]


def test_a_reduce_or_refine_records_its_step_with_entire_companies(world):
    segment = new_segment()
    add(segment)

    remove(segment, REFINE, "city=X", entire_companies=True)

    step = CriteriaStep.objects.get(segment=segment, position=2)
    assert (step.action, step.filter, step.entire_companies, step.lines_removed) == (REFINE, "city=X", True, 2)


# --- Manual lines (R28, R29) -----------------------------------------------------------------------


def test_a_manual_line_bypasses_exclusion_and_is_a_step_no_x(world):
    segment = new_segment()
    result = services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=world["bob"])

    assert result.line_count == 1
    assert lines(segment) == [("P2", 10000)]
    step = CriteriaStep.objects.get(segment=segment, position=1)
    assert (step.action, step.filter, step.manual) == (StepAction.ADD, "no=P2", True)
    assert (step.ignore_exclusion, step.allow_existing) == (True, False)


def test_a_manual_line_of_a_contact_already_on_the_worksheet_needs_allow_existing(world):
    # Replaces R29's silent duplicate: the user is told the line and confirms a second one.
    segment = new_segment()
    add(segment, "no=P1")
    add(segment, "no=P1", allow_existing=True)

    with pytest.raises(ValidationError) as refused:
        services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=world["ann"])

    assert refused.value.messages == ["P1 is already on lines 10000, 20000."]
    assert refused.value.error_list[0].code == "already_on_worksheet"
    assert refused.value.error_list[0].params["lines"] == [10000, 20000]
    nothing_written(segment, [("P1", 10000), ("P1", 20000)], 2)

    result = services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=world["ann"], allow_existing=True)

    assert lines(segment) == [("P1", 10000), ("P1", 20000), ("P1", 30000)]
    assert (result.step.position, result.step.manual, result.step.allow_existing) == (3, True, True)


def test_a_manual_step_on_a_contact_no_with_query_characters_replays_that_contact():
    odd = make_company(no="A&B+1=2")
    segment = new_segment()
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=odd)
    services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="ODD")
    other = new_segment()

    services.segment_reuse_criteria(user=COMMAND_LINE, segment=other, code="ODD")

    assert CriteriaStep.objects.get(segment=segment).filter == "no=A%26B%2B1%3D2"
    assert numbers(other) == ["A&B+1=2"]


def test_removing_a_line_by_hand_is_a_step_that_removes_that_line_only(world):
    segment = new_segment()
    add(segment, "no=P1")
    add(segment, "no=P1", allow_existing=True)

    result = services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=20000)

    assert result.removed == 1
    assert lines(segment) == [("P1", 10000)]
    step = CriteriaStep.objects.get(segment=segment, position=3)
    assert (step.action, step.filter, step.manual) == (StepAction.REDUCE, "no=P1", True)
    undo(segment)
    assert lines(segment) == [("P1", 10000), ("P1", 20000)]


def test_removing_a_line_that_does_not_exist_is_an_error_that_writes_nothing(world):
    segment = new_segment()
    add(segment, "no=P1")

    with pytest.raises(ValidationError, match="has no line 20000"):
        services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=20000)

    nothing_written(segment, [("P1", 10000)], 1)


# --- Exact undo (D3) ---------------------------------------------------------------------------


def test_undo_of_an_add_removes_only_that_step_s_lines_and_an_older_line_of_the_contact_stays(world):
    segment = new_segment()
    add(segment, "no=P1")
    add(segment, "no=P1&no=P3", allow_existing=True)

    result = undo(segment)

    assert (result.removed, result.line_count) == (2, 1)
    assert lines(segment) == [("P1", 10000)]
    assert list(CriteriaStep.objects.filter(segment=segment).values_list("position", flat=True)) == [1]


def test_undo_of_a_removal_restores_the_lines_with_their_values_and_numbers(world):
    segment = new_segment()
    add(segment, ignore_exclusion=True)
    edited = line_of(segment, world["carl"])
    set_line(segment, edited.line_no, description="Call Carl first", personal_text="Hi Carl")
    before = {
        line.pk: (line.line_no, line.contact_id, line.description, line.personal_text, line.overrides, line.step_id)
        for line in SegmentLine.objects.filter(segment=segment)
    }

    remove(segment, REDUCE, "city=Y")
    assert len(numbers(segment)) == 3
    result = undo(segment)

    assert result.line_count == 6
    after = {
        line.pk: (line.line_no, line.contact_id, line.description, line.personal_text, line.overrides, line.step_id)
        for line in SegmentLine.objects.filter(segment=segment)
    }
    assert after == before
    assert after[edited.pk][2:5] == ("Call Carl first", "Hi Carl", OVERRIDE_BIT["description"])
    assert not RemovedSegmentLine.objects.filter(segment=segment).exists()


def test_repeated_undo_walks_back_step_by_step_and_then_refuses(world):
    segment = new_segment()
    add(segment, "city=X")
    remove(segment, REFINE, "type=person")
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=world["carl"])
    services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=10000)
    history = [
        [("P4", 10000), ("C1", 20000), ("P1", 30000)],
        [("P4", 10000), ("P1", 30000)],
        [("P4", 10000), ("P1", 30000), ("P3", 40000)],
    ]
    assert lines(segment) == [("P1", 30000), ("P3", 40000)]

    for expected in reversed(history):
        undo(segment)
        assert lines(segment) == expected
    undo(segment)
    assert lines(segment) == []

    with pytest.raises(ValidationError, match="has no step to undo"):
        undo(segment)


# --- Saved criteria (F3.6 with D3, D4) ---------------------------------------------------------------


def test_saved_criteria_replay_as_one_step_that_one_undo_reverses(world):
    source = new_segment()
    add(source, "city=X", expand_contact=True)
    remove(source, REDUCE, "type=company")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="XPERS", description="Persons in X")
    target = new_segment()
    add(target, "no=P3")

    result = services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="XPERS")

    assert sorted(numbers(target)) == ["P1", "P3", "P4"]
    parent = result.step
    assert (parent.action, parent.source, parent.position) == (StepAction.REUSE_CRITERIA, "XPERS", 2)
    assert list(parent.children.order_by("position").values_list("action", "filter")) == [
        ("add", "city=X"),
        ("reduce", "type=company"),
    ]
    undo(target)
    assert numbers(target) == ["P3"]
    assert list(CriteriaStep.objects.filter(segment=target).values_list("position", flat=True)) == [1]


def test_a_replay_on_unchanged_data_selects_the_same_contacts_as_when_saved(world):
    in_group("NEWS", world["ann"], world["carl"], world["solo"])
    source = new_segment()
    add(source, "mailing_group=NEWS", expand_contact=True, ignore_exclusion=True)
    remove(source, REDUCE, "type=company")
    add(source, "no=C2", allow_existing=True)
    remove(source, REFINE, "city=Y", entire_companies=True)
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="SAME")

    target = new_segment()
    services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="SAME")

    assert lines(target) == lines(source)


def test_saved_criteria_keep_their_options(world):
    source = new_segment()
    add(source, "no=P3", expand_contact=True, allow_existing=True, ignore_exclusion=True)
    remove(source, REFINE, "no=C2", entire_companies=True)

    saved = services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="BOLT")

    assert list(
        saved.steps.values_list(
            "position", "action", "filter", "allow_existing", "expand_contact", "ignore_exclusion", "entire_companies"
        )
    ) == [(1, "add", "no=P3", True, True, True, False), (2, "refine", "no=C2", False, False, False, True)]


def test_a_replay_runs_against_today_s_data_and_keeps_entire_companies_on_refine(world):
    source = new_segment()
    add(source, "city=X")
    remove(source, REFINE, "type=company", entire_companies=True)
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="XCOS")
    assert sorted(numbers(source)) == ["C1", "P1"]
    newcomer = make_person(world["acme"], no="P7", name="Nina", city="X")

    target = new_segment()
    services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="XCOS")

    # Entire Companies kept: ACME's persons stay with it (a refine without it would keep C1 only)
    assert sorted(numbers(target)) == ["C1", "P1", newcomer.no]


def test_a_replayed_step_that_no_longer_validates_names_the_criterion_and_writes_nothing(world):
    news = in_group("NEWS", world["ann"], world["solo"])
    source = new_segment()
    add(source, "city=X")
    remove(source, REFINE, "mailing_group=NEWS")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="NEWS")
    ContactMailingGroup.objects.filter(mailing_group=news).delete()
    news.delete()
    target = new_segment()
    add(target, "no=C2&no=P3")

    with pytest.raises(ValidationError) as error:
        services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="NEWS")

    assert error.value.messages == [
        'step 2: criterion "mailing_group=NEWS" is no longer valid: mailing_group: unknown code "NEWS"'
    ]
    nothing_written(target, [("C2", 10000), ("P3", 20000)], 1)


def test_a_replay_whose_later_step_no_longer_validates_writes_not_even_the_earlier_steps(world):
    make_mailing_group("GONE")
    source = new_segment()
    add(source, "city=X")
    add(source, "mailing_group=GONE")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="TWO")
    MailingGroup.objects.filter(code="GONE").delete()
    target = new_segment()

    with pytest.raises(ValidationError, match='step 2: criterion "mailing_group=GONE" is no longer valid'):
        services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="TWO")

    nothing_written(target, [], 0)


def test_saving_criteria_refuses_a_duplicate_code_and_a_segment_without_steps(world):
    segment = new_segment()
    with pytest.raises(ValidationError, match="has no criteria steps"):
        services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="A")
    add(segment, "city=X")
    services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="A")

    with pytest.raises(ValidationError, match='"A" already exist'):
        services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="A")
    with pytest.raises(ValidationError, match='unknown saved criteria "B"'):
        services.segment_reuse_criteria(user=COMMAND_LINE, segment=segment, code="B")
    assert SavedCriteria.objects.count() == 1


def test_saving_after_a_reuse_saves_the_replayed_steps_not_the_reuse(world):
    source = new_segment()
    add(source, "city=X")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="ONE")
    target = new_segment()
    services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="ONE")
    remove(target, REDUCE, "type=company")

    saved = services.segment_save_criteria(user=COMMAND_LINE, segment=target, code="TWO")

    assert list(saved.steps.values_list("position", "action", "filter")) == [
        (1, "add", "city=X"),
        (2, "reduce", "type=company"),
    ]


def test_steps_are_numbered_as_shown_and_a_replay_numbers_its_steps_within_it(world):
    source = new_segment()
    add(source, "city=X")
    remove(source, REDUCE, "type=company")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="XPERS")
    target = new_segment()

    reuse = services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="XPERS")
    after = add(target, "no=P3")

    assert (reuse.step.position, after.step.position) == (1, 2)  # not 4: the replayed steps are the reuse's
    assert list(reuse.step.children.order_by("position").values_list("position", "action")) == [
        (1, "add"),
        (2, "reduce"),
    ]
    saved = services.segment_save_criteria(user=COMMAND_LINE, segment=target, code="AGAIN")
    assert list(saved.steps.values_list("position", "action", "filter")) == [
        (1, "add", "city=X"),
        (2, "reduce", "type=company"),
        (3, "add", "no=P3"),
    ]
    undo(target)
    undo(target)
    assert add(target, "no=P3").step.position == 1


def test_saved_steps_keep_what_they_did_and_whether_they_were_manual(world):
    source = new_segment()
    add(source, "city=X")
    services.segment_add_contact(user=COMMAND_LINE, segment=source, contact=world["ann"], allow_existing=True)
    services.segment_remove_line(user=COMMAND_LINE, segment=source, line_no=40000)

    saved = services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="HAND")

    assert list(saved.steps.values_list("position", "action", "filter", "manual", "lines_added", "lines_removed")) == [
        (1, "add", "city=X", False, 3, 0),
        (2, "add", "no=P1", True, 1, 0),
        (3, "reduce", "no=P1", True, 0, 1),
    ]


def test_removing_one_of_two_lines_by_hand_replays_as_that_one_removal(world):
    # Before: the manual removal was replayed as "reduce no=P1" and removed both lines of ann.
    source = new_segment()
    add(source, "city=X")
    services.segment_add_contact(user=COMMAND_LINE, segment=source, contact=world["ann"], allow_existing=True)
    services.segment_remove_line(user=COMMAND_LINE, segment=source, line_no=40000)
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="HAND")

    target = new_segment()
    result = services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="HAND")

    assert sorted(numbers(target)) == sorted(numbers(source)) == ["C1", "P1", "P4"]
    assert (result.added, result.removed, result.line_count, result.differences) == (4, 1, 3, ())
    replayed = result.step.children.order_by("position")
    assert [(step.manual, step.lines_added, step.lines_removed) for step in replayed] == [
        (False, 3, 0),
        (True, 1, 0),
        (True, 0, 1),
    ]


def test_a_replay_that_does_other_than_recorded_says_so_per_step(world):
    source = new_segment()
    add(source, "city=X")
    services.segment_add_contact(user=COMMAND_LINE, segment=source, contact=world["carl"])
    remove(source, REDUCE, "no=P1")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="DIFF")
    make_person(world["acme"], no="P7", name="Nina", city="X")  # the data changed since
    target = new_segment()
    add(target, "no=P3")  # and so did the worksheet the criteria are replayed on

    result = services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="DIFF")

    assert [str(difference) for difference in result.differences] == [
        "step 1 (add city=X): recorded +3, now +4",
        "step 2 (add no=P3): recorded +1, now 0",
    ]
    first = result.differences[0]
    assert (first.number, first.action, first.filter, first.recorded, first.now) == (1, "add", "city=X", 3, 4)
    assert sorted(numbers(target)) == ["C1", "P3", "P4", "P7"]


def test_a_replay_says_when_a_removal_removed_other_than_recorded(world):
    source = new_segment()
    add(source, "no=P1&no=P4")
    remove(source, REDUCE, "city=Y")
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="NOY")
    target = new_segment()
    add(target, "no=P3")

    result = services.segment_reuse_criteria(user=COMMAND_LINE, segment=target, code="NOY")

    assert [str(difference) for difference in result.differences] == ["step 2 (reduce city=Y): recorded 0, now -1"]


def test_steps_saved_without_recorded_counts_are_not_compared(world):
    source = new_segment()
    add(source, "city=X")
    saved = services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="OLD")
    saved.steps.update(lines_added=None, lines_removed=None)

    result = services.segment_reuse_criteria(user=COMMAND_LINE, segment=source, code="OLD")

    assert (result.added, result.differences) == (0, ())


# --- Header: defaults (R1, R2) ---------------------------------------------------------------------


@pytest.fixture
def template():
    en, nl = make_language("EN"), make_language("NL")
    campaign = make_campaign()
    template = make_template(
        "LETTER",
        description="Product letter",
        unit_cost=Decimal("1.20"),
        unit_duration=Decimal("5"),
        information_flow="outbound",
        initiated_by="us",
        correspondence_type="hard_copy",
        language=en,
        campaign=campaign,
        campaign_target=True,
    )
    InteractionTemplateLanguage.objects.create(template=template, language=en, description="Letter", subject="Hello")
    InteractionTemplateLanguage.objects.create(template=template, language=nl, description="Brief", subject="Hallo")
    return template


def test_creating_with_a_template_copies_its_defaults_and_language_rows(template):
    segment = new_segment(interaction_template=template)

    assert segment.no.startswith("SEG")
    assert (
        segment.interaction_group_id,
        segment.language_id,
        segment.unit_cost,
        segment.unit_duration,
        segment.information_flow,
        segment.initiated_by,
        segment.correspondence_type,
        segment.campaign_id,
        segment.campaign_target,
        segment.subject,
        segment.description,
    ) == (
        template.group_id,
        "EN",
        Decimal("1.20"),
        Decimal("5"),
        "outbound",
        "us",
        "hard_copy",
        template.campaign_id,
        True,
        "Hello",
        "Spring mailing",
    )
    assert set(SegmentLanguage.objects.filter(segment=segment).values_list("language_id", "subject")) == {
        ("EN", "Hello"),
        ("NL", "Hallo"),
    }
    assert segment.date == timezone.localdate()


def test_values_given_with_the_template_win_over_its_defaults(template):
    other_campaign = make_campaign()

    segment = new_segment(
        interaction_template=template,
        unit_cost=Decimal("9"),
        campaign=other_campaign,
        subject="Our news",
        correspondence_type="email",
    )

    assert (segment.unit_cost, segment.campaign_id, segment.subject, segment.correspondence_type) == (
        Decimal("9"),
        other_campaign.pk,
        "Our news",
        "email",
    )
    assert SegmentLanguage.objects.get(segment=segment, language_id="EN").subject == "Our news"


def test_segments_are_numbered_from_the_series():
    assert [new_segment().no for _ in range(2)] == ["SEG00001", "SEG00002"]


# --- Header: propagation (D1, D2) -------------------------------------------------------------------


@pytest.fixture
def filled(template, world):
    """A segment with the template and lines for ann (NL), carl (DE: no row) and solo (no language)."""
    make_language("DE")
    Contact.objects.filter(pk=world["ann"].pk).update(language_id="NL")
    Contact.objects.filter(pk=world["carl"].pk).update(language_id="DE")
    segment = new_segment(interaction_template=template)
    add(segment, "no=P1&no=P3&no=P4")
    return segment


def test_lines_take_their_language_by_r14_and_the_subject_of_that_language(filled, world):
    rows = {
        line.contact.no: (line.language_id, line.subject)
        for line in SegmentLine.objects.filter(segment=filled).select_related("contact")
    }

    assert rows == {"P1": ("NL", "Hallo"), "P3": ("EN", "Hello"), "P4": ("EN", "Hello")}


def test_header_changes_reach_the_lines_except_the_fields_overridden_on_a_line(filled, world):
    ann = line_of(filled, world["ann"])
    set_line(filled, ann.line_no, description="Personal", cost=Decimal("3"))

    services.segment_update(
        user=COMMAND_LINE,
        segment=filled,
        values={"description": "Autumn", "unit_cost": Decimal("2"), "date": datetime.date(2030, 1, 2)},
    )

    values = {
        line.contact.no: (line.description, line.cost, line.date)
        for line in SegmentLine.objects.filter(segment=filled).select_related("contact")
    }
    assert values == {
        "P1": ("Personal", Decimal("3"), datetime.date(2030, 1, 2)),
        "P3": ("Autumn", Decimal("2"), datetime.date(2030, 1, 2)),
        "P4": ("Autumn", Decimal("2"), datetime.date(2030, 1, 2)),
    }


def test_a_line_with_its_own_template_does_not_follow_the_header(filled, world):
    own = make_template("OWN", unit_cost=Decimal("7"))
    carl = line_of(filled, world["carl"])
    set_line(filled, carl.line_no, interaction_template=own, cost=Decimal("7"))

    services.segment_update(user=COMMAND_LINE, segment=filled, values={"description": "Autumn"})

    carl.refresh_from_db()
    assert (carl.interaction_template_id, carl.interaction_group_id, carl.description, carl.cost) == (
        "OWN",
        own.group_id,
        own.description,  # R15: the line's new template brought its description
        Decimal("7"),
    )


def test_header_subject_reaches_default_language_lines_and_language_change_reaches_all(filled, world):
    services.segment_update(user=COMMAND_LINE, segment=filled, values={"subject": "News"})
    subjects = dict(SegmentLine.objects.filter(segment=filled).values_list("contact__no", "subject"))
    assert subjects == {"P1": "Hallo", "P3": "News", "P4": "News"}

    services.segment_update(user=COMMAND_LINE, segment=filled, values={"language": make_language("NL")})
    filled.refresh_from_db()
    assert filled.subject == "Hallo"  # R11: the new default language row's subject
    values = dict(SegmentLine.objects.filter(segment=filled).values_list("contact__no", "language_id"))
    assert values == {"P1": "NL", "P3": "NL", "P4": "NL"}


def test_changing_the_template_re_derives_every_template_field_of_the_following_lines(filled, world, template):
    fr, de = make_language("FR"), make_language("DE")
    other = make_template(
        "MAIL",
        group=make_interaction_group("EMAILS"),
        unit_cost=Decimal("0.10"),
        unit_duration=Decimal("1"),
        correspondence_type="email",
        ignore_contact_correspondence_type=True,
        language=fr,
    )
    InteractionTemplateLanguage.objects.create(template=other, language=fr, subject="Bonjour")
    InteractionTemplateLanguage.objects.create(template=other, language=de, subject="Hallo DE")
    solo = line_of(filled, world["solo"])
    set_line(filled, solo.line_no, subject="Hand-written", duration=Decimal("9"))

    services.segment_update(user=COMMAND_LINE, segment=filled, values={"interaction_template": other})

    filled.refresh_from_db()
    assert (filled.language_id, filled.subject, filled.unit_cost) == ("FR", "Bonjour", Decimal("0.10"))
    values = {
        line.contact.no: (
            line.interaction_template_id,
            line.interaction_group_id,
            line.cost,
            line.duration,
            line.language_id,
            line.subject,
            line.correspondence_type,
        )
        for line in SegmentLine.objects.filter(segment=filled).select_related("contact")
    }
    assert values == {
        "P1": ("MAIL", "EMAILS", Decimal("0.10"), Decimal("1"), "FR", "Bonjour", "email"),  # NL: no row now
        "P3": ("MAIL", "EMAILS", Decimal("0.10"), Decimal("1"), "DE", "Hallo DE", "email"),
        "P4": ("MAIL", "EMAILS", Decimal("0.10"), Decimal("9"), "FR", "Hand-written", "email"),
    }


def test_the_template_can_be_cleared(filled):
    services.segment_update(user=COMMAND_LINE, segment=filled, values={"interaction_template": None})

    filled.refresh_from_db()
    assert (filled.interaction_template_id, filled.interaction_group_id) == (None, None)
    assert not SegmentLanguage.objects.filter(segment=filled).exists()
    assert set(SegmentLine.objects.filter(segment=filled).values_list("interaction_template_id", flat=True)) == {None}


def test_clearing_the_header_salesperson_gives_each_line_its_contact_s_salesperson(world):
    ann_seller, header_seller = make_salesperson("ANN"), make_salesperson("HDR")
    Contact.objects.filter(pk=world["ann"].pk).update(salesperson=ann_seller)
    segment = new_segment(salesperson=header_seller)
    add(segment, "no=P1&no=P4")
    assert set(SegmentLine.objects.filter(segment=segment).values_list("salesperson_id", flat=True)) == {"HDR"}

    services.segment_update(user=COMMAND_LINE, segment=segment, values={"salesperson": None})

    assert dict(SegmentLine.objects.filter(segment=segment).values_list("contact__no", "salesperson_id")) == {
        "P1": "ANN",
        "P4": None,
    }


# --- Line initialisation (F2.4: R12–R14, F1.2) --------------------------------------------------------


@pytest.fixture
def correspondents():
    return {
        "email": make_person(None, no="E1", name="Eve", correspondence_type="email"),
        "paper": make_person(None, no="H1", name="Hal", correspondence_type="hard_copy"),
        "blank": make_person(None, no="B1", name="Ben", correspondence_type=""),
    }


def correspondence(segment) -> dict[str, str]:
    return dict(SegmentLine.objects.filter(segment=segment).values_list("contact__no", "correspondence_type"))


def test_r13_header_ignore_flag_with_a_default_wins(correspondents):
    template = make_template(correspondence_type="email")
    segment = new_segment(
        interaction_template=template, ignore_contact_correspondence_type=True, correspondence_type="hard_copy"
    )
    add(segment)
    assert correspondence(segment) == {"E1": "hard_copy", "H1": "hard_copy", "B1": "hard_copy"}


def test_r13_template_default_when_the_template_ignores_the_contact_or_the_contact_has_none(correspondents):
    ignoring = make_template(correspondence_type="email", ignore_contact_correspondence_type=True)
    segment = new_segment(interaction_template=ignoring)
    add(segment)
    assert correspondence(segment) == {"E1": "email", "H1": "email", "B1": "email"}

    respecting = make_template(correspondence_type="hard_copy")
    segment = new_segment(interaction_template=respecting)
    add(segment)
    assert correspondence(segment) == {"E1": "email", "H1": "hard_copy", "B1": "hard_copy"}


def test_r13_otherwise_the_contact_s_own_type(correspondents):
    segment = new_segment()
    add(segment)
    assert correspondence(segment) == {"E1": "email", "H1": "hard_copy", "B1": ""}

    # the ignore flag without a default does not apply either
    segment = new_segment(interaction_template=make_template(correspondence_type="hard_copy"))
    services.segment_update(
        user=COMMAND_LINE,
        segment=segment,
        values={"ignore_contact_correspondence_type": True, "correspondence_type": ""},
    )
    add(segment)
    assert correspondence(segment) == {"E1": "email", "H1": "hard_copy", "B1": "hard_copy"}


def test_a_new_line_copies_the_header_and_takes_the_contact_s_salesperson_when_the_header_has_none(world):
    seller = make_salesperson("ANN")
    Contact.objects.filter(pk=world["ann"].pk).update(salesperson=seller)
    campaign = make_campaign()
    segment = new_segment(
        campaign=campaign,
        campaign_target=True,
        unit_cost=Decimal("2.50"),
        unit_duration=Decimal("4"),
        information_flow="inbound",
        initiated_by="them",
        send_as_attachment=True,
        date=datetime.date(2031, 5, 6),
    )

    add(segment, "no=P1&no=P4")

    ann = line_of(segment, world["ann"])
    assert (
        ann.description,
        ann.campaign_id,
        ann.campaign_target,
        ann.cost,
        ann.duration,
        ann.information_flow,
        ann.initiated_by,
        ann.send_as_attachment,
        ann.date,
        ann.salesperson_id,
        ann.evaluation,
        ann.overrides,
    ) == (
        "Spring mailing",
        campaign.pk,
        True,
        Decimal("2.50"),
        Decimal("4"),
        "inbound",
        "them",
        True,
        datetime.date(2031, 5, 6),
        "ANN",
        "",
        0,
    )
    assert line_of(segment, world["solo"]).salesperson_id is None


def test_a_line_gets_the_alternate_address_active_on_its_date(world):
    ann = world["ann"]
    home = ContactAltAddress.objects.create(contact=ann, code="HOME", city="Home town")
    summer = ContactAltAddress.objects.create(contact=ann, code="SUMMER", city="Beach")
    ContactAltAddressDateRange.objects.create(contact=ann, alt_address=home, starting_date=datetime.date(2030, 1, 1))
    ContactAltAddressDateRange.objects.create(
        contact=ann,
        alt_address=summer,
        starting_date=datetime.date(2030, 6, 1),
        ending_date=datetime.date(2030, 8, 31),
    )
    dates = {
        datetime.date(2029, 12, 31): None,
        datetime.date(2030, 3, 1): home.pk,
        datetime.date(2030, 7, 1): summer.pk,  # overlapping ranges: the latest start wins
        datetime.date(2030, 9, 1): home.pk,
    }
    for date, expected in dates.items():
        segment = new_segment(date=date)
        add(segment, "no=P1")
        assert line_of(segment, ann).alt_address_id == expected, date

    services.segment_update(user=COMMAND_LINE, segment=segment, values={"date": datetime.date(2030, 7, 1)})
    assert line_of(segment, ann).alt_address_id == summer.pk
    set_line(segment, 10000, date=datetime.date(2030, 2, 1))
    assert line_of(segment, ann).alt_address_id == home.pk


# --- One line: overrides and reset (D1) ----------------------------------------------------------------


def test_set_line_marks_fields_overridden_and_reset_brings_back_the_header_value(filled, world):
    ann = line_of(filled, world["ann"])
    seller = make_salesperson("SP1")

    line = set_line(filled, ann.line_no, description="Mine", salesperson=seller, evaluation="positive")

    assert set(line.overridden_fields) == {"description", "salesperson", "evaluation"}
    services.segment_update(user=COMMAND_LINE, segment=filled, values={"description": "Header"})
    line.refresh_from_db()
    assert line.description == "Mine"

    line = set_line(filled, ann.line_no, reset=["description"])
    assert (line.description, set(line.overridden_fields)) == ("Header", {"salesperson", "evaluation"})

    line = set_line(filled, ann.line_no, reset=["all"])
    assert (line.salesperson_id, line.evaluation, line.overrides) == (None, "", 0)


def test_set_line_language_brings_that_language_s_subject_and_reset_derives_it_again(filled, world):
    carl = line_of(filled, world["carl"])

    line = set_line(filled, carl.line_no, language=make_language("NL"))
    assert (line.language_id, line.subject) == ("NL", "Hallo")

    line = set_line(filled, carl.line_no, reset=["language"])
    assert (line.language_id, line.subject) == ("EN", "Hello")

    set_line(filled, carl.line_no, subject="Own subject")
    line = set_line(filled, carl.line_no, language=make_language("NL"))
    assert (line.language_id, line.subject) == ("NL", "Own subject")
    line = set_line(filled, carl.line_no, reset=["subject"])
    assert line.subject == "Hallo"


def test_resetting_the_template_makes_the_line_follow_the_header_again(filled, world):
    carl = line_of(filled, world["carl"])
    set_line(filled, carl.line_no, interaction_template=make_template("OWN"), cost=Decimal("8"))
    services.segment_update(
        user=COMMAND_LINE, segment=filled, values={"description": "Autumn", "unit_cost": Decimal("2")}
    )

    line = set_line(filled, carl.line_no, reset=["interaction_template"])

    assert (line.interaction_template_id, line.description, line.cost) == ("LETTER", "Autumn", Decimal("8"))


@pytest.fixture
def phone():
    """A template other than the header's: its own values, language rows FR (default) and NL."""
    fr = make_language("FR")
    template = make_template(
        "PHONE",
        group=make_interaction_group("PHONES"),
        description="Phone call",
        unit_cost=Decimal("3"),
        unit_duration=Decimal("10"),
        information_flow="inbound",
        initiated_by="them",
        campaign_target=False,
        campaign_response=True,
        correspondence_type="email",
        language=fr,
        campaign=make_campaign(),
    )
    nl = make_language("NL")
    InteractionTemplateLanguage.objects.create(template=template, language=fr, subject="Bonjour")
    InteractionTemplateLanguage.objects.create(template=template, language=nl, subject="Hallo telefoon")
    return template


LINE_VALUES = (
    "interaction_template_id",
    "interaction_group_id",
    "description",
    "cost",
    "duration",
    "information_flow",
    "initiated_by",
    "campaign_target",
    "campaign_response",
    "correspondence_type",
    "campaign_id",
    "language_id",
    "subject",
)


def values_of(segment, contact) -> tuple:
    return SegmentLine.objects.filter(segment=segment, contact=contact).values_list(*LINE_VALUES).get()


def test_a_line_s_new_template_re_derives_that_line_from_the_template_r15(filled, world, phone):
    Contact.objects.filter(pk__in=[world["ann"].pk, world["carl"].pk]).update(correspondence_type="")
    ann, carl = line_of(filled, world["ann"]), line_of(filled, world["carl"])
    set_line(filled, ann.line_no, cost=Decimal("9"))  # by hand: stays
    header_campaign = filled.campaign_id
    solo_before = values_of(filled, world["solo"])

    set_line(filled, ann.line_no, interaction_template=phone)
    set_line(filled, carl.line_no, interaction_template=phone, subject="Own subject")

    derived = ("PHONE", "PHONES", "Phone call", Decimal("3"), Decimal("10"), "inbound", "them", False, True, "email")
    # the header's campaign, which wins over the template's; the contact's language when the
    # template has a row for it (ann: NL), else the template's default (carl: DE → FR)
    assert values_of(filled, world["ann"]) == (
        *derived[:3],
        Decimal("9"),
        *derived[4:],
        header_campaign,
        "NL",
        "Hallo telefoon",
    )
    assert values_of(filled, world["carl"]) == (*derived, header_campaign, "FR", "Own subject")
    assert values_of(filled, world["solo"]) == solo_before  # that line only
    assert set(line_of(filled, world["ann"]).overridden_fields) == {"cost", "interaction_template"}


def test_a_line_s_new_template_brings_its_campaign_when_the_header_has_none(world, phone):
    segment = new_segment()
    add(segment, "no=P1")

    line = set_line(segment, 10000, interaction_template=phone)

    assert (line.campaign_id, line.language_id, line.subject) == (phone.campaign_id, "FR", "Bonjour")


def test_a_line_s_new_template_keeps_a_description_given_without_template_and_hand_set_fields(world, phone):
    segment = new_segment()  # no template: the lines have the header's description
    add(segment, "no=P1&no=P4")
    set_line(segment, 20000, description="Call her first")

    first = set_line(segment, 10000, interaction_template=phone)
    second = set_line(segment, 20000, interaction_template=phone, duration=Decimal("2"))

    # R15: the description changes when it was blank or came with another template
    assert (first.description, first.cost) == ("Spring mailing", Decimal("3"))
    assert (second.description, second.duration, second.cost) == ("Call her first", Decimal("2"), Decimal("3"))
    other = make_template("OTHER", description="Other call")
    assert set_line(segment, 10000, interaction_template=other).description == "Other call"


def test_a_line_s_new_template_gives_the_correspondence_type_by_r13_else_keeps_the_previous(filled, world):
    Contact.objects.filter(pk=world["ann"].pk).update(correspondence_type="")
    mail = make_template("MAIL", correspondence_type="email")
    blank = make_template("BLANK", correspondence_type="")
    ann = line_of(filled, world["ann"])
    assert ann.correspondence_type == "hard_copy"

    assert set_line(filled, ann.line_no, interaction_template=mail).correspondence_type == "email"
    line = set_line(filled, ann.line_no, interaction_template=blank)

    # R15: neither the contact nor the template has one: the previous value stays
    assert (line.interaction_template_id, line.correspondence_type) == ("BLANK", "email")


def test_a_line_s_new_template_merges_from_that_template_s_word_document(filled, world, phone):
    from segments.documents import with_word_document
    from tests.factories import attach_word_template

    header_document = attach_word_template(filled.interaction_template, "Letter", language=make_language("EN"))
    services.segment_update(user=COMMAND_LINE, segment=filled, values={"interaction_template": phone})
    services.segment_update(
        user=COMMAND_LINE, segment=filled, values={"interaction_template": filled.interaction_template}
    )
    phone_document = attach_word_template(phone, "Phone", language=make_language("FR"))
    carl = line_of(filled, world["carl"])  # EN: the header has no DE row; PHONE has neither
    documents = with_word_document(filled).values_list("contact__no", "word_document_id")
    assert dict(documents)["P3"] == header_document.pk

    set_line(filled, carl.line_no, interaction_template=phone)

    assert dict(documents.all())["P3"] == phone_document.pk  # PHONE's default language, FR
    set_line(filled, carl.line_no, reset=["interaction_template"])
    assert dict(documents.all())["P3"] == header_document.pk


def test_a_line_with_its_own_template_takes_subjects_and_reset_values_from_that_template(filled, world, phone):
    carl = line_of(filled, world["carl"])
    set_line(filled, carl.line_no, interaction_template=phone, cost=Decimal("8"), language=make_language("EN"))

    line = set_line(filled, carl.line_no, language=make_language("NL"))
    assert (line.language_id, line.subject) == ("NL", "Hallo telefoon")  # PHONE's NL row, not the header's
    line = set_line(filled, carl.line_no, reset=["cost", "language"])
    assert (line.cost, line.language_id, line.subject) == (Decimal("3"), "FR", "Bonjour")


def test_a_line_s_new_template_without_any_language_leaves_the_language_to_the_header_rows(filled, world):
    bare = make_template("BARE", unit_cost=Decimal("4"))  # no default language, no language rows
    ann, carl = line_of(filled, world["ann"]), line_of(filled, world["carl"])

    ann = set_line(filled, ann.line_no, interaction_template=bare)
    carl = set_line(filled, carl.line_no, interaction_template=bare)

    assert (ann.cost, ann.language_id, ann.subject) == (Decimal("4"), "NL", "Hallo")
    assert (carl.language_id, carl.subject) == ("EN", "Hello")


def test_clearing_a_line_s_template_clears_its_group_only(filled, world):
    ann = line_of(filled, world["ann"])
    before = values_of(filled, world["ann"])

    set_line(filled, ann.line_no, interaction_template=None)

    assert values_of(filled, world["ann"]) == (None, None, *before[2:])


def test_set_line_refuses_unknown_fields_and_bad_values_and_writes_nothing(filled, world):
    ann = line_of(filled, world["ann"])

    with pytest.raises(ValidationError, match='unknown line field "fax"'):
        set_line(filled, ann.line_no, fax="1")
    with pytest.raises(ValidationError, match='unknown field to reset "fax"'):
        set_line(filled, ann.line_no, reset=["fax"])
    with pytest.raises(ValidationError):
        set_line(filled, ann.line_no, description="ok", evaluation="superb")
    with pytest.raises(ValidationError, match="has no line 5"):
        set_line(filled, 5, description="x")

    ann.refresh_from_db()
    assert (ann.description, ann.evaluation, ann.overrides) == ("Spring mailing", "", 0)


# --- Bad criteria (CONTRACT: clear error, nothing written) -------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fax=1", 'unknown filter name "fax"'),
        ("city=X&salesperson=NOSUCH", 'salesperson: unknown code "NOSUCH"'),
        ("no=NOPE", 'no: unknown contact "NOPE"'),
        ("type=robot", 'type: unknown type "robot" (use company or person)'),
    ],
)
def test_bad_criteria_are_an_error_naming_the_problem_and_nothing_is_written(world, query, message):
    segment = new_segment()
    add(segment, "no=P1")

    for run in (
        lambda: add(segment, query),
        lambda: remove(segment, REDUCE, query),
        lambda: remove(segment, REFINE, query),
        lambda: remove(segment, REFINE, query, entire_companies=True),
        lambda: services.segment_count(segment=segment, action=StepAction.ADD, query=query),
        lambda: services.segment_count(segment=segment, action=REFINE, query=query),
    ):
        with pytest.raises(ValidationError) as error:
            run()
        assert message in error.value.messages

    nothing_written(segment, [("P1", 10000)], 1)


# --- Preview (D5) -------------------------------------------------------------------------------


def test_preview_counts_what_each_step_would_do_without_writing(world):
    segment = new_segment()
    add(segment, "city=X")

    counts = {
        "add": services.segment_count(segment=segment, action="add", query="city=Y", ignore_exclusion=True),
        "add expand": services.segment_count(segment=segment, action="add", query="no=P3", expand_contact=True),
        "reduce": services.segment_count(segment=segment, action=REDUCE, query="type=person"),
        "refine": services.segment_count(segment=segment, action=REFINE, query="type=person"),
        "refine entire": services.segment_count(
            segment=segment, action=REFINE, query="type=person", entire_companies=True
        ),
    }

    assert counts == {"add": 3, "add expand": 2, "reduce": 2, "refine": 1, "refine entire": 0}
    nothing_written(segment, [("P4", 10000), ("C1", 20000), ("P1", 30000)], 1)


# --- Selections are duplicate-free (RELIABILITY 15) ---------------------------------------------------


def test_a_contact_matching_through_several_to_many_rows_gets_one_line(world):
    in_group("NEWS", world["ann"], world["acme"])
    in_group("XMAS", world["ann"])
    retail, trade = make_industry_group("RETAIL"), make_industry_group("TRADE")
    world["acme"].industry_groups.add(retail, trade)
    segment = new_segment()

    query = "mailing_group=NEWS&mailing_group=XMAS&industry_group=RETAIL&industry_group=TRADE"
    preview = services.segment_count(segment=segment, action="add", query=query, expand_contact=True)
    result = add(segment, query, expand_contact=True, allow_company_with_persons=True)

    ids = list(SegmentLine.objects.filter(segment=segment).values_list("contact_id", flat=True))
    assert preview == result.added == len(ids) == len(set(ids)) == 2
    assert sorted(numbers(segment)) == ["C1", "P1"]
    assert remove(segment, REDUCE, query, entire_companies=True).removed == 2


# --- Constant number of statements per step --------------------------------------------------------


def build(count: int) -> None:
    """`count` contacts: companies with two persons each, in city X, all in mailing group M."""
    companies = Contact.objects.bulk_create(
        Contact(no=f"K{i:05d}", name=f"Company {i}", type="company", city="X") for i in range(count // 3)
    )
    persons = Contact.objects.bulk_create(
        Contact(no=f"Q{i:05d}-{j}", name=f"Person {i} {j}", type="person", company=company, city="X")
        for i, company in enumerate(companies)
        for j in range(2)
    )
    in_group("M", *companies, *persons)


@pytest.mark.parametrize("size", [20, 400])
def test_every_step_is_a_constant_number_of_statements_whatever_the_size(size, django_assert_max_num_queries):
    build(size)
    make_language("EN")
    template = make_template()
    InteractionTemplateLanguage.objects.create(template=template, language_id="EN", subject="Hi")
    segment = new_segment(interaction_template=template)
    query = "city=X&mailing_group=M"

    with django_assert_max_num_queries(8):
        services.segment_count(segment=segment, action="add", query=query, expand_contact=True)
    with django_assert_max_num_queries(20):
        add(segment, query, expand_contact=True, allow_company_with_persons=True)
    with django_assert_max_num_queries(20):
        add(segment, query, allow_existing=True)
    with django_assert_max_num_queries(8):
        services.segment_count(segment=segment, action=REFINE, query="type=person", entire_companies=True)
    with django_assert_max_num_queries(20):
        remove(segment, REDUCE, "type=company")
    with django_assert_max_num_queries(20):
        remove(segment, REFINE, "mailing_group=M", entire_companies=True)
    with django_assert_max_num_queries(30):
        services.segment_update(user=COMMAND_LINE, segment=segment, values={"interaction_template": None})
    with django_assert_max_num_queries(30):
        services.segment_update(user=COMMAND_LINE, segment=segment, values={"interaction_template": template})
    with django_assert_max_num_queries(20):
        undo(segment)
    with django_assert_max_num_queries(20):
        undo(segment)
    services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="ALL")
    with django_assert_max_num_queries(40):
        services.segment_reuse_criteria(user=COMMAND_LINE, segment=segment, code="ALL")
    with django_assert_max_num_queries(20):
        undo(segment)
    assert SegmentLine.objects.filter(segment=segment).count() == 2 * 3 * (size // 3)


# --- Reference data on lines (segments/models.py) -------------------------------------------------


def test_reference_data_used_by_a_line_cannot_be_deleted_and_an_alternate_address_is_let_go(world):
    from django.db.models import ProtectedError

    seller = make_salesperson("GONE")
    home = ContactAltAddress.objects.create(contact=world["ann"], code="HOME")
    ContactAltAddressDateRange.objects.create(
        contact=world["ann"], alt_address=home, starting_date=datetime.date(2000, 1, 1)
    )
    segment = new_segment(salesperson=seller)
    add(segment, "no=P1")
    remove(segment, REDUCE, "no=P1")
    add(segment, "no=P1")

    with pytest.raises(ProtectedError):
        seller.delete()
    home.delete()

    assert line_of(segment, world["ann"]).alt_address_id is None
    assert RemovedSegmentLine.objects.get(segment=segment).alt_address_id is None


def test_the_database_refuses_to_delete_a_segment_under_its_lines_though_lines_hold_no_segment_key(world):
    """Lines carry no foreign-key constraint to their segment (issue 13): the step's does the
    work, since a line's step belongs to its segment and a segment with steps cannot go."""
    from django.db import IntegrityError, connection, transaction

    segment = new_segment()
    add(segment, "city=X")
    assert SegmentLine.objects.filter(segment=segment).exists()

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM segments_segment WHERE id = %s", [segment.pk])
        connection.check_constraints()

    assert SegmentLine.objects.filter(segment=segment, step__segment=segment).count() == SegmentLine.objects.count()


def test_deleting_a_segment_deletes_its_lines_steps_and_removed_lines_but_a_step_with_lines_stays(world):
    from django.db import IntegrityError, connection, transaction

    segment = new_segment()
    add(segment, "city=X")
    remove(segment, REDUCE, "type=company")

    with pytest.raises(IntegrityError), transaction.atomic():
        CriteriaStep.objects.get(segment=segment, position=1).delete()
        connection.check_constraints()
    segment.delete()

    assert not SegmentLine.objects.exists()
    assert not RemovedSegmentLine.objects.exists()
    assert not CriteriaStep.objects.exists()
