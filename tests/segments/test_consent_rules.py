"""Consent on the worksheet (CONTRACT "Consent per channel and unsubscribe"; SPEC D17; RELIABILITY 24).

Every selection path (Add, reuse of saved criteria, reuse of a logged segment, follow-up) leaves
out the contacts who withdrew consent for the channel their line would have, "ignore exclusion"
or not, and says how many and why; a manual line of such a contact is refused; the Log refuses
while a line's contact withdrew for the line's channel, listing each line, and the Log page
offers "Remove these N lines" (`segment drop-withdrawn`, a step undo reverses).
"""

from __future__ import annotations

import html
import json
import re
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from crm.consent import contact_set_consent
from crm.models import Contact, CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions.models import CampaignEntry, InteractionLogEntry, LoggedSegment
from segments import log_jobs, services
from segments.models import (
    CriteriaStep,
    LogJobState,
    RemovedSegmentLine,
    SavedCriteriaStep,
    Segment,
    SegmentLine,
)
from segments.services import LeftOut
from segments.services.consent import withdrawn_lines
from segments.services.statistics import page_queries
from tests.conftest import _client_for, make_user
from tests.factories import make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db

EMAIL, HARD_COPY = CorrespondenceType.EMAIL, CorrespondenceType.HARD_COPY


# --- helpers ----------------------------------------------------------------------------------


def withdraw(contact: Contact, *channels: str) -> None:
    contact_set_consent(
        actor=COMMAND_LINE, contact=contact, states=dict.fromkeys(channels, "withdrawn"), source="written request"
    )


def grant(contact: Contact, *channels: str) -> None:
    contact_set_consent(actor=COMMAND_LINE, contact=contact, states=dict.fromkeys(channels, "granted"), source="call")


def new_segment(**values) -> Segment:
    return services.segment_create(user=COMMAND_LINE, values={"description": "Spring mailing", **values})


def add(segment, query="", **options):
    return services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=query, **options)


def numbers(segment) -> list[str]:
    return list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("contact__no", flat=True))


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fail(*args: str) -> list[str]:
    """stderr lines of a failing command (exit 1, nothing on stdout), without Django's last line."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    return err.getvalue().splitlines()


def rows() -> dict:
    """Every row a segment step or a Log writes."""
    models = (Segment, SegmentLine, RemovedSegmentLine, CriteriaStep, LoggedSegment, InteractionLogEntry, CampaignEntry)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    """The page's text, one space between elements."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def world():
    """ACME (company, C1) with persons; every contact has a salesperson and an e-mail address.

    ann (P1) withdrew e-mail consent; bob (P2) withdrew postal consent; carl (P3) withdrew
    e-mail consent and is excluded from segments; dora (P4) and the company gave none.
    The contacts' own correspondence type is blank unless a test sets it.
    """
    salesperson = make_salesperson("ANN")
    acme = make_company(no="C1", name="Acme", city="X", salesperson=salesperson, email="info@acme.test")

    def person(no, name, **kwargs):
        return make_person(
            acme, no=no, name=name, city="X", salesperson=salesperson, email=f"{name}@acme.test", **kwargs
        )

    contacts = {
        "acme": acme,
        "ann": person("P1", "ann"),
        "bob": person("P2", "bob"),
        "carl": person("P3", "carl", exclude_from_segment=True),
        "dora": person("P4", "dora"),
    }
    withdraw(contacts["ann"], "email")
    withdraw(contacts["bob"], "postal")
    withdraw(contacts["carl"], "email")
    contacts["template"] = make_template("MAIL", correspondence_type="")
    return contacts


def email_segment(world, **values) -> Segment:
    """Lines are e-mail lines whatever the contact says (the header ignores the contact's type)."""
    return new_segment(
        interaction_template=world["template"],
        correspondence_type=EMAIL,
        ignore_contact_correspondence_type=True,
        **values,
    )


def set_own_type(contact: Contact, correspondence_type: str) -> None:
    Contact.objects.filter(pk=contact.pk).update(correspondence_type=correspondence_type)


# --- Add ----------------------------------------------------------------------------------------


def test_add_leaves_out_contacts_who_withdrew_consent_for_the_lines_channel(world):
    segment = email_segment(world)

    result = add(segment, "company_no=C1")

    # E-mail lines: ann (e-mail withdrawn) is left out, bob (postal withdrawn) is not; carl is excluded.
    assert numbers(segment) == ["C1", "P2", "P4"]
    assert result.added == 3 and result.line_count == 3
    assert result.left_out == LeftOut(email=1)
    assert result.left_out.messages() == ["1 contact left out: e-mail consent withdrawn"]
    assert CriteriaStep.objects.get(segment=segment).lines_added == 3


def test_ignore_exclusion_never_brings_back_a_withdrawn_contact(world):
    segment = email_segment(world)
    dora = world["dora"]
    Contact.objects.filter(pk=dora.pk).update(exclude_from_segment=True)

    result = add(segment, "company_no=C1", ignore_exclusion=True)

    # carl (excluded and withdrawn) stays out; dora (only excluded) comes in.
    assert numbers(segment) == ["C1", "P2", "P4"]
    assert result.left_out == LeftOut(email=2)
    assert str(result.left_out) == "2 contacts left out: e-mail consent withdrawn"


def test_the_channel_is_the_one_the_line_gets_from_the_contact(world):
    """No template and no header type: each line takes its contact's own correspondence type."""
    set_own_type(world["ann"], HARD_COPY)  # e-mail withdrawn, but a letter: added
    set_own_type(world["bob"], HARD_COPY)  # postal withdrawn and a letter: left out
    set_own_type(world["dora"], EMAIL)
    withdraw(world["acme"], "email", "postal")  # blank type: nothing is sent, no rule applies
    segment = new_segment()

    result = add(segment, "company_no=C1")

    assert numbers(segment) == ["C1", "P1", "P4"]
    assert result.left_out == LeftOut(postal=1)
    assert result.left_out.messages() == ["1 contact left out: postal consent withdrawn"]


def test_the_channel_follows_the_templates_rule_on_the_contacts_type(world):
    """A template with a default type that does not ignore the contact's: the contact's type
    wins where it has one (R13), the template's fills the others."""
    template = make_template("LETTER", correspondence_type=HARD_COPY)
    set_own_type(world["ann"], HARD_COPY)  # e-mail withdrawn, a letter: added
    set_own_type(world["bob"], EMAIL)  # postal withdrawn, an e-mail: added
    withdraw(world["dora"], "postal")  # blank: the template's letter, postal withdrawn: left out
    withdraw(world["acme"], "email")  # blank: a letter, e-mail withdrawn: added
    segment = new_segment(interaction_template=template)

    result = add(segment, "company_no=C1")

    assert numbers(segment) == ["C1", "P1", "P2"]
    assert dict(SegmentLine.objects.filter(segment=segment).values_list("contact__no", "correspondence_type")) == {
        "C1": HARD_COPY,
        "P1": HARD_COPY,
        "P2": EMAIL,
    }
    assert result.left_out == LeftOut(postal=1)


def test_both_channels_are_counted_with_their_reasons(world):
    set_own_type(world["ann"], EMAIL)
    set_own_type(world["bob"], HARD_COPY)
    segment = new_segment()

    result = add(segment, "company_no=C1", ignore_exclusion=True)

    assert numbers(segment) == ["C1", "P3", "P4"]  # carl has no type: his line sends nothing
    assert result.left_out.messages() == [
        "1 contact left out: e-mail consent withdrawn",
        "1 contact left out: postal consent withdrawn",
    ]


def test_expansion_and_company_with_persons_never_bring_in_a_withdrawn_contact(world):
    segment = email_segment(world)

    result = add(segment, "no=P4", expand_contact=True)
    assert numbers(segment) == ["C1", "P2", "P4"] and result.left_out == LeftOut(email=1)

    other = email_segment(world)
    withdraw(world["acme"], "email")
    result = add(other, "no=P1&no=P4", allow_company_with_persons=True)
    assert numbers(other) == ["P4"] and result.left_out == LeftOut(email=2)


def test_the_dry_run_counts_what_the_add_adds(world):
    segment = email_segment(world)

    count = services.segment_count(segment=segment, action="add", query="company_no=C1", ignore_exclusion=True)

    assert count == add(segment, "company_no=C1", ignore_exclusion=True).added == 3


def test_undo_of_an_add_that_left_contacts_out_removes_what_it_added(world):
    segment = email_segment(world)
    add(segment, "no=P4")
    add(segment, "company_no=C1")

    result = services.segment_undo(user=COMMAND_LINE, segment=segment)

    assert numbers(segment) == ["P4"] and result.removed == 2


def test_an_add_costs_the_same_statements_whatever_the_number_of_withdrawn_contacts(
    world, django_assert_max_num_queries
):
    def add_with(withdrawn: int) -> int:
        company = make_company(city="Z", salesperson_id="ANN")
        people = [make_person(company, city="Z") for _ in range(withdrawn + 2)]
        for person in people[:withdrawn]:
            withdraw(person, "email")
        segment = email_segment(world)
        with django_assert_max_num_queries(20) as captured:
            result = add(segment, f"company_no={company.no}")
        assert result.left_out == LeftOut(email=withdrawn) and result.added == 3
        Contact.objects.filter(city="Z").update(city="done")
        return len(captured.captured_queries)

    assert add_with(1) == add_with(12)


# --- Command: add, reuse-criteria, reuse-logged ---------------------------------------------------


def test_the_add_command_says_how_many_were_left_out_and_why(world):
    segment = email_segment(world)

    out, err = run("segment", "add", segment.no, "--filter", "company_no=C1", "--ignore-exclusion")

    assert out == "3\n"
    assert err == "2 contacts left out: e-mail consent withdrawn\n"
    out, err = run("segment", "add", segment.no, "--filter", "no=P4", "--allow-existing")
    assert (out, err) == ("4\n", "")


def test_count_command_counts_without_the_withdrawn(world):
    segment = email_segment(world)
    out, _err = run("segment", "count", segment.no, "--filter", "company_no=C1", "--ignore-exclusion")
    assert out == "3\n"


def test_reuse_of_saved_criteria_after_a_withdrawal_leaves_the_contact_out(world):
    saved_on = email_segment(world)
    add(saved_on, "no=P4&no=C1")
    services.segment_save_criteria(user=COMMAND_LINE, segment=saved_on, code="SPRING")
    withdraw(world["dora"], "email")
    segment = email_segment(world)

    out, err = run("segment", "reuse-criteria", segment.no, "SPRING")

    assert out == "1\n"
    assert err.splitlines() == [
        "step 1 (add no=P4&no=C1): recorded +2, now +1",
        "1 contact left out: e-mail consent withdrawn",
    ]
    assert numbers(segment) == ["C1"]
    services.segment_undo(user=COMMAND_LINE, segment=segment)
    assert numbers(segment) == []


def log_segment(world, query="company_no=C1", **values):
    """Log an e-mail segment of `query`; returns the logged segment."""
    segment = email_segment(world, **values)
    add(segment, query)
    return services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment


def test_reuse_of_a_logged_segment_after_a_withdrawal_leaves_the_contact_out(world):
    """RELIABILITY 24: reusing the logged segment later leaves the contact out."""
    logged = log_segment(world)  # C1, P2, P4
    withdraw(world["dora"], "email")
    segment = email_segment(world)

    out, err = run("segment", "reuse-logged", segment.no, str(logged.pk))

    assert out == "2\n" and err == "1 contact left out: e-mail consent withdrawn\n"
    assert numbers(segment) == ["C1", "P2"]
    step = CriteriaStep.objects.get(segment=segment, parent__isnull=True)
    assert step.lines_added == 2


def test_reuse_of_a_logged_segment_takes_the_channel_of_the_new_segment(world):
    """The lines get this segment's channel: bob (postal withdrawn) is left out of letters."""
    logged = log_segment(world)
    segment = new_segment(
        interaction_template=world["template"], correspondence_type=HARD_COPY, ignore_contact_correspondence_type=True
    )

    result = services.segment_reuse_logged(user=COMMAND_LINE, segment=segment, logged_segment_id=logged.pk)

    assert numbers(segment) == ["C1", "P4"]
    assert result.left_out.messages() == ["1 contact left out: postal consent withdrawn"]


def test_a_follow_up_leaves_out_contacts_who_withdrew(world):
    logged = log_segment(world)
    set_own_type(world["dora"], EMAIL)  # the follow-up has no template: the contact's own type
    withdraw(world["dora"], "email")

    out, err = run("logged_segment", "follow-up", str(logged.pk))

    follow_up = Segment.objects.get(no=out.strip())
    assert numbers(follow_up) == ["C1", "P2"]
    assert err == "1 contact left out: e-mail consent withdrawn\n"


def test_log_with_follow_up_says_who_the_follow_up_left_out(world):
    """The logged lines were e-mails; the follow-up's are letters for bob (his own type), whose
    postal consent is withdrawn."""
    set_own_type(world["bob"], HARD_COPY)
    segment = email_segment(world)
    add(segment, "company_no=C1")

    out, err = run("segment", "log", segment.no, "--follow-up")

    logged_id, follow_up_no = out.split()
    assert numbers(Segment.objects.get(no=follow_up_no)) == ["C1", "P4"]
    assert err == "1 contact left out: postal consent withdrawn\n"
    assert LoggedSegment.objects.get(pk=logged_id).no_of_interactions == 3


# --- add-contact ----------------------------------------------------------------------------------


def test_add_contact_of_a_withdrawn_contact_is_an_error_and_writes_nothing(world):
    segment = email_segment(world)
    add(segment, "no=P4")
    before = rows()

    with pytest.raises(ValidationError) as excinfo:
        services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=world["ann"])
    assert excinfo.value.messages == ["P1: e-mail consent withdrawn"]
    assert fail("segment", "add-contact", segment.no, "P3")[0] == "contact_no: P3: e-mail consent withdrawn"
    assert rows() == before

    # bob withdrew postal consent only: an e-mail line is fine
    out, _err = run("segment", "add-contact", segment.no, "P2")
    assert out == "2\n"


def test_add_contact_names_the_postal_channel(world):
    segment = new_segment(
        interaction_template=world["template"], correspondence_type=HARD_COPY, ignore_contact_correspondence_type=True
    )
    assert fail("segment", "add-contact", segment.no, "P2")[:1] == ["contact_no: P2: postal consent withdrawn"]
    assert not SegmentLine.objects.filter(segment=segment).exists()


def test_the_worksheet_refuses_a_withdrawn_manual_line_as_a_form_error(world, marketing_client):
    segment = email_segment(world)
    before = rows()

    response = marketing_client.post(reverse("segments:segment_add_contact", args=[segment.no]), {"contact_no": "P1"})

    assert response.status_code == 400
    assert "P1: e-mail consent withdrawn" in text_of(response)
    assert rows() == before


# --- Pages: Add, reuse --------------------------------------------------------------------------


def test_the_add_page_says_how_many_were_left_out(world, marketing_client):
    segment = email_segment(world)

    response = marketing_client.post(
        reverse("segments:segment_step", args=[segment.no]), {"action": "add", "company_no": "C1"}
    )

    assert response.status_code == 302
    assert "1 contact left out: e-mail consent withdrawn" in messages_of(response)
    assert numbers(segment) == ["C1", "P2", "P4"]


def test_the_reuse_logged_page_says_how_many_were_left_out(world, marketing_client):
    logged = log_segment(world)
    withdraw(world["bob"], "email")
    segment = email_segment(world)

    response = marketing_client.post(
        reverse("segments:reuse_logged", args=[segment.no]), {"reuse_logged-logged_segment": logged.pk}
    )

    assert response.status_code == 302
    assert "1 contact left out: e-mail consent withdrawn" in messages_of(response)
    assert numbers(segment) == ["C1", "P4"]


def test_the_reuse_criteria_page_says_how_many_were_left_out(world, marketing_client):
    saved_on = email_segment(world)
    add(saved_on, "no=P4")
    services.segment_save_criteria(user=COMMAND_LINE, segment=saved_on, code="SPRING")
    withdraw(world["dora"], "email")
    segment = email_segment(world)

    response = marketing_client.post(
        reverse("segments:criteria_reuse", args=[segment.no]), {"reuse-saved_criteria": "SPRING"}
    )

    assert response.status_code == 302
    assert "1 contact left out: e-mail consent withdrawn" in messages_of(response)
    assert numbers(segment) == []


def test_the_follow_up_page_says_how_many_were_left_out(world, marketing_client):
    logged = log_segment(world)
    set_own_type(world["bob"], EMAIL)
    withdraw(world["bob"], "email")

    response = marketing_client.post(reverse("interactions:logged_segment_follow_up", args=[logged.pk]))

    assert response.status_code == 302
    assert "1 contact left out: e-mail consent withdrawn" in messages_of(response)


# --- The Log refuses withdrawn lines ------------------------------------------------------------


@pytest.fixture
def withdrawn_after_adding(world):
    """An e-mail segment C1, P2, P4 (lines 10000, 20000, 30000) and a letter line for P1 (40000,
    e-mail withdrawn: fine for a letter); then dora withdraws e-mail consent and the company
    both, so lines 10000 and 30000 may not be logged."""
    segment = email_segment(world)
    add(segment, "company_no=C1")
    services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=world["dora"], allow_existing=True)
    line = SegmentLine.objects.get(segment=segment, line_no=40000)
    SegmentLine.objects.filter(pk=line.pk).update(contact=world["ann"], correspondence_type=HARD_COPY)
    withdraw(world["dora"], "email")
    withdraw(world["acme"], "email", "postal")
    return segment


def test_log_refuses_each_line_whose_contact_withdrew_and_writes_nothing(withdrawn_after_adding):
    segment = withdrawn_after_adding
    before = rows()

    problems = fail("segment", "log", segment.no)

    assert problems[:2] == ["line 10000: C1: e-mail consent withdrawn", "line 30000: P4: e-mail consent withdrawn"]
    assert len(problems) == 2
    assert rows() == before


def test_log_refuses_a_postal_withdrawal_on_a_letter_line(world):
    segment = new_segment(
        interaction_template=world["template"], correspondence_type=HARD_COPY, ignore_contact_correspondence_type=True
    )
    add(segment, "no=P4")
    withdraw(world["dora"], "postal")

    assert fail("segment", "log", segment.no)[0] == "line 10000: P4: postal consent withdrawn"
    grant(world["dora"], "postal")
    out, _err = run("segment", "log", segment.no)
    assert LoggedSegment.objects.get(pk=out.strip()).no_of_interactions == 1


def test_a_line_without_correspondence_type_is_logged_whatever_the_consent(world):
    segment = new_segment(interaction_template=world["template"])
    add(segment, "no=P4")  # dora has no type of her own: a line that sends nothing
    withdraw(world["dora"], "email", "postal")

    out, _err = run("segment", "log", segment.no)

    assert InteractionLogEntry.objects.filter(logged_segment_id=out.strip()).count() == 1


def test_the_check_runs_inside_the_logs_transaction(
    withdrawn_after_adding, marketing, django_capture_on_commit_callbacks
):
    """A withdrawal after the Log page's pre-flight (here: after a log job was queued) is refused
    by the Log's own check."""
    segment = withdrawn_after_adding
    grant(Contact.objects.get(no="C1"), "email")
    grant(Contact.objects.get(no="P4"), "email")
    queue = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    with override_settings(TASKS=queue), django_capture_on_commit_callbacks(execute=True):
        job = log_jobs.log_job_start(user=marketing, segment=segment)
    withdraw(Contact.objects.get(no="P4"), "email")
    before = rows()

    log_jobs.log_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == LogJobState.FAILED
    assert job.error == "line 30000: P4: e-mail consent withdrawn"
    assert rows() == before


def test_the_log_service_raises_with_each_line_in_its_withdrawn_list(withdrawn_after_adding):
    with pytest.raises(services.LogPreflightError) as excinfo:
        services.segment_log(user=COMMAND_LINE, segment=withdrawn_after_adding)
    assert excinfo.value.withdrawn == [
        "line 10000: C1: e-mail consent withdrawn",
        "line 30000: P4: e-mail consent withdrawn",
    ]


# --- drop-withdrawn -------------------------------------------------------------------------------


def test_drop_withdrawn_removes_those_lines_as_one_step_that_undo_restores(withdrawn_after_adding):
    segment = withdrawn_after_adding
    before = list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values())

    out, err = run("segment", "drop-withdrawn", segment.no)

    assert (out, err) == ("2\n", "")
    assert numbers(segment) == ["P2", "P1"]
    step = CriteriaStep.objects.filter(segment=segment).latest("position")
    assert (step.action, step.lines_removed, step.drops_withdrawn) == ("reduce", 2, True)
    shown = json.loads(run("segment", "show", segment.no, "--json")[0])["criteria"][-1]
    assert (shown["action"], shown["filter"]) == ("reduce", None)

    assert run("segment", "undo", segment.no)[0] == "4\n"
    assert list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values()) == before
    assert len(fail("segment", "log", segment.no)) == 2  # and the Log refuses them again


def test_drop_withdrawn_then_log(withdrawn_after_adding):
    segment = withdrawn_after_adding
    run("segment", "drop-withdrawn", segment.no)

    out, _err = run("segment", "log", segment.no)

    entries = InteractionLogEntry.objects.filter(logged_segment_id=out.strip())
    assert sorted(entries.values_list("contact__no", flat=True)) == ["P1", "P2"]


def test_drop_withdrawn_with_nothing_withdrawn_writes_no_step(world):
    segment = email_segment(world)
    add(segment, "no=P4")
    before = rows()

    assert run("segment", "drop-withdrawn", segment.no) == ("1\n", "")
    assert rows() == before


def test_saved_criteria_leave_the_drop_out(withdrawn_after_adding):
    segment = withdrawn_after_adding
    run("segment", "drop-withdrawn", segment.no)

    services.segment_save_criteria(user=COMMAND_LINE, segment=segment, code="KEEP")

    assert list(SavedCriteriaStep.objects.values_list("action", flat=True)) == ["add", "add"]


def test_drop_withdrawn_of_an_unknown_segment_fails(db):
    assert fail("segment", "drop-withdrawn", "SEG99999")[0] == 'segment "SEG99999" does not exist'


# --- The Log page ---------------------------------------------------------------------------------


def log_url(segment) -> str:
    """The Log page without delivery (the segments here have no Word document to deliver)."""
    return reverse("segments:segment_log", args=[segment.no]) + "?deliver=0"


def test_the_log_page_lists_the_withdrawn_lines_and_offers_to_remove_them(withdrawn_after_adding, marketing_client):
    segment = withdrawn_after_adding

    response = marketing_client.get(log_url(segment))

    text = text_of(response)
    assert "cannot be logged until" in text
    assert (
        "2 lines have a contact who withdrew consent for the line's channel (lines 10000 (C1, e-mail), "
        "30000 (P4, e-mail)…). Remove them before logging."
    ) in text
    assert "2 lines whose contact withdrew consent" in text
    assert "10000 C1 Acme e-mail" in text and "30000 P4 dora e-mail" in text
    html = response.content.decode()
    assert f'action="{reverse("segments:segment_drop_withdrawn", args=[segment.no])}"' in html
    assert "Remove these 2 lines" in text
    assert '<input type="hidden" name="deliver" value="0">' in html  # back to this page as it is
    assert f"Log {segment.no}</button>" not in html


def test_the_log_page_names_the_first_lines_and_counts_them_all(world, marketing_client):
    company = make_company(no="C9", name="Big", salesperson_id="ANN")
    for i in range(12):
        make_person(company, no=f"Q{i:02d}", name=f"q{i:02d}", salesperson_id="ANN", email="q@big.test")
    segment = email_segment(world)
    add(segment, "company_no=C9")
    for contact in Contact.objects.filter(company=company):
        withdraw(contact, "email")

    text = text_of(marketing_client.get(log_url(segment)))

    assert "12 lines whose contact withdrew consent" in text
    assert "The first 10 of 12." in text and "Remove these 12 lines" in text
    assert "q09" in text and "q10" not in text


def test_remove_these_lines_removes_them_and_says_undo_puts_them_back(withdrawn_after_adding, marketing_client):
    segment = withdrawn_after_adding

    response = marketing_client.post(reverse("segments:segment_drop_withdrawn", args=[segment.no]), {"deliver": "0"})

    assert response.status_code == 302 and response["Location"] == log_url(segment)
    assert messages_of(response) == ["Removed 2 lines whose contacts withdrew consent; Undo puts them back."]
    assert numbers(segment) == ["P2", "P1"]
    page = marketing_client.get(log_url(segment))
    assert "cannot be logged until" not in text_of(page) and f"Log {segment.no}</button>" in page.content.decode()
    worksheet = text_of(marketing_client.get(segment.get_absolute_url()))
    assert "lines whose contact withdrew consent for the line's channel" in worksheet
    undo = text_of(marketing_client.get(reverse("segments:segment_undo", args=[segment.no])))
    assert "lines whose contact withdrew consent for the line's channel" in undo and "restores 2 lines" in undo


def test_logging_from_the_page_is_refused_with_the_lines_listed_once(withdrawn_after_adding, marketing_client):
    segment = withdrawn_after_adding
    before = rows()

    response = marketing_client.post(log_url(segment), {"segment_uuid": str(segment.uuid)})

    assert response.status_code == 400
    text = text_of(response)
    assert "line 10000: C1: e-mail consent withdrawn" not in text  # the CONTRACT lines are the command's
    assert "2 lines have a contact who withdrew consent" in text and "Remove these 2 lines" in text
    assert rows() == before


def test_a_user_who_may_log_but_not_change_segments_gets_no_remove_button(withdrawn_after_adding):
    user = make_user(None, "logger")
    user.user_permissions.add(Permission.objects.get(codename="log_segment"))
    response = _client_for(user).get(log_url(withdrawn_after_adding))
    assert "Remove these 2 lines" not in text_of(response)
    assert "Someone who may change segments can remove them." in text_of(response)


def test_removing_needs_the_change_permission(withdrawn_after_adding, viewer_client):
    before = rows()
    response = viewer_client.post(reverse("segments:segment_drop_withdrawn", args=[withdrawn_after_adding.no]))
    assert response.status_code == 403 and rows() == before


def test_the_log_page_costs_the_same_queries_whatever_the_number_of_withdrawn_lines(
    world, marketing_client, django_assert_max_num_queries
):
    def page_queries_with(withdrawn: int) -> int:
        company = make_company(salesperson_id="ANN", email="x@big.test")
        people = [make_person(company, salesperson_id="ANN", email="q@big.test") for _ in range(withdrawn + 3)]
        segment = email_segment(world)
        add(segment, f"company_no={company.no}")
        for person in people[:withdrawn]:
            withdraw(person, "email")
        with django_assert_max_num_queries(40) as captured:
            assert marketing_client.get(log_url(segment)).status_code == 200
        return len(captured.captured_queries)

    assert page_queries_with(1) == page_queries_with(15)


# --- The check reads from the contacts who withdrew (PostgreSQL plan) -------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_withdrawn_check_does_not_read_every_line_when_nobody_withdrew(world):
    bulk = Contact.objects.bulk_create(
        Contact(no=f"B{i:05d}", name=f"Bulk {i}", type="company", salesperson_id="ANN", email="b@bulk.test")
        for i in range(3000)
    )
    segment = email_segment(world)
    add(segment, "name=Bulk")
    Contact.objects.filter(pk__in=[c.pk for c in bulk]).update(email_consent="granted")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact; ANALYZE segments_segmentline")
    lines = SegmentLine.objects.filter(segment=segment)

    for query in (
        withdrawn_lines(lines, "pk"),
        withdrawn_lines(lines, "line_no", "contact__no", "correspondence_type"),
    ):
        sql, params = query.query.sql_with_params()
        with page_queries(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())

        assert "Seq Scan on segments_segmentline" not in plan, plan
        assert "crm_contact_email_wd_idx" in plan and "crm_contact_post_wd_idx" in plan, plan
    assert list(withdrawn_lines(lines, "pk")) == []
