"""Contacts with history are kept (SPEC D15): deletion is refused with the reason, and admins
anonymise instead (service, contact delete page, Django admin action)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from crm import services as crm_services
from crm.models import Contact, ContactAltAddress
from crm.permissions import COMMAND_LINE
from crm.selectors import ContactHistory
from interactions import services
from interactions.models import ContactAnonymisation, InteractionLogEntry
from segments import services as segment_services
from segments.models import SegmentLine
from tests.conftest import make_user
from tests.factories import make_company, make_person, make_salesperson, make_template

pytestmark = pytest.mark.django_db

PERSONAL = {
    "name_2": "II",
    "first_name": "Anna",
    "middle_name": "van",
    "surname": "Dijk",
    "initials": "A.",
    "job_title": "Buyer",
    "address": "Main Street 1",
    "address_2": "Floor 2",
    "post_code": "2611 AB",
    "city": "Delft",
    "county": "ZH",
    "phone": "+31 15 123",
    "mobile_phone": "+31 6 123",
    "email": "anna@example.test",
}


def with_entry(contact: Contact, date=datetime.date(2026, 3, 1)) -> InteractionLogEntry:
    template = make_template()
    return InteractionLogEntry.objects.create(
        contact=contact,
        contact_company_id=contact.company_id or contact.pk,
        date=date,
        description="Letter",
        interaction_template=template,
        interaction_group_id=template.group_id,
    )


def on_segment_line(contact: Contact):
    segment = segment_services.segment_create(user=COMMAND_LINE, values={"description": "Spring"})
    segment_services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=contact)
    return segment


@pytest.fixture
def anna():
    person = make_person(None, no="P1", name="Anna van Dijk", salesperson=make_salesperson("ANN"), **PERSONAL)
    ContactAltAddress.objects.create(
        contact=person,
        code="HOME",
        company_name="Home",
        address="Canal 5",
        post_code="1000 AA",
        city="Amsterdam",
        phone="+31 20 1",
        email="home@example.test",
    )
    return person


# --- refusal -------------------------------------------------------------------------------------


def test_a_contact_with_interaction_entries_cannot_be_deleted_and_the_message_says_why(anna, marketing):
    with_entry(anna)
    with_entry(anna)

    with pytest.raises(ValidationError) as excinfo:
        crm_services.contact_delete(user=marketing, contact=anna)

    (message,) = excinfo.value.messages
    assert message.startswith("P1 cannot be deleted: it has history (2 interaction log entries)")
    assert "contacts with history are kept" in message
    assert "An admin can anonymise it instead" in message
    assert Contact.objects.filter(pk=anna.pk).exists()
    assert ContactAltAddress.objects.filter(contact=anna).exists()


def test_a_contact_on_a_segment_line_cannot_be_deleted(anna, marketing):
    on_segment_line(anna)
    with_entry(anna)

    with pytest.raises(ValidationError) as excinfo:
        crm_services.contact_delete(user=marketing, contact=anna)

    assert "it has history (1 interaction log entry and 1 segment line)" in excinfo.value.messages[0]
    assert Contact.objects.filter(pk=anna.pk).exists()


def test_a_company_with_its_own_entry_counts_it_once(marketing):
    company = make_company(no="C1")
    with_entry(company)  # names the company twice: as contact and as contact company

    with pytest.raises(ValidationError) as excinfo:
        crm_services.contact_delete(user=marketing, contact=company)

    assert "(1 interaction log entry)" in excinfo.value.messages[0]


def test_history_written_after_the_check_is_still_refused_by_the_database_with_the_same_reason(marketing, monkeypatch):
    company = make_company(no="C1")
    with_entry(company)
    # As if the entry arrived between the history check and the delete: the PROTECT references
    # refuse, and the message still names the history, each row once.
    monkeypatch.setattr(crm_services, "contact_history", lambda contact: ContactHistory())

    with pytest.raises(ValidationError) as excinfo:
        crm_services.contact_delete(user=marketing, contact=company)

    (message,) = excinfo.value.messages
    assert "it has history (1 interaction log entry)" in message
    assert "anonymise" in message
    assert Contact.objects.filter(pk=company.pk).exists()


def test_a_contact_without_history_is_still_deleted(anna, marketing):
    crm_services.contact_delete(user=marketing, contact=anna)
    assert not Contact.objects.filter(pk=anna.pk).exists()


# --- the service ---------------------------------------------------------------------------------


def test_anonymise_replaces_personal_data_and_keeps_number_entries_and_lines(anna, admin_user):
    entry = with_entry(anna)
    segment = on_segment_line(anna)

    contact = services.contact_anonymise(user=admin_user, contact=anna)

    contact.refresh_from_db()
    assert contact.no == "P1" and contact.pk == anna.pk
    assert contact.name == "Anonymised contact P1"
    for field in PERSONAL:
        assert getattr(contact, field) == "", field
    address = ContactAltAddress.objects.get(contact=anna)
    assert (address.code, address.company_name, address.address, address.post_code, address.city) == (
        "HOME",
        "",
        "",
        "",
        "",
    )
    assert (address.phone, address.email) == ("", "")
    assert InteractionLogEntry.objects.get(pk=entry.pk).contact_id == anna.pk
    assert SegmentLine.objects.filter(segment=segment, contact=anna).exists()
    record = ContactAnonymisation.objects.get(contact=anna)
    assert record.user == admin_user and record.created_at is not None


def test_anonymise_leaves_other_contacts_alone(anna, admin_user):
    other = make_person(None, no="P2", name="Other One", email="other@example.test")
    services.contact_anonymise(user=admin_user, contact=anna)
    other.refresh_from_db()
    assert (other.name, other.email) == ("Other One", "other@example.test")
    assert not ContactAnonymisation.objects.filter(contact=other).exists()


@pytest.mark.parametrize("role", ["viewer", "marketing"])
def test_only_admins_may_anonymise(anna, role):
    user = make_user(role)
    with pytest.raises(PermissionDenied):
        services.contact_anonymise(user=user, contact=anna)
    with pytest.raises(PermissionDenied):
        services.contacts_anonymise(user=user, contacts=Contact.objects.all())
    anna.refresh_from_db()
    assert (anna.name, anna.email) == ("Anna van Dijk", "anna@example.test")
    assert not ContactAnonymisation.objects.exists()


def test_many_contacts_are_anonymised_set_based(admin_user, django_assert_max_num_queries):
    contacts = [make_person(None, email=f"p{i}@example.test") for i in range(30)]
    selection = Contact.objects.filter(email__endswith="@example.test")  # changes under the update

    with django_assert_max_num_queries(12):
        count = services.contacts_anonymise(user=admin_user, contacts=selection)

    assert count == 30
    assert not Contact.objects.filter(email__endswith="@example.test").exists()
    assert ContactAnonymisation.objects.filter(contact__in=contacts).count() == 30


# --- the contact delete page -----------------------------------------------------------------------


def delete_url(contact: Contact) -> str:
    return reverse("crm:contact_delete", args=[contact.pk])


def test_the_delete_page_explains_the_refusal_and_offers_no_delete_button(anna, marketing_client):
    with_entry(anna)

    html = marketing_client.get(delete_url(anna)).content.decode()

    assert "This contact cannot be deleted:" in html
    assert "it has history (1 interaction log entry)" in html
    assert "An admin can anonymise it instead" in html
    assert "Delete P1</button>" not in html
    assert 'value="anonymise"' not in html


def test_admins_get_an_anonymise_button_on_the_delete_page(anna, admin_client_crm):
    with_entry(anna)

    html = admin_client_crm.get(delete_url(anna)).content.decode()

    assert 'name="action" value="anonymise"' in html
    assert "Anonymise P1</button>" in html
    assert "Delete P1</button>" not in html


def test_the_page_without_history_offers_delete_and_no_anonymise(anna, admin_client_crm):
    html = admin_client_crm.get(delete_url(anna)).content.decode()
    assert "Delete P1</button>" in html
    assert 'value="anonymise"' not in html


def test_a_refused_delete_post_reports_the_reason_on_the_card(anna, marketing_client):
    with_entry(anna)
    response = marketing_client.post(delete_url(anna), follow=True)
    messages = [str(message) for message in response.context["messages"]]
    assert any("it has history (1 interaction log entry)" in message for message in messages)
    assert Contact.objects.filter(pk=anna.pk).exists()


def test_an_admin_anonymises_from_the_delete_page(anna, admin_client_crm, admin_user):
    with_entry(anna)

    response = admin_client_crm.post(delete_url(anna), {"action": "anonymise"})

    assert response.status_code == 302 and response["Location"] == anna.get_absolute_url()
    anna.refresh_from_db()
    assert anna.name == "Anonymised contact P1" and anna.email == ""
    assert ContactAnonymisation.objects.get(contact=anna).user == admin_user


@pytest.mark.parametrize("client_fixture", ["marketing_client", "viewer_client"])
def test_marketing_and_viewers_cannot_anonymise_from_the_page(anna, client_fixture, request):
    with_entry(anna)
    client = request.getfixturevalue(client_fixture)

    response = client.post(delete_url(anna), {"action": "anonymise"})

    assert response.status_code == 403
    anna.refresh_from_db()
    assert anna.email == "anna@example.test"
    assert not ContactAnonymisation.objects.exists()


# --- the admin action ------------------------------------------------------------------------------


def changelist() -> str:
    return reverse("admin:crm_contact_changelist")


def test_the_admin_action_asks_for_confirmation_then_anonymises(anna, admin_client_crm):
    other = make_person(None, no="P2", email="other@example.test")
    untouched = make_person(None, no="P3", email="keep@example.test")
    data = {"action": "anonymise_selected", helpers.ACTION_CHECKBOX_NAME: [anna.pk, other.pk], "index": 0}

    confirm = admin_client_crm.post(changelist(), data)

    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Anonymise <strong>2</strong> contacts?" in html
    assert "P1 · Anna van Dijk" in html
    assert not ContactAnonymisation.objects.exists()  # nothing yet

    done = admin_client_crm.post(changelist(), {**data, "confirm": "yes"}, follow=True)

    messages = [str(message) for message in done.context["messages"]]
    assert messages == [
        "2 contacts were anonymised: names, addresses, e-mails and phones replaced; "
        "their numbers, interaction log entries and segment lines stay."
    ]
    assert set(ContactAnonymisation.objects.values_list("contact__no", flat=True)) == {"P1", "P2"}
    assert Contact.objects.get(pk=other.pk).email == ""
    assert Contact.objects.get(pk=untouched.pk).email == "keep@example.test"


def test_the_admin_action_is_offered_only_with_the_permission(anna):
    # A staff user who may delete contacts but not anonymise them.
    staff = make_user(None, "staff-user", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="crm", codename__in=["view_contact", "change_contact", "delete_contact"]
        )
    )
    client = Client()
    client.force_login(staff)

    page = client.get(changelist())
    assert page.status_code == 200
    assert "anonymise_selected" not in page.content.decode()

    data = {
        "action": "anonymise_selected",
        helpers.ACTION_CHECKBOX_NAME: [anna.pk],
        "index": 0,
        "confirm": "yes",
    }
    client.post(changelist(), data)
    anna.refresh_from_db()
    assert anna.email == "anna@example.test"
    assert not ContactAnonymisation.objects.exists()


def test_admins_see_the_action_in_the_list(anna, admin_client_crm):
    html = admin_client_crm.get(changelist()).content.decode()
    assert 'value="anonymise_selected"' in html
    assert "Anonymise selected contacts" in html
