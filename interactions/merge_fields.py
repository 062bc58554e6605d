"""The Word template fields of one letter (CONTRACT.md "Word template fields"; SPEC F7.2 with
D10, D14), for a segment line (segments.merge) or an interaction log entry (delivery).

`line_context` turns a line-like object into the plain nested dicts the sandboxed render takes,
checked by `interactions.wordtemplates.plain_context` (never model objects: the sandbox would
let a template read any public attribute of one). Every address field, the address block, the
e-mail and the phone come from the alternate address active on the line's date when the line
has one (D10). Salutations use the formula of the contact's salutation code in the line's
language (F1.4 with D14), filled in exactly as written (the template adds its punctuation); a
missing one is a MergeError naming the contact. `channel` says whether the letter goes out as
(the body or attachment of) an e-mail or on paper; `unsubscribe_url` is filled for e-mails only.

`sample_context` is one made-up line run through `line_context`: the upload's trial render and
the Interaction Templates page's examples both use it, so an example always shows what a real
letter would get.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _

from crm.models import (
    Campaign,
    Contact,
    ContactType,
    CorrespondenceType,
    Country,
    Salesperson,
    SalutationFormula,
    SalutationType,
)

from .unsubscribe import entry_unsubscribe_url
from .wordtemplates import plain_context

#: The values of the `channel` field (CONTRACT.md "Word template fields").
LETTER, EMAIL = "letter", "email"


class MergeError(ValidationError):
    """A line that cannot be merged (a missing salutation formula), naming its contact."""


def line_channel(line) -> str:
    """`email` when the line's letter goes out as the body or attachment of an e-mail (its
    correspondence type is e-mail), else `letter`."""
    return EMAIL if line.correspondence_type == CorrespondenceType.EMAIL else LETTER


def unsubscribe_url(line) -> str:
    """The contact's unsubscribe link for an e-mail of `line` (CONTRACT.md "Consent per channel
    and unsubscribe"; interactions.unsubscribe): an entry of a logged segment gets its signed
    link under CRM_PUBLIC_URL; a segment line (a preview: nothing is sent yet) or the sample
    line gets "" (a template's `{% if unsubscribe_url %}` paragraph stays out)."""
    return entry_unsubscribe_url(line)


def salutation_formulas() -> dict[tuple[str, str | None, str], SalutationFormula]:
    return {(f.salutation_id, f.language_id, f.type): f for f in SalutationFormula.objects.all()}


def _salutation(contact: Contact, language: str | None, kind: str, formulas) -> str:
    formula = formulas.get((contact.salutation_id, language, kind)) if contact.salutation_id else None
    if formula is None:
        raise MergeError(
            _("%(no)s %(name)s: no %(kind)s salutation formula for salutation code %(code)s in language %(language)s.")
            % {
                "no": contact.no,
                "name": contact.name,
                "kind": str(dict(SalutationType.choices)[kind]).lower(),
                "code": contact.salutation_id or _("(none)"),
                "language": language or _("(blank)"),
            },
            code="no_salutation_formula",
        )
    return formula.render(contact.name_parts())


def _address(line) -> dict[str, str]:
    """The postal and communication fields of the line's contact, from the alternate address
    active on the line's date when there is one."""
    contact = line.contact
    company = contact.company if contact.type == ContactType.PERSON else None
    source = line.alt_address or contact
    company_name = (company.name if company else "") if contact.type == ContactType.PERSON else ""
    if line.alt_address is not None and line.alt_address.company_name:
        company_name = line.alt_address.company_name
    return {
        "company_name": company_name,
        "email": source.email,
        "phone": source.phone,
        "address": source.address,
        "address_2": source.address_2,
        "post_code": source.post_code,
        "city": source.city,
        "country": source.country.name if source.country else "",
    }


def address_block(name: str, address: dict[str, str]) -> str:
    """The formatted postal address: name, company, street lines, post code and city, country;
    empty parts leave no empty line."""
    city_line = " ".join(part for part in (address["post_code"], address["city"]) if part)
    parts = [name, address["company_name"], address["address"], address["address_2"], city_line, address["country"]]
    return "\n".join(part for part in parts if part)


def line_context(
    line,
    segment,
    formulas,
    *,
    today: datetime.date,
    salutation_types: Iterable[str],
    channel: str | None = None,
) -> dict[str, Any]:
    """The merge fields of one line (plain, checked by `plain_context`).

    `line` is line-like: a segment line or an interaction log entry, with `contact` (its
    company and country loaded), `alt_address`, `language_id`, `salesperson`, `campaign`,
    `description`, `subject`, `date`, `personal_text` and `correspondence_type`; `segment` has
    `no` and `description`; `formulas` is `salutation_formulas()`. `channel` is `letter` or
    `email`; by default the line's own (`line_channel`); `segment merge` and print files pass
    `letter`."""
    channel = channel or line_channel(line)
    if channel not in (LETTER, EMAIL):
        raise ValueError(f'channel must be "{LETTER}" or "{EMAIL}", not {channel!r}')
    contact = line.contact
    address = _address(line)
    salutations = {kind: "" for kind in SalutationType.values}
    for kind in salutation_types:
        salutations[kind] = _salutation(contact, line.language_id, kind, formulas)
    salesperson = line.salesperson
    campaign = line.campaign
    return plain_context(
        {
            "contact": {
                "no": contact.no,
                "name": contact.name,
                "first_name": contact.first_name,
                "middle_name": contact.middle_name,
                "surname": contact.surname,
                "initials": contact.initials,
                "job_title": contact.job_title,
                **address,
            },
            "address_block": address_block(contact.name, address),
            "salutation_formal": salutations[SalutationType.FORMAL],
            "salutation_informal": salutations[SalutationType.INFORMAL],
            "salesperson": {
                "code": salesperson.code if salesperson else "",
                "name": salesperson.name if salesperson else "",
                "email": salesperson.email if salesperson else "",
                "phone": salesperson.phone if salesperson else "",
                "job_title": salesperson.job_title if salesperson else "",
            },
            "segment": {"no": segment.no, "description": segment.description},
            "line": {
                "description": line.description,
                "subject": line.subject,
                "date": line.date,
                "personal_text": line.personal_text,
                "correspondence_type": line.correspondence_type,
            },
            "campaign": {
                "no": campaign.no if campaign else "",
                "description": campaign.description if campaign else "",
            },
            "company": dict(settings.CRM_COMPANY),
            "today": today,
            "channel": channel,
            "unsubscribe_url": unsubscribe_url(line) if channel == EMAIL else "",
        }
    )


# --- The sample line -----------------------------------------------------------------------

SAMPLE_DATE = datetime.date(2025, 3, 14)
#: The sample contact's salutation formulas (filled in by `SalutationFormula.render`, as a
#: real contact's are).
SAMPLE_FORMULAS = {
    # Translators: a sample salutation formula; keep the %-codes as they are.
    SalutationType.FORMAL: gettext_lazy("Dear Ms %middle_name %surname"),
    # Translators: a sample salutation formula; keep the %-code as it is.
    SalutationType.INFORMAL: gettext_lazy("Dear %first_name"),
}


def _sample_line(channel: str):
    country = Country(code="NL", name="Netherlands")
    company = Contact(
        pk=-1,
        no="CT000100",
        type=ContactType.COMPANY,
        name="Smith & Sons Ltd.",
        country=country,
        salutation_id="COMPANY",
    )
    contact = Contact(
        pk=-2,
        no="CT000123",
        type=ContactType.PERSON,
        company=company,
        name="Anna de Vries",
        first_name="Anna",
        middle_name="de",
        surname="Vries",
        initials="A.M.",
        job_title=gettext("Purchasing Manager"),
        email="anna.devries@example.com",
        phone="+31 20 555 0123",
        address="Keizersgracht 12",
        address_2=gettext("2nd floor"),
        post_code="1015 CX",
        city="Amsterdam",
        country=country,
        salutation_id="MS",
    )
    return SimpleNamespace(
        contact=contact,
        alt_address=None,
        language_id="EN",
        salesperson=Salesperson(
            code="JO",
            name="John Olsen",
            email="john.olsen@example.com",
            phone="+31 20 555 0142",
            job_title=gettext("Account Manager"),
        ),
        campaign=Campaign(no="CP0001", description=gettext("Spring campaign")),
        description=gettext("Spring catalogue letter"),
        subject=gettext("Our new spring catalogue"),
        date=SAMPLE_DATE,
        personal_text=gettext("Thank you for visiting our stand at the trade fair."),
        correspondence_type=CorrespondenceType.EMAIL if channel == EMAIL else CorrespondenceType.HARD_COPY,
    )


def sample_context(channel: str = LETTER) -> dict[str, Any]:
    """The merge fields of a made-up line (Anna de Vries of Smith & Sons Ltd.), made by
    `line_context` like every letter's: what the trial render of an upload uses and what the
    template page shows as each field's example. Reads nothing from the database."""
    line = _sample_line(channel)
    formulas = {
        ("MS", "EN", kind): SalutationFormula(salutation_id="MS", language_id="EN", type=kind, formula=str(formula))
        for kind, formula in SAMPLE_FORMULAS.items()
    }
    segment = SimpleNamespace(no="SEG00001", description="Spring mailing")
    return line_context(
        line, segment, formulas, today=SAMPLE_DATE, salutation_types=SalutationType.values, channel=channel
    )
