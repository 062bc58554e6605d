"""The demo letters (segments/demo_letters.py, seeded by `seed_demo`) are letters a customer would
be glad to receive: every demo template in every demo language, rendered through the real merge
fields (`line_context`) for a company, a person of a company and a private person of that
language, as a letter and as an e-mail, reads cleanly.

Fails on: doubled punctuation or spaces (",,", "..", " ,"), a salutation repeated, an empty
paragraph or line left by a missing value, a leftover tag or formula placeholder, a salutation
or closing in another language than the letter's, the contact's company mentioned when there is
none (or not mentioned when there is), and the postal address block in an e-mail.
"""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import docx
import pytest
from django.utils import timezone

from crm import demo_data
from crm.languages import letter_language
from crm.models import Campaign, Contact, ContactType
from interactions.merge_fields import EMAIL, LETTER, line_context, salutation_formulas
from interactions.models import InteractionTemplateLanguage
from interactions.wordtemplates import prepared_template, salutation_kinds
from segments.demo import demo_seed
from segments.demo_letters import LETTER_LANGUAGES, LETTER_TEMPLATES

pytestmark = pytest.mark.django_db

LANGUAGES = ("DA", "NB", "FI", "DE", "NL", "FR", "EN")

# How a salutation starts and how a letter closes, per language (written here, not taken from
# the data they check).
GREETINGS = {
    "EN": ("Dear ", "Hello "),
    "DE": ("Sehr geehrte ", "Sehr geehrter ", "Guten Tag ", "Liebe ", "Lieber ", "Liebes ", "Hallo "),
    "NL": ("Geachte ", "Beste ", "Hallo "),
    "FR": ("Madame", "Cher ", "Chère ", "Docteur ", "Bonjour ", "Salut "),
    "DA": ("Kære ", "Til rette vedkommende", "Hej "),
    "NB": ("Kjære ", "Til den det måtte angå", "Hei "),
    "FI": ("Hyvä ", "Hei "),
}
CLOSINGS = {
    "EN": {"Kind regards,", "Best wishes,"},
    "DE": {"Mit freundlichen Grüßen", "Viele Grüße"},
    "NL": {"Met vriendelijke groet,", "Hartelijke groet,"},
    "FR": {"Bien cordialement,", "À bientôt,"},
    "DA": {"Med venlig hilsen", "Mange hilsner"},
    "NB": {"Med vennlig hilsen", "Beste hilsen"},
    "FI": {"Ystävällisin terveisin", "Parhain terveisin"},
}
PERSONAL = {
    "EN": "It was good to meet you at the trade fair.",
    "DE": "Es war schön, Sie auf der Messe kennenzulernen.",
    "NL": "Het was prettig u op de beurs te ontmoeten.",
    "FR": "Ce fut un plaisir de vous rencontrer au salon.",
    "DA": "Det var dejligt at møde dig på messen.",
    "NB": "Det var hyggelig å møte deg på messen.",
    "FI": "Oli mukava tavata teidät messuilla.",
}
PERSON_SALUTATIONS = ("MR", "MS", "DR", "NEUTRAL", "JOBTITLE")
BAD = (",,", "..", " ,", " .", ", ,", "  ", " :", ":.", ",.", "{{", "}}", "{%", "%}")
PLACEHOLDER = re.compile(r"%[a-z_]+")
REPEATED_WORD = re.compile(r"\b(\w+) \1\b", re.IGNORECASE)


@pytest.fixture
def demo():
    """The demo data with 1,500 contacts."""
    return demo_seed(contacts=1500, seed=1)


def three_contacts(language: str) -> dict[str, Contact]:
    """A company, a person of a company and a private person whose language is `language`."""
    contacts = Contact.objects.filter(language=language).select_related(
        "company", "country", "salesperson", "company__country"
    )
    found = {
        "company": contacts.filter(type=ContactType.COMPANY).order_by("no").first(),
        "employee": contacts.filter(type=ContactType.PERSON, company__isnull=False).order_by("no").first(),
        "private": contacts.filter(type=ContactType.PERSON, company__isnull=True).order_by("no").first(),
    }
    assert all(found.values()), (language, found)
    return found


def texts_of(data: bytes) -> tuple[list[str], list[str]]:
    """(body paragraphs, header and footer paragraphs) of a rendered letter."""
    document = docx.Document(io.BytesIO(data))
    margins = [p.text for s in document.sections for part in (s.header, s.footer) for p in part.paragraphs]
    return [p.text for p in document.paragraphs], margins


def letter_problems(body: list[str], margins: list[str]) -> list[str]:
    problems = []
    for text in [*body, *margins]:
        if not text.strip():
            problems.append(f"empty paragraph in {body}")
        lines = text.split("\n")
        if any(not line.strip() for line in lines):
            problems.append(f"empty line in {text!r}")
        problems += [f"{bad!r} in {text!r}" for bad in BAD if bad in text]
        if PLACEHOLDER.search(text):
            problems.append(f"formula placeholder in {text!r}")
        if REPEATED_WORD.search(text):
            problems.append(f"repeated word in {text!r}")
    return problems


def test_every_demo_template_and_language_has_its_own_letter(demo):
    rows = InteractionTemplateLanguage.objects.filter(template__in=("LETTER", "NEWSLETTER", "INVITE", "THANKS"))

    assert set(LETTER_TEMPLATES) == {"LETTER", "NEWSLETTER", "INVITE", "THANKS"}
    assert set(LETTER_LANGUAGES) == set(LANGUAGES)
    assert {(row.template_id, row.language_id) for row in rows} == {
        (template, language) for template in LETTER_TEMPLATES for language in LANGUAGES
    }
    assert len({row.document_id for row in rows}) == len(rows) == 28
    assert all(row.document.read_only for row in rows)


def test_no_salutation_formula_ends_in_punctuation():
    for code, (_, formulas) in demo_data.SALUTATIONS.items():
        assert set(formulas) == {None, *LANGUAGES}, code
        for language, pair in formulas.items():
            for formula in pair:
                assert not formula.rstrip().endswith((",", ".", ":", "!")), (code, language, formula)
                if language:
                    assert formula.startswith(GREETINGS[language]), (code, language, formula)


ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def test_every_demo_letter_reads_cleanly_for_every_kind_of_contact_as_letter_and_email(demo):
    problems: list[str] = []
    for language in LANGUAGES:
        problems += language_problems(language)
    assert problems == []


def language_problems(language: str) -> list[str]:
    formulas = salutation_formulas()
    campaign = Campaign.objects.get()
    today = timezone.localdate()
    contacts = three_contacts(language)
    rows = InteractionTemplateLanguage.objects.filter(language=language, template__in=LETTER_TEMPLATES)
    problems: list[str] = []
    checked = 0
    for index, row in enumerate(rows.select_related("document").order_by("template")):
        prepared = prepared_template(row.document.read_bytes())
        kinds = salutation_kinds(prepared.fields)
        (kind,) = kinds
        for who, contact in contacts.items():
            if who != "company":
                contact.salutation_id = PERSON_SALUTATIONS[(index * 2 + (who == "private")) % 5]
            line = SimpleNamespace(
                contact=contact,
                alt_address=None,
                language_id=language,
                salesperson=contact.salesperson,
                campaign=campaign,
                description=row.description,
                subject=row.subject,
                date=today,
                personal_text=PERSONAL[language] if who == "employee" else "",
                correspondence_type="email",
            )
            segment = SimpleNamespace(no="SEG00001", description="Demo")
            for channel in (LETTER, EMAIL):
                context = line_context(line, segment, formulas, today=today, salutation_types=kinds, channel=channel)
                body, margins = texts_of(prepared.render(context, language=letter_language(language)))
                where = f"{row.template_id}/{language}/{who}/{contact.salutation_id}/{channel}"
                problems += [f"{where}: {problem}" for problem in letter_problems(body, margins)]
                if channel == LETTER:
                    dated = [
                        text
                        for text in body
                        if text.startswith(f"{context['company']['city']}, ") and str(today.year) in text
                    ]
                    if len(dated) != 1:
                        problems.append(f"{where}: no one line with the place and date in {body}")
                    elif language != "EN" and ENGLISH_MONTHS[today.month - 1] in dated[0]:
                        problems.append(f"{where}: an English month in a {language} letter: {dated[0]!r}")
                salutation = context[f"salutation_{kind}"]
                greeting = f"{salutation},"
                if body.count(greeting) != 1:
                    problems.append(f"{where}: the salutation {greeting!r} is not one paragraph of {body}")
                    continue
                if sum(salutation in text for text in body) != 1:
                    problems.append(f"{where}: the salutation {salutation!r} is repeated")
                if not salutation.startswith(GREETINGS[language]):
                    problems.append(f"{where}: salutation {salutation!r} is not {language}")
                closings = [text for text in body if text in CLOSINGS[language]]
                if len(closings) != 1:
                    problems.append(f"{where}: no {language} closing in {body}")
                start = body.index(greeting)
                after = body[start + 1]
                if language == "DE" and not after[0].islower():
                    problems.append(f"{where}: German goes on in lower case after the salutation: {after!r}")
                if language != "DE" and not after[0].isupper():
                    problems.append(f"{where}: the body starts in lower case: {after!r}")
                block = context["address_block"]
                letter_part = body[start + 1 :]
                text = "\n".join(letter_part)
                if channel == LETTER and body.index(block) > start:
                    problems.append(f"{where}: no address block above the salutation")
                if channel == EMAIL and (block in body or contact.address in "\n".join(body)):
                    problems.append(f"{where}: the address block is in the e-mail")
                company = context["contact"]["company_name"]
                if who == "employee" and company not in text:
                    problems.append(f"{where}: the letter does not speak of {company!r}")
                if who == "private" and contact.name in text:
                    problems.append(f"{where}: the private person's name stands in the body: {text!r}")
                if who == "employee" and PERSONAL[language] not in body:
                    problems.append(f"{where}: the personal text is missing")
                checked += 1
    assert checked == len(LETTER_TEMPLATES) * 3 * 2, (language, problems)
    return problems
