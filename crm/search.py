"""Find a contact anywhere: the look-up behind the navigation's search box and the worksheet's
"Add one contact" (selectors: reads only).

What a marketer types is a contact no. (or its start), a name or part of one, an e-mail address
or a city. The matches are ranked in that order:

1. numbers starting with the text (in number order, so the number itself comes first);
2. names starting with the text, then names containing it (3 characters or more);
3. e-mail addresses containing it (3 characters or more, no spaces);
4. cities starting with it.

`search_contacts` (the dropdown) reads each kind with its own small query, stopping as soon as it
has `limit` contacts, so a common text never sorts thousands of rows. `search_results` (the full
results page) is one query ranking every match, counted and paged.

Every condition has an index at 1M contacts: the unique index of `no`, the indexes of `name` and
`city`; on PostgreSQL trigram GIN indexes on `UPPER(name)` and
`UPPER(email)` (pg_trgm) serve "contains" (Django's `icontains` is `UPPER(col) LIKE UPPER(%s)`,
the indexes' expression). On SQLite "starts with" is a range on the column's index (SQLite's LIKE
is case-insensitive, so it cannot seek a binary index) and "contains" asks an FTS5 table with the
trigram tokenizer over name and e-mail (crm migration 0014).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from .models import Contact
from .untrusted import ANY_CONTROL

MAX_QUERY_LENGTH = 100
MIN_CONTAINS_LENGTH = 3  # shorter texts look up numbers, name starts and cities only
DROPDOWN_LIMIT = 10
CONTAINS_CAP = 200  # SQLite, dropdown: the names or e-mails containing the text it sorts at most
COLUMNS = ("id", "no", "type", "name", "email", "city")
# Above every character: "x" <= value < "x" + TOP is "value starts with x" on a binary collation.
TOP = "\U0010ffff"


class SearchError(ValueError):
    """The search text cannot be looked up (too long)."""


def clean_query(q: str | None) -> str:
    """The search text with its spaces collapsed; SearchError when it is too long or holds a
    control character (no contact has one: PostgreSQL text cannot even hold a NUL)."""
    text = " ".join((q or "").split())
    if ANY_CONTROL.search(text):
        raise SearchError(_("Type letters, digits and punctuation only: the text holds a control character."))
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchError(
            _("Type at most %(limit)s characters (you typed %(typed)s).")
            % {"limit": MAX_QUERY_LENGTH, "typed": len(text)}
        )
    return text


def _variants(text: str) -> list[str]:
    """The ways a marketer's text is likely written in the data: as typed, capitalised, upper case."""
    return list(dict.fromkeys((text, text[:1].upper() + text[1:], text.title(), text.upper())))


def _starts_with(field: str, text: str, *, any_case: bool) -> Q:
    """`field` starts with `text` (in the usual spellings when `any_case`), seeking the field's index.

    PostgreSQL: LIKE 'x%' on the column (Django's `_like` pattern index for `no` and `city`;
    the trigram index serves UPPER(name) LIKE). SQLite: a range on the column's binary index."""
    variants = _variants(text) if any_case else list(dict.fromkeys((text, text.upper())))
    condition = Q()
    for variant in variants:
        if connection.vendor == "sqlite":
            condition |= Q(**{f"{field}__gte": variant, f"{field}__lt": variant + TOP})
        else:
            condition |= Q(**{f"{field}__startswith": variant})
    return condition


def _name_starts(text: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(name__istartswith=text)  # UPPER(name) LIKE 'X%': the trigram index
    return _starts_with("name", text, any_case=True)


def _contains(field: str, text: str, *, capped: bool) -> Q:
    """`field` contains `text`, any case (3 characters or more). PostgreSQL: UPPER(field) LIKE, the
    trigram index. SQLite: the contacts the FTS5 trigram table finds (crm migration 0014), then
    Django's own test on them (the FTS table reads % and _ in the text as wildcards). `capped`
    (the dropdown): on SQLite the first CONTAINS_CAP the FTS table finds (FTS5 stops there; all
    of a common text, e.g. an e-mail domain of 250,000 contacts at 1M, take seconds to sort)."""
    condition = Q(**{f"{field}__icontains": text})
    if connection.vendor == "sqlite":
        pattern = f"%{text}%"
        cap = f" LIMIT {CONTAINS_CAP}" if capped else ""
        found = RawSQL(f"SELECT rowid FROM crm_contact_fts WHERE {field} LIKE %s{cap}", [pattern])  # noqa: S611
        condition &= Q(id__in=found)
    return condition


def _conditions(text: str, *, capped: bool = False) -> list[Q]:
    """Each kind of match, best first (see the module's docstring)."""
    kinds = [
        _starts_with("no", text, any_case=False),  # in no. order: the number itself first
        _name_starts(text),
    ]
    if len(text) >= MIN_CONTAINS_LENGTH:
        kinds.append(_contains("name", text, capped=capped))
        if " " not in text:
            kinds.append(_contains("email", text, capped=capped))
    kinds.append(_starts_with("city", text, any_case=True))
    return kinds


def _contacts() -> QuerySet:
    return Contact.objects.only(*COLUMNS)


def search_contacts(q: str, limit: int = DROPDOWN_LIMIT) -> list[Contact]:
    """At most `limit` contacts matching `q`, best kind of match first (name order within a kind).

    One query per kind of match, each of at most `limit` rows, until `limit` contacts are found:
    at most five queries, none sorting more than the rows of its kind that fit."""
    text = clean_query(q)
    if not text:
        return []
    found: dict[int, Contact] = {}
    for kind, condition in enumerate(_conditions(text, capped=True)):
        order = ("no",) if kind == 0 else ("name", "no")
        rows = _contacts().filter(condition).exclude(pk__in=list(found)).order_by(*order)
        for contact in rows[: limit - len(found)]:
            found[contact.pk] = contact
        if len(found) >= limit:
            break
    return list(found.values())


@dataclass(frozen=True)
class Results:
    text: str
    queryset: QuerySet  # every match, ranked; page it


def search_results(q: str) -> Results:
    """Every contact matching `q`, ranked by kind of match, then name and no. (for the results page)."""
    text = clean_query(q)
    if not text:
        return Results(text, Contact.objects.none())
    conditions = _conditions(text)
    match = Q()
    for condition in conditions:
        match |= condition
    rank = Case(
        *(When(condition, then=Value(kind)) for kind, condition in enumerate(conditions)),
        default=Value(len(conditions)),
        output_field=IntegerField(),
    )
    queryset = _contacts().filter(match).annotate(rank=rank).order_by("rank", "name", "no")
    return Results(text, queryset)


def contacts_named(q: str, limit: int = DROPDOWN_LIMIT) -> list[Contact]:
    """The contacts whose no. is `q`, else whose name is `q` (any case): the worksheet's "Add one
    contact" takes a number or a whole name. At most `limit` (the page shows them to choose from)."""
    text = clean_query(q)
    if not text:
        return []
    by_no = list(_contacts().filter(no__in=list(dict.fromkeys((text, text.upper())))).order_by("no")[:limit])
    if by_no:
        return by_no
    if connection.vendor == "postgresql":
        return list(_contacts().filter(name__iexact=text).order_by("name", "no")[:limit])  # the trigram index
    same_name = _starts_with("name", text, any_case=True)
    rows = _contacts().filter(same_name).order_by("name", "no")[: limit * 5]
    return [contact for contact in rows if contact.name.casefold() == text.casefold()][:limit]
