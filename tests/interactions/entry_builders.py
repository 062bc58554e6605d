"""Interaction log entries for the tests of the log pages, made by the real services.

`logged_company` logs a small segment (a company and its persons) through segment_log;
`single` records one interaction through interaction_create; `bulk_entries` writes many
entries with one bulk insert for query-count and volume tests.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from crm.models import Contact, ContactType
from crm.permissions import COMMAND_LINE
from interactions import services
from interactions.models import InteractionLogEntry, InteractionTemplate
from segments import services as segment_services
from tests.factories import make_company, make_person, make_salesperson, make_template


def logged_company(n_persons: int = 2, *, template=None, campaign=None, salesperson=None, **company):
    """A company with `n_persons` persons, put on a segment and logged; returns (result, contacts)."""
    salesperson = salesperson or make_salesperson("ANN", name="Ann Seller")
    template = template or make_template(correspondence_type="")
    company = make_company(salesperson=salesperson, **company)
    persons = [make_person(company, salesperson=salesperson) for _ in range(n_persons)]
    header = {"description": "Spring mailing", "interaction_template": template}
    if campaign is not None:
        header["campaign"] = campaign
    segment = segment_services.segment_create(user=COMMAND_LINE, values=header)
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"company_no={company.no}")
    result = segment_services.segment_log(user=COMMAND_LINE, segment=segment)
    return result, [company, *persons]


def single(contact: Contact, template: InteractionTemplate, **values) -> InteractionLogEntry:
    return services.interaction_create(user=COMMAND_LINE, contact=contact, interaction_template=template, values=values)


def bulk_entries(count: int, *, contact: Contact, template: InteractionTemplate, **values) -> None:
    """`count` entries of one contact in one bulk insert (dated today unless `date` is given)."""
    company_id = contact.pk if contact.type == ContactType.COMPANY else contact.company_id
    defaults = {
        "date": datetime.date.today(),
        "description": "Bulk",
        "cost": Decimal("1.00"),
        "duration": Decimal("2"),
        "salesperson_id": contact.salesperson_id,
        **values,
    }
    InteractionLogEntry.objects.bulk_create(
        [
            InteractionLogEntry(
                contact=contact,
                contact_company_id=company_id,
                interaction_template=template,
                interaction_group_id=template.group_id,
                **defaults,
            )
            for _ in range(count)
        ],
        batch_size=1000,
    )
