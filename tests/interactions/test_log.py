"""The Log transaction (segments.services.segment_log): SPEC F4 with D7, D8, D11."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.models import ContactAltAddress, ContactAltAddressDateRange, CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions.models import CampaignEntry, DeliveryStatus, InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import CriteriaStep, Segment, SegmentLine, StepAction
from tests.factories import (
    attach_word_template,
    make_campaign,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_salutation,
    make_template,
)

pytestmark = pytest.mark.django_db


def build(n_persons=3, **header):
    """A segment with a company and `n_persons` persons, a template and a salesperson."""
    salesperson = make_salesperson("ANN")
    template = header.pop("template", None) or make_template(correspondence_type="")
    company = make_company(salesperson=salesperson, email="info@acme.test")
    persons = [make_person(company, salesperson=salesperson, email=f"p{i}@acme.test") for i in range(n_persons)]
    segment = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Spring mailing", "interaction_template": template, **header}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    return segment, [company, *persons]


def log(segment, **options):
    return segment_services.segment_log(user=COMMAND_LINE, segment=segment, **options)


def test_log_turns_every_line_into_one_entry_and_deletes_the_segment():
    segment, contacts = build()
    line_values = {line.pk: line for line in SegmentLine.objects.filter(segment=segment).select_related("contact")}

    result = log(segment)

    assert result.entries == 4
    logged = result.logged_segment
    assert logged.segment_no == segment.no and logged.source_uuid == segment.uuid
    assert logged.description == "Spring mailing" and logged.no_of_interactions == 4
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not SegmentLine.objects.filter(segment_id=segment.pk).exists()
    assert not CriteriaStep.objects.filter(segment_id=segment.pk).exists()
    entries = InteractionLogEntry.objects.filter(logged_segment=logged)
    assert sorted(entries.values_list("segment_line_id", flat=True)) == sorted(line_values)
    for entry in entries:
        line = line_values[entry.segment_line_id]
        for field in (
            "contact_id",
            "date",
            "description",
            "subject",
            "information_flow",
            "initiated_by",
            "cost",
            "duration",
            "interaction_template_id",
            "interaction_group_id",
            "language_id",
            "salesperson_id",
            "campaign_id",
            "campaign_target",
            "campaign_response",
            "evaluation",
            "correspondence_type",
            "alt_address_id",
            "send_as_attachment",
            "personal_text",
        ):
            assert getattr(entry, field) == getattr(line, field), field
        assert entry.segment_no == segment.no
        assert entry.contact_company_id == (line.contact.company_id or line.contact_id)
        assert entry.delivery_status == "" and not entry.canceled


def test_entries_are_numbered_in_line_order_whatever_order_the_contacts_were_made_in():
    """Entry numbers follow the worksheet's line numbers (the export and the logged segment list
    the entries as the worksheet listed its lines), even when the contacts were made in the
    opposite order and the database would read them in another one."""
    salesperson = make_salesperson("ANN")
    company = make_company(salesperson=salesperson)
    persons = [make_person(company, salesperson=salesperson) for _ in range(60)]
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={"description": "Spring mailing", "interaction_template": make_template(correspondence_type="")},
    )
    for contact in reversed([company, *persons]):
        segment_services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=contact)
    in_line_order = list(
        SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("contact_id", flat=True)
    )

    logged = log(segment).logged_segment

    assert (
        list(
            InteractionLogEntry.objects.filter(logged_segment=logged)
            .order_by("pk")
            .values_list("contact_id", flat=True)
        )
        == in_line_order
    )


def test_every_field_of_an_entry_is_its_line_after_overrides():
    segment, contacts = build(n_persons=1, campaign=make_campaign())
    line = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    language = make_language("FR")
    other_salesperson = make_salesperson("BOB")
    segment_services.segment_set_line(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line.line_no,
        values={
            "description": "Personal",
            "subject": "Hello",
            "correspondence_type": CorrespondenceType.HARD_COPY,
            "language": language,
            "salesperson": other_salesperson,
            "date": datetime.date(2026, 12, 24),
            "cost": Decimal("9.99"),
            "duration": Decimal("12"),
            "information_flow": "inbound",
            "initiated_by": "them",
            "evaluation": "positive",
            "campaign_target": True,
            "campaign_response": True,
            "send_as_attachment": True,
            "personal_text": "See you in Delft",
        },
    )

    log(segment)

    entry = InteractionLogEntry.objects.get(segment_line_id=line.pk)
    assert (entry.description, entry.subject, entry.correspondence_type) == ("Personal", "Hello", "hard_copy")
    assert (entry.language_id, entry.salesperson_id, entry.date) == ("FR", "BOB", datetime.date(2026, 12, 24))
    assert (entry.cost, entry.duration) == (Decimal("9.99"), Decimal("12.00"))
    assert (entry.information_flow, entry.initiated_by, entry.evaluation) == ("inbound", "them", "positive")
    assert entry.campaign_target and entry.campaign_response and entry.send_as_attachment
    assert entry.personal_text == "See you in Delft"


def test_one_campaign_entry_per_campaign_dated_by_the_first_line():
    spring, autumn = make_campaign(), make_campaign()
    segment, contacts = build(n_persons=3, campaign=spring)
    last = SegmentLine.objects.filter(segment=segment).order_by("-line_no")
    first_autumn, second_autumn = last[0], last[1]
    segment_services.segment_set_line(
        user=COMMAND_LINE,
        segment=segment,
        line_no=first_autumn.line_no,
        values={"campaign": autumn, "date": datetime.date(2026, 3, 2)},
    )
    segment_services.segment_set_line(
        user=COMMAND_LINE,
        segment=segment,
        line_no=second_autumn.line_no,
        values={"campaign": autumn, "date": datetime.date(2026, 3, 1), "salesperson": make_salesperson("EVE")},
    )

    result = log(segment)

    assert result.campaign_entries == 2
    entries = {entry.campaign_id: entry for entry in CampaignEntry.objects.filter(logged_segment=result.logged_segment)}
    assert set(entries) == {spring.pk, autumn.pk}
    assert entries[autumn.pk].date == datetime.date(2026, 3, 1) and entries[autumn.pk].salesperson_id == "EVE"
    assert entries[autumn.pk].segment_no == segment.no and entries[autumn.pk].description == "Spring mailing"
    for entry in InteractionLogEntry.objects.filter(logged_segment=result.logged_segment):
        assert entry.campaign_entry_id == entries[entry.campaign_id].pk
    assert result.logged_segment.no_of_campaign_entries == 2


def test_an_email_line_without_address_is_logged_without_correspondence_type():
    segment, contacts = build(n_persons=1)
    person = contacts[1]
    person.email = ""
    person.save()
    line = SegmentLine.objects.get(segment=segment, contact=person)
    segment_services.segment_set_line(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line.line_no,
        values={"correspondence_type": CorrespondenceType.EMAIL},
    )

    log(segment)

    entry = InteractionLogEntry.objects.get(contact=person)
    assert entry.correspondence_type == "" and entry.contact_via == ""


def test_an_email_line_uses_the_alternate_address_e_mail_active_on_its_date():
    segment, contacts = build(n_persons=1, date=datetime.date(2026, 6, 1))
    person = contacts[1]
    alt = ContactAltAddress.objects.create(contact=person, code="HOLIDAY", email="beach@home.test")
    ContactAltAddressDateRange.objects.create(
        contact=person, alt_address=alt, starting_date=datetime.date(2026, 5, 1), ending_date=datetime.date(2026, 7, 1)
    )
    line = SegmentLine.objects.get(segment=segment, contact=person)
    segment_services.segment_set_line(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line.line_no,
        values={"correspondence_type": CorrespondenceType.EMAIL, "date": datetime.date(2026, 6, 2)},
    )

    log(segment)

    entry = InteractionLogEntry.objects.get(contact=person)
    assert entry.alt_address_id == alt.pk
    assert (entry.correspondence_type, entry.contact_via) == ("email", "beach@home.test")


def test_a_second_log_says_who_logged_it_and_writes_nothing():
    segment, _ = build()
    log(segment)

    with pytest.raises(segment_services.SegmentAlreadyLogged) as error:
        log(segment)
    assert f"Segment {segment.no} was already logged by" in error.value.messages[0]
    with pytest.raises(segment_services.SegmentAlreadyLogged):
        log(segment.no)
    assert LoggedSegment.objects.count() == 1 and InteractionLogEntry.objects.count() == 4


def test_a_line_edit_after_the_log_is_refused_as_already_logged():
    segment, _ = build()
    log(segment)

    with pytest.raises(segment_services.SegmentAlreadyLogged):
        segment_services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=make_company())


def test_preflight_lists_every_problem_and_writes_nothing():
    segment, contacts = build(n_persons=2)
    Segment.objects.filter(pk=segment.pk).update(description="")
    SegmentLine.objects.filter(segment=segment, contact__in=contacts[:2]).update(salesperson=None)
    SegmentLine.objects.filter(segment=segment, contact=contacts[2]).update(interaction_template=None)

    with pytest.raises(segment_services.LogPreflightError) as error:
        log(segment)

    messages = error.value.messages
    assert messages[0] == "The segment has no description."
    assert any(message.startswith("2 lines have no salesperson") for message in messages)
    assert any("has no interaction template" in message for message in messages)
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert LoggedSegment.objects.count() == 0 and InteractionLogEntry.objects.count() == 0


def test_preflight_refuses_an_empty_segment():
    segment = segment_services.segment_create(user=COMMAND_LINE, values={"description": "Empty"})
    with pytest.raises(segment_services.LogPreflightError, match="no lines"):
        log(segment)
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_delivery_preflight_names_contacts_without_address_or_salutation_formula():
    template = make_template(correspondence_type="")
    attach_word_template(template, "{{ salutation_formal }},", "{{ address_block }}")
    segment, contacts = build(
        n_persons=2,
        template=template,
        correspondence_type=CorrespondenceType.EMAIL,
        ignore_contact_correspondence_type=True,
    )
    contacts[1].email = ""
    contacts[1].save()
    greeted = make_salutation("MR", {(None, "formal"): "Dear %surname"})
    contacts[0].salutation = greeted
    contacts[0].save()

    assert segment_services.segment_log_problems(segment=segment) == []
    problems = segment_services.segment_log_problems(segment=segment, deliver=True)

    assert any(contacts[1].no in problem and "no e-mail address" in problem for problem in problems)
    assert any(contacts[2].no in problem and "salutation formula" in problem for problem in problems)
    assert not any(contacts[0].no in problem for problem in problems)


def test_delivery_preflight_checks_only_the_salutations_the_word_document_uses():
    template = make_template(correspondence_type="")
    attach_word_template(template, "Hello {{ contact.name }}")
    segment, _contacts = build(
        n_persons=1,
        template=template,
        correspondence_type=CorrespondenceType.EMAIL,
        ignore_contact_correspondence_type=True,
    )

    assert segment_services.segment_log_problems(segment=segment, deliver=True) == []


def test_delivery_preflight_names_the_template_without_a_word_document():
    segment, _contacts = build(
        n_persons=1, correspondence_type=CorrespondenceType.EMAIL, ignore_contact_correspondence_type=True
    )
    template = segment.interaction_template

    problems = segment_services.segment_log_problems(segment=segment, deliver=True)

    assert any(f'"{template.code}" has no Word document' in problem and "(2 lines)" in problem for problem in problems)
    with pytest.raises(segment_services.LogPreflightError):
        log(segment, deliver=True)
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_log_with_deliver_marks_deliverable_entries_in_progress():
    template = make_template(correspondence_type="")
    document = attach_word_template(template, "{{ salutation_formal }}")
    segment, contacts = build(
        n_persons=1,
        template=template,
        correspondence_type=CorrespondenceType.HARD_COPY,
        ignore_contact_correspondence_type=True,
    )
    salutation = make_salutation("MS", {(None, "formal"): "Dear %surname"})
    for contact in contacts:
        contact.salutation = salutation
        contact.save()

    result = log(segment, deliver=True)

    assert result.deliveries == 2
    statuses = set(InteractionLogEntry.objects.values_list("delivery_status", flat=True))
    assert statuses == {DeliveryStatus.IN_PROGRESS}
    assert set(InteractionLogEntry.objects.values_list("word_template_id", flat=True)) == {document.pk}
    document.refresh_from_db()
    assert document.read_only


def test_follow_up_segment_has_the_same_contacts_and_the_old_campaign():
    campaign = make_campaign()
    segment, contacts = build(n_persons=2, campaign=campaign)

    result = log(segment, follow_up=True)

    follow_up = result.follow_up
    assert follow_up.description == f"Follow-up on segment {segment.no}"
    assert follow_up.campaign_id == campaign.pk and follow_up.interaction_template_id is None
    assert sorted(SegmentLine.objects.filter(segment=follow_up).values_list("contact_id", flat=True)) == sorted(
        c.pk for c in contacts
    )
    step = CriteriaStep.objects.get(segment=follow_up)
    assert step.action == StepAction.REUSE_LOGGED and step.source == str(result.logged_segment.pk)


def test_reuse_logged_adds_one_line_per_entry_with_its_campaign_and_undo_reverses_it():
    spring = make_campaign()
    segment, contacts = build(n_persons=1, campaign=spring)
    logged = log(segment).logged_segment
    InteractionLogEntry.objects.filter(contact=contacts[0]).update(canceled=True)
    other = segment_services.segment_create(
        user=COMMAND_LINE, values={"description": "Next", "campaign": make_campaign()}
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=other, query=f"no={contacts[0].no}")

    result = segment_services.segment_reuse_logged(user=COMMAND_LINE, segment=other, logged_segment_id=logged.pk)

    assert result.added == 2 and result.line_count == 3  # canceled entries and existing contacts included
    reused = SegmentLine.objects.filter(segment=other, step=result.step)
    assert set(reused.values_list("campaign_id", flat=True)) == {spring.pk}
    assert all(line.is_overridden("campaign") for line in reused)
    segment_services.segment_undo(user=COMMAND_LINE, segment=other)
    assert SegmentLine.objects.filter(segment=other).count() == 1


def test_reuse_of_an_unknown_logged_segment_is_an_error():
    other = segment_services.segment_create(user=COMMAND_LINE, values={"description": "Next"})
    with pytest.raises(ValidationError, match='unknown logged segment "999"'):
        segment_services.segment_reuse_logged(user=COMMAND_LINE, segment=other, logged_segment_id=999)
    assert not CriteriaStep.objects.filter(segment=other).exists()


def test_log_is_a_constant_number_of_queries(django_assert_max_num_queries):
    small, _ = build(n_persons=2, campaign=make_campaign())
    big, _ = build(n_persons=40, campaign=make_campaign())
    # 25 on SQLite (one of them counts the lines whose contact withdrew consent); PostgreSQL adds
    # two constant statements, the claim's and the pre-flight's `SET LOCAL`.
    with django_assert_max_num_queries(27) as small_queries:
        log(small)
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        log(big, follow_up=False)


def test_database_refuses_a_second_logged_segment_or_entry_for_the_same_line():
    segment, _ = build(n_persons=1)
    uuid = segment.uuid
    logged = log(segment).logged_segment
    entry = InteractionLogEntry.objects.filter(logged_segment=logged).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        LoggedSegment.objects.create(segment_no="X", source_uuid=uuid, description="again")
    entry.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()
