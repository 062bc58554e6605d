"""Demo data (segments.demo, seed_demo) and demo users (create_demo_users)."""

from __future__ import annotations

import datetime
import hashlib
import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from crm import languages
from crm.management.commands.create_demo_users import REFUSED_WITHOUT_DEBUG
from crm.models import (
    Campaign,
    ConsentChange,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    Country,
    Language,
    NumberSeries,
    Profile,
    SalutationFormula,
)
from interactions.models import InteractionTemplate, InteractionTemplateLanguage
from segments.demo import demo_seed
from tests.factories import make_company

pytestmark = pytest.mark.django_db


def contacts_digest() -> str:
    """A digest of what a user sees of every contact: no., name, city, company no., address, e-mail,
    consent and its history."""
    rows = Contact.objects.order_by("no").values_list(
        "no",
        "name",
        "city",
        "company__no",
        "post_code",
        "address",
        "email",
        "exclude_from_segment",
        "email_consent",
        "postal_consent",
        "phone_consent",
    )
    history = list(
        ConsentChange.objects.order_by("contact__no", "at").values_list(
            "contact__no", "channel", "state", "at", "source"
        )
    )
    links = sorted(
        (contact_no, code)
        for model, field in (
            (ContactIndustryGroup, "industry_group_id"),
            (ContactBusinessRelation, "business_relation_id"),
            (ContactMailingGroup, "mailing_group_id"),
            (ContactJobResponsibility, "job_responsibility_id"),
        )
        for contact_no, code in model.objects.values_list("contact__no", field)
    )
    return hashlib.sha256(repr((list(rows), links, history)).encode()).hexdigest()


def seed_in_throwaway_state(**kwargs) -> str:
    """Seed into the empty database, take the digest, then roll everything back."""
    with transaction.atomic():
        demo_seed(**kwargs)
        digest = contacts_digest()
        transaction.set_rollback(True)
    return digest


def test_same_seed_gives_the_same_contacts_and_another_seed_other_ones():
    first = seed_in_throwaway_state(contacts=300, seed=7)
    again = seed_in_throwaway_state(contacts=300, seed=7)
    other = seed_in_throwaway_state(contacts=300, seed=8)

    assert Contact.objects.count() == 0
    assert first == again
    assert first != other


@pytest.fixture
def seeded():
    return demo_seed(contacts=2000, seed=3)


def test_numbers_come_from_the_contact_series_in_one_block(seeded):
    numbers = list(Contact.objects.order_by("id").values_list("no", flat=True))

    assert numbers == [f"CT{n:06d}" for n in range(1, 2001)]
    assert NumberSeries.objects.get(code="CONTACT").last_no == 2000
    assert (seeded.first_no, seeded.last_no) == ("CT000001", "CT002000")


def test_about_one_in_five_is_a_company_and_most_persons_work_for_one(seeded):
    companies = Contact.objects.companies().count()
    persons = Contact.objects.persons()
    private = persons.filter(company__isnull=True).count()

    assert 0.15 <= companies / 2000 <= 0.25
    assert 0.05 <= private / persons.count() <= 0.25
    assert (seeded.companies, seeded.persons, seeded.private_persons) == (companies, persons.count(), private)
    assert not persons.exclude(company__isnull=True).exclude(company__type="company").exists()
    assert not Contact.objects.companies().filter(company__isnull=False).exists()


def test_classifications_follow_the_company_and_person_rules(seeded):
    assert not ContactIndustryGroup.objects.exclude(contact__type="company").exists()
    assert not ContactBusinessRelation.objects.exclude(contact__type="company").exists()
    assert not ContactJobResponsibility.objects.exclude(contact__type="person").exists()
    assert ContactMailingGroup.objects.filter(contact__type="company").exists()
    assert ContactMailingGroup.objects.filter(contact__type="person").exists()
    companies = Contact.objects.companies()
    assert companies.filter(pk__in=ContactIndustryGroup.objects.values("contact")).count() == companies.count()
    assert companies.filter(pk__in=ContactBusinessRelation.objects.values("contact")).count() == companies.count()


def test_some_contacts_are_excluded_and_some_have_alternate_addresses_with_valid_ranges(seeded):
    excluded = Contact.objects.filter(exclude_from_segment=True).count()
    assert 10 <= excluded <= 80
    assert seeded.excluded == excluded

    alternates = ContactAltAddress.objects.count()
    assert 20 <= alternates <= 120
    ranges = ContactAltAddressDateRange.objects.select_related("alt_address")
    assert ranges.count() >= alternates
    for date_range in ranges:
        assert date_range.alt_address.contact_id == date_range.contact_id
        assert date_range.ending_date is None or date_range.starting_date <= date_range.ending_date
    assert ranges.filter(ending_date__isnull=True).exists()


def test_contacts_pass_field_validation_and_look_real(seeded):
    references = ["company", "country", "territory", "salesperson", "language", "salutation"]  # FKs: the DB checks
    for contact in Contact.objects.all():
        contact.clean_fields(exclude=references)
        assert contact.country_id and contact.city and contact.post_code and contact.address
        assert contact.salesperson_id and contact.language_id and contact.territory_id and contact.salutation_id
        assert not contact.email or contact.email.endswith(".example")
    for address in ContactAltAddress.objects.all():
        address.clean_fields(exclude=["contact", "country"])
    countries = set(Contact.objects.values_list("country", flat=True).distinct())
    assert {"NL", "DE", "GB", "FR", "BE", "US", "DK", "NO", "FI"} <= countries
    assert Contact.objects.filter(country="NL", post_code__regex=r"^\d{4} [A-Z]{2}$").exists()
    assert not Contact.objects.filter(country="NL").exclude(post_code__regex=r"^\d{4} [A-Z]{2}$").exists()
    assert not Contact.objects.filter(country="DE").exclude(post_code__regex=r"^\d{5}$").exists()
    assert Contact.objects.persons().filter(country="NL").exclude(middle_name="").exists()
    # Denmark, Norway and Finland: their post codes, phone numbers and languages.
    for country, post_code, phone, language in (
        ("DK", r"^\d{4}$", r"^\+45( \d\d){4}$", "DA"),
        ("NO", r"^\d{4}$", r"^\+47( \d\d){4}$", "NB"),
        ("FI", r"^\d{5}$", r"^\+358 \d{1,2} \d{3} \d{4}$", "FI"),
    ):
        local = Contact.objects.filter(country=country)
        assert local.filter(type="company").exists() and local.filter(type="person", company__isnull=True).exists()
        assert not local.exclude(post_code__regex=post_code).exists(), country
        assert not local.exclude(phone="").exclude(phone__regex=phone).exists(), country
        assert local.filter(language=language).count() > local.count() * 0.8, country
    assert Contact.objects.filter(country="NO", post_code__startswith="0").exists()


def test_every_contact_has_formal_and_informal_salutations_in_every_language(seeded):
    languages = set(Language.objects.values_list("code", flat=True))
    assert {"EN", "NL", "DE", "FR", "DA", "NB", "FI"} <= languages
    formulas = {(f.salutation_id, f.language_id, f.type): f for f in SalutationFormula.objects.all()}
    used = set(Contact.objects.values_list("salutation", flat=True).distinct())
    for code in used:
        for language in [*languages, None]:
            for kind in ("formal", "informal"):
                formula = formulas[(code, language, kind)]
                formula.clean()
    placeholders = " ".join(f.formula for f in formulas.values())
    for name in SalutationFormula.PLACEHOLDERS:
        assert f"%{name}" in placeholders
    person = Contact.objects.persons().filter(salutation="MR", middle_name="van den").first()
    if person:
        assert formulas[("MR", "NL", "formal")].render(person.name_parts()) == f"Geachte heer van den {person.surname}"


def test_reference_data_covers_templates_campaign_and_countries(seeded):
    assert set(Country.objects.values_list("code", flat=True)) >= {"NL", "DE", "GB", "FR", "BE", "US", "DK", "NO", "FI"}
    letter = InteractionTemplate.objects.get(code="LETTER")
    newsletter = InteractionTemplate.objects.get(code="NEWSLETTER")
    assert letter.correspondence_type == "hard_copy"
    assert newsletter.correspondence_type == "email"
    assert letter.campaign == Campaign.objects.get()
    for template in (letter, newsletter):
        rows = InteractionTemplateLanguage.objects.filter(template=template)
        assert set(rows.values_list("language", flat=True)) == {"EN", "NL", "DE", "FR", "DA", "NB", "FI"}
        assert all(row.subject for row in rows)
        assert rows.filter(language=template.language_id).exists()
        assert not rows.filter(document__isnull=True).exists()


def test_a_few_persons_have_granted_or_withdrawn_consent_each_with_its_history_row(seeded):
    counts = {
        (field, state): Contact.objects.filter(**{field: state}).count()
        for field in ("email_consent", "postal_consent", "phone_consent")
        for state in ("granted", "withdrawn")
    }
    assert counts == {
        ("email_consent", "granted"): 4,
        ("email_consent", "withdrawn"): 3,
        ("postal_consent", "granted"): 2,
        ("postal_consent", "withdrawn"): 2,
        ("phone_consent", "granted"): 1,
        ("phone_consent", "withdrawn"): 1,
    }
    assert seeded.consent_changes == ConsentChange.objects.count() == 13
    for change in ConsentChange.objects.select_related("contact"):
        assert getattr(change.contact, f"{change.channel}_consent") == change.state
        assert change.contact.type == "person" and change.contact.email and change.source
        assert change.at.date() < datetime.date(2026, 1, 1) and change.user is None
    assert ConsentChange.objects.values("contact").distinct().count() == 13


def test_demo_templates_have_a_valid_word_template_kept_when_seeding_again(seeded):
    from interactions.wordtemplates import template_problems

    row = InteractionTemplateLanguage.objects.select_related("document").filter(template="LETTER").first()
    assert template_problems(row.document.read_bytes()) == []
    assert row.document.read_only

    demo_seed(contacts=1, seed=5)

    assert InteractionTemplateLanguage.objects.get(pk=row.pk).document_id == row.document_id


def test_seeding_again_adds_contacts_and_keeps_reference_data(seeded):
    formulas = SalutationFormula.objects.count()

    second = demo_seed(contacts=10, seed=3)

    assert Contact.objects.count() == 2010
    assert (second.first_no, second.last_no) == ("CT002001", "CT002010")
    assert SalutationFormula.objects.count() == formulas
    assert Campaign.objects.count() == 1


def test_query_count_does_not_grow_with_the_number_of_contacts(django_assert_max_num_queries):
    with transaction.atomic(), CaptureQueriesContext(connection) as small:
        demo_seed(contacts=200)
        transaction.set_rollback(True)
    assert len(small) <= 80  # with one stored Word letter per demo template and language

    with django_assert_max_num_queries(len(small)):
        demo_seed(contacts=2000)
    assert Contact.objects.count() == 2000


def test_a_failure_half_way_writes_nothing():
    make_company(no="CT000150", name="Already here")

    with pytest.raises(IntegrityError):
        demo_seed(contacts=300)

    assert list(Contact.objects.values_list("no", flat=True)) == ["CT000150"]
    assert NumberSeries.objects.get(code="CONTACT").last_no == 0
    assert not Language.objects.exists()
    assert not ContactMailingGroup.objects.exists()


# --- the command ---------------------------------------------------------------------------


def test_seed_demo_prints_a_one_line_summary():
    out, err = io.StringIO(), io.StringIO()

    call_command("seed_demo", "--contacts", "120", "--seed", "5", stdout=out, stderr=err)

    assert Contact.objects.count() == 120
    assert re.fullmatch(r"Seeded 120 contacts \(CT000001–CT000120\): .* in \d+\.\d s\.\n", out.getvalue())
    assert err.getvalue() == ""


def test_seed_demo_if_empty_does_nothing_when_contacts_exist():
    make_company(name="Mine")
    err = io.StringIO()

    call_command("seed_demo", "--if-empty", "--contacts", "50", stdout=io.StringIO(), stderr=err)

    assert Contact.objects.count() == 1
    assert not Language.objects.exists()
    assert "nothing seeded" in err.getvalue()


def test_seed_demo_if_empty_seeds_an_empty_database():
    call_command("seed_demo", "--if-empty", "--contacts", "50", stdout=io.StringIO())

    assert Contact.objects.count() == 50


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_seed_demo_shows_progress_on_a_terminal_only():
    err = TerminalStream()

    call_command("seed_demo", "--contacts", "30", stdout=io.StringIO(), stderr=err)

    assert "\rSeeding contacts: 30 / 30 (100%)" in err.getvalue()


@pytest.mark.parametrize("value", ["-5", "many"])
def test_seed_demo_rejects_a_bad_number_of_contacts(value):
    with pytest.raises(CommandError, match="--contacts"):
        call_command("seed_demo", "--contacts", value, stdout=io.StringIO())

    assert not Contact.objects.exists()


# --- demo users ------------------------------------------------------------------------------


def test_create_demo_users_is_idempotent_and_resets_passwords(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("create_demo_users", stdout=out)
    admin = User.objects.get(username="admin")
    admin.set_password("changed")
    admin.is_active = False
    admin.save()

    call_command("create_demo_users", stdout=out)

    assert User.objects.count() == 6
    users = {user.username: user for user in User.objects.prefetch_related("groups")}
    for name, group in (("admin", "Admin"), ("marketing", "Marketing"), ("viewer", "Viewer")):
        user = users[name]
        assert user.check_password(f"{name}-demo")
        assert user.is_active
        assert [g.name for g in user.groups.all()] == [group]
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["marketing"].is_staff and not users["marketing"].is_superuser
    assert not users["viewer"].is_staff and not users["viewer"].is_superuser
    assert users["marketing"].has_perm("crm.import_contacts")
    assert not users["viewer"].has_perm("crm.change_contact")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]


def test_create_demo_users_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError) as error:
        call_command("create_demo_users", stdout=io.StringIO())

    assert str(error.value) == REFUSED_WITHOUT_DEBUG
    assert not User.objects.exists()


def test_create_demo_users_runs_without_debug_when_forced(settings):
    settings.DEBUG = False

    call_command("create_demo_users", "--force", stdout=io.StringIO())

    assert User.objects.count() == 6


def test_create_demo_users_gives_a_marketing_user_per_language_and_the_three_role_users_none(settings):
    settings.DEBUG = True
    call_command("create_demo_users", stdout=io.StringIO())
    Profile.objects.filter(user__username="marketing-da").update(language="fi", test_email="")
    Profile.objects.create(user=User.objects.get(username="viewer"), language="nb")  # chosen on the profile page

    call_command("create_demo_users", stdout=io.StringIO())

    for language in ("da", "nb", "fi"):
        user = User.objects.get(username=f"marketing-{language}")
        assert user.check_password("marketing-demo")
        assert [g.name for g in user.groups.all()] == ["Marketing"]
        assert not user.is_staff and not user.is_superuser
        assert languages.own_language(user) == language
        assert languages.test_email_address(user) == f"marketing-{language}.test@example.com"
        assert user.get_full_name()
    for name in ("admin", "marketing", "viewer"):
        assert languages.own_language(User.objects.get(username=name)) == ""  # they follow the browser
    assert not Profile.objects.filter(user__username__in=["admin", "marketing"]).exists()
    assert Profile.objects.count() == 4


# --- the Nordic mailing: contacts, templates, letters and segments in Danish, Norwegian, Finnish ----


def test_danish_norwegian_and_finnish_contacts_are_many_and_read_as_local(seeded):
    for country, language, top_level in (
        ("DK", "DA", ".dk.example"),
        ("NO", "NB", ".no.example"),
        ("FI", "FI", ".fi.example"),
    ):
        local = Contact.objects.filter(country=country)
        assert local.count() >= 60, country  # about 5 % of the contacts each
        assert local.filter(type="company").count() >= 10, country
        assert local.filter(type="person", company__isnull=False).count() >= 30, country
        assert local.filter(language=language).count() > local.count() * 0.8, country
        assert not local.exclude(email="").exclude(email__endswith=top_level).exists(), country
        # An address's local part is spelled the way people type it: ASCII ("soren.sorensen").
        assert not [email for email in local.values_list("email", flat=True) if not email.isascii()], country
    danish = Contact.objects.filter(country="DK")
    assert danish.filter(city__in=["København K", "København V", "Aarhus C"]).exists()
    assert danish.filter(address__regex=r", [1-5]\. (th|tv|mf)\.$").exists()  # floor and side
    assert not danish.filter(name__startswith="København K ").exists()  # a company takes the town's name
    assert Contact.objects.filter(country="FI", address__regex=r" [ABC] \d+$").exists()  # staircase and flat
    assert set(Contact.objects.filter(country="NO").values_list("city", flat=True)) <= {
        "Oslo", "Bergen", "Trondheim", "Stavanger", "Drammen", "Kristiansand", "Tromsø",
    }  # fmt: skip


def test_demo_templates_speak_of_no_company_by_name(seeded):
    """The sending company is configured (CRM_COMPANY_NAME): a subject or a letter naming one would lie."""
    from segments.demo_letters import LETTER_LANGUAGES, LETTER_TEMPLATES, demo_letter_text

    rows = InteractionTemplateLanguage.objects.all()
    assert not [row.subject for row in rows if "Cronus" in row.subject or "Cronus" in row.description]
    newsletter = {row.language_id: row.subject for row in rows.filter(template="NEWSLETTER")}
    assert newsletter["EN"] == "Our news this month"
    assert newsletter["DA"] == "Vores nyheder i denne måned"
    assert newsletter["FI"] == "Tämän kuun uutisemme"
    for template in LETTER_TEMPLATES:
        for language in LETTER_LANGUAGES:
            assert "Cronus" not in " ".join(demo_letter_text(template, language).body), (template, language)


@pytest.fixture
def seeded_with_segments(settings):
    settings.DEBUG = True
    call_command("create_demo_users", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_demo", "--contacts", "2000", "--segments", stdout=out)
    return out.getvalue()


def test_seed_demo_segments_gives_each_demo_user_open_segments_in_their_language(seeded_with_segments):
    from segments.models import Segment, SegmentLine

    assert seeded_with_segments.splitlines()[1] == (
        "Created 7 demo segments: SEG00001, SEG00002, SEG00003, SEG00004, SEG00005, SEG00006, SEG00007."
    )
    for owner, language, country in (
        ("marketing-da", "DA", "DK"),
        ("marketing-nb", "NB", "NO"),
        ("marketing-fi", "FI", "FI"),
    ):
        segments = Segment.objects.filter(owner__username=owner)
        assert segments.count() == 2, owner
        for segment in segments:
            lines = SegmentLine.objects.filter(segment=segment)
            assert lines.count() >= 5, segment
            assert not lines.exclude(contact__country=country).exists(), segment
            assert segment.language_id == language
            row = InteractionTemplateLanguage.objects.get(template=segment.interaction_template, language=language)
            assert segment.subject == row.subject
    danish = Segment.objects.get(description="Nyhedsbrev april – Danmark")
    assert danish.interaction_template_id == "NEWSLETTER" and danish.subject == "Vores nyheder i denne måned"
    assert Segment.objects.get(owner__username="marketing").language_id == "EN"


def test_a_danish_demo_letter_reads_danish_to_its_reader(seeded_with_segments, tmp_path):
    """The merged letters of the Danish launch segment, read as the contacts will read them: Danish
    for the Danish-speaking contacts (the few of a company writing English get the English letter)."""
    import docx

    from segments.models import Segment, SegmentLine

    segment = Segment.objects.get(description="Produktlancering – beslutningstagere i Danmark")
    lines = list(SegmentLine.objects.filter(segment=segment).select_related("contact").order_by("line_no"))
    danish = [line for line in lines if line.language_id == "DA"]
    assert len(danish) >= len(lines) * 0.8 and {line.language_id for line in lines} <= {"DA", "EN"}
    output = tmp_path / "letters.docx"

    call_command("segment", "merge", "--output", str(output), segment.no, stdout=io.StringIO())

    text = [paragraph.text for paragraph in docx.Document(str(output)).paragraphs]
    assert text.count("Med venlig hilsen") == text.count("Mød vores nye produktserie") == len(danish)
    assert text.count("Kind regards,") == len(lines) - len(danish)
    salutations = [t for t in text if t.startswith("Kære ")]
    assert len(salutations) == len(danish)
    named = [line.contact for line in danish if line.contact.salutation_id in ("MR", "MS", "NEUTRAL", "JOBTITLE")]
    assert named and all(f"Kære {c.first_name} {c.surname}," in salutations for c in named)
    assert any(t.startswith("Vi vil gerne præsentere dig og dine kolleger hos ") for t in text)


def test_seed_demo_twice_with_segments_adds_contacts_but_no_second_segments(seeded_with_segments):
    from segments.models import Segment, SegmentLine

    lines = SegmentLine.objects.count()
    out = io.StringIO()

    call_command("seed_demo", "--contacts", "20", "--segments", stdout=out)
    call_command("seed_demo", "--if-empty", "--segments", stdout=out, stderr=io.StringIO())

    assert out.getvalue().splitlines()[1] == "Created 0 demo segments."
    assert Contact.objects.count() == 2020
    assert Segment.objects.count() == 7 and SegmentLine.objects.count() == lines
    assert InteractionTemplateLanguage.objects.filter(template="LETTER").count() == 7


def test_demo_segments_without_the_demo_users_belong_to_nobody():
    from segments.demo import demo_segments
    from segments.models import Segment

    demo_seed(contacts=300, seed=2)

    assert len(demo_segments()) == 7
    assert not Segment.objects.filter(owner__isnull=False).exists()
