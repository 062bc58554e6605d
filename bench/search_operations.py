"""The search box (crm.search) in `manage.py bench` (issue 16, "Find a contact anywhere"):
the dropdown's look-up as the user types, and the full results page.

- Dropdown (`search_contacts`, at most 10 contacts): a number's start, a common surname (no name
  starts with it: the names contain it), an e-mail domain, and a text that matches nothing (the
  worst case: every kind of match is looked up). Floor: one raw query of the rows shown, with
  the same conditions as the kind of match that answers (the text matching nothing: all of them,
  OR-ed, in one query).
- Results page: `GET crm:contact_search?q=…` through the test client (one COUNT, one page of 50).
  Floor: the same COUNT and page in raw SQL.
"""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from crm.models import Contact
from crm.search import search_contacts

from .harness import Context, operation

COLUMNS = "id, no, type, name, email, city"
COMMON_NAME = "jansen"
DOMAIN = "mail.example"
NOTHING = "xqzwv"


def _number_start(ctx: Context) -> str:
    if "search_no" not in ctx.data:
        middle = Contact.objects.order_by("no").values_list("no", flat=True)[ctx.contacts // 2]
        ctx.data["search_no"] = middle[:-2]  # up to 100 numbers start with it
    return ctx.data["search_no"]


def _contains(field: str) -> str:
    """The condition "field contains %s" the way the database's index answers it."""
    if connection.vendor == "sqlite":
        return f"id IN (SELECT rowid FROM crm_contact_fts WHERE {field} LIKE %s)"
    return f"UPPER({field}) LIKE UPPER(%s)"


def _rows(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()


def _dropdown(q: str) -> None:
    if not search_contacts(q) and q != NOTHING:
        raise AssertionError(f"nothing found for {q!r}")


def number_floor(ctx: Context) -> None:
    text = _number_start(ctx)
    condition, params = _starts("no", text)
    _rows(f"SELECT {COLUMNS} FROM crm_contact WHERE {condition} ORDER BY no LIMIT 10", params)


@operation("contact search dropdown: a number's start", floor=number_floor)
def search_number(ctx: Context) -> None:
    _dropdown(_number_start(ctx))


def common_name_floor(ctx: Context) -> None:
    _rows(
        f"SELECT {COLUMNS} FROM crm_contact WHERE {_contains('name')} ORDER BY name, no LIMIT 10",
        [f"%{COMMON_NAME}%"],
    )


@operation("contact search dropdown: a common surname", floor=common_name_floor)
def search_common_name(ctx: Context) -> None:
    _dropdown(COMMON_NAME)


def domain_floor(ctx: Context) -> None:
    _rows(
        f"SELECT {COLUMNS} FROM crm_contact WHERE {_contains('email')} ORDER BY name, no LIMIT 10",
        [f"%{DOMAIN}%"],
    )


@operation("contact search dropdown: an e-mail domain", floor=domain_floor)
def search_domain(ctx: Context) -> None:
    _dropdown(DOMAIN)


def _starts(field: str, text: str) -> tuple[str, list]:
    """The condition "field starts with text" the way the database's index answers it."""
    if connection.vendor == "sqlite":
        return f"({field} >= %s AND {field} < %s)", [text, text + "\U0010ffff"]
    return f"{field} LIKE %s", [text + "%"]


def nothing_floor(ctx: Context) -> None:
    like = f"%{NOTHING}%"
    no, no_params = _starts("no", NOTHING.upper())
    city, city_params = _starts("city", NOTHING.capitalize())
    _rows(
        f"SELECT {COLUMNS} FROM crm_contact WHERE {no} OR {_contains('name')} OR {_contains('email')} OR {city}"
        " ORDER BY name LIMIT 10",
        [*no_params, like, like, *city_params],
    )


@operation("contact search dropdown: a text matching nothing (every kind looked up)", floor=nothing_floor)
def search_nothing(ctx: Context) -> None:
    _dropdown(NOTHING)


def results_floor(ctx: Context) -> None:
    where = f"{_contains('name')} OR {_contains('email')}"
    like = f"%{COMMON_NAME}%"
    _rows(f"SELECT COUNT(*) FROM crm_contact WHERE {where}", [like, like])
    _rows(f"SELECT {COLUMNS} FROM crm_contact WHERE {where} ORDER BY name, no LIMIT 50", [like, like])


@operation("contact search results page: a common surname (full request)", floor=results_floor)
def search_results_page(ctx: Context) -> None:
    response = ctx.client.get(reverse("crm:contact_search"), {"q": COMMON_NAME}, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"the search results page answered {response.status_code}")
