"""Reads for the contact and campaign pages.

Each selector states its query cost, so a page's query count does not depend on how many
rows it shows: list pages are one COUNT plus one SELECT per page of rows, whatever the size
of the table (the criteria come from `ContactFilterSet`, whose code checks cost at most one
query per criterion).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.paginator import Page, Paginator
from django.db.models import CharField, QuerySet, Value
from django.utils.text import get_text_list
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import hooks
from .consent import channel_label, consent_history
from .models import (
    CONSENT_FIELDS,
    Campaign,
    ConsentChange,
    ConsentState,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    ContactType,
    active_alt_address_id,
)

if TYPE_CHECKING:
    from .filters import ContactFilterSet

# Columns of the contact list; `only` keeps rows narrow at a million contacts.
CONTACT_LIST_COLUMNS = (
    "no",
    "type",
    "name",
    "city",
    "email",
    "company_id",
    "country_id",
    "salesperson_id",
    "company__no",
    "company__name",
    "country__name",
    "salesperson__name",
)
PERSONS_SHOWN = 25


class DeferredJoinPaginator(Paginator):
    """A Paginator that reads a page's keys first and joins only those rows, from the nearer end.

    With a deep OFFSET the database otherwise builds every joined row before the page: the
    last page of a million contacts took 2.4 s on PostgreSQL that way, 0.5 s reading the keys
    first. A page in the second half is read in the reversed order (`QuerySet.reverse()`,
    which turns every column of the sort, the tie-break included), so the last page skips
    nothing: it is the first rows of the reversed index scan, as fast as the first page.
    Same query count as Paginator (one COUNT, one SELECT with the keys as a subquery).
    """

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if bottom > self.count - top:
            keys = self.object_list.reverse().values("pk")[self.count - top : self.count - bottom]
        else:
            keys = self.object_list.values("pk")[bottom:top]
        return self._get_page(list(self.object_list.filter(pk__in=keys)), number, self)


@dataclass(frozen=True)
class ContactSort:
    """A sortable column of the contact list: its `sort` value in the query string, the
    header's label, and the ORDER BY. Each order ends on a unique column (no., else id), so
    it is stable, and is served by an index of the same columns (crm.Contact.Meta.indexes),
    read forwards or backwards."""

    key: str
    label: str
    order: tuple[str, ...]


CONTACT_SORTS = {
    sort.key: sort
    for sort in (
        ContactSort("no", _("No."), ("no",)),
        ContactSort("name", _("Name"), ("name", "id")),
        ContactSort("city", _("City"), ("city", "id")),
        ContactSort("country", _("Country"), ("country_id", "id")),
        ContactSort("salesperson", _("Salesperson"), ("salesperson_id", "id")),
    )
}
DEFAULT_CONTACT_SORT = "no"


def contact_sort(value: str | None) -> tuple[ContactSort, bool]:
    """The column and direction (descending or not) a `sort` value names: "name" sorts by
    name, "-name" by name descending; anything unknown sorts by no."""
    value = (value or "").strip()
    descending = value.startswith("-")
    sort = CONTACT_SORTS.get(value.removeprefix("-"))
    if sort is None:
        return CONTACT_SORTS[DEFAULT_CONTACT_SORT], False
    return sort, descending


def contact_list(*, filterset: ContactFilterSet, sort: str | None = None) -> QuerySet[Contact]:
    """The contacts matching a valid filter set, in the order `sort` names (`contact_sort`; by
    no. without one), with what the list shows joined in.

    Raises ValidationError when the filter set is invalid (never "all contacts"). The rows
    come in one query (company, country and salesperson joined); each order has its index,
    so a page costs the same at any table size.
    """
    column, descending = contact_sort(sort)
    order = [f"-{name}" if descending else name for name in column.order]
    return filterset.qs.select_related("company", "country", "salesperson").only(*CONTACT_LIST_COLUMNS).order_by(*order)


def contact_detail_queryset() -> QuerySet[Contact]:
    """Contacts with every reference the card shows joined in (one query per card)."""
    return Contact.objects.select_related("company", "country", "territory", "salesperson", "language", "salutation")


@dataclass
class AltAddressView:
    """An alternate address with its date ranges and whether it is in use on the day asked."""

    address: ContactAltAddress
    ranges: list[ContactAltAddressDateRange] = field(default_factory=list)
    active: bool = False


@dataclass
class ContactCard:
    """Everything the contact card shows besides the contact's own fields."""

    persons: list[Contact]
    person_count: int
    alt_addresses: list[AltAddressView]
    active_alt_address: ContactAltAddress | None
    classifications: list[tuple[str, list]]


def contact_card(*, contact: Contact, today: datetime.date) -> ContactCard:
    """The card's related data in a fixed number of queries (at most nine).

    Persons of a company are capped at `PERSONS_SHOWN` (by no.) with their total count; a
    company may have thousands. The active alternate address on `today` is
    `DateRangeQuerySet.active_on`'s (SPEC F1.2).
    """
    persons: list[Contact] = []
    person_count = 0
    if contact.type == ContactType.COMPANY:
        persons_qs = Contact.objects.filter(company=contact).only("no", "name", "job_title", "email", "phone")
        persons = list(persons_qs.order_by("no")[:PERSONS_SHOWN])
        person_count = len(persons) if len(persons) < PERSONS_SHOWN else persons_qs.count()

    ranges = list(
        ContactAltAddressDateRange.objects.filter(contact=contact)
        .order_by("starting_date")
        .only("alt_address_id", "starting_date", "ending_date")
    )
    addresses = [
        AltAddressView(address=address, active=address.pk == address.active_id)
        for address in ContactAltAddress.objects.filter(contact=contact)
        .select_related("country")
        .annotate(active_id=active_alt_address_id(contact.pk, today))
        .order_by("code")
    ]
    by_pk = {view.address.pk: view for view in addresses}
    for date_range in ranges:
        by_pk[date_range.alt_address_id].ranges.append(date_range)
    active = next((view.address for view in addresses if view.active), None)

    links = {
        "industry_groups": (ContactIndustryGroup, "industry_group"),
        "business_relations": (ContactBusinessRelation, "business_relation"),
        "mailing_groups": (ContactMailingGroup, "mailing_group"),
        "job_responsibilities": (ContactJobResponsibility, "job_responsibility"),
    }
    applicable = {
        ContactType.COMPANY: ("industry_groups", "business_relations", "mailing_groups"),
        ContactType.PERSON: ("mailing_groups", "job_responsibilities"),
    }[contact.type]
    classifications = []
    for name in applicable:
        link_model, fk = links[name]
        rows = link_model.objects.filter(contact=contact).select_related(fk).order_by(fk)
        classifications.append((str(link_model._meta.verbose_name_plural), [getattr(link, fk) for link in rows]))
    return ContactCard(
        persons=persons,
        person_count=person_count,
        alt_addresses=addresses,
        active_alt_address=active,
        classifications=classifications,
    )


@dataclass
class ConsentChangeView:
    """One change of the consent history as the card shows it: `logged_segment` names the
    logged segment whose unsubscribe link made it (None when there was none or it is gone)."""

    change: ConsentChange
    logged_segment: hooks.Reference | None = None

    @property
    def by(self) -> str:
        """Who made the change: the user's full name (else user name), "" when nobody (the
        command line, an unsubscribe link)."""
        user = self.change.user
        return (user.get_full_name() or user.get_username()) if user is not None else ""


@dataclass
class ConsentChannelView:
    """A channel's current state and the change that set it (None: never changed)."""

    channel: str
    label: str
    state: str
    state_label: str
    last: ConsentChangeView | None


@dataclass
class ConsentCard:
    channels: list[ConsentChannelView]
    history: list[ConsentChangeView]  # newest first


def contact_consent(*, contact: Contact) -> ConsentCard:
    """The card's consent panel: each channel's state with its last change, and the whole
    history, newest first. Two queries at most (the history with its users; the logged
    segments it names, through crm.hooks)."""
    changes = list(consent_history(contact))
    segments = hooks.logged_segments_describe(change.logged_segment_id for change in changes)
    views = [ConsentChangeView(change, segments.get(change.logged_segment_id)) for change in changes]
    last = {view.change.channel: view for view in views}
    states = dict(ConsentState.choices)
    channels = [
        ConsentChannelView(
            channel=channel,
            label=channel_label(channel).capitalize(),
            state=getattr(contact, field),
            state_label=str(states[getattr(contact, field)]).lower(),
            last=last.get(channel),
        )
        for channel, field in CONSENT_FIELDS.items()
    ]
    return ConsentCard(channels=channels, history=views[::-1])


@dataclass(frozen=True)
class ContactHistory:
    """What keeps a contact from being deleted (SPEC D15): the rows of other apps that name it,
    as `crm.hooks.contact_history` counts them (its interaction log entries — its own, and for
    a company those of its persons that name it —, the segment lines that name it, and lines
    removed by a step that an undo would bring back), each (count, one, many)."""

    counts: tuple[tuple[int, str, str], ...] = ()

    def __bool__(self) -> bool:
        return any(count for count, _one, _many in self.counts)

    def describe(self) -> str:
        """ "2 interaction log entries and 1 segment line" (counts of zero left out)."""
        parts = [f"{count} {one if count == 1 else many}" for count, one, many in self.counts if count]
        return str(get_text_list(parts, gettext("and")))


def contact_history(*, contact: Contact) -> ContactHistory:
    """The history that keeps `contact`: one COUNT on indexed columns per registered counter
    (three with interactions and segments installed)."""
    return ContactHistory(
        counts=tuple(
            (
                counter.rows(contact).order_by().count(),
                str(counter.model._meta.verbose_name),
                str(counter.model._meta.verbose_name_plural),
            )
            for counter in hooks.contact_history
        )
    )


@dataclass(frozen=True)
class ContactDeletePreview:
    """What deleting a contact takes with it, and what stops it (persons, history)."""

    alt_addresses: int
    date_ranges: int
    classifications: int
    persons: int
    history: ContactHistory = field(default_factory=ContactHistory)


def contact_delete_preview(*, contact: Contact) -> ContactDeletePreview:
    """Counts for the delete confirmation page (ten COUNT queries, whatever the sizes)."""
    classifications = sum(
        model.objects.filter(contact=contact).count()
        for model in (ContactIndustryGroup, ContactBusinessRelation, ContactMailingGroup, ContactJobResponsibility)
    )
    return ContactDeletePreview(
        alt_addresses=ContactAltAddress.objects.filter(contact=contact).count(),
        date_ranges=ContactAltAddressDateRange.objects.filter(contact=contact).count(),
        classifications=classifications,
        persons=Contact.objects.filter(company=contact).count(),
        history=contact_history(contact=contact),
    )


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns by no. with their salesperson (one query per page)."""
    return Campaign.objects.select_related("salesperson").order_by("no")


def reference_choices(models_by_name: dict[str, type]) -> dict[str, list[tuple[str, str]]]:
    """(code, "code – description") choices of several code tables in one UNION ALL query.

    The contact filter form offers eight code lists; reading them one by one would cost eight
    queries on every list page.
    """
    if not models_by_name:
        return {}
    querysets = [
        model.objects.order_by()
        .annotate(_kind=Value(name, output_field=CharField()))
        .values_list("_kind", "code", "name")
        for name, model in models_by_name.items()
    ]
    first, *rest = querysets
    choices: dict[str, list[tuple[str, str]]] = {name: [] for name in models_by_name}
    for kind, code, name in first.union(*rest, all=True).order_by("_kind", "code"):
        choices[kind].append((code, f"{code} – {name}" if name else code))
    return choices


# The keys a bulk action on the contact list adds to the criteria: "selection" says whether the
# user ticked rows ("picked": the criteria are their numbers, `no=…`) or chose every contact
# matching the filter ("all": the criteria are the filter's).
SELECTION_KEY = "selection"


@dataclass(frozen=True)
class ContactSelection:
    """The contacts a bulk action acts on: the canonical criteria (a QUERY, what a segment step
    records), the contacts they select (lazy), how many, and the problems (when any, nothing
    is selected)."""

    query: str = ""
    contacts: QuerySet[Contact] | None = None
    count: int = 0
    errors: tuple[str, ...] = ()
    picked: bool = False


def contact_selection(data, *, ignore: tuple[str, ...] = ()) -> ContactSelection:
    """The selection of the contact list's bulk form: criteria from `data` (a QueryDict),
    validated as the list validates them; `ignore` names the action's own keys. Ticked rows
    arrive as `selection=picked&no=…&no=…`, "all matching" as `selection=all` with the filter.
    "picked" without a number is refused (it would otherwise mean every contact). Queries:
    the criteria's code checks and one COUNT."""
    from .filters import ContactFilterSet

    picked = data.get(SELECTION_KEY) == "picked"
    filterset = ContactFilterSet(data, ignore=(SELECTION_KEY, *ignore))
    if not filterset.is_valid():
        return ContactSelection(errors=tuple(filterset.error_lines()), picked=picked)
    if picked and not [value for value in data.getlist("no") if value.strip()]:
        return ContactSelection(
            errors=(gettext("No contact is ticked: tick some rows, or select all matching."),), picked=True
        )
    contacts = filterset.qs
    return ContactSelection(
        query=filterset.canonical_query(), contacts=contacts, count=contacts.order_by().count(), picked=picked
    )
