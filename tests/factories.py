"""Small builders for test data, each with keyword overrides and unique defaults.

`bulk_contacts` writes many contacts with one bulk insert for volume tests.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from crm.models import (
    Campaign,
    Contact,
    ContactType,
    Country,
    IndustryGroup,
    JobResponsibility,
    Language,
    MailingGroup,
    Salesperson,
    Salutation,
    SalutationFormula,
    Territory,
)
from crm.permissions import COMMAND_LINE
from interactions.models import InteractionGroup, InteractionTemplate

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def make_country(code: str | None = None, **kwargs) -> Country:
    return Country.objects.get_or_create(code=code or f"C{_next()}", defaults={"name": "Country", **kwargs})[0]


def make_language(code: str | None = None, **kwargs) -> Language:
    return Language.objects.get_or_create(code=code or f"L{_next()}", defaults={"name": "Language", **kwargs})[0]


def make_territory(code: str | None = None, **kwargs) -> Territory:
    return Territory.objects.get_or_create(code=code or f"T{_next()}", defaults={"name": "Territory", **kwargs})[0]


def make_salesperson(code: str | None = None, **kwargs) -> Salesperson:
    defaults = {"name": "Sam Seller", "email": "sam@example.com", **kwargs}
    return Salesperson.objects.get_or_create(code=code or f"SP{_next()}", defaults=defaults)[0]


def make_industry_group(code: str | None = None) -> IndustryGroup:
    return IndustryGroup.objects.get_or_create(code=code or f"IG{_next()}", defaults={"name": "Industry"})[0]


def make_mailing_group(code: str | None = None) -> MailingGroup:
    return MailingGroup.objects.get_or_create(code=code or f"MG{_next()}", defaults={"name": "Mailing"})[0]


def make_job_responsibility(code: str | None = None) -> JobResponsibility:
    return JobResponsibility.objects.get_or_create(code=code or f"JR{_next()}", defaults={"name": "Job"})[0]


def make_salutation(code: str | None = None, formulas: dict | None = None) -> Salutation:
    """`formulas` maps (language code or None, "formal"/"informal") to the formula text."""
    salutation = Salutation.objects.get_or_create(code=code or f"S{_next()}", defaults={"name": "Salutation"})[0]
    for (language, kind), text in (formulas or {}).items():
        SalutationFormula.objects.create(
            salutation=salutation, language=make_language(language) if language else None, type=kind, formula=text
        )
    return salutation


def make_company(**kwargs) -> Contact:
    n = _next()
    values = {"no": f"CO{n:06d}", "name": f"Company {n}", "type": ContactType.COMPANY, **kwargs}
    return Contact.objects.create(**values)


def make_person(company: Contact | None = None, **kwargs) -> Contact:
    n = _next()
    values = {
        "no": f"PE{n:06d}",
        "first_name": "Pat",
        "surname": f"Person{n}",
        "name": f"Pat Person{n}",
        "type": ContactType.PERSON,
        "company": company,
        **kwargs,
    }
    return Contact.objects.create(**values)


def make_campaign(**kwargs) -> Campaign:
    n = _next()
    return Campaign.objects.create(**{"no": f"CP{n:04d}", "description": f"Campaign {n}", **kwargs})


def make_interaction_group(code: str | None = None) -> InteractionGroup:
    return InteractionGroup.objects.get_or_create(code=code or f"G{_next()}", defaults={"name": "Letters"})[0]


def make_template(code: str | None = None, **kwargs) -> InteractionTemplate:
    values = {
        "group": kwargs.pop("group", None) or make_interaction_group(),
        "description": "Spring letter",
        "unit_cost": Decimal("1.50"),
        "unit_duration": Decimal("5"),
        **kwargs,
    }
    return InteractionTemplate.objects.create(code=code or f"TPL{_next()}", **values)


def bulk_contacts(count: int, *, prefix: str = "BK", **kwargs) -> list[Contact]:
    """`count` companies in one bulk insert."""
    start = _next() * 1_000_000
    rows = [
        Contact(no=f"{prefix}{start + i:09d}", name=f"Bulk {start + i}", type=ContactType.COMPANY, **kwargs)
        for i in range(count)
    ]
    return Contact.objects.bulk_create(rows, batch_size=1000)


def attach_word_template(template: InteractionTemplate, *paragraphs: str, language=None, **docx_options):
    """Attach a .docx with these paragraphs (Jinja tags allowed) to the template's row for
    `language` (default: the template's default language), through the real service."""
    from interactions.documents import interaction_template_attach
    from tests.interactions.docx_builders import docx_bytes

    data = docx_bytes(*paragraphs, **docx_options)
    return interaction_template_attach(
        user=COMMAND_LINE, template=template, language=language, data=data, file_name=f"{template.code}.docx"
    )
