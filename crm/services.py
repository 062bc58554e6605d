"""Writes on contacts and reference data.

Every public service is one transaction; helpers join the caller's transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from .models import Contact, NumberSeries


def number_series_next(*, code: str, count: int = 1) -> list[str]:
    """Draw `count` consecutive numbers from series `code` (e.g. CT000001).

    The series row is moved forward with one conditional UPDATE inside the caller's
    transaction, so two writers never draw the same number; numbers drawn by a
    transaction that rolls back are given out again.
    """
    if count < 1:
        return []
    with transaction.atomic():
        series = NumberSeries.objects.select_for_update().get(code=code)
        NumberSeries.objects.filter(code=code).update(last_no=F("last_no") + count)
        first = series.last_no + 1
        return [series.format(number) for number in range(first, first + count)]


# What a person takes from its company when the person's own value is blank (SPEC F1.1
# "Inheritance", CONTRACT.md import_contacts). The postal address moves as one block: it is
# inherited only when every address field of the person is blank.
INHERITED_FIELDS = ("salesperson_id", "territory_id", "language_id", "phone", "correspondence_type")
ADDRESS_FIELDS = ("address", "address_2", "post_code", "city", "county", "country_id")


def contact_fill_from_company(*, contact: Contact, company: Contact) -> list[str]:
    """Fill the person's blank inheritable fields from `company`; return the fields changed.

    Values the person already has are kept ("stored as given"). Works on the instance only;
    the caller saves (single edits) or bulk-writes (imports).
    """
    changed = []
    for field in INHERITED_FIELDS:
        if not getattr(contact, field) and getattr(company, field):
            setattr(contact, field, getattr(company, field))
            changed.append(field)
    if not any(getattr(contact, field) for field in ADDRESS_FIELDS):
        for field in ADDRESS_FIELDS:
            if getattr(company, field):
                setattr(contact, field, getattr(company, field))
                changed.append(field)
    return changed
