"""The tables the demo data is drawn from (used by segments.demo only).

Cities come with real post code ranges and telephone area codes; telephone numbers use the
ranges regulators reserve for fiction where they exist (UK 0XX 496 0xxx and 07700 900xxx, US
555-01xx). E-mail addresses use the reserved `.example` top-level domain (RFC 2606) so a demo
mailing can never reach a real inbox.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import NamedTuple

# Dates in the demo data are fixed, not relative to today, so one seed gives one data set.
ANCHOR_DATE = datetime.date(2026, 1, 1)

LANGUAGES = [
    ("EN", "English"),
    ("NL", "Dutch"),
    ("DE", "German"),
    ("FR", "French"),
    ("DA", "Danish"),
    ("NB", "Norwegian Bokmål"),
    ("FI", "Finnish"),
]

COUNTRIES = [
    ("NL", "Netherlands"),
    ("DE", "Germany"),
    ("AT", "Austria"),
    ("GB", "United Kingdom"),
    ("FR", "France"),
    ("BE", "Belgium"),
    ("US", "United States"),
    ("DK", "Denmark"),
    ("NO", "Norway"),
    ("FI", "Finland"),
]

TERRITORIES = [
    ("NL-WEST", "Netherlands – Randstad"),
    ("NL-SOUTH", "Netherlands – South"),
    ("NL-NORTH", "Netherlands – North and East"),
    ("DE-NORTH", "Germany – North and East"),
    ("DE-WEST", "Germany – West"),
    ("DE-SOUTH", "Germany – South"),
    ("AT", "Austria"),
    ("UK-LONDON", "United Kingdom – London"),
    ("UK-REGIONS", "United Kingdom – Regions"),
    ("FR-IDF", "France – Île-de-France"),
    ("FR-REGIONS", "France – Regions"),
    ("BE-FL", "Belgium – Flanders"),
    ("BE-WAL", "Belgium – Brussels and Wallonia"),
    ("US-EAST", "United States – East"),
    ("US-CENTRAL", "United States – Central"),
    ("US-WEST", "United States – West"),
    ("DK", "Denmark"),
    ("NO", "Norway"),
    ("FI", "Finland"),
]

# (code, name, e-mail, phone, job title)
SALESPEOPLE = [
    ("AV", "Annelies Vermeulen", "a.vermeulen@example.com", "+31 20 555 0101", "Account Manager"),
    ("TM", "Tom Mulder", "t.mulder@example.com", "+31 20 555 0102", "Account Manager"),
    ("MK", "Markus Kellner", "m.kellner@example.com", "+49 30 5550 1103", "Key Account Manager"),
    ("KB", "Katrin Brandt", "k.brandt@example.com", "+49 89 5550 1104", "Sales Manager"),
    ("JW", "James Whitfield", "j.whitfield@example.com", "+44 20 7946 0105", "Account Director"),
    ("SL", "Sophie Laurent", "s.laurent@example.com", "+33 1 55 50 01 06", "Account Manager"),
    ("PW", "Pieter De Wilde", "p.dewilde@example.com", "+32 2 555 01 07", "Account Manager"),
    ("RC", "Rachel Cohen", "r.cohen@example.com", "+1 212 555 0108", "Sales Director"),
    ("MJ", "Mette Juhl", "m.juhl@example.com", "+45 33 55 01 09", "Account Manager"),
    ("KH", "Kristian Haugen", "k.haugen@example.com", "+47 22 55 01 10", "Account Manager"),
    ("AK", "Aino Koskinen", "a.koskinen@example.com", "+358 9 5550 111", "Account Manager"),
]

TERRITORY_SALESPERSON = {
    "NL-WEST": "AV",
    "NL-SOUTH": "TM",
    "NL-NORTH": "TM",
    "DE-NORTH": "MK",
    "DE-WEST": "MK",
    "DE-SOUTH": "KB",
    "AT": "KB",
    "UK-LONDON": "JW",
    "UK-REGIONS": "JW",
    "FR-IDF": "SL",
    "FR-REGIONS": "SL",
    "BE-FL": "PW",
    "BE-WAL": "SL",
    "US-EAST": "RC",
    "US-CENTRAL": "RC",
    "US-WEST": "RC",
    "DK": "MJ",
    "NO": "KH",
    "FI": "AK",
}

INDUSTRY_GROUPS = [
    ("MANUF", "Manufacturing"),
    ("RETAIL", "Retail"),
    ("WHOLESALE", "Wholesale and distribution"),
    ("IT", "IT and software"),
    ("LOGISTICS", "Transport and logistics"),
    ("FINANCE", "Financial services"),
    ("HEALTH", "Healthcare"),
    ("HORECA", "Hotels, restaurants and catering"),
    ("CONSTRUCT", "Construction"),
    ("PROF", "Professional services"),
    ("MEDIA", "Media and publishing"),
    ("ENERGY", "Energy and utilities"),
]
INDUSTRY_WEIGHTS = [14, 10, 10, 12, 9, 7, 7, 6, 8, 10, 4, 3]

# Words that make a company name sound like its industry, per language.
SECTOR_WORDS = {
    "MANUF": {
        "EN": ["Engineering", "Manufacturing", "Machinery"],
        "NL": ["Machinebouw", "Metaaltechniek", "Techniek"],
        "DE": ["Maschinenbau", "Metallbau", "Technik"],
        "FR": ["Industrie", "Mécanique", "Usinage"],
        "DA": ["Maskinfabrik", "Metal", "Teknik"],
        "NB": ["Mekaniske", "Industri", "Teknikk"],
        "FI": ["Konepaja", "Metalli", "Tekniikka"],
    },
    "RETAIL": {
        "EN": ["Stores", "Home & Living", "Fashion"],
        "NL": ["Winkels", "Wonen", "Mode"],
        "DE": ["Handel", "Wohnen", "Mode"],
        "FR": ["Boutiques", "Maison", "Mode"],
        "DA": ["Butikker", "Bolig", "Mode"],
        "NB": ["Butikk", "Interiør", "Mote"],
        "FI": ["Kauppa", "Sisustus", "Muoti"],
    },
    "WHOLESALE": {
        "EN": ["Trading", "Supplies", "Distribution"],
        "NL": ["Groothandel", "Handelmaatschappij", "Import"],
        "DE": ["Großhandel", "Handelsgesellschaft", "Vertrieb"],
        "FR": ["Distribution", "Négoce", "Import-Export"],
        "DA": ["Engros", "Handel", "Import"],
        "NB": ["Engros", "Handel", "Import"],
        "FI": ["Tukku", "Kauppa", "Maahantuonti"],
    },
    "IT": {
        "EN": ["Software", "IT Solutions", "Digital"],
        "NL": ["Software", "ICT", "Automatisering"],
        "DE": ["Software", "IT-Systeme", "Informatik"],
        "FR": ["Informatique", "Logiciels", "Numérique"],
        "DA": ["Software", "IT", "Data"],
        "NB": ["Software", "IT", "Data"],
        "FI": ["Ohjelmistot", "IT", "Data"],
    },
    "LOGISTICS": {
        "EN": ["Logistics", "Freight", "Transport"],
        "NL": ["Logistiek", "Transport", "Expeditie"],
        "DE": ["Logistik", "Spedition", "Transporte"],
        "FR": ["Logistique", "Transports", "Fret"],
        "DA": ["Logistik", "Transport", "Spedition"],
        "NB": ["Logistikk", "Transport", "Spedisjon"],
        "FI": ["Logistiikka", "Kuljetus", "Huolinta"],
    },
    "FINANCE": {
        "EN": ["Capital", "Insurance", "Accountants"],
        "NL": ["Assurantiën", "Accountants", "Financieel Advies"],
        "DE": ["Versicherungen", "Finanzberatung", "Treuhand"],
        "FR": ["Assurances", "Finance", "Expertise Comptable"],
        "DA": ["Revision", "Forsikring", "Finans"],
        "NB": ["Revisjon", "Forsikring", "Finans"],
        "FI": ["Tilitoimisto", "Vakuutus", "Rahoitus"],
    },
    "HEALTH": {
        "EN": ["Healthcare", "Medical", "Care"],
        "NL": ["Zorg", "Medisch", "Thuiszorg"],
        "DE": ["Medizintechnik", "Pflege", "Gesundheit"],
        "FR": ["Santé", "Médical", "Soins"],
        "DA": ["Sundhed", "Medico", "Pleje"],
        "NB": ["Helse", "Medisinsk", "Omsorg"],
        "FI": ["Terveys", "Lääkintä", "Hoiva"],
    },
    "HORECA": {
        "EN": ["Hotels", "Catering", "Hospitality"],
        "NL": ["Hotels", "Catering", "Horeca"],
        "DE": ["Hotels", "Catering", "Gastronomie"],
        "FR": ["Hôtels", "Traiteur", "Restauration"],
        "DA": ["Hotel", "Catering", "Restauration"],
        "NB": ["Hotell", "Catering", "Restaurant"],
        "FI": ["Hotelli", "Catering", "Ravintolat"],
    },
    "CONSTRUCT": {
        "EN": ["Builders", "Construction", "Installations"],
        "NL": ["Bouw", "Installatietechniek", "Aannemers"],
        "DE": ["Bau", "Haustechnik", "Bauunternehmen"],
        "FR": ["Bâtiment", "Construction", "Installations"],
        "DA": ["Byg", "Entreprise", "Installation"],
        "NB": ["Bygg", "Entreprenør", "Installasjon"],
        "FI": ["Rakennus", "Urakointi", "Asennus"],
    },
    "PROF": {
        "EN": ["Consulting", "Partners", "Advisory"],
        "NL": ["Advies", "Consultancy", "Partners"],
        "DE": ["Beratung", "Consulting", "Partner"],
        "FR": ["Conseil", "Associés", "Consulting"],
        "DA": ["Rådgivning", "Consulting", "Partners"],
        "NB": ["Rådgivning", "Consulting", "Partners"],
        "FI": ["Konsultointi", "Consulting", "Partners"],
    },
    "MEDIA": {
        "EN": ["Media", "Publishing", "Studios"],
        "NL": ["Media", "Uitgeverij", "Communicatie"],
        "DE": ["Medien", "Verlag", "Kommunikation"],
        "FR": ["Médias", "Éditions", "Communication"],
        "DA": ["Medier", "Forlag", "Kommunikation"],
        "NB": ["Media", "Forlag", "Kommunikasjon"],
        "FI": ["Media", "Kustannus", "Viestintä"],
    },
    "ENERGY": {
        "EN": ["Energy", "Solar", "Power"],
        "NL": ["Energie", "Zonne-energie", "Installaties"],
        "DE": ["Energie", "Solartechnik", "Stadtwerke"],
        "FR": ["Énergie", "Solaire", "Services"],
        "DA": ["Energi", "Solenergi", "Forsyning"],
        "NB": ["Energi", "Solenergi", "Kraft"],
        "FI": ["Energia", "Aurinkoenergia", "Voima"],
    },
}

BUSINESS_RELATIONS = [
    ("CUST", "Customer"),
    ("PROSPECT", "Prospect"),
    ("VENDOR", "Vendor"),
    ("PARTNER", "Partner"),
    ("PRESS", "Press"),
    ("COMPETITOR", "Competitor"),
    ("BANK", "Bank"),
]
BUSINESS_RELATION_WEIGHTS = [40, 35, 8, 8, 3, 3, 3]

MAILING_GROUPS = [
    ("NEWSLETTER", "Monthly newsletter"),
    ("XMAS", "Christmas card"),
    ("EVENTS", "Event invitations"),
    ("PRODUCT", "Product updates"),
    ("VIP", "VIP customers"),
    ("PRESSREL", "Press releases"),
]
# Chance that a company / a person is in each mailing group (same order as MAILING_GROUPS).
MAILING_CHANCE_COMPANY = [0.35, 0.45, 0.15, 0.30, 0.05, 0.03]
MAILING_CHANCE_PERSON = [0.45, 0.15, 0.25, 0.20, 0.03, 0.01]

JOB_RESPONSIBILITIES = [
    ("MGMT", "Management"),
    ("PURCHASE", "Purchasing"),
    ("SALES", "Sales"),
    ("MARKETING", "Marketing"),
    ("IT", "IT"),
    ("FINANCE", "Finance"),
    ("HR", "Human resources"),
    ("OPERATIONS", "Operations"),
]

# (job title, job responsibility codes) per language.
JOB_TITLES = {
    "EN": [
        ("Managing Director", ("MGMT",)),
        ("CEO", ("MGMT",)),
        ("Purchasing Manager", ("PURCHASE", "MGMT")),
        ("Buyer", ("PURCHASE",)),
        ("Sales Director", ("SALES", "MGMT")),
        ("Account Manager", ("SALES",)),
        ("Marketing Manager", ("MARKETING",)),
        ("IT Manager", ("IT",)),
        ("CFO", ("FINANCE", "MGMT")),
        ("Accountant", ("FINANCE",)),
        ("HR Manager", ("HR",)),
        ("Office Manager", ("OPERATIONS",)),
        ("Operations Manager", ("OPERATIONS",)),
    ],
    "NL": [
        ("Directeur", ("MGMT",)),
        ("Algemeen directeur", ("MGMT",)),
        ("Hoofd inkoop", ("PURCHASE", "MGMT")),
        ("Inkoper", ("PURCHASE",)),
        ("Commercieel directeur", ("SALES", "MGMT")),
        ("Accountmanager", ("SALES",)),
        ("Marketingmanager", ("MARKETING",)),
        ("IT-manager", ("IT",)),
        ("Financieel directeur", ("FINANCE", "MGMT")),
        ("Controller", ("FINANCE",)),
        ("HR-adviseur", ("HR",)),
        ("Officemanager", ("OPERATIONS",)),
        ("Bedrijfsleider", ("OPERATIONS",)),
    ],
    "DE": [
        ("Geschäftsführer", ("MGMT",)),
        ("Prokurist", ("MGMT",)),
        ("Einkaufsleiter", ("PURCHASE", "MGMT")),
        ("Einkäufer", ("PURCHASE",)),
        ("Vertriebsleiter", ("SALES", "MGMT")),
        ("Key Account Manager", ("SALES",)),
        ("Marketingleiter", ("MARKETING",)),
        ("IT-Leiter", ("IT",)),
        ("Leiter Finanzen", ("FINANCE", "MGMT")),
        ("Buchhalter", ("FINANCE",)),
        ("Personalleiter", ("HR",)),
        ("Büroleiter", ("OPERATIONS",)),
        ("Betriebsleiter", ("OPERATIONS",)),
    ],
    "FR": [
        ("Directeur général", ("MGMT",)),
        ("Gérant", ("MGMT",)),
        ("Responsable achats", ("PURCHASE", "MGMT")),
        ("Acheteur", ("PURCHASE",)),
        ("Directeur commercial", ("SALES", "MGMT")),
        ("Chargé d'affaires", ("SALES",)),
        ("Responsable marketing", ("MARKETING",)),
        ("Responsable informatique", ("IT",)),
        ("Directeur financier", ("FINANCE", "MGMT")),
        ("Comptable", ("FINANCE",)),
        ("Responsable RH", ("HR",)),
        ("Responsable logistique", ("OPERATIONS",)),
        ("Assistant de direction", ("OPERATIONS",)),
    ],
    "DA": [
        ("Administrerende direktør", ("MGMT",)),
        ("Direktør", ("MGMT",)),
        ("Indkøbschef", ("PURCHASE", "MGMT")),
        ("Indkøber", ("PURCHASE",)),
        ("Salgsdirektør", ("SALES", "MGMT")),
        ("Key account manager", ("SALES",)),
        ("Marketingchef", ("MARKETING",)),
        ("IT-chef", ("IT",)),
        ("Økonomidirektør", ("FINANCE", "MGMT")),
        ("Bogholder", ("FINANCE",)),
        ("HR-chef", ("HR",)),
        ("Kontorchef", ("OPERATIONS",)),
        ("Driftschef", ("OPERATIONS",)),
    ],
    "NB": [
        ("Daglig leder", ("MGMT",)),
        ("Administrerende direktør", ("MGMT",)),
        ("Innkjøpssjef", ("PURCHASE", "MGMT")),
        ("Innkjøper", ("PURCHASE",)),
        ("Salgsdirektør", ("SALES", "MGMT")),
        ("Key account manager", ("SALES",)),
        ("Markedssjef", ("MARKETING",)),
        ("IT-sjef", ("IT",)),
        ("Økonomisjef", ("FINANCE", "MGMT")),
        ("Regnskapsfører", ("FINANCE",)),
        ("HR-sjef", ("HR",)),
        ("Kontorsjef", ("OPERATIONS",)),
        ("Driftssjef", ("OPERATIONS",)),
    ],
    "FI": [
        ("Toimitusjohtaja", ("MGMT",)),
        ("Johtaja", ("MGMT",)),
        ("Hankintapäällikkö", ("PURCHASE", "MGMT")),
        ("Ostaja", ("PURCHASE",)),
        ("Myyntijohtaja", ("SALES", "MGMT")),
        ("Asiakkuuspäällikkö", ("SALES",)),
        ("Markkinointipäällikkö", ("MARKETING",)),
        ("IT-päällikkö", ("IT",)),
        ("Talousjohtaja", ("FINANCE", "MGMT")),
        ("Kirjanpitäjä", ("FINANCE",)),
        ("Henkilöstöpäällikkö", ("HR",)),
        ("Toimistopäällikkö", ("OPERATIONS",)),
        ("Tuotantopäällikkö", ("OPERATIONS",)),
    ],
}

# Salutations: code -> (description, {language or None: (formal, informal)}).
# A formula without a language is used when an interaction has no language. A formula is the
# salutation only: the letter adds the punctuation its language wants after it ("Kære Anne
# Jensen," / "Sehr geehrte Frau Schulz,"), so no formula ends in a comma.
SALUTATIONS = {
    "COMPANY": (
        "Company",
        {
            None: ("Dear Sir or Madam", "Dear %company_name team"),
            "EN": ("Dear Sir or Madam", "Dear %company_name team"),
            "NL": ("Geachte heer, mevrouw", "Beste medewerkers van %company_name"),
            "DE": ("Sehr geehrte Damen und Herren", "Liebes Team von %company_name"),
            "FR": ("Madame, Monsieur", "Bonjour à toute l'équipe %company_name"),
            "DA": ("Til rette vedkommende", "Hej alle hos %company_name"),
            "NB": ("Til den det måtte angå", "Hei alle i %company_name"),
            "FI": ("Hyvä vastaanottaja", "Hei kaikki"),
        },
    ),
    "MR": (
        "Mr",
        {
            None: ("Dear Mr %surname", "Dear %first_name"),
            "EN": ("Dear Mr %surname", "Dear %first_name"),
            "NL": ("Geachte heer %middle_name %surname", "Beste %first_name"),
            "DE": ("Sehr geehrter Herr %surname", "Lieber %first_name"),
            "FR": ("Cher Monsieur %surname", "Bonjour %first_name"),
            "DA": ("Kære %first_name %surname", "Hej %first_name"),
            "NB": ("Kjære %first_name %surname", "Hei %first_name"),
            "FI": ("Hyvä %first_name %surname", "Hei %first_name"),
        },
    ),
    "MS": (
        "Ms",
        {
            None: ("Dear Ms %surname", "Dear %first_name"),
            "EN": ("Dear Ms %surname", "Dear %first_name"),
            "NL": ("Geachte mevrouw %middle_name %surname", "Beste %first_name"),
            "DE": ("Sehr geehrte Frau %surname", "Liebe %first_name"),
            "FR": ("Chère Madame %surname", "Bonjour %first_name"),
            "DA": ("Kære %first_name %surname", "Hej %first_name"),
            "NB": ("Kjære %first_name %surname", "Hei %first_name"),
            "FI": ("Hyvä %first_name %surname", "Hei %first_name"),
        },
    ),
    "DR": (
        "Doctor",
        {
            None: ("Dear Dr %surname", "Dear %first_name"),
            "EN": ("Dear Dr %surname", "Dear %first_name"),
            "NL": ("Geachte dr. %initials %middle_name %surname", "Beste %first_name"),
            "DE": ("Guten Tag Dr. %surname", "Hallo %first_name"),
            "FR": ("Docteur %surname", "Bonjour %first_name"),
            "DA": ("Kære dr. %surname", "Hej %first_name"),
            "NB": ("Kjære dr. %surname", "Hei %first_name"),
            "FI": ("Hyvä tohtori %surname", "Hei %first_name"),
        },
    ),
    "NEUTRAL": (
        "Gender-neutral",
        {
            None: ("Dear %first_name %middle_name %surname", "Hello %first_name"),
            "EN": ("Dear %first_name %middle_name %surname", "Hello %first_name"),
            "NL": ("Geachte %initials %middle_name %surname", "Hallo %first_name"),
            "DE": ("Guten Tag %first_name %surname", "Hallo %first_name"),
            "FR": ("Bonjour %first_name %surname", "Salut %first_name"),
            "DA": ("Kære %first_name %surname", "Hej %first_name"),
            "NB": ("Kjære %first_name %surname", "Hei %first_name"),
            "FI": ("Hyvä %first_name %surname", "Hei %first_name"),
        },
    ),
    # By job title where the language puts one in a salutation; Danish, Norwegian and Finnish
    # greet by name (their job titles are not capitalised in running text).
    "JOBTITLE": (
        "By job title",
        {
            None: ("Dear %job_title", "Hello %first_name"),
            "EN": ("Dear %job_title", "Hello %first_name"),
            "NL": ("Geachte %job_title", "Hallo %first_name"),
            "DE": ("Guten Tag %first_name %surname", "Hallo %first_name"),
            "FR": ("Madame, Monsieur", "Bonjour %first_name"),
            "DA": ("Kære %first_name %surname", "Hej %first_name"),
            "NB": ("Kjære %first_name %surname", "Hei %first_name"),
            "FI": ("Hyvä %first_name %surname", "Hei %first_name"),
        },
    ),
}

INTERACTION_GROUPS = [
    ("LETTER", "Letters"),
    ("EMAIL", "E-mails"),
    ("PHONE", "Phone calls"),
    ("MEETING", "Meetings"),
    ("EVENT", "Events"),
]

CAMPAIGN = {
    "description": "Spring product launch 2026",
    "starting_date": datetime.date(2026, 3, 1),
    "ending_date": datetime.date(2026, 6, 30),
    "salesperson": "AV",
}

# Interaction templates. "languages": {language: (description, subject)}; "campaign": True
# links the demo campaign.
INTERACTION_TEMPLATES = [
    {
        "code": "LETTER",
        "group": "LETTER",
        "description": "Product launch letter",
        "unit_cost": Decimal("1.20"),
        "unit_duration": Decimal("5"),
        "information_flow": "outbound",
        "initiated_by": "us",
        "correspondence_type": "hard_copy",
        "language": "EN",
        "campaign": True,
        "campaign_target": True,
        "languages": {
            "EN": ("Product launch letter", "Introducing our new product line"),
            "NL": ("Brief productlancering", "Maak kennis met onze nieuwe productlijn"),
            "DE": ("Brief Produkteinführung", "Unsere neue Produktlinie"),
            "FR": ("Lettre de lancement", "Découvrez notre nouvelle gamme"),
            "DA": ("Brev om produktlancering", "Mød vores nye produktserie"),
            "NB": ("Brev om produktlansering", "Møt vår nye produktserie"),
            "FI": ("Tuotelanseerauskirje", "Tutustu uuteen tuotesarjaamme"),
        },
    },
    {
        "code": "NEWSLETTER",
        "group": "EMAIL",
        "description": "Monthly newsletter",
        "unit_cost": Decimal("0.05"),
        "unit_duration": Decimal("0"),
        "information_flow": "outbound",
        "initiated_by": "us",
        "correspondence_type": "email",
        "language": "EN",
        "languages": {
            "EN": ("Monthly newsletter", "Our news this month"),
            "NL": ("Maandelijkse nieuwsbrief", "Ons nieuws van deze maand"),
            "DE": ("Monatlicher Newsletter", "Unsere Neuigkeiten in diesem Monat"),
            "FR": ("Lettre d'information mensuelle", "Nos nouvelles du mois"),
            "DA": ("Månedligt nyhedsbrev", "Vores nyheder i denne måned"),
            "NB": ("Månedlig nyhetsbrev", "Nyhetene våre denne måneden"),
            "FI": ("Kuukausittainen uutiskirje", "Tämän kuun uutisemme"),
        },
    },
    {
        "code": "INVITE",
        "group": "EVENT",
        "description": "Event invitation",
        "unit_cost": Decimal("0.10"),
        "unit_duration": Decimal("2"),
        "information_flow": "outbound",
        "initiated_by": "us",
        "correspondence_type": "email",
        "language": "EN",
        "campaign": True,
        "campaign_target": True,
        "languages": {
            "EN": ("Event invitation", "You are invited: our spring event"),
            "NL": ("Uitnodiging evenement", "Uitnodiging: ons voorjaarsevent"),
            "DE": ("Einladung Veranstaltung", "Einladung zu unserem Frühlingsevent"),
            "FR": ("Invitation événement", "Invitation\u00a0: notre événement de printemps"),
            "DA": ("Invitation til arrangement", "Invitation til vores forårsarrangement"),
            "NB": ("Invitasjon til arrangement", "Invitasjon til vårarrangementet vårt"),
            "FI": ("Tapahtumakutsu", "Kutsu kevättapahtumaamme"),
        },
    },
    {
        "code": "THANKS",
        "group": "LETTER",
        "description": "Thank-you letter",
        "unit_cost": Decimal("1.50"),
        "unit_duration": Decimal("10"),
        "information_flow": "outbound",
        "initiated_by": "us",
        "correspondence_type": "hard_copy",
        "ignore_contact_correspondence_type": True,
        "language": "EN",
        "languages": {
            "EN": ("Thank-you letter", "Thank you for your order"),
            "NL": ("Bedankbrief", "Hartelijk dank voor uw bestelling"),
            "DE": ("Dankschreiben", "Vielen Dank für Ihre Bestellung"),
            "FR": ("Lettre de remerciement", "Merci pour votre commande"),
            "DA": ("Takkebrev", "Tak for din bestilling"),
            "NB": ("Takkebrev", "Takk for bestillingen"),
            "FI": ("Kiitoskirje", "Kiitos tilauksestanne"),
        },
    },
    {
        "code": "RESPONSE",
        "group": "EMAIL",
        "description": "Reply to the campaign",
        "information_flow": "inbound",
        "initiated_by": "them",
        "correspondence_type": "email",
        "campaign": True,
        "campaign_response": True,
    },
    {
        "code": "CALL-OUT",
        "group": "PHONE",
        "description": "Outbound phone call",
        "unit_cost": Decimal("2.50"),
        "unit_duration": Decimal("10"),
        "information_flow": "outbound",
        "initiated_by": "us",
        "correspondence_type": "",
    },
    {
        "code": "CALL-IN",
        "group": "PHONE",
        "description": "Inbound phone call",
        "unit_duration": Decimal("5"),
        "information_flow": "inbound",
        "initiated_by": "them",
        "correspondence_type": "",
    },
    {
        "code": "MEETING",
        "group": "MEETING",
        "description": "Meeting at the customer",
        "unit_cost": Decimal("25.00"),
        "unit_duration": Decimal("60"),
        "information_flow": "outbound",
        "initiated_by": "us",
        "correspondence_type": "",
    },
]

# Open segments for the demo users (`seed_demo --segments`): a worksheet each can open at once,
# in the owner's language (description, template, language), with its lines added by one
# criteria step. The descriptions are what a marketing assistant there would type.
DEMO_SEGMENTS = [
    {
        "owner": "marketing-da",
        "description": "Nyhedsbrev april – Danmark",
        "template": "NEWSLETTER",
        "language": "DA",
        "criteria": "country=DK&mailing_group=NEWSLETTER",
    },
    {
        "owner": "marketing-da",
        "description": "Produktlancering – beslutningstagere i Danmark",
        "template": "LETTER",
        "language": "DA",
        "criteria": "country=DK&job_responsibility=MGMT&job_responsibility=PURCHASE",
    },
    {
        "owner": "marketing-nb",
        "description": "Invitasjon til vårarrangementet – Oslo",
        "template": "INVITE",
        "language": "NB",
        "criteria": "country=NO&city=Oslo",
    },
    {
        "owner": "marketing-nb",
        "description": "Nyhetsbrev april – Norge",
        "template": "NEWSLETTER",
        "language": "NB",
        "criteria": "country=NO&mailing_group=NEWSLETTER",
    },
    {
        "owner": "marketing-fi",
        "description": "Tuotelanseeraus – päättäjät Suomessa",
        "template": "LETTER",
        "language": "FI",
        "criteria": "country=FI&job_responsibility=MGMT&job_responsibility=PURCHASE",
    },
    {
        "owner": "marketing-fi",
        "description": "Kiitoskirjeet – asiakkaat Tampereella",
        "template": "THANKS",
        "language": "FI",
        "criteria": "country=FI&city=Tampere",
    },
    {
        "owner": "marketing",
        "description": "Product launch – decision makers in the UK",
        "template": "LETTER",
        "language": "EN",
        "criteria": "country=GB&job_responsibility=MGMT&job_responsibility=PURCHASE",
    },
]


class City(NamedTuple):
    name: str
    territory: str
    weight: int
    # (first, last[, step]) of a numeric range, or a tuple of strings to choose from.
    post_codes: tuple
    area: str
    county: str = ""
    language: str = ""  # where it differs from the country's (Belgium)
    town: str = ""  # the plain name where `name` is a post town with its district ("Aarhus C")


class CountryProfile(NamedTuple):
    code: str
    language: str
    weight: int
    cities: tuple[City, ...]


PROFILES = (
    CountryProfile(
        "NL",
        "NL",
        30,
        (
            City("Amsterdam", "NL-WEST", 30, (1011, 1109), "20"),
            City("Rotterdam", "NL-WEST", 22, (3011, 3089), "10"),
            City("Den Haag", "NL-WEST", 18, (2491, 2597), "70"),
            City("Utrecht", "NL-WEST", 14, (3511, 3585), "30"),
            City("Eindhoven", "NL-SOUTH", 9, (5611, 5658), "40"),
            City("Tilburg", "NL-SOUTH", 7, (5011, 5049), "13"),
            City("Maastricht", "NL-SOUTH", 5, (6211, 6229), "43"),
            City("Groningen", "NL-NORTH", 8, (9711, 9747), "50"),
            City("Zwolle", "NL-NORTH", 5, (8011, 8043), "38"),
            City("Enschede", "NL-NORTH", 5, (7511, 7548), "53"),
        ),
    ),
    CountryProfile(
        "DE",
        "DE",
        20,
        (
            City("Berlin", "DE-NORTH", 30, (10115, 14199), "30"),
            City("Hamburg", "DE-NORTH", 18, (20095, 22769), "40"),
            City("Leipzig", "DE-NORTH", 6, (4103, 4357), "341"),
            City("Köln", "DE-WEST", 11, (50667, 51149), "221"),
            City("Frankfurt am Main", "DE-WEST", 8, (60306, 60599), "69"),
            City("Düsseldorf", "DE-WEST", 6, (40210, 40629), "211"),
            City("München", "DE-SOUTH", 15, (80331, 81929), "89"),
            City("Stuttgart", "DE-SOUTH", 6, (70173, 70629), "711"),
            City("Nürnberg", "DE-SOUTH", 5, (90402, 90491), "911"),
        ),
    ),
    CountryProfile(
        "AT",
        "DE",
        5,
        (
            City("Wien", "AT", 50, (1010, 1230, 10), "1"),
            City("Graz", "AT", 15, (8010, 8055), "316"),
            City("Linz", "AT", 12, (4020, 4040), "732"),
            City("Salzburg", "AT", 10, (5020, 5026), "662"),
            City("Innsbruck", "AT", 8, (6020, 6080, 10), "512"),
        ),
    ),
    CountryProfile(
        "GB",
        "EN",
        15,
        (
            City("London", "UK-LONDON", 45, ("EC1A", "EC2M", "WC2N", "W1D", "SW1A", "SE1", "N1", "E1", "NW1"), "20"),
            City("Manchester", "UK-REGIONS", 12, ("M1", "M2", "M3", "M4", "M15"), "161"),
            City("Birmingham", "UK-REGIONS", 12, ("B1", "B2", "B3", "B4", "B5"), "121"),
            City("Leeds", "UK-REGIONS", 8, ("LS1", "LS2", "LS6", "LS11"), "113"),
            City("Bristol", "UK-REGIONS", 7, ("BS1", "BS2", "BS8"), "117"),
            City("Edinburgh", "UK-REGIONS", 8, ("EH1", "EH2", "EH3", "EH8"), "131"),
            City("Glasgow", "UK-REGIONS", 8, ("G1", "G2", "G3", "G12"), "141"),
        ),
    ),
    CountryProfile(
        "FR",
        "FR",
        10,
        (
            City("Paris", "FR-IDF", 35, (75001, 75020), "1"),
            City("Boulogne-Billancourt", "FR-IDF", 5, ("92100",), "1"),
            City("Lyon", "FR-REGIONS", 15, (69001, 69009), "4"),
            City("Marseille", "FR-REGIONS", 14, (13001, 13016), "4"),
            City("Toulouse", "FR-REGIONS", 10, (31000, 31500, 100), "5"),
            City("Bordeaux", "FR-REGIONS", 8, (33000, 33300, 100), "5"),
            City("Nice", "FR-REGIONS", 7, (6000, 6300, 100), "4"),
            City("Lille", "FR-REGIONS", 6, (59000, 59800, 100), "3"),
            City("Nantes", "FR-REGIONS", 6, (44000, 44300, 100), "2"),
        ),
    ),
    CountryProfile(
        "BE",
        "NL",
        10,
        (
            City("Antwerpen", "BE-FL", 20, ("2000", "2018", "2020", "2030", "2060"), "3"),
            City("Gent", "BE-FL", 14, ("9000", "9030", "9040", "9050"), "9"),
            City("Brugge", "BE-FL", 7, ("8000", "8200", "8310"), "50"),
            City("Leuven", "BE-FL", 7, ("3000", "3001", "3010"), "16"),
            City("Mechelen", "BE-FL", 5, ("2800",), "15"),
            City("Bruxelles", "BE-WAL", 25, ("1000", "1040", "1050", "1060", "1180"), "2", language="FR"),
            City("Liège", "BE-WAL", 10, ("4000", "4020", "4030"), "4", language="FR"),
            City("Charleroi", "BE-WAL", 7, ("6000", "6001", "6010"), "71", language="FR"),
            City("Namur", "BE-WAL", 5, ("5000", "5100"), "81", language="FR"),
        ),
    ),
    CountryProfile(
        "US",
        "EN",
        10,
        (
            City("New York", "US-EAST", 30, (10001, 10282), "212", "NY"),
            City("Boston", "US-EAST", 12, (2108, 2137), "617", "MA"),
            City("Philadelphia", "US-EAST", 10, (19102, 19154), "215", "PA"),
            City("Chicago", "US-CENTRAL", 18, (60601, 60661), "312", "IL"),
            City("Austin", "US-CENTRAL", 10, (78701, 78759), "512", "TX"),
            City("Denver", "US-CENTRAL", 6, (80202, 80239), "303", "CO"),
            City("San Francisco", "US-WEST", 14, (94102, 94134), "415", "CA"),
            City("Seattle", "US-WEST", 10, (98101, 98199), "206", "WA"),
        ),
    ),
    # Danish and Norwegian numbers have no area code: "area" is the first two digits. Danish post
    # towns carry their district ("København K", "Aarhus C": the name on the envelope); "town" is
    # the plain name a company takes ("Aarhus Byg ApS").
    CountryProfile(
        "DK",
        "DA",
        7,
        (
            City(
                "København K",
                "DK",
                18,
                ("1050", "1100", "1150", "1160", "1250", "1300", "1360", "1411", "1450", "1470"),
                "33",
                town="København",
            ),
            City(
                "København V", "DK", 9, ("1550", "1560", "1620", "1650", "1700", "1720", "1799"), "33", town="København"
            ),
            City("København Ø", "DK", 7, ("2100",), "35", town="København"),
            City("København N", "DK", 6, ("2200",), "35", town="København"),
            City("Frederiksberg", "DK", 5, ("1800", "1850", "2000"), "38"),
            City("Aarhus C", "DK", 11, ("8000",), "86", town="Aarhus"),
            City("Aarhus N", "DK", 5, ("8200",), "87", town="Aarhus"),
            City("Viby J", "DK", 3, ("8260",), "87", town="Aarhus"),
            City("Odense C", "DK", 8, ("5000",), "66", town="Odense"),
            City("Odense SØ", "DK", 3, ("5220",), "65", town="Odense"),
            City("Aalborg", "DK", 8, ("9000",), "98"),
            City("Esbjerg", "DK", 4, ("6700",), "75"),
            City("Kolding", "DK", 4, ("6000",), "76"),
            City("Vejle", "DK", 3, ("7100",), "75"),
            City("Roskilde", "DK", 3, ("4000",), "46"),
            City("Herning", "DK", 3, ("7400",), "97"),
        ),
    ),
    # Oslo's post codes come in blocks per district (0150–0198 the centre, 0250–0287 Frogner …).
    CountryProfile(
        "NO",
        "NB",
        5,
        (
            City("Oslo", "NO", 16, (150, 198), "22"),
            City("Oslo", "NO", 8, (250, 287), "22"),
            City("Oslo", "NO", 8, (350, 383), "23"),
            City("Oslo", "NO", 8, (450, 491), "22"),
            City("Oslo", "NO", 8, (550, 598), "23"),
            City("Bergen", "NO", 20, (5003, 5059), "55"),
            City("Trondheim", "NO", 14, (7010, 7053), "73"),
            City("Stavanger", "NO", 12, (4005, 4036), "51"),
            City("Drammen", "NO", 5, (3011, 3048), "32"),
            City("Kristiansand", "NO", 5, (4608, 4639), "38"),
            City("Tromsø", "NO", 5, (9008, 9024), "77"),
        ),
    ),
    CountryProfile(
        "FI",
        "FI",
        5,
        (
            City("Helsinki", "FI", 36, (100, 990, 10), "9"),
            City("Espoo", "FI", 12, (2100, 2380, 10), "9"),
            City("Vantaa", "FI", 6, ("01300", "01350", "01510", "01600", "01730"), "9"),
            City(
                "Tampere",
                "FI",
                16,
                ("33100", "33180", "33200", "33210", "33230", "33240", "33500", "33540", "33720", "33900"),
                "3",
            ),
            City(
                "Turku",
                "FI",
                13,
                ("20100", "20200", "20240", "20300", "20380", "20500", "20520", "20700", "20810"),
                "2",
            ),
            City("Oulu", "FI", 9, ("90100", "90120", "90130", "90220", "90500", "90570", "90650"), "8"),
            City("Jyväskylä", "FI", 8, ("40100", "40320", "40520", "40600", "40700"), "14"),
        ),
    ),
)

# Street names per country (Belgium per language); "{n}" is the house number's place.
STREETS = {
    "NL": [
        "Kerkstraat {n}",
        "Dorpsstraat {n}",
        "Stationsweg {n}",
        "Hoofdstraat {n}",
        "Molenweg {n}",
        "Schoolstraat {n}",
        "Julianastraat {n}",
        "Wilhelminastraat {n}",
        "Beatrixlaan {n}",
        "Prinsengracht {n}",
        "Marktplein {n}",
        "Kastanjelaan {n}",
        "Industrieweg {n}",
        "Havenstraat {n}",
        "Nieuwe Gracht {n}",
    ],
    "DE": [
        "Hauptstraße {n}",
        "Bahnhofstraße {n}",
        "Gartenstraße {n}",
        "Schulstraße {n}",
        "Dorfstraße {n}",
        "Bergstraße {n}",
        "Lindenstraße {n}",
        "Goethestraße {n}",
        "Schillerstraße {n}",
        "Industriestraße {n}",
        "Kirchweg {n}",
        "Am Markt {n}",
        "Mozartstraße {n}",
        "Ringstraße {n}",
    ],
    "AT": [
        "Hauptplatz {n}",
        "Bahnhofstraße {n}",
        "Mariahilfer Straße {n}",
        "Landstraße {n}",
        "Kirchengasse {n}",
        "Schulgasse {n}",
        "Mozartgasse {n}",
        "Ringstraße {n}",
        "Wiener Straße {n}",
        "Gartengasse {n}",
    ],
    "GB": [
        "{n} High Street",
        "{n} Station Road",
        "{n} Church Lane",
        "{n} Victoria Road",
        "{n} Park Avenue",
        "{n} Mill Lane",
        "{n} King Street",
        "{n} Queen's Road",
        "{n} London Road",
        "{n} Manor Way",
        "{n} Elm Grove",
        "{n} The Green",
    ],
    "FR": [
        "{n} rue de la République",
        "{n} rue Victor Hugo",
        "{n} avenue Jean Jaurès",
        "{n} boulevard Gambetta",
        "{n} rue Pasteur",
        "{n} place de la Mairie",
        "{n} rue du Moulin",
        "{n} avenue de la Gare",
        "{n} rue des Écoles",
        "{n} rue Nationale",
    ],
    "BE-NL": [
        "Kerkstraat {n}",
        "Stationsstraat {n}",
        "Molenstraat {n}",
        "Nieuwstraat {n}",
        "Grote Markt {n}",
        "Kapelstraat {n}",
        "Dorpsstraat {n}",
        "Veldstraat {n}",
    ],
    "BE-FR": [
        "Rue de la Station {n}",
        "Rue Royale {n}",
        "Chaussée de Bruxelles {n}",
        "Rue de l'Église {n}",
        "Avenue Louise {n}",
        "Place Saint-Lambert {n}",
    ],
    "US": [
        "{n} Main Street",
        "{n} Oak Avenue",
        "{n} Maple Street",
        "{n} Washington Avenue",
        "{n} Park Place",
        "{n} 2nd Street",
        "{n} Elm Street",
        "{n} Broadway",
        "{n} Cedar Lane",
        "{n} Pine Street",
        "{n} Market Street",
    ],
    "DK": [
        "Vesterbrogade {n}",
        "Nørregade {n}",
        "Østergade {n}",
        "Søndergade {n}",
        "Strandvejen {n}",
        "Algade {n}",
        "Skolevej {n}",
        "Bredgade {n}",
        "Havnegade {n}",
        "Industrivej {n}",
    ],
    "NO": [
        "Storgata {n}",
        "Kirkegata {n}",
        "Dronningens gate {n}",
        "Kongens gate {n}",
        "Parkveien {n}",
        "Skolegata {n}",
        "Strandgata {n}",
        "Torggata {n}",
        "Industriveien {n}",
    ],
    "FI": [
        "Mannerheimintie {n}",
        "Aleksanterinkatu {n}",
        "Hämeenkatu {n}",
        "Kauppakatu {n}",
        "Koulukatu {n}",
        "Rantatie {n}",
        "Asemakatu {n}",
        "Puistokatu {n}",
        "Teollisuustie {n}",
    ],
}

# Names per culture: male first names, female first names, (middle name, surname) pairs.
_NL_SURNAMES = [
    ("", "Jansen"),
    ("de", "Vries"),
    ("van den", "Berg"),
    ("", "Bakker"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("de", "Boer"),
    ("", "Mulder"),
    ("de", "Groot"),
    ("", "Bos"),
    ("van", "Dijk"),
    ("", "Vos"),
    ("", "Peters"),
    ("van der", "Meer"),
    ("", "Hendriks"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
]
_DE_SURNAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
]
_DE_MALE = ["Lukas", "Felix", "Jonas", "Paul", "Maximilian", "Leon", "Thomas", "Stefan", "Michael", "Andreas"]
_DE_FEMALE = ["Anna", "Lena", "Marie", "Sophie", "Laura", "Julia", "Katharina", "Sabine", "Claudia", "Hannah"]
_FR_MALE = ["Jean", "Pierre", "Louis", "Lucas", "Hugo", "Nicolas", "Julien", "Antoine", "Thomas", "Mathieu"]
_FR_FEMALE = ["Marie", "Camille", "Chloé", "Léa", "Manon", "Julie", "Sophie", "Élodie", "Claire", "Amélie"]

NAMES = {
    "DK": (
        ["Lars", "Jens", "Peter", "Mads", "Søren", "Anders", "Henrik", "Mikkel", "Rasmus", "Christian"],
        ["Anne", "Mette", "Camilla", "Sofie", "Louise", "Maria", "Hanne", "Ida", "Line", "Kirsten"],
        [
            ("", s)
            for s in (
                "Jensen",
                "Nielsen",
                "Hansen",
                "Pedersen",
                "Andersen",
                "Christensen",
                "Larsen",
                "Sørensen",
                "Rasmussen",
                "Jørgensen",
                "Madsen",
                "Kristensen",
            )
        ],
    ),
    "NO": (
        ["Ole", "Lars", "Jan", "Per", "Bjørn", "Kjetil", "Håkon", "Anders", "Eirik", "Magnus"],
        ["Anne", "Ingrid", "Kari", "Silje", "Marit", "Hilde", "Ingeborg", "Nora", "Ida", "Tone"],
        [
            ("", s)
            for s in (
                "Hansen",
                "Johansen",
                "Olsen",
                "Larsen",
                "Andersen",
                "Pedersen",
                "Nilsen",
                "Kristiansen",
                "Berg",
                "Haugen",
                "Hagen",
                "Bakken",
            )
        ],
    ),
    "FI": (
        ["Matti", "Juha", "Mikko", "Jari", "Timo", "Antti", "Jukka", "Ville", "Mika", "Sami"],
        ["Anna", "Laura", "Johanna", "Sari", "Minna", "Tiina", "Elina", "Aino", "Emilia", "Kaisa"],
        [
            ("", s)
            for s in (
                "Korhonen",
                "Virtanen",
                "Mäkinen",
                "Nieminen",
                "Mäkelä",
                "Hämäläinen",
                "Laine",
                "Heikkinen",
                "Koskinen",
                "Järvinen",
                "Lehtonen",
                "Saarinen",
            )
        ],
    ),
    "NL": (
        ["Jan", "Pieter", "Daan", "Bram", "Thijs", "Sander", "Joost", "Ruben", "Willem", "Maarten", "Koen"],
        ["Sanne", "Emma", "Lotte", "Femke", "Anouk", "Eva", "Iris", "Marieke", "Julia", "Anne", "Lisa"],
        _NL_SURNAMES,
    ),
    "DE": (_DE_MALE, _DE_FEMALE, [("", s) for s in _DE_SURNAMES]),
    "AT": (
        _DE_MALE,
        _DE_FEMALE,
        [("", s) for s in ("Gruber", "Huber", "Bauer", "Wagner", "Pichler", "Steiner", "Moser", "Mayer", "Hofer")],
    ),
    "GB": (
        ["James", "Oliver", "Thomas", "Jack", "Harry", "George", "William", "Daniel", "Samuel", "Edward"],
        ["Emily", "Sophie", "Charlotte", "Amelia", "Olivia", "Grace", "Lucy", "Hannah", "Eleanor", "Alice"],
        [
            ("", s)
            for s in (
                "Smith",
                "Jones",
                "Taylor",
                "Brown",
                "Williams",
                "Wilson",
                "Davies",
                "Evans",
                "Roberts",
                "Walker",
                "Wright",
                "Thompson",
                "Hughes",
                "Green",
                "Hall",
                "Clarke",
                "Patel",
                "O'Brien",
            )
        ],
    ),
    "US": (
        ["Michael", "David", "John", "Robert", "Christopher", "Matthew", "Andrew", "Joshua", "Ryan", "Brian"],
        ["Jennifer", "Sarah", "Jessica", "Ashley", "Emily", "Megan", "Rachel", "Lauren", "Amanda", "Nicole"],
        [
            ("", s)
            for s in (
                "Johnson",
                "Miller",
                "Garcia",
                "Davis",
                "Rodriguez",
                "Martinez",
                "Anderson",
                "Moore",
                "Jackson",
                "White",
                "Harris",
                "Clark",
                "Lewis",
                "Robinson",
                "Young",
                "Allen",
                "King",
                "Nguyen",
            )
        ],
    ),
    "FR": (
        _FR_MALE,
        _FR_FEMALE,
        [
            ("", s)
            for s in (
                "Martin",
                "Bernard",
                "Dubois",
                "Thomas",
                "Robert",
                "Richard",
                "Petit",
                "Durand",
                "Leroy",
                "Moreau",
                "Simon",
                "Laurent",
                "Lefèvre",
                "Michel",
                "Fournier",
                "Girard",
                "Bonnet",
                "Roux",
            )
        ],
    ),
    "BE-NL": (
        ["Wouter", "Pieter", "Jens", "Stijn", "Bart", "Tom", "Kobe", "Arne", "Lucas", "Koen"],
        ["Lies", "Els", "An", "Sofie", "Hanne", "Marie", "Lotte", "Ine", "Katrien", "Eline"],
        [
            ("", s)
            for s in (
                "Peeters",
                "Janssens",
                "Maes",
                "Jacobs",
                "Mertens",
                "Willems",
                "Claes",
                "Goossens",
                "Wouters",
                "De Smet",
                "Van Damme",
                "Vermeulen",
            )
        ],
    ),
    "BE-FR": (
        _FR_MALE,
        _FR_FEMALE,
        [
            ("", s)
            for s in (
                "Dubois",
                "Lambert",
                "Dupont",
                "Martin",
                "Simon",
                "Leclercq",
                "Renard",
                "Lejeune",
                "François",
                "Dumont",
                "Denis",
                "Lemaire",
            )
        ],
    ),
}

# Legal forms per culture.
LEGAL_FORMS = {
    "NL": ["B.V.", "B.V.", "B.V.", "N.V.", "V.O.F."],
    "DE": ["GmbH", "GmbH", "GmbH", "AG", "GmbH & Co. KG"],
    "AT": ["GmbH", "GmbH", "AG", "KG"],
    "GB": ["Ltd", "Ltd", "Ltd", "plc", "LLP"],
    "US": ["Inc.", "Inc.", "LLC", "Corp."],
    "FR": ["SARL", "SAS", "SAS", "SA"],
    "BE-NL": ["BV", "BV", "NV", "CommV"],
    "BE-FR": ["SRL", "SRL", "SA", "SCS"],
    "DK": ["ApS", "ApS", "A/S", "A/S", "I/S"],
    "NO": ["AS", "AS", "AS", "ASA"],
    "FI": ["Oy", "Oy", "Oy", "Oyj", "Ky"],
}

# Danish, Norwegian and Finnish e-mail addresses end in their country's top-level domain under
# the reserved `.example` (`jensen-teknik.dk.example`, `lars.hansen7@post.no.example`): they read
# as Nordic and can never reach a real inbox. Other countries' stay `….example` (the bench
# searches for "mail.example").
MAIL_TOP_LEVEL = {"DK": "dk.", "NO": "no.", "FI": "fi."}
PRIVATE_MAIL_PROVIDERS = ["mail", "post", "webmail", "inbox"]

# Consent the demo records (CONTRACT "Consent per channel"), so the contact card, its history
# and the consent criteria have something to show: (channel, state, source, days before
# ANCHOR_DATE). Each entry goes to one person with an e-mail address; everyone else stays
# unknown on every channel.
CONSENT_PLAN = [
    ("email", "granted", "newsletter sign-up form", 200),
    ("email", "granted", "newsletter sign-up form", 150),
    ("email", "granted", "trade fair", 90),
    ("email", "granted", "phone call", 45),
    ("email", "withdrawn", "reply to the newsletter: no more e-mails", 60),
    ("email", "withdrawn", "phone call", 30),
    ("email", "withdrawn", "written request", 12),
    ("postal", "granted", "signed order form", 120),
    ("postal", "granted", "phone call", 75),
    ("postal", "withdrawn", "written request", 40),
    ("postal", "withdrawn", "returned mail: do not send", 20),
    ("phone", "granted", "phone call", 100),
    ("phone", "withdrawn", "phone call", 15),
]
# Every CONSENT_SPACING-th person with an e-mail address gets the next entry of the plan.
CONSENT_SPACING = 7
