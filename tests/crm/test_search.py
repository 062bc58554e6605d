"""The search box (crm.search, crm.views.search): ranking and fields, the listbox and the results
page, and on PostgreSQL the trigram indexes that make "contains" fast at 1M contacts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from crm import search as crm_search
from crm.models import Contact
from crm.search import MAX_QUERY_LENGTH, SearchError, contacts_named, search_contacts, search_results
from tests.conftest import make_user
from tests.factories import bulk_contacts, make_company, make_person

from ..conftest import _client_for

pytestmark = pytest.mark.django_db

URL = reverse("crm:contact_search")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def people(db):
    """Contacts chosen so that each kind of match ranks apart."""
    acme = make_company(no="C100", name="Acme Amsterdam", city="Amsterdam", email="info@acme.example")
    return {
        "acme": acme,
        "jan": make_person(acme, no="P100", name="Jan Jansen", city="Delft", email="jan@acme.example"),
        "janssen": make_person(no="P101", name="Marie Janssen", city="Utrecht", email="marie@post.example"),
        "janet": make_person(no="P102", name="Janet Bakker", city="Leiden", email="jb@post.example"),
        "jandorp": make_company(no="C101", name="Bakkerij Oost", city="Jandorp", email="oost@bakker.example"),
        "mailed": make_person(no="P103", name="Kees de Vries", city="Delft", email="kees.jan@mail.example"),
        "number": make_company(no="JAN1", name="Zeta Holding", city="Rotterdam"),
    }


def nos(contacts) -> list[str]:
    return [contact.no for contact in contacts]


def test_ranking_number_then_name_start_then_name_contains_then_email_then_city(people):
    # JAN1 by its number; names starting with "jan"; names containing it; an e-mail; a city.
    assert nos(search_contacts("jan")) == ["JAN1", "P100", "P102", "P101", "P103", "C101"]


def test_exact_number_first_then_numbers_starting_with_it(people):
    make_company(no="P1000", name="Later Number")
    assert nos(search_contacts("p100")) == ["P100", "P1000"]
    assert nos(search_contacts("P10"))[:5] == ["P100", "P1000", "P101", "P102", "P103"]


def test_each_field_is_searched(people):
    assert nos(search_contacts("bakker")) == ["C101", "P102"]  # name start (Bakkerij), then name contains
    assert nos(search_contacts("post.example")) == ["P102", "P101"]  # e-mail contains, by name
    assert nos(search_contacts("utrecht")) == ["P101"]  # city start, any case
    assert nos(search_contacts("  Acme   Amster ")) == ["C100"]  # spaces collapsed


def test_short_texts_look_up_starts_only(people):
    # "an" is inside many names, but two characters only match numbers, name starts and cities.
    assert search_contacts("an") == []
    assert nos(search_contacts("ja")) == ["JAN1", "P100", "P102", "C101"]


def test_the_dropdown_stops_at_the_limit(people):
    bulk_contacts(30, prefix="JANB")
    found = search_contacts("jan", limit=10)
    assert nos(found)[0] == "JAN1" and len(found) == 10


def test_too_long_a_text_is_refused_and_empty_finds_nothing(people):
    with pytest.raises(SearchError, match=f"at most {MAX_QUERY_LENGTH} characters"):
        search_contacts("x" * (MAX_QUERY_LENGTH + 1))
    assert search_contacts("   ") == []
    assert search_results("").queryset.count() == 0


def test_results_rank_every_match(people):
    assert nos(search_results("jan").queryset) == ["JAN1", "P100", "P102", "P101", "P103", "C101"]


def test_contacts_named_takes_a_number_or_a_whole_name(people):
    assert nos(contacts_named("p100")) == ["P100"]
    assert nos(contacts_named("jan jansen")) == ["P100"]
    assert contacts_named("Jan Jans") == []
    make_person(no="P200", name="Jan Jansen")
    assert nos(contacts_named("Jan Jansen")) == ["P100", "P200"]


# --- the view ------------------------------------------------------------------------------------


def test_listbox_fragment_links_each_option_to_its_card(people, viewer_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):
        response = viewer_client.get(URL, {"q": "jans"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'role="listbox"' in html
    assert f'data-href="{reverse("crm:contact_detail", args=[people["jan"].pk])}"' in html
    assert html.index("Jan Jansen") < html.index("Marie Janssen")


def test_listbox_for_the_worksheet_gives_the_number(people, viewer_client):
    html = viewer_client.get(URL, {"contact_no": "janet", "for": "add", "listbox": "add-contact-listbox"}, **HTMX)
    html = html.content.decode()
    assert 'data-value="P102"' in html and 'id="add-contact-listbox"' in html and "data-href" not in html


def test_listbox_says_when_nothing_matches_or_the_text_is_too_long(people, viewer_client):
    assert "No contact matches “zzz”." in viewer_client.get(URL, {"q": "zzz"}, **HTMX).content.decode()
    html = viewer_client.get(URL, {"q": "x" * 101}, **HTMX).content.decode()
    assert "Type at most 100 characters (you typed 101)." in html and "listbox" not in html


def test_a_control_character_is_refused_with_a_message_not_an_error(people, viewer_client):
    # PostgreSQL text cannot hold a NUL: the look-up must never reach the database with one
    message = "Type letters, digits and punctuation only: the text holds a control character."
    for text in ("jan\x00", "ja\x07n"):
        with pytest.raises(SearchError, match="control character"):
            search_contacts(text)
        page = viewer_client.get(URL, {"q": text})
        assert page.status_code == 400 and message in page.content.decode()  # as for a too long text
        assert message in viewer_client.get(URL, {"q": text}, **HTMX).content.decode()


def test_results_page_counts_and_pages(people, viewer_client, django_assert_max_num_queries):
    bulk_contacts(60, prefix="JANB")
    with django_assert_max_num_queries(8):
        response = viewer_client.get(URL, {"q": "jan"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "66 contacts found for “jan”" in html
    assert "Showing 1–50" in html and "Page 1 of 2" in html and "?q=jan&amp;page=2" in html
    second = viewer_client.get(URL, {"q": "jan", "page": 2}).content.decode()
    assert "Showing 51–66" in second


def test_results_page_empty_and_too_long(people, viewer_client):
    assert "Type a contact no., a name" in viewer_client.get(URL).content.decode()
    response = viewer_client.get(URL, {"q": "x" * 101})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Type at most 100 characters (you typed 101)." in html and 'aria-describedby="search-page-error"' in html
    assert "No contact matches “nothing here”" in viewer_client.get(URL, {"q": "nothing here"}).content.decode()


def test_login_and_view_permission_needed(people, client):
    response = client.get(URL, {"q": "jan"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    nobody = _client_for(make_user(None))
    assert nobody.get(URL, {"q": "jan"}).status_code == 403
    assert nobody.get(URL, {"q": "jan"}, **HTMX).status_code == 403


def test_the_navigation_has_the_search_box(viewer_client):
    html = viewer_client.get(reverse("crm:contact_list")).content.decode()
    assert 'role="combobox"' in html and f'data-search-url="{URL}"' in html and "js/search.js" in html
    nobody = _client_for(make_user(None))
    assert 'id="nav-search-q"' not in nobody.get(reverse("segments:segment_list")).content.decode()


# --- PostgreSQL: the trigram indexes -------------------------------------------------------------

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")


@needs_postgres
def test_trigram_indexes_exist_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'crm_contact'")
        indexes = dict(cursor.fetchall())
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() == (1,)
    assert "gin (upper((name)::text) gin_trgm_ops)" in indexes["crm_contact_name_trgm_idx"]
    assert "gin (upper((email)::text) gin_trgm_ops)" in indexes["crm_contact_email_trgm_idx"]


@needs_postgres
@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: Contact.objects.filter(name__icontains="jansen").order_by(), "crm_contact_name_trgm_idx"),
        (lambda: Contact.objects.filter(name__istartswith="jan").order_by(), "crm_contact_name_trgm_idx"),
        (lambda: Contact.objects.filter(name__iexact="jan jansen").order_by(), "crm_contact_name_trgm_idx"),
        (lambda: Contact.objects.filter(email__icontains="post.example").order_by(), "crm_contact_email_trgm_idx"),
        (lambda: Contact.objects.filter(no__startswith="P10").order_by(), "crm_contact_no_"),
    ],
)
def test_the_lookups_use_the_indexes_on_postgresql(people, queryset, index):
    bulk_contacts(2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact")
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert index in queryset().explain()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans")
@pytest.mark.parametrize(
    ("text", "index"),
    # an index on name: (name) or (name, id), the planner takes either
    [("P10", "sqlite_autoindex_crm_contact"), ("Jan", "crm_contact_name_"), ("Delf", "crm_contact_city")],
)
def test_starts_use_the_indexes_on_sqlite(people, text, index):
    from crm.search import _starts_with

    field = {"P10": "no", "Jan": "name", "Delf": "city"}[text]
    plan = Contact.objects.filter(_starts_with(field, text, any_case=True)).explain()
    assert index in plan and "SCAN crm_contact\n" not in plan + "\n"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 table")
def test_the_trigram_table_follows_every_change_on_sqlite(people):
    contact = make_person(no="P900", name="Wilhelmina Oranje", email="w@paleis.example")
    assert nos(search_contacts("helmin")) == ["P900"]
    Contact.objects.filter(pk=contact.pk).update(name="Beatrix Oranje", email="b@paleis.example")
    assert search_contacts("helmin") == []
    assert nos(search_contacts("atrix")) == ["P900"] and nos(search_contacts("b@paleis")) == ["P900"]
    contact.delete()
    assert search_contacts("atrix") == []
    plan = Contact.objects.filter(crm_search._contains("name", "atrix", capped=True)).explain()
    assert "crm_contact_fts VIRTUAL TABLE INDEX" in plan


def test_the_dropdown_sorts_only_the_first_matches_of_a_common_text_on_sqlite(people, monkeypatch):
    for n in range(5):
        make_person(no=f"H{n}", name=f"Ben Holtkamp{n}")
    assert len(search_contacts("oltkamp")) == 5
    monkeypatch.setattr(crm_search, "CONTAINS_CAP", 2)
    expected = 2 if connection.vendor == "sqlite" else 5  # PostgreSQL's trigram index needs no cap
    assert len(search_contacts("oltkamp")) == expected
    assert search_results("oltkamp").queryset.count() == 5  # the results page counts them all
