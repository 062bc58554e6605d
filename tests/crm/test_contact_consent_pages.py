"""Consent on the contact pages and services: the card's Consent panel, the edit and create
pages (a changed state needs a source), contact_create / contact_update with `consent`, and the
contact list's consent criteria."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm.consent import consent_history, contact_set_consent, withdraw_by_unsubscribe_link
from crm.models import ConsentChange, Contact, NumberSeries
from crm.permissions import COMMAND_LINE
from crm.services import contact_create, contact_update
from interactions.models import LoggedSegment
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db

SOURCE_ERROR = "Say where the change of e-mail consent comes from, e.g. “phone call” or “written request”."


def text(response) -> str:
    return html.unescape(response.content.decode())


def plain(response) -> str:
    """The page's text without tags, white space collapsed (none before a closing parenthesis)."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split()).replace(" )", ")")


def management(prefix: str) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def edit_post(contact: Contact, **fields) -> dict:
    """The edit page's post as a browser sends it (the consent selects at their current states)."""
    contact.refresh_from_db()
    data = {
        "version": contact.updated_at.isoformat(),
        "name": contact.name,
        "email_consent": contact.email_consent,
        "postal_consent": contact.postal_consent,
        "phone_consent": contact.phone_consent,
        "consent_source": "",
        **management("alt"),
        **management("range"),
    }
    data.update(fields)
    return data


def states(contact: Contact) -> tuple[str, str, str]:
    return Contact.objects.filter(pk=contact.pk).values_list("email_consent", "postal_consent", "phone_consent").get()


def logged_segment(pk: int | None = None, segment_no: str = "SEG00012") -> LoggedSegment:
    return LoggedSegment.objects.create(
        pk=pk, segment_no=segment_no, source_uuid=uuid.uuid4(), description="Spring newsletter"
    )


# --- services --------------------------------------------------------------------------------


def test_contact_create_with_states_records_each_one_with_the_user_and_source(marketing):
    contact = contact_create(
        user=marketing,
        data={"type": "company", "name": "Acme"},
        consent={"email": "granted", "postal": "unknown", "phone": "withdrawn"},
        consent_source="trade fair form",
    )

    assert states(contact) == ("granted", "unknown", "withdrawn")
    assert sorted(consent_history(contact).values_list("channel", "state", "user", "source")) == [
        ("email", "granted", marketing.pk, "trade fair form"),
        ("phone", "withdrawn", marketing.pk, "trade fair form"),
    ]


def test_contact_create_with_a_bad_state_writes_nothing(marketing):
    with pytest.raises(ValidationError) as error:
        contact_create(user=marketing, data={"type": "company", "name": "Acme"}, consent={"email": "maybe"})

    assert error.value.messages == ["email: maybe is not a consent state (use granted, withdrawn, unknown)"]
    assert not Contact.objects.exists() and not ConsentChange.objects.exists()
    assert NumberSeries.objects.get(code="CONTACT").last_no == 0


def test_the_states_are_not_contact_data_they_go_through_consent(marketing):
    with pytest.raises(TypeError, match="not contact fields: email_consent"):
        contact_create(user=marketing, data={"type": "company", "name": "Acme", "email_consent": "granted"})


def test_contact_update_writes_fields_and_consent_in_one_transaction(marketing):
    company = make_company(name="Acme", city="Delft")

    contact_update(
        user=marketing, contact=company, data={"city": "Oslo"}, consent={"postal": "withdrawn"}, consent_source="letter"
    )

    company.refresh_from_db()
    assert (company.city, company.postal_consent) == ("Oslo", "withdrawn")
    assert list(consent_history(company).values_list("channel", "state", "user", "source")) == [
        ("postal", "withdrawn", marketing.pk, "letter")
    ]
    # A bad state rolls the contact's own change back too.
    with pytest.raises(ValidationError):
        contact_update(user=marketing, contact=company, data={"city": "Bergen"}, consent={"email": "nope"})
    company.refresh_from_db()
    assert company.city == "Oslo" and ConsentChange.objects.count() == 1


# --- the edit and create pages ------------------------------------------------------------------


def test_the_edit_page_offers_the_three_states_and_a_source(marketing_client):
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"postal": "granted"})

    page = text(marketing_client.get(reverse("crm:contact_update", args=[person.pk])))

    for name in ("email_consent", "postal_consent", "phone_consent"):
        assert f'<select name="{name}"' in page
    assert re.search(r'<select name="postal_consent"[^>]*>.*?<option value="granted" selected>', page, re.S)
    assert 'name="consent_source"' in page and "Source of the change" in page


def test_changing_a_state_without_a_source_is_a_form_error_and_nothing_is_saved(marketing_client):
    person = make_person(city="Delft")
    before = Contact.objects.get(pk=person.pk).updated_at

    response = marketing_client.post(
        reverse("crm:contact_update", args=[person.pk]), edit_post(person, email_consent="withdrawn", city="Oslo")
    )

    assert response.status_code == 400
    assert response.context["form"].errors["consent_source"] == [SOURCE_ERROR]
    assert SOURCE_ERROR in text(response) and "Nothing was saved." in text(response)
    person.refresh_from_db()
    assert (person.city, person.email_consent, person.updated_at) == ("Delft", "unknown", before)
    assert not ConsentChange.objects.exists()


def test_the_error_names_every_channel_changed(marketing_client):
    person = make_person()

    response = marketing_client.post(
        reverse("crm:contact_update", args=[person.pk]),
        edit_post(person, email_consent="granted", postal_consent="withdrawn"),
    )

    assert response.context["form"].errors["consent_source"] == [
        "Say where the change of e-mail and postal consent comes from, e.g. “phone call” or “written request”."
    ]


def test_changing_a_state_with_a_source_saves_it_with_the_user_and_the_card_says_so(marketing_client, marketing):
    marketing.first_name, marketing.last_name = "Mary", "Marketing"
    marketing.save()
    person = make_person(city="Delft")

    response = marketing_client.post(
        reverse("crm:contact_update", args=[person.pk]),
        edit_post(person, email_consent="withdrawn", consent_source="written request", city="Oslo"),
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.city, person.email_consent) == ("Oslo", "withdrawn")
    assert list(consent_history(person).values_list("channel", "state", "user", "source")) == [
        ("email", "withdrawn", marketing.pk, "written request")
    ]
    today = timezone.localdate().isoformat()
    card = plain(marketing_client.get(response["Location"]))
    assert f"E-mail withdrawn {today} by Mary Marketing (written request)" in card


def test_a_post_that_changes_no_state_needs_no_source_and_writes_no_history(marketing_client):
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"phone": "granted"})

    response = marketing_client.post(reverse("crm:contact_update", args=[person.pk]), edit_post(person, city="Oslo"))

    assert response.status_code == 302
    assert ConsentChange.objects.count() == 1


def test_a_post_without_the_consent_fields_leaves_the_states_as_they_are(marketing_client):
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "withdrawn"})
    data = edit_post(person, city="Oslo")
    for name in ("email_consent", "postal_consent", "phone_consent", "consent_source"):
        del data[name]

    assert marketing_client.post(reverse("crm:contact_update", args=[person.pk]), data).status_code == 302
    assert states(person) == ("withdrawn", "unknown", "unknown")


def test_an_unsubscribe_while_the_edit_page_is_open_is_never_written_over(marketing_client):
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "granted"})
    data = edit_post(person, city="Oslo")  # the page as the user saw it: e-mail granted
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=None)

    response = marketing_client.post(reverse("crm:contact_update", args=[person.pk]), data)

    assert response.status_code == 400
    assert "Someone else saved this contact while you were editing it." in text(response)
    assert "consent_source" not in response.context["form"].errors
    assert states(person)[0] == "withdrawn"


def test_a_bad_state_in_a_post_is_a_form_error(marketing_client):
    person = make_person()

    response = marketing_client.post(
        reverse("crm:contact_update", args=[person.pk]), edit_post(person, phone_consent="maybe", consent_source="x")
    )

    assert response.status_code == 400
    assert "phone_consent" in response.context["form"].errors
    assert not ConsentChange.objects.exists()


def test_creating_a_contact_with_a_state_needs_a_source_and_records_it(marketing_client, marketing):
    url = reverse("crm:contact_create", args=["company"])
    data = {"name": "Acme", "postal_consent": "granted", **management("alt"), **management("range")}

    refused = marketing_client.post(url, data)
    created = marketing_client.post(url, {**data, "consent_source": "signed form"})

    assert refused.status_code == 400
    assert "Say where the change of postal consent comes from" in text(refused)
    assert created.status_code == 302
    contact = Contact.objects.get()
    assert list(consent_history(contact).values_list("channel", "state", "user", "source")) == [
        ("postal", "granted", marketing.pk, "signed form")
    ]


# --- the card ----------------------------------------------------------------------------------


def test_the_card_shows_each_channel_with_its_last_change_and_the_whole_history(viewer_client):
    person = make_person()
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"email": "granted"}, source="phone call")
    segment = logged_segment()
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=segment.pk)
    contact_set_consent(actor=COMMAND_LINE, contact=person, states={"phone": "granted"})
    today = timezone.localdate().isoformat()

    response = viewer_client.get(reverse("crm:contact_detail", args=[person.pk]))

    card = plain(response)
    assert f"E-mail withdrawn {today} (unsubscribe link from logged segment {segment.pk} · SEG00012)" in card
    assert "Postal unknown never recorded" in card
    assert f"Phone granted {today} (no source given)" in card
    link = reverse("interactions:logged_segment_detail", args=[segment.pk])
    assert f'<a href="{link}">{segment.pk} · SEG00012</a>' in text(response)
    assert "Consent history: 3 changes" in card
    history = [view.change.state for view in response.context["consent"].history]
    assert history == ["granted", "withdrawn", "granted"]  # newest first


def test_a_logged_segment_that_is_gone_is_shown_by_its_id(viewer_client):
    person = make_person()
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=987654)

    card = plain(viewer_client.get(reverse("crm:contact_detail", args=[person.pk])))

    assert "(unsubscribe link from logged segment 987654)" in card


def test_a_contact_without_history_shows_unknown_everywhere_and_no_history(viewer_client):
    person = make_person()

    card = plain(viewer_client.get(reverse("crm:contact_detail", args=[person.pk])))

    assert "E-mail unknown never recorded Postal unknown never recorded Phone unknown never recorded" in card
    assert "Consent history" not in card


def test_the_card_costs_the_same_queries_for_a_long_history(viewer_client, django_assert_max_num_queries):
    short, long = make_person(), make_person()
    for contact, count in ((short, 1), (long, 30)):
        for n in range(count):
            contact_set_consent(actor=COMMAND_LINE, contact=contact, states={"email": "granted"}, source=f"call {n}")
            withdraw_by_unsubscribe_link(contact_id=contact.pk, logged_segment_id=logged_segment(segment_no=f"S{n}").pk)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        viewer_client.get(reverse("crm:contact_detail", args=[short.pk]))
    with django_assert_max_num_queries(len(small)):
        response = viewer_client.get(reverse("crm:contact_detail", args=[long.pk]))
    assert len(response.context["consent"].history) == 60


# --- the contact list's consent criteria ------------------------------------------------------


def test_the_contact_list_filters_by_consent_any_of_the_states_given(viewer_client):
    granted, withdrawn, unknown = make_person(no="P1"), make_person(no="P2"), make_person(no="P3")
    contact_set_consent(actor=COMMAND_LINE, contact=granted, states={"email": "granted"})
    contact_set_consent(actor=COMMAND_LINE, contact=withdrawn, states={"email": "withdrawn", "postal": "granted"})
    url = reverse("crm:contact_list")

    def listed(query: str) -> list[str]:
        response = viewer_client.get(f"{url}?{query}")
        assert response.status_code == 200
        return [contact.no for contact in response.context["page_obj"]]

    assert listed("email_consent=withdrawn") == ["P2"]
    assert listed("email_consent=granted&email_consent=unknown") == ["P1", "P3"]
    assert listed("email_consent=withdrawn&postal_consent=unknown") == []
    assert listed("postal_consent=granted") == ["P2"]
    assert unknown.no in listed("phone_consent=unknown")
    page = text(viewer_client.get(f"{url}?email_consent=withdrawn"))
    assert 'name="email_consent" value="withdrawn"' in page and "<summary>Consent</summary>" in page


def test_an_unknown_state_in_the_list_criteria_is_an_error_never_all_contacts(viewer_client):
    make_person()

    response = viewer_client.get(reverse("crm:contact_list") + "?postal_consent=maybe")

    assert response.status_code == 400
    assert 'postal_consent: unknown consent state "maybe" (use granted, withdrawn, unknown)' in text(response)
    assert "page_obj" not in response.context


def test_without_an_app_that_names_logged_segments_the_card_shows_the_bare_id(viewer_client, monkeypatch):
    from crm import hooks

    person = make_person()
    segment = logged_segment()
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=segment.pk)
    monkeypatch.setattr(hooks, "_logged_segment_describer", None)

    response = viewer_client.get(reverse("crm:contact_detail", args=[person.pk]))

    assert f"(unsubscribe link from logged segment {segment.pk})" in plain(response)
    assert f"logged-segments/{segment.pk}/" not in text(response)
