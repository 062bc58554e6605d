"""Contacts and their reference data (SPEC F1.1–F1.7).

Reference data (countries, languages, salespeople, classifications …) is keyed by its code:
the code is the primary key, so criteria, exports and interaction entries carry the code
itself and a filter on a code needs no join. Contacts have a surrogate key and a unique `no`.

Invariants that span rows (a person's company is a company; industry groups and business
relations belong to companies, job responsibilities to persons; a date range points at an
alternate address of the same contact) are enforced by database triggers (migration
0002_integrity_triggers) as well as by `clean()`, so no code path can break them.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.db.models import F, Q, Subquery
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from collections.abc import Iterable

CODE_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$",
    _("Use letters, digits and _ . - / only, starting with a letter or digit."),
    code="invalid_code",
)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PHONE_VALIDATOR = RegexValidator(
    r"^[0-9+()./\- ]*$",
    _("A phone number may hold digits, spaces and + ( ) . / - only."),
    code="invalid_phone",
)


class CorrespondenceType(models.TextChoices):
    HARD_COPY = "hard_copy", _("Hard copy")
    EMAIL = "email", _("Email")


class CodeQuerySet(models.QuerySet):
    def get_by_natural_key(self, code: str):
        return self.get(code=code)


class CodedModel(models.Model):
    """Reference data row identified by a short code (natural key)."""

    code = models.CharField(_("code"), max_length=10, primary_key=True, validators=[CODE_VALIDATOR])
    name = models.CharField(_("description"), max_length=100, blank=True)

    objects = CodeQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}" if self.name else self.code

    def natural_key(self) -> tuple[str]:
        return (self.code,)


class Country(CodedModel):
    class Meta(CodedModel.Meta):
        verbose_name = _("country/region")
        verbose_name_plural = _("countries/regions")


class Language(CodedModel):
    class Meta(CodedModel.Meta):
        verbose_name = _("language")
        verbose_name_plural = _("languages")


class Territory(CodedModel):
    class Meta(CodedModel.Meta):
        verbose_name = _("territory")
        verbose_name_plural = _("territories")


class IndustryGroup(CodedModel):
    """Classification of companies; a person matches through its company."""

    class Meta(CodedModel.Meta):
        verbose_name = _("industry group")
        verbose_name_plural = _("industry groups")


class BusinessRelation(CodedModel):
    """Classification of companies; a person matches through its company."""

    class Meta(CodedModel.Meta):
        verbose_name = _("business relation")
        verbose_name_plural = _("business relations")


class MailingGroup(CodedModel):
    class Meta(CodedModel.Meta):
        verbose_name = _("mailing group")
        verbose_name_plural = _("mailing groups")


class JobResponsibility(CodedModel):
    """Classification of persons only."""

    class Meta(CodedModel.Meta):
        verbose_name = _("job responsibility")
        verbose_name_plural = _("job responsibilities")


class Salesperson(CodedModel):
    code = models.CharField(_("code"), max_length=20, primary_key=True, validators=[CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), max_length=80, blank=True)
    phone = models.CharField(_("phone no."), max_length=30, blank=True, validators=[PHONE_VALIDATOR])
    job_title = models.CharField(_("job title"), max_length=30, blank=True)
    blocked = models.BooleanField(_("blocked"), default=False)

    class Meta(CodedModel.Meta):
        verbose_name = _("salesperson")
        verbose_name_plural = _("salespeople")


class Salutation(CodedModel):
    class Meta(CodedModel.Meta):
        verbose_name = _("salutation")
        verbose_name_plural = _("salutations")


class SalutationType(models.TextChoices):
    FORMAL = "formal", _("Formal")
    INFORMAL = "informal", _("Informal")


class SalutationFormula(models.Model):
    """How to greet a contact with a salutation code, in a language (SPEC F1.4 with D14).

    The formula holds named placeholders (`PLACEHOLDERS`). An empty part removes its
    placeholder and one following space, so "Dear %first_name %surname" for a contact
    without a first name gives "Dear Smith".
    """

    PLACEHOLDERS = (
        "first_name",
        "middle_name",
        "surname",
        "initials",
        "job_title",
        "company_name",
    )
    MAX_RESULT_LENGTH = 260

    salutation = models.ForeignKey(
        Salutation, on_delete=models.CASCADE, related_name="formulas", verbose_name=_("salutation")
    )
    language = models.ForeignKey(
        Language,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("language"),
        help_text=_("Leave blank for the formula used when the interaction has no language."),
    )
    type = models.CharField(_("type"), max_length=10, choices=SalutationType.choices)
    formula = models.CharField(
        _("formula"),
        max_length=50,
        help_text=_("Placeholders: %first_name %middle_name %surname %initials %job_title %company_name"),
    )

    class Meta:
        verbose_name = _("salutation formula")
        verbose_name_plural = _("salutation formulas")
        ordering = ["salutation", "language", "type"]
        constraints = [
            models.UniqueConstraint(
                fields=["salutation", "language", "type"],
                condition=Q(language__isnull=False),
                name="salutation_formula_unique_per_language",
            ),
            models.UniqueConstraint(
                fields=["salutation", "type"],
                condition=Q(language__isnull=True),
                name="salutation_formula_unique_without_language",
            ),
            models.CheckConstraint(condition=Q(type__in=SalutationType.values), name="salutation_formula_type_valid"),
            models.CheckConstraint(condition=~Q(formula=""), name="salutation_formula_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.salutation_id}/{self.language_id or '-'}/{self.type}: {self.formula}"

    def clean(self) -> None:
        unknown = set(re.findall(r"%(\w+)", self.formula)) - set(self.PLACEHOLDERS)
        if unknown:
            error = ValidationError(
                _("Unknown placeholder(s): %(names)s."),
                params={"names": ", ".join(f"%{name}" for name in sorted(unknown))},
                code="unknown_placeholder",
            )
            raise ValidationError({"formula": error})

    def render(self, parts: dict[str, str]) -> str:
        """The greeting for a contact whose name parts are `parts` (missing keys are empty)."""
        text = self.formula
        # Longest names first so a placeholder is never a prefix of a longer one.
        for name in sorted(self.PLACEHOLDERS, key=len, reverse=True):
            value = (parts.get(name) or "").strip()
            replacements = [(f"%{name}", value)] if value else [(f"%{name} ", ""), (f"%{name}", "")]
            for placeholder, replacement in replacements:
                text = text.replace(placeholder, replacement)
        return text[: self.MAX_RESULT_LENGTH]


class NumberSeries(models.Model):
    """A number series such as CT000001 (D11). `number_series_next` draws from it."""

    code = models.CharField(_("code"), max_length=20, primary_key=True)
    prefix = models.CharField(_("prefix"), max_length=10)
    digits = models.PositiveSmallIntegerField(_("digits"), default=6)
    last_no = models.PositiveBigIntegerField(_("last number used"), default=0)

    class Meta:
        verbose_name = _("number series")
        verbose_name_plural = _("number series")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.format(self.last_no)}"

    def format(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.digits}d}"


class Campaign(models.Model):
    no = models.CharField(_("no."), max_length=20, unique=True)
    description = models.CharField(_("description"), max_length=100)
    starting_date = models.DateField(_("starting date"), null=True, blank=True)
    ending_date = models.DateField(_("ending date"), null=True, blank=True)
    salesperson = models.ForeignKey(
        Salesperson, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("salesperson")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["no"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starting_date__isnull=True)
                | Q(ending_date__isnull=True)
                | Q(starting_date__lte=F("ending_date")),
                name="campaign_start_not_after_end",
                violation_error_message=_("The starting date must not be after the ending date."),
            ),
            models.CheckConstraint(condition=~Q(no=""), name="campaign_no_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.no} – {self.description}"

    def get_absolute_url(self) -> str:
        return reverse("crm:campaign_detail", args=[self.pk])

    def natural_key(self) -> tuple[str]:
        return (self.no,)


def split_person_name(name: str) -> tuple[str, str, str]:
    """SPEC F1.1: last token → surname, second-to-last → middle name (≥ 3 tokens), rest → first."""
    tokens = name.split()
    if not tokens:
        return "", "", ""
    if len(tokens) == 1:
        return "", "", tokens[0]
    if len(tokens) == 2:
        return tokens[0], "", tokens[1]
    return " ".join(tokens[:-2]), tokens[-2], tokens[-1]


def join_person_name(first_name: str, middle_name: str, surname: str) -> str:
    return " ".join(part.strip() for part in (first_name, middle_name, surname) if part.strip())


class ConsentChannel(models.TextChoices):
    """The channels a contact can agree or refuse to be contacted on (CONTRACT "Consent")."""

    EMAIL = "email", _("e-mail")
    POSTAL = "postal", _("post")
    PHONE = "phone", _("phone")


class ConsentState(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    UNKNOWN = "unknown", _("Unknown")


# The contact field holding each channel's state.
CONSENT_FIELDS = {
    ConsentChannel.EMAIL: "email_consent",
    ConsentChannel.POSTAL: "postal_consent",
    ConsentChannel.PHONE: "phone_consent",
}

# A line's channel follows its correspondence type (CONTRACT): e-mail lines go out by e-mail,
# hard-copy lines by post, and a blank type sends nothing, so no consent rule applies to it.
CHANNEL_OF_CORRESPONDENCE = {
    CorrespondenceType.EMAIL: ConsentChannel.EMAIL,
    CorrespondenceType.HARD_COPY: ConsentChannel.POSTAL,
}


def consent_withdrawn_q(correspondence_type: str = "correspondence_type", contact: str = "contact__") -> Q:
    """Rows (lines, entries) whose contact has withdrawn consent for the row's channel: the
    channel is read from the row's `correspondence_type` field, the consent from the contact
    reached through `contact` ("" when the rows are contacts themselves)."""
    return Q(**{correspondence_type: CorrespondenceType.EMAIL, f"{contact}email_consent": ConsentState.WITHDRAWN}) | Q(
        **{correspondence_type: CorrespondenceType.HARD_COPY, f"{contact}postal_consent": ConsentState.WITHDRAWN}
    )


def consent_field(verbose_name) -> models.CharField:
    """A channel's consent state on the contact; the database default lets rows written by
    plain SQL (imports, benchmarks) start as unknown too."""
    return models.CharField(
        verbose_name,
        max_length=10,
        choices=ConsentState.choices,
        default=ConsentState.UNKNOWN,
        db_default=ConsentState.UNKNOWN,
    )


class ContactType(models.TextChoices):
    COMPANY = "company", _("Company")
    PERSON = "person", _("Person")


class ContactQuerySet(models.QuerySet):
    def companies(self) -> ContactQuerySet:
        return self.filter(type=ContactType.COMPANY)

    def persons(self) -> ContactQuerySet:
        return self.filter(type=ContactType.PERSON)

    def of_companies(self, company_ids) -> ContactQuerySet:
        """The companies given (ids or a subquery of ids) and every person working for them."""
        return self.filter(Q(pk__in=company_ids, type=ContactType.COMPANY) | Q(company_id__in=company_ids))

    def with_classification(self, link_model: type[models.Model], field: str, codes: Iterable[str]):
        """Contacts linked to any of `codes` through `link_model`.

        For company classifications (industry groups, business relations) a person matches
        through its company. Written as `IN (subquery)`, which both databases run as one
        hashed lookup (a correlated EXISTS per contact was 5–10× slower at 1M contacts), and
        which returns each contact once however many links match.
        """
        linked = link_model.objects.filter(**{f"{field}__in": list(codes)}).values("contact_id")
        if link_model.COMPANY_ONLY:
            return self.filter(Q(pk__in=linked) | Q(company_id__in=linked))
        return self.filter(pk__in=linked)


class Contact(models.Model):
    """A company or a person (SPEC F1.1)."""

    no = models.CharField(_("no."), max_length=20, unique=True, validators=[MinLengthValidator(1)])
    type = models.CharField(_("type"), max_length=10, choices=ContactType.choices, db_index=True)
    company = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="persons",
        limit_choices_to={"type": ContactType.COMPANY},
        verbose_name=_("company"),
        help_text=_("The company this person works for; blank for a private person."),
    )
    name = models.CharField(_("name"), max_length=100)
    name_2 = models.CharField(_("name 2"), max_length=50, blank=True)
    first_name = models.CharField(_("first name"), max_length=30, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=30, blank=True)
    surname = models.CharField(_("surname"), max_length=30, blank=True)
    initials = models.CharField(_("initials"), max_length=30, blank=True)
    job_title = models.CharField(_("job title"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=100, blank=True)
    address_2 = models.CharField(_("address 2"), max_length=50, blank=True)
    post_code = models.CharField(_("post code"), max_length=20, blank=True, db_index=True)
    city = models.CharField(_("city"), max_length=30, blank=True, db_index=True)
    county = models.CharField(_("county"), max_length=30, blank=True)
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("country/region")
    )
    territory = models.ForeignKey(
        Territory, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("territory")
    )
    phone = models.CharField(_("phone no."), max_length=30, blank=True, validators=[PHONE_VALIDATOR])
    mobile_phone = models.CharField(_("mobile phone no."), max_length=30, blank=True, validators=[PHONE_VALIDATOR])
    email = models.EmailField(_("e-mail"), max_length=80, blank=True)
    salesperson = models.ForeignKey(
        Salesperson, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("salesperson")
    )
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("language")
    )
    salutation = models.ForeignKey(
        Salutation, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("salutation")
    )
    correspondence_type = models.CharField(
        _("correspondence type"), max_length=10, choices=CorrespondenceType.choices, blank=True
    )
    exclude_from_segment = models.BooleanField(
        _("exclude from segment"),
        default=False,
        help_text=_("Add Contacts skips this contact unless told to ignore the exclusion."),
    )
    # Consent per channel (CONTRACT "Consent per channel and unsubscribe"): the current state,
    # kept beside the contact so every selection filters it without a join; each change is
    # recorded in ConsentChange, written only through crm.consent.
    email_consent = consent_field(_("e-mail consent"))
    postal_consent = consent_field(_("postal consent"))
    phone_consent = consent_field(_("phone consent"))
    industry_groups = models.ManyToManyField(
        IndustryGroup, through="ContactIndustryGroup", blank=True, verbose_name=_("industry groups")
    )
    business_relations = models.ManyToManyField(
        BusinessRelation, through="ContactBusinessRelation", blank=True, verbose_name=_("business relations")
    )
    mailing_groups = models.ManyToManyField(
        MailingGroup, through="ContactMailingGroup", blank=True, verbose_name=_("mailing groups")
    )
    job_responsibilities = models.ManyToManyField(
        JobResponsibility,
        through="ContactJobResponsibility",
        blank=True,
        verbose_name=_("job responsibilities"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["no"]
        permissions = [
            ("import_contacts", _("Can import contacts from CSV")),
            ("export_contacts", _("Can export contacts")),
        ]
        indexes = [
            models.Index(fields=["name"], name="crm_contact_name_idx"),
            # The contact list's sort orders (crm.selectors.CONTACT_SORTS): each column with the id
            # that makes it stable, so a page in either direction is a short index range.
            models.Index(fields=["name", "id"], name="crm_contact_name_id_idx"),
            models.Index(fields=["city", "id"], name="crm_contact_city_id_idx"),
            models.Index(fields=["country", "id"], name="crm_contact_country_id_idx"),
            models.Index(fields=["salesperson", "id"], name="crm_contact_salesp_id_idx"),
            # The few contacts without e-mail, for the Log pre-flight's "e-mail lines without an
            # address" (segments.services.log): read from this small index, then their lines by
            # the lines' contact index, instead of scanning every contact and every line.
            models.Index(fields=["id"], condition=models.Q(email=""), name="crm_contact_no_email_idx"),
            # The few contacts who withdrew e-mail or postal consent, for the selections and the
            # Log's check that leave them out (a small index instead of a scan of every contact).
            models.Index(
                fields=["id"], condition=models.Q(email_consent=ConsentState.WITHDRAWN), name="crm_contact_email_wd_idx"
            ),
            models.Index(
                fields=["id"], condition=models.Q(postal_consent=ConsentState.WITHDRAWN), name="crm_contact_post_wd_idx"
            ),
            # The few contacts set to "exclude from segment", for the Log page's drift check
            # (segments.services.drift: the lines whose contact was excluded since).
            models.Index(fields=["id"], condition=models.Q(exclude_from_segment=True), name="crm_contact_excluded_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=ContactType.values), name="contact_type_valid"),
            models.CheckConstraint(
                condition=~Q(type=ContactType.COMPANY) | Q(company__isnull=True),
                name="contact_company_has_no_company",
                violation_error_message=_("A company cannot work for another company."),
            ),
            models.CheckConstraint(
                condition=Q(correspondence_type="") | Q(correspondence_type__in=CorrespondenceType.values),
                name="contact_correspondence_type_valid",
            ),
            models.CheckConstraint(condition=~Q(no=""), name="contact_no_not_blank"),
            # One constraint for the three channels: a contact's validation checks each
            # constraint with a query of its own.
            models.CheckConstraint(
                condition=Q(
                    email_consent__in=ConsentState.values,
                    postal_consent__in=ConsentState.values,
                    phone_consent__in=ConsentState.values,
                ),
                name="contact_consent_valid",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="contact_name_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.no} {self.name}"

    def save(self, *args, **kwargs) -> None:
        """An edit saves every field but the consent states: those change only through
        crm.consent (with their history), so a form saved while the contact unsubscribes
        cannot write the old state back."""
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in CONSENT_FIELDS.values()
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("crm:contact_detail", args=[self.pk])

    def natural_key(self) -> tuple[str]:
        return (self.no,)

    @property
    def is_company(self) -> bool:
        return self.type == ContactType.COMPANY

    @property
    def company_no(self) -> str:
        """The company's number: a company's own number, a person's company's, or ''."""
        if self.is_company:
            return self.no
        return self.company.no if self.company_id else ""

    @property
    def company_name(self) -> str:
        if self.is_company:
            return self.name
        return self.company.name if self.company_id else ""

    def name_parts(self) -> dict[str, str]:
        """The values salutation formulas substitute (D14)."""
        return {
            "first_name": self.first_name,
            "middle_name": self.middle_name,
            "surname": self.surname,
            "initials": self.initials,
            "job_title": self.job_title,
            "company_name": self.company_name,
        }

    def apply_name_rule(self, *, name_typed: bool) -> None:
        """SPEC F1.1 for persons: a typed name splits into parts, typed parts rebuild the name."""
        if self.type != ContactType.PERSON:
            return
        if name_typed:
            self.first_name, self.middle_name, self.surname = split_person_name(self.name)
        else:
            self.name = join_person_name(self.first_name, self.middle_name, self.surname) or self.name

    def clean(self) -> None:
        errors: dict[str, list] = {}
        if self.type == ContactType.COMPANY and self.company_id:
            errors.setdefault("company", []).append(
                ValidationError(_("A company cannot work for another company."), code="company_of_company")
            )
        if self.type == ContactType.PERSON and self.company_id:
            company = Contact.objects.filter(pk=self.company_id).only("type").first()
            if company is None or company.type != ContactType.COMPANY:
                errors.setdefault("company", []).append(
                    ValidationError(_("A person's company must be a company contact."), code="company_not_company")
                )
        if self.pk and self.type == ContactType.PERSON:
            previous = Contact.objects.filter(pk=self.pk).values_list("type", flat=True).first()
            if previous == ContactType.COMPANY and Contact.objects.filter(company_id=self.pk).exists():
                errors.setdefault("type", []).append(
                    ValidationError(_("This company has persons; it cannot become a person."), code="has_persons")
                )
        for field in ("name", "name_2", "address", "address_2", "city", "county", "job_title"):
            value = getattr(self, field)
            allowed_newline = field in {"address", "address_2"}
            probe = value.replace("\n", "").replace("\r", "") if allowed_newline else value
            if CONTROL_CHARACTERS.search(probe) or (not allowed_newline and ("\n" in value or "\r" in value)):
                errors.setdefault(field, []).append(
                    ValidationError(_("Control characters are not allowed."), code="control_characters")
                )
        if errors:
            raise ValidationError(errors)

    def active_alt_address(self, on: datetime.date) -> ContactAltAddress | None:
        """SPEC F1.2: the alternate address whose range covers `on` and starts latest, or None."""
        date_range = (
            ContactAltAddressDateRange.objects.filter(contact=self)
            .active_on(on)
            .select_related("alt_address", "alt_address__country")
            .first()
        )
        return date_range.alt_address if date_range else None


class ConsentChange(models.Model):
    """One change of a contact's consent for one channel: the append-only history behind the
    contact's current state (CONTRACT `contact consent-history`). Written only by crm.consent,
    in the transaction that changes the state; never updated.

    `logged_segment_id` names the logged segment (interactions.LoggedSegment) whose e-mail held
    the unsubscribe link used; a plain id, since crm sits below interactions."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consent_changes", verbose_name=_("contact")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    state = models.CharField(_("state"), max_length=10, choices=ConsentState.choices)
    at = models.DateTimeField(_("changed at"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    source = models.CharField(_("source"), max_length=100, blank=True)
    logged_segment_id = models.BigIntegerField(_("logged segment"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["contact", "at", "id"]
        indexes = [
            models.Index(fields=["contact", "at"], name="crm_consent_contact_at_idx"),
            # The unsubscribes of a mailing (the logged segment page, the statistics' rate).
            models.Index(
                fields=["logged_segment_id", "contact"],
                name="crm_consent_logged_idx",
                condition=Q(logged_segment_id__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=ConsentChannel.values), name="consent_change_channel_valid"),
            models.CheckConstraint(condition=Q(state__in=ConsentState.values), name="consent_change_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel}: {self.state} ({self.at:%Y-%m-%d %H:%M})"


class ClassificationLink(models.Model):
    """A contact's link to one classification code."""

    COMPANY_ONLY = False
    PERSON_ONLY = False

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", verbose_name=_("contact"))

    class Meta:
        abstract = True

    def clean(self) -> None:
        contact_type = Contact.objects.filter(pk=self.contact_id).values_list("type", flat=True).first()
        if self.COMPANY_ONLY and contact_type != ContactType.COMPANY:
            raise ValidationError(
                _("%(what)s belong to companies only."),
                params={"what": self._meta.verbose_name_plural},
                code="companies_only",
            )
        if self.PERSON_ONLY and contact_type != ContactType.PERSON:
            raise ValidationError(
                _("%(what)s belong to persons only."),
                params={"what": self._meta.verbose_name_plural},
                code="persons_only",
            )


class ContactIndustryGroup(ClassificationLink):
    COMPANY_ONLY = True
    industry_group = models.ForeignKey(IndustryGroup, on_delete=models.PROTECT, verbose_name=_("industry group"))

    class Meta:
        verbose_name = _("contact industry group")
        verbose_name_plural = _("industry groups")
        constraints = [
            models.UniqueConstraint(fields=["contact", "industry_group"], name="contact_industry_group_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.industry_group_id}"


class ContactBusinessRelation(ClassificationLink):
    COMPANY_ONLY = True
    business_relation = models.ForeignKey(
        BusinessRelation, on_delete=models.PROTECT, verbose_name=_("business relation")
    )

    class Meta:
        verbose_name = _("contact business relation")
        verbose_name_plural = _("business relations")
        constraints = [
            models.UniqueConstraint(fields=["contact", "business_relation"], name="contact_business_relation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.business_relation_id}"


class ContactMailingGroup(ClassificationLink):
    mailing_group = models.ForeignKey(MailingGroup, on_delete=models.PROTECT, verbose_name=_("mailing group"))

    class Meta:
        verbose_name = _("contact mailing group")
        verbose_name_plural = _("mailing groups")
        constraints = [
            models.UniqueConstraint(fields=["contact", "mailing_group"], name="contact_mailing_group_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.mailing_group_id}"


class ContactJobResponsibility(ClassificationLink):
    PERSON_ONLY = True
    job_responsibility = models.ForeignKey(
        JobResponsibility, on_delete=models.PROTECT, verbose_name=_("job responsibility")
    )

    class Meta:
        verbose_name = _("contact job responsibility")
        verbose_name_plural = _("job responsibilities")
        constraints = [
            models.UniqueConstraint(fields=["contact", "job_responsibility"], name="contact_job_responsibility_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.job_responsibility_id}"


class ContactAltAddress(models.Model):
    """An alternate address of a contact (SPEC F1.2), used when a date range makes it active."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="alt_addresses", verbose_name=_("contact")
    )
    code = models.CharField(_("code"), max_length=10, validators=[CODE_VALIDATOR])
    company_name = models.CharField(_("company name"), max_length=100, blank=True)
    company_name_2 = models.CharField(_("company name 2"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=100, blank=True)
    address_2 = models.CharField(_("address 2"), max_length=50, blank=True)
    post_code = models.CharField(_("post code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    county = models.CharField(_("county"), max_length=30, blank=True)
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("country/region")
    )
    phone = models.CharField(_("phone no."), max_length=30, blank=True, validators=[PHONE_VALIDATOR])
    mobile_phone = models.CharField(_("mobile phone no."), max_length=30, blank=True, validators=[PHONE_VALIDATOR])
    email = models.EmailField(_("e-mail"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("alternate address")
        verbose_name_plural = _("alternate addresses")
        ordering = ["contact", "code"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "code"], name="contact_alt_address_code_unique"),
            models.CheckConstraint(condition=~Q(code=""), name="contact_alt_address_code_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {', '.join(p for p in (self.address, self.post_code, self.city) if p)}"


class DateRangeQuerySet(models.QuerySet):
    """The one rule of which alternate address is in use on a day (SPEC F1.2): among the ranges
    covering the day, the one that starts latest. The contact card, `Contact.active_alt_address`
    and the segment lines (hence letters, e-mails and the log) all ask it here."""

    def active_on(self, on: datetime.date | models.Expression) -> DateRangeQuerySet:
        """Ranges covering `on` (a date, or an expression such as a line's own date), the one
        that starts latest first."""
        return self.filter(Q(ending_date__isnull=True) | Q(ending_date__gte=on), starting_date__lte=on).order_by(
            "-starting_date"
        )


class ContactAltAddressDateRange(models.Model):
    """When an alternate address is in use. Ranges may overlap: the latest start wins."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="alt_address_ranges", verbose_name=_("contact")
    )
    alt_address = models.ForeignKey(
        ContactAltAddress, on_delete=models.CASCADE, related_name="date_ranges", verbose_name=_("alternate address")
    )
    starting_date = models.DateField(_("starting date"))
    ending_date = models.DateField(_("ending date"), null=True, blank=True)

    objects = DateRangeQuerySet.as_manager()

    class Meta:
        verbose_name = _("alternate address date range")
        verbose_name_plural = _("alternate address date ranges")
        ordering = ["contact", "starting_date"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "starting_date"], name="contact_alt_range_start_unique"),
            models.CheckConstraint(
                condition=Q(ending_date__isnull=True) | Q(starting_date__lte=F("ending_date")),
                name="contact_alt_range_start_not_after_end",
                violation_error_message=_("The starting date must not be after the ending date."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alt_address.code}: {self.starting_date} – {self.ending_date or '…'}"

    def clean(self) -> None:
        if self.alt_address_id and self.contact_id:
            owner = (
                ContactAltAddress.objects.filter(pk=self.alt_address_id).values_list("contact_id", flat=True).first()
            )
            if owner != self.contact_id:
                raise ValidationError(
                    {"alt_address": _("The alternate address must belong to the same contact.")},
                    code="alt_address_other_contact",
                )


def active_alt_address_id(contact, on: datetime.date | models.Expression) -> Subquery:
    """Subquery: the id of the alternate address of `contact` (an id or an OuterRef) active on
    `on` (`DateRangeQuerySet.active_on`), else NULL; for set-based writes and reads of many
    contacts at once."""
    return Subquery(
        ContactAltAddressDateRange.objects.filter(contact_id=contact).active_on(on).values("alt_address_id")[:1]
    )


# --- Task workers (crm.worker) -----------------------------------------------------------------


class WorkerProcess(models.Model):
    """A running `manage.py worker`: its heartbeat (`seen_at`, written every
    CRM_WORKER_BEAT_SECONDS by the worker's watch thread). A worker whose heartbeat is older than
    a job lease is gone: the task rows it left running are closed (crm.worker.heal)."""

    worker_id = models.CharField(_("worker id"), max_length=64, primary_key=True)
    hostname = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("process id"), default=0)
    started_at = models.DateTimeField(_("started"))
    seen_at = models.DateTimeField(_("last sign of life"), db_index=True)

    class Meta:
        verbose_name = _("task worker")
        verbose_name_plural = _("task workers")
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.worker_id})"


class Chore(models.Model):
    """A periodic job the workers share (housekeeping): `last_run_at` is claimed by a
    conditional UPDATE, so one worker of many runs it per period."""

    name = models.CharField(_("name"), max_length=40, primary_key=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)

    class Meta:
        verbose_name = _("chore")
        verbose_name_plural = _("chores")

    def __str__(self) -> str:
        return self.name


class UserPreference(models.Model):
    """A small setting a user chose in the pages and keeps from visit to visit, e.g. which
    worksheet panels are open ("worksheet.steps" → "open"). Read and written through
    crm.preferences; one row per (user, key)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    key = models.CharField(_("key"), max_length=50)
    value = models.CharField(_("value"), max_length=50)

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="user_preference_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.key}={self.value}"


class Profile(models.Model):
    """A user's own settings, on the profile page: the language of the pages (blank: the
    browser's, else English) and the address test e-mails go to (blank: the user's e-mail)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crm_profile", verbose_name=_("user")
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language of the pages. Empty: your browser's language."),
    )
    test_email = models.EmailField(
        _("e-mail address for test e-mails"),
        blank=True,
        help_text=_("Where a test e-mail goes. Empty: the e-mail address of your user."),
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)
