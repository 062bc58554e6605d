"""Deterministic, realistic demo data, written set-based (`seed_demo`, `bench`).

It seeds every app's data (contacts and reference data of crm, interaction groups and
templates of interactions), so it lives on the top floor; the tables it draws from are
`crm/demo_data.py`.

`demo_seed(contacts=N, seed=S)` creates the reference data (countries, languages, territories,
salespeople, classifications, salutations with formal and informal formulas per language,
interaction groups and templates with their language rows, a campaign) and N contacts: about
one in five a company, the rest persons, most of them working for one of those companies.
`demo_segments()` then adds a few open segments for the demo users (`seed_demo --segments`).

Guarantees:
- **Deterministic.** The same seed on an empty database gives the same contacts (numbers,
  names, addresses, relations). Nothing depends on today's date or on the database.
- **One transaction.** Everything is written in one `transaction.atomic()`; a failure leaves
  nothing behind. Reference data that exists already is kept as it is (inserted with
  ignore-conflicts), so seeding twice adds contacts only.
- **Set-based and memory-bounded.** Contacts are generated in chunks of `CHUNK_SIZE` and each
  chunk goes to the database in one multi-row statement per table (`executemany` on SQLite, `COPY`
  on PostgreSQL): the number of queries grows with N / CHUNK_SIZE, never with N, and memory
  stays flat. The ORM is not used for contacts because building a million model instances costs
  more than the database's own work.
- **Database rules hold.** Companies are written before the persons of the same chunk, so the
  triggers of migration 0002 (a person's company is a company; industry groups and business
  relations on companies, job responsibilities on persons; a date range uses an address of its
  own contact) check every row.
- **Consent.** A few persons with an e-mail address get a granted or withdrawn consent on one
  channel (`crm.demo_data.CONSENT_PLAN`), each with its history row dated before
  `ANCHOR_DATE`; everyone else stays unknown. They are picked by position after the contacts
  are written, so the contacts themselves do not change.
- **Numbers and keys.** Contact numbers come from the CONTACT number series, which is moved
  forward once for the whole block. Primary keys are reserved up front (on PostgreSQL the
  tables are locked against other writers and the sequence is moved past the block), so persons
  can point at their company without reading keys back.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import random
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from crm import demo_data as data
from crm.models import (
    CONSENT_FIELDS,
    BusinessRelation,
    Campaign,
    ConsentChange,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    ContactType,
    Country,
    IndustryGroup,
    JobResponsibility,
    Language,
    MailingGroup,
    NumberSeries,
    Salesperson,
    Salutation,
    SalutationFormula,
    Territory,
)
from crm.permissions import COMMAND_LINE
from crm.services import CONTACT_SERIES, number_series_next
from crm.transfer import COLUMNS as TRANSFER_COLUMNS
from interactions.documents import document_create
from interactions.models import InteractionGroup, InteractionTemplate, InteractionTemplateLanguage
from interactions.sample_template import SAMPLE_FILE_NAME, sample_letter_docx

from .demo_letters import LETTER_LANGUAGES, LETTER_TEMPLATES, demo_letter_docx, demo_letter_file_name
from .models import Segment
from .services import segment_add_contacts, segment_create

DEFAULT_SEED = 1
CHUNK_SIZE = 20_000
SQLITE_CACHE_KIB = 128 * 1024

# Shape of the contact population (see the module docstring).
COMPANY_BLOCK_CHANCE = 0.6  # each step makes a company with its persons, else a private person
PERSONS_PER_COMPANY = (0, 1, 2, 3, 4, 5, 6, 7, 8)
PERSONS_PER_COMPANY_WEIGHTS = (8, 12, 16, 16, 14, 12, 10, 7, 5)
EXCLUDED_CHANCE = 0.02
ALT_ADDRESS_CHANCE = 0.03

_NL_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_GB_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass
class DemoSummary:
    """What `demo_seed` wrote."""

    contacts: int = 0
    companies: int = 0
    persons: int = 0
    private_persons: int = 0
    excluded: int = 0
    classifications: int = 0
    alt_addresses: int = 0
    date_ranges: int = 0
    consent_changes: int = 0
    first_no: str = ""
    last_no: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        numbers = f" ({self.first_no}–{self.last_no})" if self.contacts else ""
        return (
            f"Seeded {self.contacts:,} contacts{numbers}: {self.companies:,} companies, "
            f"{self.persons:,} persons ({self.private_persons:,} private), {self.excluded:,} excluded, "
            f"{self.classifications:,} classifications, {self.alt_addresses:,} alternate addresses "
            f"with {self.date_ranges:,} date ranges, {self.consent_changes:,} consent states recorded, "
            f"in {self.seconds:.1f} s."
        )


def demo_seed(
    *,
    contacts: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Create the demo reference data and `contacts` new contacts, in one transaction.

    `progress(done, total)` is called after each chunk. Query count: a constant for the
    reference data plus a few statements per chunk of `CHUNK_SIZE` contacts.
    """
    if contacts < 0:
        raise ValueError("contacts must not be negative")
    started = time.monotonic()
    summary = DemoSummary()
    writer = _Writer(connection)
    # Tuned outside the transaction: SQLite refuses temp_store changes inside one.
    with writer.tuned(), transaction.atomic():
        demo_reference_data()
        if contacts:
            writer.lock(Contact, ContactAltAddress)
            first_id = writer.reserve_ids(Contact, contacts)
            series = NumberSeries.objects.select_for_update().get(code=CONTACT_SERIES)
            NumberSeries.objects.filter(code=CONTACT_SERIES).update(last_no=F("last_no") + contacts)
            summary.first_no = series.format(series.last_no + 1)
            summary.last_no = series.format(series.last_no + contacts)
            stream = _ContactStream(
                random.Random(seed),
                first_id=first_id,
                numbers=(series.format(n) for n in itertools.count(series.last_no + 1)),
            )
            contact_stream = iter(stream)
            done = 0
            while done < contacts:
                chunk = list(itertools.islice(contact_stream, min(CHUNK_SIZE, contacts - done)))
                writer.write_chunk(chunk, summary, now=timezone.now())
                done += len(chunk)
                if progress:
                    progress(done, contacts)
            summary.consent_changes = _seed_consent(first_id=first_id, count=contacts)
    summary.contacts = contacts
    summary.seconds = time.monotonic() - started
    return summary


def _seed_consent(*, first_id: int, count: int) -> int:
    """Give every CONSENT_SPACING-th person with an e-mail address among the contacts just
    written (ids `first_id` …) the next entry of CONSENT_PLAN, with its history row. Five
    statements whatever `count`: one read of the candidates by primary key, one UPDATE per
    channel, one INSERT of the history (written directly, like every other demo row: these
    are recorded states, not changes a user makes)."""
    wanted = len(data.CONSENT_PLAN) * data.CONSENT_SPACING
    candidates = list(
        Contact.objects.filter(pk__gte=first_id, pk__lt=first_id + count, type=ContactType.PERSON)
        .exclude(email="")
        .order_by("pk")
        .values_list("pk", flat=True)[:wanted]
    )
    chosen = list(zip(candidates[:: data.CONSENT_SPACING], data.CONSENT_PLAN, strict=False))
    for channel, field in CONSENT_FIELDS.items():
        states = {pk: state for pk, (plan_channel, state, _source, _days) in chosen if plan_channel == channel}
        if states:
            Contact.objects.filter(pk__in=list(states)).update(
                **{field: Case(*(When(pk=pk, then=Value(state)) for pk, state in states.items()))}
            )
    anchor = datetime.datetime.combine(data.ANCHOR_DATE, datetime.time(10), tzinfo=datetime.UTC)
    ConsentChange.objects.bulk_create(
        ConsentChange(
            contact_id=pk, channel=channel, state=state, source=source, at=anchor - datetime.timedelta(days=days)
        )
        for pk, (channel, state, source, days) in chosen
    )
    return len(chosen)


def demo_segments() -> list[str]:
    """Create the demo segments (`crm.demo_data.DEMO_SEGMENTS`) that are missing, found by
    description, each owned by its demo user when that user exists (else by nobody, as the
    command line creates them); return the numbers created.

    Through the worksheet's services, so each is a segment a user could have made: its header
    from the template in the owner's language, then one Add Contacts step with its criteria.
    Each segment is its own transaction (the services' durable ones); a few statements per
    segment whatever the number of contacts. Run after `demo_seed` (the criteria name its codes).
    """
    specs = data.DEMO_SEGMENTS
    existing = set(
        Segment.objects.filter(description__in=[spec["description"] for spec in specs]).values_list(
            "description", flat=True
        )
    )
    owners = get_user_model().objects.in_bulk({spec["owner"] for spec in specs}, field_name="username")
    templates = InteractionTemplate.objects.in_bulk({spec["template"] for spec in specs})
    languages = Language.objects.in_bulk({spec["language"] for spec in specs})
    created = []
    for spec in specs:
        if spec["description"] in existing:
            continue
        actor = owners.get(spec["owner"]) or COMMAND_LINE
        segment = segment_create(
            user=actor,
            values={
                "description": spec["description"],
                "interaction_template": templates[spec["template"]],
                "language": languages[spec["language"]],
            },
        )
        segment_add_contacts(user=actor, segment=segment, query=spec["criteria"])
        created.append(segment.no)
    return created


# The import's own column list (CONTRACT.md), so demo CSVs always match what import_contacts reads.
CSV_COLUMNS = list(TRANSFER_COLUMNS)


def demo_csv_rows(count: int, *, seed: int = DEFAULT_SEED, prefix: str = "DM") -> Iterator[dict[str, str]]:
    """`count` demo contacts as `import_contacts` CSV rows (CONTRACT.md columns), numbered PREFIX0000001….

    Same generator as `demo_seed`, so the rows are as realistic; they use the demo reference
    data's codes and reference only companies earlier in the same rows. Nothing is written.
    """
    stream = _ContactStream(random.Random(seed), first_id=1, numbers=(f"{prefix}{n:07d}" for n in itertools.count(1)))
    company_numbers: dict[int, str] = {}
    for generated in itertools.islice(stream, count):
        row = generated.row
        if row["type"] == ContactType.COMPANY:
            company_numbers[row["id"]] = row["no"]
        values = {column: str(row.get(column) or "") for column in CSV_COLUMNS}
        values.update(
            company_no=company_numbers.get(row.get("company_id"), ""),
            country=row.get("country_id") or "",
            territory=row.get("territory_id") or "",
            language=row.get("language_id") or "",
            salutation=row.get("salutation_id") or "",
            salesperson=row.get("salesperson_id") or "",
            exclude_from_segment="true" if row["exclude_from_segment"] else "false",
            industry_groups=";".join(generated.industry_groups),
            business_relations=";".join(generated.business_relations),
            mailing_groups=";".join(generated.mailing_groups),
            job_responsibilities=";".join(generated.job_responsibilities),
        )
        yield values


def demo_reference_data() -> None:
    """Insert the demo reference data that is missing; rows that exist are left as they are.

    Constant number of queries (one bulk insert per table); joins the caller's transaction.
    """
    with transaction.atomic():

        def coded(model, rows):
            model.objects.bulk_create([model(code=code, name=name) for code, name in rows], ignore_conflicts=True)

        coded(Language, data.LANGUAGES)
        coded(Country, data.COUNTRIES)
        coded(Territory, data.TERRITORIES)
        coded(IndustryGroup, data.INDUSTRY_GROUPS)
        coded(BusinessRelation, data.BUSINESS_RELATIONS)
        coded(MailingGroup, data.MAILING_GROUPS)
        coded(JobResponsibility, data.JOB_RESPONSIBILITIES)
        coded(InteractionGroup, data.INTERACTION_GROUPS)
        Salesperson.objects.bulk_create(
            [
                Salesperson(code=code, name=name, email=email, phone=phone, job_title=title)
                for code, name, email, phone, title in data.SALESPEOPLE
            ],
            ignore_conflicts=True,
        )
        coded(Salutation, [(code, description) for code, (description, _) in data.SALUTATIONS.items()])
        SalutationFormula.objects.bulk_create(
            [
                SalutationFormula(salutation_id=code, language_id=language, type=kind, formula=formula)
                for code, (_, formulas) in data.SALUTATIONS.items()
                for language, pair in formulas.items()
                for kind, formula in zip(("formal", "informal"), pair, strict=True)
            ],
            ignore_conflicts=True,
        )
        campaign = Campaign.objects.filter(description=data.CAMPAIGN["description"]).first()
        if campaign is None:
            (number,) = number_series_next(code="CAMPAIGN")
            campaign = Campaign.objects.create(
                no=number,
                description=data.CAMPAIGN["description"],
                starting_date=data.CAMPAIGN["starting_date"],
                ending_date=data.CAMPAIGN["ending_date"],
                salesperson_id=data.CAMPAIGN["salesperson"],
            )
        templates, languages = [], []
        for spec in data.INTERACTION_TEMPLATES:
            values = {k: v for k, v in spec.items() if k not in {"group", "language", "campaign", "languages"}}
            templates.append(
                InteractionTemplate(
                    **values,
                    group_id=spec["group"],
                    language_id=spec.get("language"),
                    campaign=campaign if spec.get("campaign") else None,
                )
            )
            languages += [
                InteractionTemplateLanguage(
                    template_id=spec["code"], language_id=language, description=description, subject=subject
                )
                for language, (description, subject) in spec.get("languages", {}).items()
            ]
        InteractionTemplate.objects.bulk_create(templates, ignore_conflicts=True)
        InteractionTemplateLanguage.objects.bulk_create(languages, ignore_conflicts=True)
        # Every template language without a Word template gets its letter, written in its
        # language (segments.demo_letters; read-only documents), so a demo segment can be merged
        # and delivered at once; another template language gets the English sample letter.
        without = list(InteractionTemplateLanguage.objects.filter(document__isnull=True))
        sample = None
        for row in without:
            if row.template_id in LETTER_TEMPLATES and row.language_id in LETTER_LANGUAGES:
                row.document = document_create(
                    data=demo_letter_docx(row.template_id, row.language_id),
                    file_name=demo_letter_file_name(row.template_id, row.language_id),
                    read_only=True,
                )
            else:
                sample = sample or document_create(
                    data=sample_letter_docx(), file_name=SAMPLE_FILE_NAME, read_only=True
                )
                row.document = sample
        InteractionTemplateLanguage.objects.bulk_update(without, ["document"])


# --- generation --------------------------------------------------------------------------


# Letters that NFKD does not take apart, as people spell them in an e-mail address ("søren" → "soren").
_SPELLED_OUT = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O", "å": "aa", "Å": "Aa"})


@lru_cache(maxsize=4096)
def _slug(text: str, joiner: str = "") -> str:
    """ASCII, lower-case, letters and digits only (words joined by `joiner`)."""
    text = text.translate(_SPELLED_OUT).replace("&", " ")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = ["".join(ch for ch in word if ch.isalnum()) for word in ascii_text.split()]
    return joiner.join(word for word in words if word)


def _digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def _pairs(rng: random.Random, count: int) -> str:
    """`count` pairs of digits: "12 34 56"."""
    return " ".join(_digits(rng, 2) for _ in range(count))


def _private_domain(rng: random.Random, country: str) -> str:
    """A mail provider's domain in `country` ("post.dk.example", "mail.example")."""
    return f"{rng.choice(data.PRIVATE_MAIL_PROVIDERS)}.{data.MAIL_TOP_LEVEL.get(country, '')}example"


def _post_code(rng: random.Random, country: str, city: data.City) -> str:
    spec = city.post_codes
    if isinstance(spec[0], str):
        code = rng.choice(spec)
        if country == "GB":
            return f"{code} {rng.randint(1, 9)}{rng.choice(_GB_LETTERS)}{rng.choice(_GB_LETTERS)}"
        return code
    number = rng.randrange(spec[0], spec[1] + 1, spec[2] if len(spec) > 2 else 1)
    if country == "NL":
        return f"{number} {rng.choice(_NL_LETTERS)}{rng.choice(_NL_LETTERS)}"
    if country in {"AT", "BE", "DK"}:
        return str(number)
    if country == "NO":
        return f"{number:04d}"
    return f"{number:05d}"


def _phone(rng: random.Random, country: str, area: str) -> str:
    if country == "NL":
        rest = _digits(rng, 9 - len(area))
        return f"+31 {area} {rest[:-4]} {rest[-4:]}"
    if country == "DE":
        return f"+49 {area} {_digits(rng, 7)}"
    if country == "AT":
        return f"+43 {area} {_digits(rng, 6)}"
    if country == "GB":  # Ofcom's numbers for drama
        return f"+44 {area} {'7946' if area == '20' else '496'} 0{_digits(rng, 3)}"
    if country == "FR":
        rest = _digits(rng, 8)
        return f"+33 {area} {rest[:2]} {rest[2:4]} {rest[4:6]} {rest[6:]}"
    if country == "BE":
        rest = _digits(rng, 8 - len(area))
        return f"+32 {area} {rest[:-4]} {rest[-4:-2]} {rest[-2:]}"
    if country in {"DK", "NO"}:  # eight digits in pairs, no area code: `area` is the first pair
        return f"+{'45' if country == 'DK' else '47'} {area} {_pairs(rng, 3)}"
    if country == "FI":
        return f"+358 {area} {_digits(rng, 3)} {_digits(rng, 4)}"
    return f"+1 {area} 555 01{_digits(rng, 2)}"  # US: the fictional 555-01xx


def _mobile(rng: random.Random, country: str, area: str) -> str:
    if country == "NL":
        return f"+31 6 {_digits(rng, 4)} {_digits(rng, 4)}"
    if country == "DE":
        return f"+49 15{rng.randint(1, 9)} {_digits(rng, 8)}"
    if country == "AT":
        return f"+43 664 {_digits(rng, 7)}"
    if country == "GB":
        return f"+44 7700 900{_digits(rng, 3)}"
    if country == "FR":
        rest = _digits(rng, 8)
        return f"+33 6 {rest[:2]} {rest[2:4]} {rest[4:6]} {rest[6:]}"
    if country == "BE":
        return f"+32 47{rng.randint(0, 9)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}"
    if country == "DK":
        return f"+45 {rng.choice(('20', '22', '30', '40', '42', '50', '60'))} {_pairs(rng, 3)}"
    if country == "NO":
        return f"+47 {rng.choice('49')}{rng.randint(0, 9)} {_pairs(rng, 3)}"
    if country == "FI":
        return f"+358 {rng.choice(('40', '44', '45', '50'))} {_digits(rng, 3)} {_digits(rng, 4)}"
    return f"+1 {area} 555 01{_digits(rng, 2)}"


class _Place:
    """A city of a country with everything derived from it (culture, language, streets)."""

    def __init__(self, profile: data.CountryProfile, city: data.City):
        self.country = profile.code
        self.city = city
        self.language = city.language or profile.language
        if profile.code == "BE":
            self.culture = "BE-FR" if self.language == "FR" else "BE-NL"
        else:
            self.culture = profile.code
        self.streets = data.STREETS[self.culture if profile.code == "BE" else profile.code]


@dataclass
class _Generated:
    """One contact: its row values, classification codes and optional alternate address."""

    row: dict
    industry_groups: tuple = ()
    business_relations: tuple = ()
    mailing_groups: tuple = ()
    job_responsibilities: tuple = ()
    alt_address: dict | None = None
    ranges: tuple = ()


class _ContactStream:
    """An endless, reproducible stream of contacts in number order (companies before their persons)."""

    def __init__(self, rng: random.Random, *, first_id: int, numbers: Iterator[str]):
        self.rng = rng
        self.next_id = first_id
        self.numbers = numbers
        self.countries = [[_Place(p, c) for c in p.cities] for p in data.PROFILES]
        self.country_weights = list(itertools.accumulate(p.weight for p in data.PROFILES))
        self.city_weights = [list(itertools.accumulate(c.weight for c in p.cities)) for p in data.PROFILES]
        self.industry_codes = [code for code, _ in data.INDUSTRY_GROUPS]
        self.industry_weights = list(itertools.accumulate(data.INDUSTRY_WEIGHTS))
        self.relation_codes = [code for code, _ in data.BUSINESS_RELATIONS]
        self.relation_weights = list(itertools.accumulate(data.BUSINESS_RELATION_WEIGHTS))
        self.mailing_codes = [code for code, _ in data.MAILING_GROUPS]
        self.persons_weights = list(itertools.accumulate(PERSONS_PER_COMPANY_WEIGHTS))

    def __iter__(self) -> Iterator[_Generated]:
        rng = self.rng
        while True:
            if rng.random() < COMPANY_BLOCK_CHANCE:
                company = self._company()
                yield company
                (count,) = rng.choices(PERSONS_PER_COMPANY, cum_weights=self.persons_weights)
                for _ in range(count):
                    yield self._person(company.row)
            else:
                yield self._person(None)

    # -- pieces ----------------------------------------------------------------------------

    def _place(self, country_index: int | None = None) -> _Place:
        rng = self.rng
        if country_index is None:
            country_index = rng.choices(range(len(self.countries)), cum_weights=self.country_weights)[0]
        places = self.countries[country_index]
        return rng.choices(places, cum_weights=self.city_weights[country_index])[0]

    def _address(self, place: _Place) -> dict:
        rng = self.rng
        number = rng.randint(1, 180)
        if rng.random() < 0.08 and place.country in {"NL", "BE", "DE"}:
            number = f"{number}{rng.choice('abc')}"
        address_2 = ""
        if place.country in {"US", "GB"} and rng.random() < 0.15:
            address_2 = f"Suite {rng.randint(1, 30) * 10}" if place.country == "US" else f"Unit {rng.randint(1, 40)}"
        address = rng.choice(place.streets).format(n=number)
        if place.country == "DK" and rng.random() < 0.35:  # floor and side: "Nørregade 12, 3. tv."
            address += f", {rng.randint(1, 5)}. {rng.choice(('th.', 'tv.', 'mf.'))}"
        elif place.country == "FI" and rng.random() < 0.3:  # staircase and flat: "Hämeenkatu 12 B 17"
            address += f" {rng.choice('ABC')} {rng.randint(1, 40)}"
        return {
            "address": address,
            "address_2": address_2,
            "post_code": _post_code(rng, place.country, place.city),
            "city": place.city.name,
            "county": place.city.county,
            "country_id": place.country,
        }

    def _mailing_groups(self, chances: list[float]) -> tuple:
        rng = self.rng
        return tuple(code for code, chance in zip(self.mailing_codes, chances, strict=True) if rng.random() < chance)

    def _new_row(self, kind: str) -> dict:
        row = {"id": self.next_id, "no": next(self.numbers), "type": kind}
        self.next_id += 1
        row["exclude_from_segment"] = self.rng.random() < EXCLUDED_CHANCE
        return row

    def _correspondence(self, email_chance: float, hard_copy_chance: float) -> str:
        r = self.rng.random()
        return "email" if r < email_chance else "hard_copy" if r < email_chance + hard_copy_chance else ""

    def _company(self) -> _Generated:
        rng = self.rng
        place = self._place()
        surnames = data.NAMES[place.culture][2]
        industry = rng.choices(self.industry_codes, cum_weights=self.industry_weights)[0]
        language = place.language if place.language == "EN" or rng.random() >= 0.08 else "EN"
        word = rng.choice(data.SECTOR_WORDS[industry][place.language])
        legal = rng.choice(data.LEGAL_FORMS[place.culture])
        middle, surname = rng.choice(surnames)
        family = f"{middle[:1].upper()}{middle[1:]} {surname}" if middle else surname
        r = rng.random()
        if r < 0.6 or (r < 0.85 and place.country == "FI"):  # Finnish would want "Tampereen …"
            base = f"{family} {word}"
        elif r < 0.85:
            base = f"{place.city.town or place.city.name} {word}"
        else:
            other = rng.choice(surnames)[1]
            base = f"{family} & {'Sons' if place.country in {'GB', 'US'} else other}"
        row = self._new_row(ContactType.COMPANY)
        row.update(self._address(place))
        domain = f"{_slug(base, '-')}.{data.MAIL_TOP_LEVEL.get(place.country, '')}example"
        row.update(
            name=f"{base} {legal}",
            phone=_phone(rng, place.country, place.city.area),
            email=f"{rng.choice(('info', 'info', 'contact', 'office', 'sales'))}@{domain}",
            territory_id=place.city.territory,
            salesperson_id=data.TERRITORY_SALESPERSON[place.city.territory],
            language_id=language,
            salutation_id="COMPANY",
            correspondence_type=self._correspondence(0.62, 0.33),
            _domain=domain,
            _culture=place.culture,
            _place=place,
        )
        industries = (industry,)
        if rng.random() < 0.15:
            second = rng.choices(self.industry_codes, cum_weights=self.industry_weights)[0]
            industries = tuple(dict.fromkeys((industry, second)))
        relations = (rng.choices(self.relation_codes, cum_weights=self.relation_weights)[0],)
        if rng.random() < 0.10:
            second = rng.choices(self.relation_codes, cum_weights=self.relation_weights)[0]
            relations = tuple(dict.fromkeys((*relations, second)))
        generated = _Generated(
            row,
            industry_groups=industries,
            business_relations=relations,
            mailing_groups=self._mailing_groups(data.MAILING_CHANCE_COMPANY),
        )
        if rng.random() < ALT_ADDRESS_CHANCE:
            branch = self._place(self._country_index(place.country))
            self._add_alt_address(generated, "BRANCH", branch, company_name=row["name"], email=row["email"])
        return generated

    def _country_index(self, country: str) -> int:
        return next(i for i, places in enumerate(self.countries) if places[0].country == country)

    def _person(self, company: dict | None) -> _Generated:
        rng = self.rng
        place = company["_place"] if company else self._place()
        culture = place.culture
        males, females, surnames = data.NAMES[culture]
        female = rng.random() < 0.5
        first_name = rng.choice(females if female else males)
        middle_name, surname = rng.choice(surnames)
        initials = f"{first_name[0]}."
        if culture in {"NL", "BE-NL"} and rng.random() < 0.3:
            initials += f"{rng.choice(males if not female else females)[0]}."
        row = self._new_row(ContactType.PERSON)
        row.update(
            first_name=first_name,
            middle_name=middle_name,
            surname=surname,
            initials=initials,
            name=" ".join(part for part in (first_name, middle_name, surname) if part),
        )
        local = ".".join(part for part in (_slug(first_name), _slug(middle_name + surname)) if part)
        job_responsibilities: tuple = ()
        if company:
            language = company["language_id"] if rng.random() < 0.95 else place.language
            title, job_responsibilities = rng.choice(data.JOB_TITLES[language])
            if female and language == "DE" and title.endswith("er"):
                title += "in"
            for field in ("address", "address_2", "post_code", "city", "county", "country_id"):
                row[field] = company[field]
            row.update(
                company_id=company["id"],
                job_title=title,
                phone=company["phone"],
                email=f"{local}@{company['_domain']}",
                territory_id=company["territory_id"],
                salesperson_id=company["salesperson_id"],
                language_id=language,
                correspondence_type=(
                    company["correspondence_type"] if rng.random() < 0.85 else self._correspondence(0.6, 0.35)
                ),
            )
            if rng.random() < 0.6:
                row["mobile_phone"] = _mobile(rng, place.country, place.city.area)
        else:
            row.update(self._address(place))
            row.update(
                phone=_phone(rng, place.country, place.city.area) if rng.random() < 0.5 else "",
                mobile_phone=_mobile(rng, place.country, place.city.area) if rng.random() < 0.7 else "",
                email=f"{local}{rng.randint(1, 99)}@{_private_domain(rng, place.country)}"
                if rng.random() < 0.8
                else "",
                territory_id=place.city.territory,
                salesperson_id=data.TERRITORY_SALESPERSON[place.city.territory],
                language_id=place.language,
                correspondence_type=self._correspondence(0.55, 0.40),
            )
        r = rng.random()
        if r < 0.04:
            salutation = "DR"
        elif r < 0.07:
            salutation = "NEUTRAL"
        elif r < 0.09 and row.get("job_title"):
            salutation = "JOBTITLE"
        else:
            salutation = "MS" if female else "MR"
        row["salutation_id"] = salutation
        generated = _Generated(
            row,
            mailing_groups=self._mailing_groups(data.MAILING_CHANCE_PERSON),
            job_responsibilities=job_responsibilities,
        )
        if rng.random() < ALT_ADDRESS_CHANCE:
            if company:
                self._add_alt_address(generated, "HOME", self._place(self._country_index(place.country)))
            else:
                self._add_alt_address(generated, "HOLIDAY", self._place())
        return generated

    def _add_alt_address(self, generated: _Generated, code: str, place: _Place, **extra) -> None:
        rng = self.rng
        generated.alt_address = {"code": code, **self._address(place), **extra}
        if "email" not in extra and rng.random() < 0.5:
            local = _slug(f"{generated.row['first_name']} {generated.row['surname']}", ".")
            generated.alt_address["email"] = f"{local}@{_private_domain(rng, generated.alt_address['country_id'])}"
        # One or two ranges in date order, distinct starts; the last may be open-ended.
        ranges = []
        start = data.ANCHOR_DATE + datetime.timedelta(days=rng.randint(-400, 300))
        count = rng.choice((1, 1, 1, 2))
        for index in range(count):
            if index == count - 1 and rng.random() < 0.2:
                ranges.append((start, None))
                break
            end = start + datetime.timedelta(days=rng.randint(14, 240))
            ranges.append((start, end))
            start = end + datetime.timedelta(days=rng.randint(30, 200))
        generated.ranges = tuple(ranges)


# --- writing -----------------------------------------------------------------------------


class _Writer:
    """Writes generated chunks with one multi-row statement per table."""

    LINKS = (
        ("industry_groups", ContactIndustryGroup, "industry_group_id"),
        ("business_relations", ContactBusinessRelation, "business_relation_id"),
        ("mailing_groups", ContactMailingGroup, "mailing_group_id"),
        ("job_responsibilities", ContactJobResponsibility, "job_responsibility_id"),
    )

    def __init__(self, connection):
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        self.contact_fields = [f.attname for f in Contact._meta.concrete_fields]
        self.alt_fields = [f.attname for f in ContactAltAddress._meta.concrete_fields]
        self.analyzed: set[str] = set()

    def _defaults(self, model, now) -> dict:
        """Each column's value when the generator gives none (the field's default)."""
        values = {}
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                values[field.attname] = field.get_db_prep_save(now, self.connection)
            elif field.has_default() or not field.null:
                values[field.attname] = field.get_db_prep_save(field.get_default(), self.connection)
            else:
                values[field.attname] = None
        return values

    @contextlib.contextmanager
    def tuned(self) -> Iterator[None]:
        """On SQLite, keep statement journals in memory and enlarge the page cache while writing.

        Each row of a table with an aborting trigger gets a statement journal; in a temporary
        file that costs more than the insert itself.
        """
        if self.connection.vendor != "sqlite":
            yield
            return
        # SQLite refuses to change temp_store inside a transaction (a caller's atomic block).
        settings = ["cache_size"] if self.connection.in_atomic_block else ["cache_size", "temp_store"]
        wanted = {"cache_size": -SQLITE_CACHE_KIB, "temp_store": 2}  # 2 = MEMORY
        previous = {}
        with self.connection.cursor() as cursor:
            for name in settings:
                cursor.execute(f"PRAGMA {name}")
                previous[name] = int(cursor.fetchone()[0])
                cursor.execute(f"PRAGMA {name} = {wanted[name]}")
        try:
            yield
        finally:
            with self.connection.cursor() as cursor:
                for name, value in previous.items():
                    cursor.execute(f"PRAGMA {name} = {value}")

    def analyze_once(self, model, step: str) -> None:
        """On PostgreSQL, refresh the table's statistics once after each kind of first insert.

        The integrity triggers look contacts up by id and type. With the statistics of an empty
        (or all-company) table the planner reads the type index instead of the primary key, and
        every insert then scans all contacts of that type: quadratic time. Fresh statistics make
        the primary key the plan, and ANALYZE invalidates the triggers' cached plans.
        """
        if not self.postgres or step in self.analyzed:
            return
        self.analyzed.add(step)
        with self.connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {self.connection.ops.quote_name(model._meta.db_table)}")

    def lock(self, *models) -> None:
        """On PostgreSQL, keep other writers out while reserved keys are in use."""
        if self.postgres:
            tables = ", ".join(self.connection.ops.quote_name(m._meta.db_table) for m in models)
            with self.connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")

    def reserve_ids(self, model, count: int) -> int:
        """Reserve `count` consecutive primary keys above every key used so far; return the first."""
        qn = self.connection.ops.quote_name
        table, pk = model._meta.db_table, model._meta.pk.column
        with self.connection.cursor() as cursor:
            if self.postgres:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
                (sequence,) = cursor.fetchone()
                cursor.execute(
                    f"SELECT setval(%s, GREATEST((SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}),"
                    f" (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence})) + %s)",
                    [sequence, count],
                )
                return cursor.fetchone()[0] - count + 1
            cursor.execute(
                f"SELECT MAX(top) FROM (SELECT COALESCE(MAX({qn(pk)}), 0) AS top FROM {qn(table)}"
                " UNION ALL SELECT seq FROM sqlite_sequence WHERE name = %s)",
                [table],
            )
            return cursor.fetchone()[0] + 1

    def insert(self, model, attnames: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        qn = self.connection.ops.quote_name
        meta = model._meta
        columns = ", ".join(qn(meta.get_field(name).column) for name in attnames)
        with self.connection.cursor() as cursor:
            if self.postgres:
                # The raw psycopg cursor: wrap its errors as Django's (IntegrityError …).
                with (
                    self.connection.wrap_database_errors,
                    cursor.cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(attnames))
                cursor.executemany(f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({placeholders})", rows)

    def write_chunk(self, chunk: list[_Generated], summary: DemoSummary, *, now) -> None:
        defaults = self._defaults(Contact, now)
        fields = self.contact_fields
        companies, persons = [], []
        links: dict[str, list[tuple]] = {name: [] for name, _, _ in self.LINKS}
        alternates = []
        for generated in chunk:
            row = generated.row
            values = tuple(row.get(name, defaults[name]) for name in fields)
            if row["type"] == ContactType.COMPANY:
                companies.append(values)
            else:
                persons.append(values)
                if not row.get("company_id"):
                    summary.private_persons += 1
            summary.excluded += row["exclude_from_segment"]
            for name, _, _ in self.LINKS:
                links[name] += [(row["id"], code) for code in getattr(generated, name)]
            if generated.alt_address:
                alternates.append(generated)
        summary.companies += len(companies)
        summary.persons += len(persons)
        # Companies first: the persons of this chunk point at them (trigger-checked).
        self.insert(Contact, fields, companies)
        self.analyze_once(Contact, "companies")
        self.insert(Contact, fields, persons)
        self.analyze_once(Contact, "persons")
        for name, model, column in self.LINKS:
            self.insert(model, ["contact_id", column], links[name])
            summary.classifications += len(links[name])
        self._write_alternates(alternates, summary)

    def _write_alternates(self, alternates: list[_Generated], summary: DemoSummary) -> None:
        if not alternates:
            return
        defaults = self._defaults(ContactAltAddress, None)
        first_id = self.reserve_ids(ContactAltAddress, len(alternates))
        addresses, ranges = [], []
        adapt = self.connection.ops.adapt_datefield_value
        for offset, generated in enumerate(alternates):
            alt_id = first_id + offset
            values = {**generated.alt_address, "id": alt_id, "contact_id": generated.row["id"]}
            addresses.append(tuple(values.get(name, defaults[name]) for name in self.alt_fields))
            ranges += [(generated.row["id"], alt_id, adapt(start), adapt(end)) for start, end in generated.ranges]
        self.insert(ContactAltAddress, self.alt_fields, addresses)
        self.insert(
            ContactAltAddressDateRange, ["contact_id", "alt_address_id", "starting_date", "ending_date"], ranges
        )
        summary.alt_addresses += len(addresses)
        summary.date_ranges += len(ranges)
