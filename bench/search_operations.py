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


def _rows(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()


def _dropdown(q: str) -> None:
    if not search_contacts(q) and q != NOTHING:
        raise AssertionError(f"nothing found for {q!r}")


def number_floor(ctx: Context) -> None:
    text = _number_start(ctx)
    if connection.vendor == "sqlite":
        _rows(
            f"SELECT {COLUMNS} FROM crm_contact WHERE no >= %s AND no < %s ORDER BY no LIMIT 10",
            [text, text + "\U0010ffff"],
        )
    else:
        _rows(f"SELECT {COLUMNS} FROM crm_contact WHERE no LIKE %s ORDER BY no LIMIT 10", [text + "%"])


@operation("contact search dropdown: a number's start", floor=number_floor)
def search_number(ctx: Context) -> None:
    _dropdown(_number_start(ctx))


def common_name_floor(ctx: Context) -> None:
    _rows(
        f"SELECT {COLUMNS} FROM crm_contact WHERE UPPER(name) LIKE UPPER(%s) ORDER BY name, no LIMIT 10",
        [f"%{COMMON_NAME}%"],
    )


@operation("contact search dropdown: a common surname", floor=common_name_floor)
def search_common_name(ctx: Context) -> None:
    _dropdown(COMMON_NAME)


def domain_floor(ctx: Context) -> None:
    _rows(
        f"SELECT {COLUMNS} FROM crm_contact WHERE UPPER(email) LIKE UPPER(%s) ORDER BY name, no LIMIT 10",
        [f"%{DOMAIN}%"],
    )


@operation("contact search dropdown: an e-mail domain", floor=domain_floor)
def search_domain(ctx: Context) -> None:
    _dropdown(DOMAIN)


def nothing_floor(ctx: Context) -> None:
    like = f"%{NOTHING}%"
    _rows(
        f"SELECT {COLUMNS} FROM crm_contact WHERE no = %s OR no LIKE %s OR UPPER(name) LIKE UPPER(%s)"
        " OR UPPER(email) LIKE UPPER(%s) OR city LIKE %s ORDER BY name LIMIT 10",
        [NOTHING, NOTHING + "%", like, like, NOTHING.capitalize() + "%"],
    )


@operation("contact search dropdown: a text matching nothing (every kind looked up)", floor=nothing_floor)
def search_nothing(ctx: Context) -> None:
    _dropdown(NOTHING)


def results_floor(ctx: Context) -> None:
    where = "UPPER(name) LIKE UPPER(%s) OR UPPER(email) LIKE UPPER(%s)"
    like = f"%{COMMON_NAME}%"
    _rows(f"SELECT COUNT(*) FROM crm_contact WHERE {where}", [like, like])
    _rows(f"SELECT {COLUMNS} FROM crm_contact WHERE {where} ORDER BY name, no LIMIT 50", [like, like])


@operation("contact search results page: a common surname (full request)", floor=results_floor)
def search_results_page(ctx: Context) -> None:
    response = ctx.client.get(reverse("crm:contact_search"), {"q": COMMON_NAME}, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"the search results page answered {response.status_code}")
