"""The drift check before Log and Refresh (issue 15; segments.services.drift, segments.drift_views).

Each kind appears with its count and its lines named, nothing appears on an unchanged worksheet;
the replay follows reduce, refine, hand removals, reuse and undo; Refresh is one step that Undo
reverses exactly and after which nothing drifts; the check's query count does not grow with the
number of lines.
"""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import strip_tags

from crm.consent import contact_set_consent
from crm.models import Contact, MailingGroup
from crm.permissions import COMMAND_LINE
from interactions.services import contacts_anonymise
from segments import services
from segments.models import CriteriaStep, RemovedSegmentLine, SegmentLine, StepAction
from segments.services.drift import (
    ANONYMISED,
    EXCLUDED,
    NEW,
    UNMATCHED,
    WITHDRAWN,
    DriftRow,
    segment_drift,
    segment_refresh,
)
from tests.factories import make_company, make_mailing_group, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db


def new_segment(**header):
    template = make_template(correspondence_type="email")
    return services.segment_create(
        user=COMMAND_LINE, values={"description": "Drift", "interaction_template": template, **header}
    )


def delft_world(n: int = 6):
    """`n` Delft companies on a segment built by `add city=Delft`, and two Leiden companies."""
    delft = [make_company(city="Delft", name=f"Delft {i:03d}", email=f"d{i}@x.test") for i in range(n)]
    leiden = [make_company(city="Leiden", name=f"Leiden {i}") for i in range(2)]
    segment = new_segment()
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=Delft")
    return segment, delft, leiden


def drifted_world():
    """`delft_world` where one line's contact of each kind changed: withdrawn (Delft 000),
    excluded (001), anonymised (002), moved away (003), and a Leiden company moved in."""
    segment, delft, leiden = delft_world()
    withdraw(delft[0])
    exclude(delft[1])
    anonymise(delft[2])
    move(delft[3], "Leiden")
    move(leiden[0], "Delft")
    return segment, delft, leiden


def stale_world():
    """`delft_world` with a reduce by a mailing group deleted since, and one withdrawal."""
    segment, delft, _leiden = delft_world()
    make_mailing_group("GONE")
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action="reduce", query="mailing_group=GONE")
    MailingGroup.objects.filter(code="GONE").delete()
    withdraw(delft[0])
    return segment


STALE = 'step 2: criterion "mailing_group=GONE" is no longer valid: mailing_group: unknown code "GONE"'


def line_no(segment, contact) -> int:
    return SegmentLine.objects.get(segment=segment, contact=contact).line_no


def named(segment, *contacts) -> tuple[DriftRow, ...]:
    return tuple(DriftRow(line_no(segment, c), c.no, Contact.objects.get(pk=c.pk).name) for c in contacts)


def move(contact, city: str) -> None:
    Contact.objects.filter(pk=contact.pk).update(city=city)


def withdraw(contact, channel: str = "email") -> None:
    contact_set_consent(actor=COMMAND_LINE, contact=contact, states={channel: "withdrawn"}, source="phone call")


def exclude(contact) -> None:
    Contact.objects.filter(pk=contact.pk).update(exclude_from_segment=True)


def anonymise(contact) -> None:
    contacts_anonymise(user=COMMAND_LINE, contacts=Contact.objects.filter(pk=contact.pk))


def lines_of(segment) -> list[tuple]:
    """Every line with every value, as the database holds it."""
    return list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list())


def kinds(drift) -> dict[str, int]:
    return {group.kind: group.count for group in drift.groups}


def group(drift, kind):
    return next(g for g in drift.groups if g.kind == kind)


# --- The check ------------------------------------------------------------------------------------


def test_an_unchanged_worksheet_shows_nothing():
    segment, _delft, _leiden = delft_world()

    drift = segment_drift(segment=segment)

    assert drift.groups == ()
    assert not drift.changed and drift.by_criteria and drift.problems == ()


def test_lines_removed_as_withdrawn_leave_no_drift_behind():
    """The Log page's "Remove these N lines" (a reduce step without criteria) selects nothing of
    its own in the replay: the worksheet it leaves shows no difference."""
    segment, delft, _leiden = delft_world()
    withdraw(delft[0])
    assert kinds(segment_drift(segment=segment)) == {WITHDRAWN: 1}

    services.segment_drop_withdrawn(user=COMMAND_LINE, segment=segment)

    assert SegmentLine.objects.filter(segment=segment).count() == len(delft) - 1
    assert segment_drift(segment=segment).groups == ()


def test_each_kind_appears_with_its_count_and_its_lines_named():
    segment, delft, leiden = drifted_world()
    newcomer = make_company(city="Delft", name="Delft 999")

    drift = segment_drift(segment=segment)

    assert kinds(drift) == {WITHDRAWN: 1, EXCLUDED: 1, ANONYMISED: 1, UNMATCHED: 1, NEW: 2}
    assert [g.kind for g in drift.groups] == [WITHDRAWN, EXCLUDED, ANONYMISED, UNMATCHED, NEW]
    assert group(drift, WITHDRAWN).rows == named(segment, delft[0])
    assert group(drift, EXCLUDED).rows == named(segment, delft[1])
    assert group(drift, ANONYMISED).rows == named(segment, delft[2])
    assert group(drift, ANONYMISED).rows[0].name == f"Anonymised contact {delft[2].no}"
    assert group(drift, UNMATCHED).rows == named(segment, delft[3])
    # New contacts have no line yet: by contact no.
    assert group(drift, NEW).rows == tuple(
        DriftRow(None, c.no, c.name) for c in sorted([leiden[0], newcomer], key=lambda c: c.no)
    )
    assert group(drift, WITHDRAWN).blocks_log and drift.blocks_log
    assert not any(g.blocks_log for g in drift.groups if g.kind != WITHDRAWN)
    assert group(drift, WITHDRAWN).label == (
        "1 line whose contact withdrew consent for the line's channel (blocks the Log)"
    )
    assert group(drift, NEW).label == "2 contacts who match the criteria now but are not on the worksheet"


def test_a_withdrawal_for_another_channel_than_the_line_s_is_no_drift():
    segment, delft, _leiden = delft_world()
    withdraw(delft[0], "postal")  # the lines are e-mail lines
    withdraw(delft[1], "phone")

    assert segment_drift(segment=segment).groups == ()


def test_a_line_is_listed_once_under_its_contact_s_change_not_again_as_unmatched():
    segment, delft, _leiden = delft_world()
    exclude(delft[0])  # the add honoured the exclusion, so the replay no longer selects it
    withdraw(delft[1])
    move(delft[1], "Leiden")

    drift = segment_drift(segment=segment)

    assert kinds(drift) == {WITHDRAWN: 1, EXCLUDED: 1}


def test_new_contacts_leave_out_those_refresh_never_adds():
    segment, _delft, _leiden = delft_world()
    withdrawn = make_company(city="Delft")
    withdraw(withdrawn)
    anonymised = make_company(city="Delft")
    anonymise(anonymised)
    excluded = make_company(city="Delft", exclude_from_segment=True)
    postal_only = make_company(city="Delft")
    withdraw(postal_only, "postal")  # a new line would be an e-mail line

    drift = segment_drift(segment=segment)

    assert group(drift, NEW).rows == (DriftRow(None, postal_only.no, postal_only.name),)
    assert excluded.pk  # the add honours the exclusion


def test_the_names_shown_are_the_first_ten_and_the_count_is_all():
    segment, delft, _leiden = delft_world(14)
    for contact in delft[:12]:
        move(contact, "Leiden")

    unmatched = group(segment_drift(segment=segment), UNMATCHED)

    assert unmatched.count == 12 and unmatched.more == 2
    assert [row.line_no for row in unmatched.rows] == sorted(line_no(segment, c) for c in delft[:12])[:10]


def test_manual_lines_ignore_the_exclusion_and_are_no_criteria():
    """A line added by hand (R29) is the user's choice: excluding its contact later is no drift;
    a worksheet of manual lines only is not built by criteria (nothing new, nothing unmatched)."""
    segment = new_segment()
    chosen, other = make_company(city="Delft"), make_company(city="Delft")
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=chosen)
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=other)
    exclude(chosen)
    anonymise(other)

    drift = segment_drift(segment=segment)

    assert not drift.by_criteria
    assert kinds(drift) == {ANONYMISED: 1}


def test_an_add_that_ignored_the_exclusion_lists_no_excluded_line():
    segment = new_segment()
    contact = make_company(city="Delft")
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=Delft", ignore_exclusion=True)
    exclude(contact)

    assert segment_drift(segment=segment).groups == ()


def test_a_contact_anonymised_before_its_line_was_added_is_no_drift():
    contact = make_company(city="Delft")
    anonymise(contact)  # its address goes too: select it by type
    segment = new_segment()
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="type=company")

    assert SegmentLine.objects.filter(segment=segment).count() == 1
    assert segment_drift(segment=segment).groups == ()


def test_the_replay_follows_reduce_and_refine():
    """Add city=Delft, reduce mailing_group=STOP, refine mailing_group=KEEP: a contact that now
    joins STOP or leaves KEEP no longer belongs; one that left STOP or joined KEEP does."""
    stop, keep = make_mailing_group("STOP"), make_mailing_group("KEEP")
    contacts = [make_company(city="Delft", name=f"Delft {i}") for i in range(5)]
    for contact in contacts:
        contact.mailing_groups.add(keep)
    contacts[0].mailing_groups.add(stop)
    contacts[1].mailing_groups.remove(keep)
    segment = new_segment()
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=Delft")
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action="reduce", query="mailing_group=STOP")
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action="refine", query="mailing_group=KEEP")
    assert segment_drift(segment=segment).groups == ()

    contacts[0].mailing_groups.remove(stop)  # reduced before, belongs now
    contacts[1].mailing_groups.add(keep)  # refined away before, belongs now
    contacts[2].mailing_groups.add(stop)  # now reduced
    contacts[3].mailing_groups.remove(keep)  # now refined away

    drift = segment_drift(segment=segment)

    assert kinds(drift) == {UNMATCHED: 2, NEW: 2}
    assert group(drift, UNMATCHED).rows == named(segment, contacts[2], contacts[3])
    assert {row.contact_no for row in group(drift, NEW).rows} == {contacts[0].no, contacts[1].no}


def test_entire_companies_in_the_replay():
    company = make_company(city="Delft", name="Acme")
    person = make_person(company, city="Delft")
    group_x = make_mailing_group("X")
    segment = new_segment()
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=Delft")
    services.segment_remove_contacts(
        user=COMMAND_LINE, segment=segment, action="reduce", query="mailing_group=X", entire_companies=True
    )
    assert segment_drift(segment=segment).groups == ()

    person.mailing_groups.add(group_x)  # the whole company is now reduced

    drift = segment_drift(segment=segment)

    assert kinds(drift) == {UNMATCHED: 2}
    assert {row.contact_no for row in group(drift, UNMATCHED).rows} == {company.no, person.no}


def test_a_line_removed_by_hand_stays_removed():
    segment, delft, _leiden = delft_world()
    services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=line_no(segment, delft[0]))

    assert segment_drift(segment=segment).groups == ()


def test_one_of_two_lines_of_a_contact_removed_by_hand_keeps_the_contact():
    segment, delft, _leiden = delft_world()
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=delft[0], allow_existing=True)
    second = SegmentLine.objects.filter(segment=segment, contact=delft[0]).order_by("-line_no").first()
    services.segment_remove_line(user=COMMAND_LINE, segment=segment, line_no=second.line_no)

    assert segment_drift(segment=segment).groups == ()


def test_undone_steps_do_not_count():
    segment, delft, _leiden = delft_world()
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action="reduce", query=f"no={delft[0].no}")
    services.segment_undo(user=COMMAND_LINE, segment=segment)

    assert segment_drift(segment=segment).groups == ()


def test_reused_saved_criteria_replay_their_steps():
    source, delft, leiden = delft_world()
    services.segment_save_criteria(user=COMMAND_LINE, segment=source, code="DELFT")
    segment = new_segment()
    services.segment_reuse_criteria(user=COMMAND_LINE, segment=segment, code="DELFT")
    assert segment_drift(segment=segment).groups == ()

    move(leiden[0], "Delft")

    assert kinds(segment_drift(segment=segment)) == {NEW: 1}


def test_a_reused_logged_segment_s_contacts_belong():
    logged_source, delft, _leiden = delft_world(2)
    services.segment_update(user=COMMAND_LINE, segment=logged_source, values={"salesperson": make_salesperson()})
    logged = services.segment_log(user=COMMAND_LINE, segment=logged_source).logged_segment
    segment = new_segment()
    services.segment_reuse_logged(user=COMMAND_LINE, segment=segment, logged_segment_id=logged.pk)
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="city=Leiden")
    move(delft[0], "Rotterdam")  # not a criterion of this segment: the logged segment brought it

    assert segment_drift(segment=segment).groups == ()


def test_criteria_that_no_longer_validate_are_named_and_the_rest_is_still_checked():
    segment = stale_world()

    drift = segment_drift(segment=segment)

    assert kinds(drift) == {WITHDRAWN: 1}
    assert drift.problems == (STALE,)


# --- Refresh --------------------------------------------------------------------------------------


def test_refresh_applies_every_difference_as_one_step():
    segment, delft, leiden = drifted_world()
    before = SegmentLine.objects.filter(segment=segment).count()
    last_line = max(line.line_no for line in SegmentLine.objects.filter(segment=segment))

    result = segment_refresh(user=COMMAND_LINE, segment=segment)

    assert (result.removed, result.added, result.line_count) == (4, 1, before - 3)
    step = CriteriaStep.objects.get(segment=segment, action=StepAction.REFRESH)
    assert result.step == step and step.parent is None
    assert (step.lines_added, step.lines_removed) == (1, 4)
    assert set(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True)) == {
        delft[4].no,
        delft[5].no,
        leiden[0].no,
    }
    new_line = SegmentLine.objects.get(segment=segment, contact=leiden[0])
    assert new_line.step == step and new_line.line_no == last_line + services.LINE_NO_STEP
    assert new_line.correspondence_type == "email" and new_line.description == segment.description
    assert RemovedSegmentLine.objects.filter(removed_by=step).count() == 4
    assert segment_drift(segment=segment).groups == ()


def test_undo_of_a_refresh_restores_the_worksheet_exactly():
    segment, _delft, _leiden = drifted_world()
    SegmentLine.objects.filter(segment=segment).update(personal_text="kept")  # values survive the round trip
    before = lines_of(segment)
    steps_before = list(CriteriaStep.objects.filter(segment=segment).values_list("pk", flat=True))

    segment_refresh(user=COMMAND_LINE, segment=segment)
    undone = services.segment_undo(user=COMMAND_LINE, segment=segment)

    assert (undone.removed, undone.added) == (1, 4)
    assert lines_of(segment) == before
    assert list(CriteriaStep.objects.filter(segment=segment).values_list("pk", flat=True)) == steps_before
    assert not RemovedSegmentLine.objects.filter(segment=segment).exists()


def test_refresh_with_nothing_to_change_writes_nothing():
    segment, _delft, _leiden = delft_world()
    before = lines_of(segment)

    result = segment_refresh(user=COMMAND_LINE, segment=segment)

    assert result.step is None and (result.added, result.removed) == (0, 0)
    assert lines_of(segment) == before
    assert not CriteriaStep.objects.filter(segment=segment, action=StepAction.REFRESH).exists()


def test_refresh_of_a_worksheet_of_manual_lines_removes_the_changed_contacts_only():
    segment = new_segment()
    kept, gone = make_company(city="Delft"), make_company(city="Delft")
    for contact in (kept, gone):
        services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=contact)
    withdraw(gone)
    move(kept, "Leiden")

    result = segment_refresh(user=COMMAND_LINE, segment=segment)

    assert (result.removed, result.added) == (1, 0)
    assert list(SegmentLine.objects.filter(segment=segment).values_list("contact_id", flat=True)) == [kept.pk]


def test_refresh_refuses_criteria_that_no_longer_validate_and_writes_nothing():
    segment = stale_world()
    before = lines_of(segment)

    with pytest.raises(ValidationError) as error:
        segment_refresh(user=COMMAND_LINE, segment=segment)

    assert error.value.messages == [STALE]
    assert lines_of(segment) == before
    assert not CriteriaStep.objects.filter(segment=segment, action=StepAction.REFRESH).exists()


def test_a_refresh_is_not_saved_with_the_criteria_nor_listed_as_one():
    segment, _delft, leiden = drifted_world()
    segment_refresh(user=COMMAND_LINE, segment=segment)
    saved = services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="AFTER")

    assert list(saved.steps.values_list("action", flat=True)) == [StepAction.ADD]
    from segments.management.commands.segment import segment_json

    assert [step["action"] for step in segment_json(segment)["criteria"]] == ["add"]


# --- Query count ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 40])
def test_the_check_s_query_count_does_not_grow_with_the_lines(size, django_assert_max_num_queries):
    segment, delft, leiden = delft_world(size)
    mailing = make_mailing_group("NEWS")
    for contact in delft:
        contact.mailing_groups.add(mailing)
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action="refine", query="mailing_group=NEWS")
    for contact in delft[: size // 3 + 1]:
        move(contact, "Leiden")
        withdraw(contact)
        exclude(contact)
    anonymise(delft[-1])
    move(leiden[0], "Delft")
    leiden[0].mailing_groups.add(mailing)

    # The steps, the mailing group's code, the statement (PostgreSQL: in a transaction with its SET LOCAL).
    with django_assert_max_num_queries(6):
        drift = segment_drift(segment=segment)

    assert drift.count(NEW) == 1 and drift.count(WITHDRAWN) == size // 3 + 1


@pytest.mark.parametrize("size", [3, 40])
def test_refresh_is_a_constant_number_of_statements(size, django_assert_max_num_queries):
    segment, delft, leiden = delft_world(size)
    for contact in delft[: size // 3 + 1]:
        move(contact, "Leiden")
    withdraw(delft[-1])
    move(leiden[0], "Delft")

    with django_assert_max_num_queries(40):
        result = segment_refresh(user=COMMAND_LINE, segment=segment)

    assert (result.removed, result.added) == (size // 3 + 2, 1)


# --- Pages ----------------------------------------------------------------------------------------


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def test_the_log_page_loads_the_drift_panel_after_it_shows(marketing_client):
    segment, delft, _leiden = drifted_world()

    response = marketing_client.get(reverse("segments:segment_log", args=[segment.no]))

    drift_url = reverse("segments:segment_drift", args=[segment.no])
    assert f'hx-get="{drift_url}"' in response.content.decode()
    assert "Checking what changed since the lines were added" in text_of(response)
    assert delft[3].no not in text_of(response)  # the panel itself comes with its own request


def test_the_drift_panel_names_the_lines(marketing_client):
    segment, delft, leiden = drifted_world()

    response = marketing_client.get(
        reverse("segments:segment_drift", args=[segment.no]), headers={"HX-Request": "true"}
    )

    text = text_of(response)
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert "1 line whose contact withdrew consent for the line's channel (blocks the Log)" in text
    assert f"line {line_no(segment, delft[0])}: {delft[0].no} {delft[0].name}" in text
    assert "1 line whose contact was set to “exclude from segment” since it was added" in text
    assert "1 line whose contact was anonymised since it was added" in text
    assert f"line {line_no(segment, delft[3])}: {delft[3].no} {delft[3].name}" in text
    assert "1 contact who matches the criteria now but is not on the worksheet" in text
    assert f"{leiden[0].no} {leiden[0].name}" in text
    assert "Refresh the worksheet" in text
    assert "The Log refuses the lines whose contact withdrew consent" in text


def test_without_htmx_the_drift_panel_is_a_page(marketing_client):
    segment, _delft, _leiden = delft_world()

    response = marketing_client.get(reverse("segments:segment_drift", args=[segment.no]))

    text = text_of(response)
    assert "<html" in response.content.decode()
    assert "and the lines match the criteria today" in text and "Refresh the worksheet" not in text


def test_the_refresh_button_applies_it_and_says_what_changed(marketing_client):
    segment, _delft, _leiden = drifted_world()

    response = marketing_client.post(reverse("segments:segment_refresh", args=[segment.no]))

    assert response.status_code == 302 and response.url == reverse("segments:segment_log", args=[segment.no])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Refresh: 4 lines removed, 1 added; Undo puts it back."
    ]
    assert segment_drift(segment=segment).groups == ()


def test_refresh_needs_the_change_permission(viewer_client):
    segment, _delft, _leiden = drifted_world()
    before = lines_of(segment)

    response = viewer_client.post(reverse("segments:segment_refresh", args=[segment.no]))

    assert response.status_code == 403
    assert lines_of(segment) == before


def test_the_worksheet_and_its_undo_name_a_refresh(marketing_client):
    segment, _delft, _leiden = drifted_world()
    segment_refresh(user=COMMAND_LINE, segment=segment)

    worksheet = marketing_client.get(segment.get_absolute_url())
    undo = marketing_client.get(reverse("segments:segment_undo", args=[segment.no]))

    assert worksheet.status_code == 200
    assert "2 Refresh what changed since the lines were added — +1 −4" in text_of(worksheet)
    assert "Step 2: Refresh — what changed since the lines were added" in text_of(undo)
