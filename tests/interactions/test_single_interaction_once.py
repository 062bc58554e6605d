"""A single interaction is recorded once per form (F8): the form carries a token made when it is
shown, the entry keeps it under a unique constraint, and a second post of the same form
records nothing and shows the first entry. The command has no token (CONTRACT unchanged).

The concurrent tests commit for real (`transaction=True`), each thread on its own connection,
on SQLite (a WAL file database with IMMEDIATE transactions) and on PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from interactions import services
from interactions.models import CampaignEntry, InteractionLogEntry, InteractionTemplate
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_salesperson, make_template

CREATE = reverse("interactions:entry_create")
ALREADY = re.compile(r"^This interaction was already recorded as entry (\d+)\.$")


@pytest.fixture
def contact():
    make_template("CALL", description="Phone call", unit_cost=Decimal("2.50"), campaign=make_campaign(no="CPAUT"))
    return make_company(no="C200", name="Bolt Berlin", salesperson=make_salesperson("ANN"))


def record(user, contact, token, **values) -> InteractionLogEntry:
    template = InteractionTemplate.objects.get(code="CALL")
    return services.interaction_create(
        user=user, contact=contact, interaction_template=template, values=values, idempotency_token=token
    )


def form_token(client: Client) -> str:
    page = client.get(CREATE, {"contact": "C200"}).content.decode()
    match = re.search(r'<input type="hidden" name="token" value="([0-9a-f-]{36})"', page)
    assert match, page
    return match.group(1)


def post(client: Client, token: str, **fields):
    return client.post(
        CREATE, {"contact": "C200", "interaction_template": "CALL", "date": "2026-03-02", "token": token, **fields}
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- in sequence ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_token_twice_records_one_entry_and_returns_it(contact):
    user = make_user("marketing")
    token = uuid.uuid4()

    first = record(user, contact, token)
    second = record(user, contact, token, description="Changed my mind")

    assert second.pk == first.pk
    assert (first.already_recorded, second.already_recorded) == (False, True)
    entry = InteractionLogEntry.objects.get()
    assert (entry.description, entry.idempotency_token) == ("Phone call", token)
    assert CampaignEntry.objects.count() == 1


@pytest.mark.django_db
def test_without_a_token_every_call_records_an_entry(contact):
    user = make_user("marketing")

    record(user, contact, None)
    record(user, contact, None)

    assert InteractionLogEntry.objects.filter(idempotency_token__isnull=True).count() == 2


@pytest.mark.django_db
def test_each_showing_of_the_form_has_its_own_token(marketing_client, contact):
    assert form_token(marketing_client) != form_token(marketing_client)


@pytest.mark.django_db
def test_a_double_submit_records_once_and_shows_the_first_entry(marketing_client, contact):
    token = form_token(marketing_client)

    first = post(marketing_client, token)
    second = post(marketing_client, token)

    entry = InteractionLogEntry.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == entry.get_absolute_url()
    # the first response was never shown (a double click): its message waits beside the second's
    assert messages_of(second)[-1] == f"This interaction was already recorded as entry {entry.pk}."
    page = marketing_client.get(second["Location"]).content.decode()
    assert f"This interaction was already recorded as entry {entry.pk}." in page


@pytest.mark.django_db
def test_a_form_sent_back_with_errors_keeps_its_token_and_records_on_the_next_post(marketing_client, contact):
    token = form_token(marketing_client)

    refused = post(marketing_client, token, cost="-1")
    assert refused.status_code == 400
    assert f'name="token" value="{token}"' in refused.content.decode()
    assert not InteractionLogEntry.objects.exists()

    recorded = post(marketing_client, token)

    assert recorded.status_code == 302
    assert InteractionLogEntry.objects.get().idempotency_token == uuid.UUID(token)
    assert messages_of(recorded)[0].startswith("Recorded interaction")


@pytest.mark.django_db
def test_a_damaged_token_is_refused_and_nothing_is_recorded(marketing_client, contact):
    response = post(marketing_client, "not-a-token")

    assert response.status_code == 400
    assert "This form is damaged: reload the page and record the interaction again." in response.content.decode()
    assert not InteractionLogEntry.objects.exists()


# --- concurrently ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_post_that_waits_on_the_first_insert_of_its_token_returns_that_entry(contact):
    """The unique constraint decides: the first writer holds its uncommitted entry while the
    second passes the look-up (nothing committed yet) and inserts; that insert waits for the
    first, then fails inside a savepoint, and the second call returns the first's entry."""
    user = make_user("marketing")
    token = uuid.uuid4()
    inserted, outcome = threading.Event(), {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcome["first"] = insert_entry(user, contact, token)
                inserted.set()
                second_thread.join(timeout=1.0)  # the second is waiting on our row meanwhile
                outcome["second_waited"] = second_thread.is_alive()
        finally:
            connection.close()

    def second() -> None:
        try:
            inserted.wait(timeout=30)
            outcome["second"] = record(user, contact, token)
        except BaseException as error:  # the test inspects it
            outcome["second"] = error
        finally:
            connection.close()

    second_thread = threading.Thread(target=second)
    first_thread = threading.Thread(target=first)
    second_thread.start()
    first_thread.start()
    first_thread.join(timeout=60)
    second_thread.join(timeout=60)

    assert outcome["second_waited"], "the second call did not wait for the first's row"
    assert isinstance(outcome["second"], InteractionLogEntry), outcome["second"]
    assert outcome["second"].pk == outcome["first"].pk and outcome["second"].already_recorded
    assert InteractionLogEntry.objects.count() == 1


def insert_entry(user, contact, token) -> InteractionLogEntry:
    """An entry with `token`, written inside the caller's open transaction."""
    template = InteractionTemplate.objects.get(code="CALL")
    return InteractionLogEntry.objects.create(
        contact=contact,
        contact_company=contact,
        date="2026-03-02",
        description="First",
        interaction_template=template,
        interaction_group_id=template.group_id,
        salesperson_id="ANN",
        user=user,
        idempotency_token=token,
    )


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_form_record_one_entry(contact):
    clients = []
    for name in ("first", "second"):
        client = Client()
        client.force_login(make_user("marketing", name))
        clients.append(client)
    token = form_token(clients[0])
    barrier = threading.Barrier(2)
    responses: list = [None, None]

    def send(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[index] = post(clients[index], token)
        except BaseException as error:  # the test inspects it
            responses[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(not isinstance(response, BaseException) for response in responses), responses
    entry = InteractionLogEntry.objects.get()
    assert [response.status_code for response in responses] == [302, 302]
    assert {response["Location"] for response in responses} == {entry.get_absolute_url()}
    texts = [text for response in responses for text in messages_of(response)]
    kinds = Counter("already" if ALREADY.match(text) else "recorded" for text in texts)
    assert kinds == Counter(recorded=1, already=1), texts
    assert CampaignEntry.objects.count() == 1
