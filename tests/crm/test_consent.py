"""Consent per channel (crm/consent.py, CONTRACT "Consent per channel and unsubscribe"): the
states on the contact, their append-only history, and the one writer of both."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from crm.consent import (
    channel_of,
    consent_history,
    contact_set_consent,
    withdraw_by_unsubscribe_link,
)
from crm.models import ConsentChange, Contact, ContactType, consent_withdrawn_q
from crm.permissions import COMMAND_LINE
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db


def test_a_new_contact_has_every_channel_unknown():
    person = make_person()
    person.refresh_from_db()
    assert (person.email_consent, person.postal_consent, person.phone_consent) == ("unknown",) * 3


def test_a_row_written_without_the_columns_gets_unknown_from_the_database_default():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO crm_contact (no, type, name, name_2, first_name, middle_name, surname, initials, job_title,"
            " address, address_2, post_code, city, county, phone, mobile_phone, email, correspondence_type,"
            " exclude_from_segment, created_at, updated_at)"
            " VALUES ('RAW1', 'company', 'Raw Ltd', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '',"
            " %s, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            [False],
        )
    assert Contact.objects.filter(no="RAW1").values_list("email_consent", "postal_consent", "phone_consent").get() == (
        "unknown",
        "unknown",
        "unknown",
    )


def test_the_database_refuses_a_state_that_is_not_one_of_the_three():
    person = make_person()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=person.pk).update(email_consent="maybe")


def test_setting_channels_changes_them_and_records_each_change_with_user_and_source(marketing):
    person = make_person()
    update = contact_set_consent(
        actor=marketing, contact=person, states={"email": "granted", "postal": "withdrawn"}, source="phone call"
    )
    person.refresh_from_db()
    assert (person.email_consent, person.postal_consent, person.phone_consent) == ("granted", "withdrawn", "unknown")
    history = list(consent_history(person).values_list("channel", "state", "user__username", "source"))
    assert sorted(history) == [
        ("email", "granted", marketing.username, "phone call"),
        ("postal", "withdrawn", marketing.username, "phone call"),
    ]
    assert len(update.changes) == 2


def test_setting_a_channel_to_the_state_it_has_writes_no_history():
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "withdrawn"}, source="letter")
    again = contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "withdrawn"}, source="letter")
    assert again.changes == []
    assert ConsentChange.objects.filter(contact=person).count() == 1


def test_history_keeps_every_change_oldest_first_and_the_command_line_has_no_user():
    person = make_person()
    for state in ("granted", "withdrawn", "granted"):
        contact_set_consent(actor=COMMAND_LINE, contact=person, states={"phone": state}, source="form")
    assert list(consent_history(person).values_list("state", "user")) == [
        ("granted", None),
        ("withdrawn", None),
        ("granted", None),
    ]


def test_a_blank_state_leaves_the_channel_as_it_is():
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "granted"})
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "", "postal": None, "phone": "granted"})
    person.refresh_from_db()
    assert (person.email_consent, person.postal_consent, person.phone_consent) == ("granted", "unknown", "granted")


@pytest.mark.parametrize(
    ("states", "source", "message"),
    [
        ({"email": "maybe"}, "", "email: maybe is not a consent state (use granted, withdrawn, unknown)"),
        ({"fax": "granted"}, "", "fax: not a channel (use email, postal, phone)"),
        ({"email": "granted"}, "x" * 101, "source: at most 100 characters"),
        ({"email": "granted"}, "call\nme", "source: "),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_is_written(states, source, message):
    person = make_person()
    with pytest.raises(ValidationError) as error:
        contact_set_consent(actor=COMMAND_LINE, contact=person, states=states, source=source)
    assert any(text.startswith(message) for text in error.value.messages), error.value.messages
    person.refresh_from_db()
    assert person.email_consent == "unknown"
    assert not ConsentChange.objects.exists()


def test_a_viewer_cannot_change_consent(viewer):
    person = make_person()
    with pytest.raises(PermissionDenied):
        contact_set_consent(actor=viewer, contact=person, states={"email": "granted"})
    person.refresh_from_db()
    assert person.email_consent == "unknown"
    assert not ConsentChange.objects.exists()


def test_an_unsubscribe_withdraws_email_once_naming_the_logged_segment():
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "granted"})
    assert withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=42) is True
    assert withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=42) is False
    person.refresh_from_db()
    assert person.email_consent == "withdrawn"
    last = consent_history(person).last()
    assert (last.channel, last.state, last.source, last.logged_segment_id, last.user) == (
        "email",
        "withdrawn",
        "unsubscribe link",
        42,
        None,
    )
    assert ConsentChange.objects.filter(contact=person, state="withdrawn").count() == 1


def test_an_unsubscribe_of_a_contact_that_is_gone_changes_nothing():
    assert withdraw_by_unsubscribe_link(contact_id=987654, logged_segment_id=None) is False
    assert not ConsentChange.objects.exists()


def test_channel_follows_the_correspondence_type():
    assert (channel_of("email"), channel_of("hard_copy"), channel_of("")) == ("email", "postal", None)


def test_withdrawn_q_matches_the_channel_of_the_rows_own_correspondence_type():
    by_email = make_person(correspondence_type="email")
    by_post = make_person(correspondence_type="hard_copy")
    unsent = make_person(correspondence_type="")
    for contact in (by_email, by_post, unsent):
        contact_set_consent(actor=COMMAND_LINE, contact=contact, states={"email": "withdrawn"})
    matched = Contact.objects.filter(consent_withdrawn_q(contact=""))
    assert list(matched) == [by_email]
    contact_set_consent(actor=COMMAND_LINE, contact=by_post, states={"postal": "withdrawn"})
    assert set(Contact.objects.filter(consent_withdrawn_q(contact=""))) == {by_email, by_post}


def test_the_contact_tables_integrity_triggers_survive_the_consent_migration():
    """The consent columns are added in place: the triggers of crm 0002 still refuse a person
    working for a person (a table rebuild on SQLite would have dropped them)."""
    person = make_person()
    other = make_person()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=other.pk).update(company_id=person.pk)
    company = make_company()
    assert Contact.objects.filter(pk=other.pk).update(company_id=company.pk) == 1
    assert Contact.objects.get(pk=other.pk).type == ContactType.PERSON


def test_saving_a_contact_loaded_before_an_unsubscribe_keeps_the_withdrawal():
    person = make_person()
    loaded = Contact.objects.get(pk=person.pk)
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=None)
    loaded.city = "Bergen"
    loaded.save()
    person.refresh_from_db()
    assert (person.city, person.email_consent) == ("Bergen", "withdrawn")
