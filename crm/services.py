"""Writes on contacts and reference data.

Every public service is one transaction; helpers join the caller's transaction.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import batched
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    CharField,
    Exists,
    F,
    OuterRef,
    ProtectedError,
    Q,
    QuerySet,
    RestrictedError,
    Subquery,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import hooks
from .consent import clean_source, clean_states, contact_set_consent, record_bulk_changes
from .models import (
    CONSENT_FIELDS,
    ConsentState,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    ContactType,
    MailingGroup,
    NumberSeries,
)
from .permissions import require
from .selectors import contact_history
from .sql import insert_select


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


# A company's inherited values move as these groups: each field of INHERITED_FIELDS alone, the
# postal address as one block.
INHERITED_GROUPS: tuple[tuple[str, ...], ...] = (*((field,) for field in INHERITED_FIELDS), ADDRESS_FIELDS)
PROPAGATE_BATCH = 500


def company_inherited_values(company: Contact) -> dict[str, Any]:
    """The values of `company` that its persons follow: the `old_values` of one company for
    `company_propagate_inherited`, taken before the company changes."""
    return {field: getattr(company, field) for group in INHERITED_GROUPS for field in group}


def company_propagate_inherited(*, old_values: Mapping[int, Mapping[str, Any]]) -> dict[str, int]:
    """Give the persons that follow their company the company's new inherited values.

    `old_values` maps a company's pk to its values before the change (attnames of
    INHERITED_FIELDS and ADDRESS_FIELDS; other keys are ignored, a group whose fields are not
    all given is left alone). Call it after the companies' new values are written, in the same
    transaction: the new values are read from the company rows.

    The rule (SPEC F1.1 "Inheritance"; a person's inherited value is a copy of its company's,
    the model keeps no flag): a person follows a group of its company when its own value of
    that group equals the company's old value — a NULL or blank equal to a NULL or blank old
    value too. A person with a different value set its own and keeps it, blank included (a
    person who cleared its salesperson stays without one). The address is one group: a person
    follows only when all six address fields equal the company's old address, and then takes
    the whole new address; a person with an address of its own keeps all of it. Only the
    groups that changed are written, and each person written gets a new `updated_at` (an edit
    page open on that person then reports the change instead of undoing it).

    Set-based: one query reads the companies' new values and one UPDATE per changed group
    writes the persons, per PROPAGATE_BATCH companies, whatever the number of persons. Returns
    the number of persons written per group (named by its first field, "address" for the
    address). Joins the caller's transaction.
    """
    fields = [field for group in INHERITED_GROUPS for field in group]
    written: dict[str, int] = defaultdict(int)
    now = timezone.now()
    for chunk in batched(old_values, PROPAGATE_BATCH):
        companies = Contact.objects.filter(pk__in=chunk, type=ContactType.COMPANY).values_list("pk", *fields)
        new_values = {pk: dict(zip(fields, values, strict=True)) for pk, *values in companies}
        for group in INHERITED_GROUPS:
            by_old_value: dict[tuple, list[int]] = defaultdict(list)
            for pk, new in new_values.items():
                old = old_values[pk]
                if all(field in old for field in group) and any(old[field] != new[field] for field in group):
                    by_old_value[tuple(old[field] for field in group)].append(pk)
            if not by_old_value:
                continue
            follows = Q()
            for old, pks in by_old_value.items():
                same = Q(company_id__in=pks)
                for field, value in zip(group, old, strict=True):
                    same &= Q(**{f"{field}__isnull": True}) if value is None else Q(**{field: value})
                follows |= same
            company = Contact.objects.filter(pk=OuterRef("company_id")).order_by()
            assignments = {field: Subquery(company.values(field)) for field in group}
            count = Contact.objects.filter(follows, type=ContactType.PERSON).update(**assignments, updated_at=now)
            written[group[0]] += count
    return dict(written)


# --- Contacts: create, update, delete ---------------------------------------------------------
#
# The contact pages call these; so may any later command. Each is one durable transaction:
# the contact row, its classification links, alternate addresses and date ranges are written
# together or not at all. Rules the form checks are checked again here (a service may be called
# without a form), and the database triggers and constraints stay the last guard: an
# IntegrityError they raise is turned into a ValidationError with a readable message.

CONTACT_SERIES = "CONTACT"

# Database messages (triggers of migration 0002, unique constraints on both backends) and the
# text a user sees for them. Matched case-insensitively against str(IntegrityError).
INTEGRITY_MESSAGES = (
    ("a person's company must be a company contact", gettext_lazy("A person's company must be a company contact.")),
    (
        "cannot become a person",
        gettext_lazy("A contact with persons or company classifications cannot become a person."),
    ),
    ("cannot become a company", gettext_lazy("A contact with job responsibilities cannot become a company.")),
    ("belong to companies only", gettext_lazy("Industry groups and business relations belong to companies only.")),
    ("belong to persons only", gettext_lazy("Job responsibilities belong to persons only.")),
    (
        "alternate address of the same contact",
        gettext_lazy("A date range must use an alternate address of the same contact."),
    ),
    ("contact_alt_range_start_unique", gettext_lazy("Two date ranges of this contact start on the same date.")),
    (
        "crm_contactaltaddressdaterange.contact_id",
        gettext_lazy("Two date ranges of this contact start on the same date."),
    ),
    ("contact_alt_address_code_unique", gettext_lazy("Two alternate addresses of this contact have the same code.")),
    ("crm_contactaltaddress.contact_id", gettext_lazy("Two alternate addresses of this contact have the same code.")),
    ("crm_contact_no_key", gettext_lazy("Another contact already has this no.")),
    ("crm_contact.no", gettext_lazy("Another contact already has this no.")),
)
INTEGRITY_FALLBACK = gettext_lazy(
    "The contact was not saved: the change breaks a rule of the database. Reload and try again."
)

CLASSIFICATION_LINKS = {
    "industry_groups": (ContactIndustryGroup, "industry_group_id"),
    "business_relations": (ContactBusinessRelation, "business_relation_id"),
    "mailing_groups": (ContactMailingGroup, "mailing_group_id"),
    "job_responsibilities": (ContactJobResponsibility, "job_responsibility_id"),
}
ALT_ADDRESS_FIELDS = (
    "company_name",
    "company_name_2",
    "address",
    "address_2",
    "post_code",
    "city",
    "county",
    "country_id",
    "phone",
    "mobile_phone",
    "email",
)
# The consent states are not contact data: they change through `consent=` (crm.consent), which
# records each change in the history.
CONTACT_DATA_FIELDS = frozenset(
    field.attname if field.is_relation else field.name
    for field in Contact._meta.concrete_fields
    if field.editable and not field.primary_key and field.name not in CONSENT_FIELDS.values()
) | {"company", "country", "territory", "salesperson", "language", "salutation"}


def integrity_error_message(error: IntegrityError) -> str:
    """The user-facing text for an IntegrityError raised while writing a contact."""
    text = str(error).lower()
    for needle, message in INTEGRITY_MESSAGES:
        if needle in text:
            return str(message)
    return str(INTEGRITY_FALLBACK)


@dataclass(frozen=True)
class ContactDeletion:
    """What `contact_delete` removed: the contact's no. and how many dependent rows went."""

    no: str
    alt_addresses: int
    date_ranges: int
    classifications: int


def contact_create(
    *,
    user,
    data: dict,
    industry_groups: Iterable | None = None,
    business_relations: Iterable | None = None,
    mailing_groups: Iterable | None = None,
    job_responsibilities: Iterable | None = None,
    alt_addresses: list[dict] | None = None,
    date_ranges: list[dict] | None = None,
    consent: Mapping[str, str | None] | None = None,
    consent_source: str = "",
) -> Contact:
    """Create a contact with its classifications, alternate addresses and date ranges.

    `data` holds Contact field values (`type` required; `company` a company contact or None).
    A blank `no` takes the next free number of series CONTACT; a typed one must be unique. A
    person linked to a company takes the company's values for its blank fields
    (`contact_fill_from_company`). Classifications are codes or rows; `alt_addresses` and
    `date_ranges` are described at `_write_alt_addresses`. `consent` gives the contact's first
    consent states ({channel: state}, crm.consent's rules; the rest start unknown): each state
    other than unknown is recorded in the consent history with the user and `consent_source`.

    One durable transaction: on any error (ValidationError, also for database rule
    violations) nothing is written and the number series does not move. Needs crm.add_contact.
    """
    require(user, "crm.add_contact")
    contact = Contact(**_contact_data(data))
    if contact.type not in ContactType.values:
        raise ValidationError({"type": _("Choose company or person.")}, code="invalid_type")
    if contact.type == ContactType.PERSON and contact.company_id:
        contact_fill_from_company(contact=contact, company=contact.company)
    classifications = _classifications(industry_groups, business_relations, mailing_groups, job_responsibilities)
    _check_classifications(contact, classifications)
    states = {channel: state for channel, state in clean_states(consent or {}).items() if state != ConsentState.UNKNOWN}
    consent_source = clean_source(consent_source)
    for channel, state in states.items():
        setattr(contact, CONSENT_FIELDS[channel], state)
    try:
        with transaction.atomic(durable=True):
            if not contact.no:
                contact.no = contact_next_no()
            contact.full_clean()
            contact.save()
            _write_classifications(contact, classifications)
            _write_alt_addresses(contact, alt_addresses, date_ranges)
            record_bulk_changes(
                actor=user,
                changes=[(contact.pk, channel, state) for channel, state in states.items()],
                source=consent_source,
            )
    except IntegrityError as error:
        contact.pk = None
        raise ValidationError(integrity_error_message(error), code="integrity") from error
    except ValidationError:
        contact.pk = None
        raise
    return contact


def contact_update(
    *,
    user,
    contact: Contact,
    data: dict | None = None,
    industry_groups: Iterable | None = None,
    business_relations: Iterable | None = None,
    mailing_groups: Iterable | None = None,
    job_responsibilities: Iterable | None = None,
    alt_addresses: list[dict] | None = None,
    date_ranges: list[dict] | None = None,
    if_unchanged_since: datetime.datetime | None = None,
    consent: Mapping[str, str | None] | None = None,
    consent_source: str = "",
) -> Contact:
    """Change a contact; arguments left at None are not touched.

    A contact keeps its type and its no. (both are refused here). When a person is linked
    to a different company, its blank fields are filled from the new company; values the
    person already has stay. When a company's inherited fields change, the persons that
    follow it take the new values in the same transaction (`company_propagate_inherited`:
    those whose value equals the company's old value; a constant number of statements).
    With `if_unchanged_since` (the `updated_at` the user's form was built from) the update
    is refused when someone saved the contact in between, so an edit page never silently
    undoes another user's change. `consent` ({channel: state}) sets the consent states through
    `crm.consent.contact_set_consent` in the same transaction: each channel whose state changes
    is recorded in the history with the user and `consent_source`. Same transaction and error
    guarantees as `contact_create`. Needs crm.change_contact.
    """
    require(user, "crm.change_contact")
    classifications = _classifications(industry_groups, business_relations, mailing_groups, job_responsibilities)
    try:
        with transaction.atomic(durable=True):
            stored = (
                Contact.objects.select_for_update()
                .filter(pk=contact.pk)
                .values("type", "no", "company_id", "updated_at", *INHERITED_FIELDS, *ADDRESS_FIELDS)
                .first()
            )
            if stored is None:
                raise ValidationError(_("This contact no longer exists."), code="gone")
            if if_unchanged_since is not None and stored["updated_at"] != if_unchanged_since:
                raise ValidationError(
                    _(
                        "Someone else saved this contact while you were editing it. "
                        "Reload the page to see their change, then make yours again."
                    ),
                    code="stale",
                )
            for field, value in _contact_data(data or {}).items():
                setattr(contact, field, value)
            if contact.type != stored["type"]:
                raise ValidationError({"type": _("A contact keeps its type.")}, code="type_change")
            if contact.no != stored["no"]:
                raise ValidationError({"no": _("A contact keeps its no.")}, code="no_change")
            if contact.type == ContactType.PERSON and contact.company_id and contact.company_id != stored["company_id"]:
                contact_fill_from_company(contact=contact, company=contact.company)
            _check_classifications(contact, classifications)
            contact.full_clean()
            contact.save()
            if contact.type == ContactType.COMPANY:
                company_propagate_inherited(old_values={contact.pk: stored})
            _write_classifications(contact, classifications)
            _write_alt_addresses(contact, alt_addresses, date_ranges)
            if consent:
                contact_set_consent(actor=user, contact=contact, states=consent, source=consent_source)
    except IntegrityError as error:
        raise ValidationError(integrity_error_message(error), code="integrity") from error
    return contact


HISTORY_MESSAGE = gettext_lazy(
    "%(no)s cannot be deleted: it has history (%(used_by)s), and contacts with history are kept. "
    "An admin can anonymise it instead: its name, address, e-mail and phone are replaced, its number, "
    "interaction log entries and segment lines stay."
)
PROTECTED_MESSAGE = gettext_lazy("%(no)s cannot be deleted: it is still used by %(used_by)s.")


def contact_delete(*, user, contact: Contact) -> ContactDeletion:
    """Delete a contact with its alternate addresses, date ranges and classification links.

    Refused (ValidationError, nothing deleted) while a company still has persons, while the
    contact has history (SPEC D15: interaction log entries or segment lines; the message says
    so and that an admin can anonymise it instead), and while anything else protects the
    contact (rows of other apps that point at it with PROTECT). One durable transaction.
    Needs crm.delete_contact.
    """
    require(user, "crm.delete_contact")
    persons = Contact.objects.filter(company_id=contact.pk).count()
    if persons:
        raise ValidationError(
            ngettext(
                "%(no)s still has %(count)s person. Delete them or link them to another company first.",
                "%(no)s still has %(count)s persons. Delete them or link them to another company first.",
                persons,
            ),
            code="has_persons",
            params={"no": contact.no, "count": persons},
        )
    history = contact_history(contact=contact)
    if history:
        raise ValidationError(
            HISTORY_MESSAGE, code="has_history", params={"no": contact.no, "used_by": history.describe()}
        )
    try:
        with transaction.atomic(durable=True):
            _total, per_model = contact.delete()
    except (ProtectedError, RestrictedError) as error:
        # History written after the check above, or rows of another kind: name them all,
        # each row once (an entry can protect a company twice, as contact and as company).
        objects = getattr(error, "protected_objects", None) or getattr(error, "restricted_objects", ())
        rows: dict[tuple[str, str], set] = {}
        for obj in objects:
            key = (str(obj._meta.verbose_name), str(obj._meta.verbose_name_plural))
            rows.setdefault(key, set()).add(obj.pk)
        used_by = ", ".join(f"{len(pks)} {one if len(pks) == 1 else many}" for (one, many), pks in sorted(rows.items()))
        history_models = {str(counter.model._meta.verbose_name) for counter in hooks.contact_history}
        message = HISTORY_MESSAGE if {one for one, _many in rows} & history_models else PROTECTED_MESSAGE
        raise ValidationError(message, code="protected", params={"no": contact.no, "used_by": used_by}) from error
    return ContactDeletion(
        no=contact.no,
        alt_addresses=per_model.get(ContactAltAddress._meta.label, 0),
        date_ranges=per_model.get(ContactAltAddressDateRange._meta.label, 0),
        classifications=sum(per_model.get(model._meta.label, 0) for model, _field in CLASSIFICATION_LINKS.values()),
    )


def _contact_data(data: dict) -> dict:
    unknown = sorted(set(data) - CONTACT_DATA_FIELDS)
    if unknown:
        raise TypeError(f"not contact fields: {', '.join(unknown)}")
    return dict(data)


def contact_next_no() -> str:
    """The next number of series CONTACT that no contact uses yet (imports may have taken some).

    Joins the caller's transaction: drawn numbers are given out again if it rolls back.
    """
    try:
        for _attempt in range(1000):
            no = number_series_next(code=CONTACT_SERIES)[0]
            if not Contact.objects.filter(no=no).exists():
                return no
    except NumberSeries.DoesNotExist:
        raise ValidationError(
            {"no": _("The number series CONTACT is missing: type a no., or ask an admin to set the series up.")},
            code="no_series",
        ) from None
    raise ValidationError(
        {"no": _("The next 1000 numbers of series CONTACT are taken: type a no.")}, code="series_full"
    )


def _classifications(industry_groups, business_relations, mailing_groups, job_responsibilities):
    def codes(values):
        if values is None:
            return None
        return list(dict.fromkeys(str(getattr(value, "pk", value)) for value in values))

    return {
        "industry_groups": codes(industry_groups),
        "business_relations": codes(business_relations),
        "mailing_groups": codes(mailing_groups),
        "job_responsibilities": codes(job_responsibilities),
    }


def _check_classifications(contact: Contact, classifications: dict[str, list[str] | None]) -> None:
    errors = {}
    if contact.type != ContactType.COMPANY:
        for name in ("industry_groups", "business_relations"):
            if classifications[name]:
                errors[name] = _("Industry groups and business relations belong to companies only.")
    if contact.type != ContactType.PERSON and classifications["job_responsibilities"]:
        errors["job_responsibilities"] = _("Job responsibilities belong to persons only.")
    if errors:
        raise ValidationError(errors, code="classification_type")


def _write_classifications(contact: Contact, classifications: dict[str, list[str] | None]) -> None:
    """Make each given classification set exactly the codes given (None: leave it alone)."""
    for name, codes in classifications.items():
        if codes is None:
            continue
        link_model, field = CLASSIFICATION_LINKS[name]
        links = link_model.objects.filter(contact=contact)
        links.exclude(**{f"{field}__in": codes}).delete()
        existing = set(links.values_list(field, flat=True))
        link_model.objects.bulk_create(
            [link_model(contact=contact, **{field: code}) for code in codes if code not in existing]
        )


def _write_alt_addresses(contact: Contact, alt_addresses: list[dict] | None, date_ranges: list[dict] | None) -> None:
    """Make the contact's alternate addresses and date ranges exactly those given.

    `alt_addresses`: dicts with `code` and any of the address fields (`country` a Country or
    code). Addresses are matched by code: codes not given are deleted with their ranges
    (SPEC F1.2), known codes updated in place, new codes inserted.
    `date_ranges`: dicts with `alt_address_code`, `starting_date`, `ending_date` (or None).
    Ranges have no identity of their own, so the list given replaces the stored ranges.
    Codes unique per contact and starting dates unique per contact are the database's to
    enforce (the caller maps the IntegrityError).
    """
    if alt_addresses is not None:
        wanted = {}
        for values in alt_addresses:
            values = dict(values)
            if "country" in values:
                country = values.pop("country")
                values["country_id"] = getattr(country, "pk", country) or None
            fields = {
                field: values.get(field) or (None if field == "country_id" else "") for field in ALT_ADDRESS_FIELDS
            }
            wanted[values["code"]] = fields
        ContactAltAddress.objects.filter(contact=contact).exclude(code__in=list(wanted)).delete()
        existing = {row.code: row for row in ContactAltAddress.objects.filter(contact=contact)}
        to_update, to_create = [], []
        for code, fields in wanted.items():
            row = existing.get(code) or ContactAltAddress(contact=contact, code=code)
            if row.pk and all(getattr(row, field) == value for field, value in fields.items()):
                continue
            for field, value in fields.items():
                setattr(row, field, value)
            try:
                row.full_clean(exclude=["contact"], validate_unique=False, validate_constraints=False)
            except ValidationError as error:
                raise ValidationError(
                    _("Alternate address %(code)s: %(problems)s"),
                    code="invalid_alt_address",
                    params={"code": code, "problems": " ".join(error.messages)},
                ) from error
            (to_update if row.pk else to_create).append(row)
        if to_update:
            ContactAltAddress.objects.bulk_update(to_update, ALT_ADDRESS_FIELDS)
        ContactAltAddress.objects.bulk_create(to_create)
    if date_ranges is not None:
        by_code = dict(ContactAltAddress.objects.filter(contact=contact).values_list("code", "pk"))
        rows = []
        for values in date_ranges:
            code, start, end = values["alt_address_code"], values["starting_date"], values.get("ending_date")
            if code not in by_code:
                raise ValidationError(
                    _('Date range from %(start)s: unknown alternate address code "%(code)s".'),
                    code="unknown_alt_address",
                    params={"start": start, "code": code},
                )
            if end is not None and start > end:
                raise ValidationError(
                    _("Date range from %(start)s: the starting date is after the ending date %(end)s."),
                    code="start_after_end",
                    params={"start": start, "end": end},
                )
            rows.append(
                ContactAltAddressDateRange(
                    contact=contact, alt_address_id=by_code[code], starting_date=start, ending_date=end
                )
            )
        ContactAltAddressDateRange.objects.filter(contact=contact).delete()
        ContactAltAddressDateRange.objects.bulk_create(rows)


@dataclass(frozen=True)
class MailingGroupResult:
    """What `contacts_set_mailing_group` did: `added` contacts got the group, `already` had it."""

    mailing_group: MailingGroup
    added: int
    already: int


def contacts_set_mailing_group(*, user, contacts: QuerySet[Contact], mailing_group: MailingGroup | str):
    """Give every contact of `contacts` the mailing group (a code or the row): one INSERT …
    SELECT of the contacts that lack it, in one transaction; those that have it stay as they
    are, so running it twice adds nothing the second time, and two users giving the same group
    to the same contacts at once both succeed (the unique constraint's rows are skipped).

    An unknown group raises ValidationError before anything is written. Needs
    crm.change_contact. Three statements whatever the number of contacts (the group, a COUNT,
    the INSERT … SELECT)."""
    require(user, "crm.change_contact")
    if not isinstance(mailing_group, MailingGroup):
        code = str(mailing_group or "").strip()
        mailing_group = MailingGroup.objects.filter(code=code).first()
        if mailing_group is None:
            raise ValidationError(
                _('There is no mailing group "%(code)s"; nothing was changed.') % {"code": code[:20]},
                code="unknown_mailing_group",
            )
    contacts = contacts.order_by()
    with transaction.atomic():
        selected = contacts.count()
        lacking = contacts.filter(
            ~Exists(ContactMailingGroup.objects.filter(contact_id=OuterRef("pk"), mailing_group=mailing_group))
        )
        added = insert_select(
            ContactMailingGroup,
            lacking,
            {"contact_id": F("pk"), "mailing_group_id": Value(mailing_group.pk, output_field=CharField())},
            skip_existing=True,  # a second user giving the same group at the same moment
        )
    return MailingGroupResult(mailing_group=mailing_group, added=added, already=selected - added)
