"""The contact list as a working list (issue 16): sortable columns with a stable order read from
either end, "select all N matching", and the bulk actions of crm (export of a selection, set
mailing group)."""

from __future__ import annotations

import csv
import html
import io
import re
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import services
from crm.models import Contact, ContactMailingGroup
from crm.permissions import COMMAND_LINE
from tests.factories import make_company, make_country, make_mailing_group, make_person, make_salesperson

pytestmark = pytest.mark.django_db

LIST = reverse("crm:contact_list")
EXPORT = reverse("crm:contact_export")
MAILING_GROUP = reverse("crm:contact_mailing_group")


def text(response) -> str:
    return response.content.decode()


def shown(response) -> str:
    """The page as read: entities (quotes in messages) decoded."""
    return html.unescape(text(response))


def row_nos(page: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="no" value="([^"]+)" class="row-select"', page)


@pytest.fixture
def ties():
    """Contacts whose names, cities, countries and salespeople repeat (ties broken by id)."""
    nl, de = make_country("NL"), make_country("DE")
    ann, bob = make_salesperson("ANN"), make_salesperson("BOB")
    rows = [
        ("Zeta", "Delft", nl, ann),
        ("Alpha", "Berlin", de, bob),
        ("Mid", "Delft", de, None),
        ("Alpha", "Amsterdam", None, ann),
        ("Mid", "Berlin", nl, bob),
        ("Alpha", "Delft", nl, ann),
    ]
    return [
        make_company(no=f"S{9 - i}", name=name, city=city, country=country, salesperson=seller)
        for i, (name, city, country, seller) in enumerate(rows)
    ]


SORT_KEYS = {
    "no": lambda c: (c.no,),
    "name": lambda c: (c.name, c.pk),
    "city": lambda c: (c.city, c.pk),
}


@pytest.mark.parametrize("key", ["no", "name", "city"])
def test_each_sort_orders_the_rows_and_breaks_ties_by_id_and_reverses(viewer_client, ties, key):
    expected = [c.no for c in sorted(ties, key=SORT_KEYS[key])]

    assert row_nos(text(viewer_client.get(LIST, {"sort": key}))) == expected
    assert row_nos(text(viewer_client.get(LIST, {"sort": f"-{key}"}))) == expected[::-1]


@pytest.mark.parametrize("key,attribute", [("country", "country_id"), ("salesperson", "salesperson_id")])
def test_sort_by_a_code_column_is_stable_and_reverses(viewer_client, ties, key, attribute):
    with_code = sorted((c for c in ties if getattr(c, attribute)), key=lambda c: (getattr(c, attribute), c.pk))

    ascending = row_nos(text(viewer_client.get(LIST, {"sort": key})))
    descending = row_nos(text(viewer_client.get(LIST, {"sort": f"-{key}"})))

    assert [no for no in ascending if no in {c.no for c in with_code}] == [c.no for c in with_code]
    assert descending == ascending[::-1]  # the same order read backwards, contacts without a code included


def test_header_links_sort_then_reverse_keep_the_filter_and_mark_aria_sort(viewer_client, ties):
    page = text(viewer_client.get(LIST, {"city": "Delft", "sort": "name", "page": "1"}))

    name_header = re.search(r'<th scope="col" aria-sort="ascending"><a class="sort" href="([^"]+)">Name</a>', page)
    assert name_header, page
    assert name_header.group(1) == "?city=Delft&amp;sort=-name"
    assert re.search(r'<th scope="col"><a class="sort" href="\?city=Delft&amp;sort=city">City</a>', page)
    assert page.count("aria-sort=") == 1

    page = text(viewer_client.get(LIST, {"city": "Delft", "sort": "-name"}))
    assert '<th scope="col" aria-sort="descending"><a class="sort" href="?city=Delft&amp;sort=name">Name</a>' in page


def test_without_a_sort_the_list_is_by_no_and_an_unknown_sort_is_by_no_too(viewer_client, ties):
    by_no = [c.no for c in sorted(ties, key=lambda c: c.no)]

    assert row_nos(text(viewer_client.get(LIST))) == by_no
    response = viewer_client.get(LIST, {"sort": "-password"})
    assert response.status_code == 200
    assert row_nos(text(response)) == by_no
    assert 'aria-sort="ascending"><a class="sort" href="?sort=-no">No.</a>' in text(response)


def keys_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if 'SELECT U0."id"' in q["sql"] or "U0.id" in q["sql"]]


@pytest.mark.parametrize("sort", ["name", "-name", "city", "no", "-country"])
def test_every_page_in_either_half_together_is_the_whole_order(viewer_client, sort):
    nl = make_country("NL")
    contacts = [
        make_company(no=f"K{i:03d}", name=f"Name {i % 7}", city=f"City {i % 5}", country=nl if i % 3 else None)
        for i in range(123)
    ]
    assert len(contacts) == 123
    pages = [row_nos(text(viewer_client.get(LIST, {"sort": sort, "page": number}))) for number in (1, 2, 3)]

    assert [len(rows) for rows in pages] == [50, 50, 23]
    whole = row_nos_all = pages[0] + pages[1] + pages[2]
    assert len(set(row_nos_all)) == 123
    if sort in ("name", "-name", "city"):
        field = sort.removeprefix("-")
        expected = [
            c.no for c in sorted(contacts, key=lambda c: (getattr(c, field), c.pk), reverse=sort.startswith("-"))
        ]
        assert whole == expected


def test_the_last_page_reads_the_reversed_order_without_an_offset_in_as_many_queries_as_the_first(
    viewer_client, django_assert_max_num_queries
):
    for i in range(130):
        make_company(no=f"L{i:03d}", name=f"Name {i % 9}")
    with CaptureQueriesContext(connection) as first:
        viewer_client.get(LIST, {"sort": "name"})

    with django_assert_max_num_queries(len(first.captured_queries)), CaptureQueriesContext(connection) as last:
        response = viewer_client.get(LIST, {"sort": "name", "page": 3})

    assert len(row_nos(text(response))) == 30
    page_query = [q["sql"] for q in last.captured_queries if "LIMIT" in q["sql"]]
    assert page_query, last.captured_queries
    assert not any("OFFSET" in sql for sql in page_query), page_query
    assert any('"name" DESC' in sql for sql in page_query), page_query


def test_select_all_matching_offers_the_count_and_carries_the_filter_not_the_numbers(viewer_client):
    for i in range(60):
        make_company(no=f"D{i:03d}", city="Delft")
    make_company(no="B001", city="Berlin")

    page = text(viewer_client.get(LIST, {"city": "Delft", "sort": "name"}))
    assert 'href="?city=Delft&amp;sort=name&amp;selected=all"' in page
    assert "Select all 60 matching</a>" in page
    assert '<input type="hidden" name="selection" value="picked">' in page

    page = text(viewer_client.get(LIST, {"city": "Delft", "sort": "name", "selected": "all"}))
    assert "All 60 contacts matching the filter are selected." in page
    bulk_form = page[page.index('<form id="bulk-form"') : page.index("</form>", page.index('<form id="bulk-form"'))]
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', bulk_form)
    assert hidden == [("selection", "all"), ("city", "Delft")]
    assert bulk_form.count("checked disabled") == 51  # the page's rows and the page box: not submitted


# --- export of a selection ---------------------------------------------------------------------


def exported_nos(response) -> list[str]:
    rows = csv.DictReader(io.StringIO(response.content.decode().lstrip("\ufeff")))
    return sorted(row["no"] for row in rows)


def test_export_of_ticked_rows_has_exactly_those(admin_client_crm):
    for no in ("E1", "E2", "E3"):
        make_company(no=no)

    response = admin_client_crm.get(EXPORT, {"selection": "picked", "no": ["E1", "E3"]})

    assert response.status_code == 200
    assert exported_nos(response) == ["E1", "E3"]


def test_export_of_all_matching_acts_on_the_filter(admin_client_crm):
    make_company(no="E1", city="Delft")
    make_company(no="E2", city="Delft")
    make_company(no="E3", city="Berlin")

    response = admin_client_crm.get(EXPORT, {"selection": "all", "city": "Delft"})

    assert exported_nos(response) == ["E1", "E2"]


def test_export_with_nothing_ticked_is_refused_not_everything(admin_client_crm):
    make_company(no="E1")

    response = admin_client_crm.get(EXPORT, {"selection": "picked"})

    assert response.status_code == 400
    assert "No contact is ticked" in text(response)


# --- set mailing group -------------------------------------------------------------------------


@pytest.fixture
def news():
    return make_mailing_group("NEWS")


def test_set_mailing_group_adds_it_to_those_without_and_counts_those_with_it(news, django_assert_max_num_queries):
    a, b, c = make_company(no="M1"), make_company(no="M2"), make_person(no="M3")
    ContactMailingGroup.objects.create(contact=b, mailing_group=news)
    contacts = Contact.objects.filter(no__in=["M1", "M2", "M3"])

    # the group, a COUNT and one INSERT … SELECT (and the savepoint around them in a test)
    with django_assert_max_num_queries(5):
        result = services.contacts_set_mailing_group(user=COMMAND_LINE, contacts=contacts, mailing_group="NEWS")

    assert (result.added, result.already) == (2, 1)
    assert set(ContactMailingGroup.objects.filter(mailing_group=news).values_list("contact__no", flat=True)) == {
        "M1",
        "M2",
        "M3",
    }
    again = services.contacts_set_mailing_group(user=COMMAND_LINE, contacts=contacts, mailing_group=news)
    assert (again.added, again.already) == (0, 3)
    assert ContactMailingGroup.objects.filter(mailing_group=news).count() == 3
    assert a and c


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writer at a time: no such race")
@pytest.mark.django_db(transaction=True)
def test_two_users_giving_the_same_group_at_once_both_succeed():
    """The other user's row is written, not yet committed, when our INSERT … SELECT runs: ours
    waits on the unique index, then skips that row instead of failing on the constraint."""
    news = make_mailing_group("NEWS")
    make_company(no="M1"), make_company(no="M2")
    inserted, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def the_other_user() -> None:
        try:
            with transaction.atomic():
                ContactMailingGroup.objects.create(contact=Contact.objects.get(no="M2"), mailing_group=news)
                inserted.set()
                release.wait(timeout=30)
        except BaseException as error:  # inspected below
            errors.append(error)
        finally:
            connection.close()

    other = threading.Thread(target=the_other_user)
    other.start()
    assert inserted.wait(timeout=30)
    threading.Timer(1.0, release.set).start()  # commits while our INSERT waits on its row
    result = services.contacts_set_mailing_group(user=COMMAND_LINE, contacts=Contact.objects.all(), mailing_group=news)
    other.join(timeout=30)

    assert not errors
    assert result.added == 1
    assert sorted(ContactMailingGroup.objects.values_list("contact__no", flat=True)) == ["M1", "M2"]


def test_set_mailing_group_with_an_unknown_group_writes_nothing(news):
    make_company(no="M1")

    with pytest.raises(ValidationError) as raised:
        services.contacts_set_mailing_group(user=COMMAND_LINE, contacts=Contact.objects.all(), mailing_group="NOPE")

    assert raised.value.messages == ['There is no mailing group "NOPE"; nothing was changed.']
    assert not ContactMailingGroup.objects.exists()


def test_set_mailing_group_pages_confirm_with_counts_then_add(marketing_client, news):
    make_company(no="M1", city="Delft")
    b = make_company(no="M2", city="Delft")
    make_company(no="M3", city="Berlin")
    ContactMailingGroup.objects.create(contact=b, mailing_group=news)

    page = text(marketing_client.get(MAILING_GROUP, {"selection": "all", "city": "Delft"}))
    assert "2 contacts selected (every contact matching the filter)" in page
    assert '<input type="hidden" name="city" value="Delft">' in page

    page = text(marketing_client.get(MAILING_GROUP, {"selection": "all", "city": "Delft", "group": "NEWS"}))
    assert "<strong>1 contact</strong> will get mailing group NEWS (Mailing); 1 has it already" in page
    assert ">Add mailing group NEWS to 1 contact</button>" in page
    assert '<input type="hidden" name="criteria" value="city=Delft">' in page

    response = marketing_client.post(MAILING_GROUP, {"criteria": "city=Delft", "group": "NEWS"}, follow=True)
    assert "Mailing group NEWS: added to 1 contact; 1 contact had it already." in shown(response)
    assert sorted(ContactMailingGroup.objects.values_list("contact__no", flat=True)) == ["M1", "M2"]


def test_set_mailing_group_refuses_bad_criteria_and_an_empty_pick_without_writing(marketing_client, news):
    make_company(no="M1")

    response = marketing_client.get(MAILING_GROUP, {"selection": "picked"})
    assert response.status_code == 400
    assert "No contact is ticked" in text(response)

    response = marketing_client.get(MAILING_GROUP, {"selection": "picked", "no": "M1", "group": "NOPE"})
    assert response.status_code == 400
    assert 'There is no mailing group "NOPE".' in shown(response)
    assert '<input type="hidden" name="no" value="M1">' in text(response)  # the choice can be made again

    response = marketing_client.post(MAILING_GROUP, {"criteria": "city=Delft&bogus=1", "group": "NEWS"}, follow=True)
    assert 'Nothing was changed: unknown filter name "bogus"' in shown(response)
    response = marketing_client.post(MAILING_GROUP, {"criteria": "no=M1", "group": "NOPE"}, follow=True)
    assert 'There is no mailing group "NOPE"; nothing was changed.' in shown(response)
    assert not ContactMailingGroup.objects.exists()


def test_set_mailing_group_needs_change_permission(viewer_client, news):
    make_company(no="M1")

    assert viewer_client.get(MAILING_GROUP, {"selection": "picked", "no": "M1"}).status_code == 403
    assert viewer_client.post(MAILING_GROUP, {"criteria": "no=M1", "group": "NEWS"}).status_code == 403
    assert not ContactMailingGroup.objects.exists()
