"""The Word letters of the demo templates: one per template and language, each written in its
language (not translated word by word), built in code by `interactions.sample_template.letter_docx`.

What every letter here keeps to (tests/segments/test_demo_letters.py renders them all):
- the salutation formula has no punctuation (crm/demo_data.py SALUTATIONS); the letter adds
  what its language wants after it: a comma everywhere, German then goes on in lower case;
- it speaks of the contact's company only when there is one (`{% if contact.company_name %}`:
  empty for a company's own line and for a private person), and never ends a sentence with a
  company name (many end in a full stop: "Inc.", "Co.");
- the address block, date, reference and subject are on paper only (`channel == "letter"`); an
  e-mail says "this e-mail" where a letter says "this letter".

The templates differ in purpose: LETTER introduces the new product line, NEWSLETTER is the
monthly news (informal salutation), INVITE invites to the spring event, THANKS thanks for an
order.
"""

from __future__ import annotations

from functools import cache

from interactions.sample_template import LetterText, letter_docx

NBSP = "\u00a0"  # French puts one before ":" and "?"

FORMAL, INFORMAL = "{{ salutation_formal }},", "{{ salutation_informal }},"
IF_COMPANY, ELSE, END = "{% if contact.company_name %}", "{% else %}", "{% endif %}"


def _channel(email: str, letter: str) -> str:
    return '{% if channel == "email" %}' + email + ELSE + letter + END


# Per language: the document's language tag, "our reference:", the date format, and the line
# under an e-mail that has an unsubscribe link.
_LANGUAGE = {
    "EN": ("en-GB", "Our reference:", "j F Y", "No longer want these e-mails? Unsubscribe:"),
    "DE": ("de-DE", "Unser Zeichen:", "j. F Y", "Sie möchten diese E-Mails nicht mehr erhalten? Hier abmelden:"),
    "NL": ("nl-NL", "Ons kenmerk:", "j F Y", "Wilt u deze e-mails niet meer ontvangen? Meld u hier af:"),
    "FR": (
        "fr-FR",
        f"Notre référence{NBSP}:",
        "j F Y",
        f"Vous ne souhaitez plus recevoir ces e-mails{NBSP}? Désabonnez-vous ici{NBSP}:",
    ),
    "DA": ("da-DK", "Vores reference:", "j. F Y", "Vil du ikke længere modtage disse e-mails? Afmeld dig her:"),
    "NB": ("nb-NO", "Vår referanse:", "j. F Y", "Vil du ikke lenger motta disse e-postene? Meld deg av her:"),
    "FI": ("fi-FI", "Viitteemme:", "j.n.Y", "Etkö halua enää näitä sähköposteja? Peru tilaus tästä:"),
}

# template code -> language -> (salutation paragraph, body paragraphs, closing)
_TEXTS: dict[str, dict[str, tuple[str, tuple[str, ...], str]]] = {
    "LETTER": {
        "EN": (
            FORMAL,
            (
                f"{IF_COMPANY}We would like to introduce you and your colleagues at {{{{ contact.company_name }}}}"
                f" to our new product line{ELSE}We would like to introduce you to our new product line{END}:"
                " lighter, more durable and easier to order than ever before. It arrives this spring, and you are"
                " among the first to hear about it.",
                "I would be glad to show you what it can do for you. Simply reply to this "
                + _channel("e-mail", "letter")
                + ", call me on {{ salesperson.phone }} or write to {{ salesperson.email }}.",
            ),
            "Kind regards,",
        ),
        "DE": (
            FORMAL,
            (
                f"{IF_COMPANY}gerne stellen wir Ihnen und Ihren Kolleginnen und Kollegen bei"
                f" {{{{ contact.company_name }}}} unsere neue Produktlinie vor{ELSE}gerne stellen wir Ihnen unsere"
                f" neue Produktlinie vor{END}: leichter, langlebiger und einfacher zu bestellen als je zuvor. Sie"
                " kommt in diesem Frühjahr auf den Markt, und Sie gehören zu den Ersten, die davon erfahren.",
                "Ich zeige Ihnen gerne, was sie für Sie leisten kann. Antworten Sie einfach auf "
                + _channel("diese E-Mail", "diesen Brief")
                + ", rufen Sie mich unter {{ salesperson.phone }} an oder schreiben Sie mir an"
                " {{ salesperson.email }}.",
            ),
            "Mit freundlichen Grüßen",
        ),
        "NL": (
            FORMAL,
            (
                f"{IF_COMPANY}Graag laten wij u en uw collega's bij {{{{ contact.company_name }}}} kennismaken met"
                f" onze nieuwe productlijn{ELSE}Graag laten wij u kennismaken met onze nieuwe productlijn{END}:"
                " lichter, sterker en eenvoudiger te bestellen dan ooit. Dit voorjaar komt hij op de markt, en u"
                " bent een van de eersten die het hoort.",
                "Ik laat u graag zien wat de nieuwe lijn voor u kan betekenen. Beantwoord gewoon deze "
                + _channel("e-mail", "brief")
                + ", bel mij op {{ salesperson.phone }} of mail naar {{ salesperson.email }}.",
            ),
            "Met vriendelijke groet,",
        ),
        "FR": (
            FORMAL,
            (
                f"{IF_COMPANY}Nous avons le plaisir de vous présenter, à vous et à vos collègues de"
                f" {{{{ contact.company_name }}}}, notre nouvelle gamme{ELSE}Nous avons le plaisir de vous"
                f" présenter notre nouvelle gamme{END}{NBSP}: plus légère, plus robuste et plus simple à commander"
                " que jamais. Elle arrive ce printemps, et vous faites partie des premiers à la découvrir.",
                "C'est avec plaisir que je vous montrerai ce qu'elle peut vous apporter. Il vous suffit de répondre"
                " à "
                + _channel("cet e-mail", "ce courrier")
                + ", de m'appeler au {{ salesperson.phone }} ou de m'écrire à {{ salesperson.email }}.",
            ),
            "Bien cordialement,",
        ),
        "DA": (
            FORMAL,
            (
                f"{IF_COMPANY}Vi vil gerne præsentere dig og dine kolleger hos {{{{ contact.company_name }}}} for"
                f" vores nye produktserie{ELSE}Vi vil gerne præsentere dig for vores nye produktserie{END}: lettere,"
                " mere holdbar og nemmere at bestille end nogensinde før. Den kommer på markedet til foråret, og du"
                " er blandt de første, der hører om den.",
                "Jeg viser dig gerne, hvad den kan gøre for dig. Svar blot på "
                + _channel("denne e-mail", "dette brev")
                + ", ring til mig på {{ salesperson.phone }} eller skriv til {{ salesperson.email }}.",
            ),
            "Med venlig hilsen",
        ),
        "NB": (
            FORMAL,
            (
                f"{IF_COMPANY}Vi vil gjerne presentere vår nye produktserie for deg og kollegene dine i"
                f" {{{{ contact.company_name }}}}{ELSE}Vi vil gjerne presentere vår nye produktserie for deg{END}:"
                " lettere, mer holdbar og enklere å bestille enn noen gang. Den kommer på markedet i vår, og du er"
                " blant de første som får høre om den.",
                "Jeg viser deg gjerne hva den kan gjøre for deg. Svar på "
                + _channel("denne e-posten", "dette brevet")
                + ", ring meg på {{ salesperson.phone }} eller skriv til {{ salesperson.email }}.",
            ),
            "Med vennlig hilsen",
        ),
        "FI": (
            FORMAL,
            (
                f"{IF_COMPANY}Haluamme esitellä uuden tuotesarjamme teille ja kollegoillenne"
                f" {{{{ contact.company_name }}}} -yhtiössä{ELSE}Haluamme esitellä teille uuden tuotesarjamme{END}:"
                " se on kevyempi, kestävämpi ja helpompi tilata kuin koskaan ennen. Sarja tulee markkinoille"
                " keväällä, ja kuulette siitä ensimmäisten joukossa.",
                "Esittelen mielelläni, mitä sarja voi tarjota teille. Voitte vastata "
                + _channel("tähän sähköpostiin", "tähän kirjeeseen")
                + ", soittaa minulle numeroon {{ salesperson.phone }} tai kirjoittaa osoitteeseen"
                " {{ salesperson.email }}.",
            ),
            "Ystävällisin terveisin",
        ),
    },
    "NEWSLETTER": {
        "EN": (
            INFORMAL,
            (
                "Here is what has been happening at {{ company.name }} this month.",
                "Our new product line arrives this spring: lighter, more durable and easier to order. Customers"
                " who tried it early tell us it saves them time every week.",
                "We are also opening our doors for the spring event, with demonstrations, workshops and time to"
                " talk. The invitation follows shortly.",
                f"{IF_COMPANY}Would your colleagues at {{{{ contact.company_name }}}} like this newsletter too? Just"
                f" forward it to them.{ELSE}Do you know someone who would enjoy this newsletter? Feel free to"
                f" forward it.{END} Questions or ideas? Reply to this "
                + _channel("e-mail", "letter")
                + ": I read every answer.",
            ),
            "Best wishes,",
        ),
        "DE": (
            INFORMAL,
            (
                "hier sind unsere Neuigkeiten aus diesem Monat.",
                "Unsere neue Produktlinie kommt im Frühjahr: leichter, langlebiger und einfacher zu bestellen."
                " Kunden, die sie schon testen konnten, sparen damit jede Woche Zeit.",
                "Außerdem öffnen wir unsere Türen für das Frühlingsevent, mit Vorführungen, Workshops und Zeit für"
                " Gespräche. Die Einladung folgt in Kürze.",
                f"{IF_COMPANY}Möchten auch Ihre Kolleginnen und Kollegen bei {{{{ contact.company_name }}}} diesen"
                f" Newsletter erhalten? Leiten Sie ihn einfach weiter.{ELSE}Kennen Sie jemanden, den dieser"
                f" Newsletter interessiert? Leiten Sie ihn gerne weiter.{END} Fragen oder Ideen? Antworten Sie"
                " einfach auf " + _channel("diese E-Mail", "diesen Brief") + ": Ich lese jede Antwort.",
            ),
            "Viele Grüße",
        ),
        "NL": (
            INFORMAL,
            (
                "Hierbij ons nieuws van deze maand.",
                "Onze nieuwe productlijn komt dit voorjaar: lichter, sterker en eenvoudiger te bestellen. Klanten"
                " die hem al mochten testen, besparen er elke week tijd mee.",
                "Daarnaast openen we de deuren voor ons voorjaarsevent, met demonstraties, workshops en tijd voor"
                " een goed gesprek. De uitnodiging volgt binnenkort.",
                f"{IF_COMPANY}Willen uw collega's bij {{{{ contact.company_name }}}} deze nieuwsbrief ook"
                f" ontvangen? Stuur hem gerust door.{ELSE}Kent u iemand die deze nieuwsbrief ook graag leest? Stuur"
                f" hem gerust door.{END} Vragen of ideeën? Beantwoord gewoon deze "
                + _channel("e-mail", "brief")
                + ": ik lees elke reactie.",
            ),
            "Hartelijke groet,",
        ),
        "FR": (
            INFORMAL,
            (
                "Voici nos nouvelles du mois.",
                f"Notre nouvelle gamme arrive ce printemps{NBSP}: plus légère, plus robuste et plus simple à"
                " commander. Les clients qui l'ont déjà essayée nous disent qu'elle leur fait gagner du temps"
                " chaque semaine.",
                "Nous ouvrons aussi nos portes pour notre événement de printemps, avec des démonstrations, des"
                " ateliers et du temps pour échanger. L'invitation suivra très bientôt.",
                f"{IF_COMPANY}Vos collègues de {{{{ contact.company_name }}}} aimeraient aussi recevoir cette"
                f" lettre{NBSP}? Transférez-la-leur simplement.{ELSE}Vous connaissez quelqu'un que cette lettre"
                f" intéresserait{NBSP}? N'hésitez pas à la transférer.{END} Une question, une idée{NBSP}? Répondez"
                " simplement à " + _channel("cet e-mail", "ce courrier") + f"{NBSP}: je lis toutes les réponses.",
            ),
            "À bientôt,",
        ),
        "DA": (
            INFORMAL,
            (
                "Her er vores nyheder for denne måned.",
                "Vores nye produktserie kommer til foråret: lettere, mere holdbar og nemmere at bestille. Kunder,"
                " der allerede har prøvet den, fortæller, at de sparer tid hver uge.",
                "Vi åbner også dørene til vores forårsarrangement med demonstrationer, workshops og tid til en god"
                " snak. Invitationen følger snart.",
                f"{IF_COMPANY}Vil dine kolleger hos {{{{ contact.company_name }}}} også have nyhedsbrevet? Send det"
                f" bare videre til dem.{ELSE}Kender du nogen, der vil have glæde af nyhedsbrevet? Send det gerne"
                f" videre.{END} Spørgsmål eller idéer? Svar blot på "
                + _channel("denne e-mail", "dette brev")
                + ". Jeg læser alle svar.",
            ),
            "Mange hilsner",
        ),
        "NB": (
            INFORMAL,
            (
                "Her er nyhetene våre denne måneden.",
                "Den nye produktserien vår kommer i vår: lettere, mer holdbar og enklere å bestille. Kunder som"
                " allerede har prøvd den, forteller at de sparer tid hver uke.",
                "Vi åpner også dørene for vårarrangementet vårt, med demonstrasjoner, workshops og tid til en god"
                " prat. Invitasjonen kommer snart.",
                f"{IF_COMPANY}Vil kollegene dine i {{{{ contact.company_name }}}} også ha nyhetsbrevet? Send det"
                f" gjerne videre til dem.{ELSE}Kjenner du noen som vil ha glede av nyhetsbrevet? Send det gjerne"
                f" videre.{END} Spørsmål eller ideer? Svar på "
                + _channel("denne e-posten", "dette brevet")
                + ". Jeg leser alle svar.",
            ),
            "Beste hilsen",
        ),
        "FI": (
            INFORMAL,
            (
                "Tässä tämän kuun uutisemme.",
                "Uusi tuotesarjamme tulee markkinoille keväällä: se on kevyempi, kestävämpi ja helpompi tilata."
                " Asiakkaat, jotka ovat jo kokeilleet sitä, kertovat säästävänsä aikaa joka viikko.",
                "Avaamme myös ovemme kevättapahtumaamme, jossa on esittelyjä, työpajoja ja aikaa keskustella."
                " Kutsu tulee pian.",
                f"{IF_COMPANY}Haluaisivatko myös kollegasi {{{{ contact.company_name }}}} -yhtiössä saada"
                f" uutiskirjeen? Välitä se heille.{ELSE}Tiedätkö jonkun, jota uutiskirje kiinnostaisi? Välitä se"
                f" rohkeasti eteenpäin.{END} Kysyttävää tai ideoita? Vastaa "
                + _channel("tähän sähköpostiin", "tähän kirjeeseen")
                + ". Luen jokaisen vastauksen.",
            ),
            "Parhain terveisin",
        ),
    },
    "INVITE": {
        "EN": (
            FORMAL,
            (
                "We are delighted to invite you to our spring event on Thursday 16 April 2026 at our showroom,"
                " where we will present our new product line.",
                f"{IF_COMPANY}Your colleagues at {{{{ contact.company_name }}}} are most welcome too. {END}Expect"
                " short demonstrations, conversations with our product specialists and a relaxed lunch. Taking"
                " part is free of charge.",
                "Would you like to come? Reply to this "
                + _channel("e-mail", "letter")
                + " or write to me at {{ salesperson.email }}, and I will send you the programme and directions.",
            ),
            "Kind regards,",
        ),
        "DE": (
            FORMAL,
            (
                "wir freuen uns, Sie am Donnerstag, dem 16. April 2026, zu unserem Frühlingsevent in unseren"
                " Showroom einzuladen. Dort stellen wir Ihnen unsere neue Produktlinie vor.",
                f"{IF_COMPANY}Ihre Kolleginnen und Kollegen bei {{{{ contact.company_name }}}} sind ebenfalls"
                f" herzlich willkommen. {END}Es erwarten Sie kurze Vorführungen, Gespräche mit unseren"
                " Produktexperten und ein entspanntes Mittagessen. Die Teilnahme ist kostenlos.",
                "Haben Sie Lust, dabei zu sein? Antworten Sie einfach auf "
                + _channel("diese E-Mail", "diesen Brief")
                + " oder schreiben Sie mir an {{ salesperson.email }}. Ich schicke Ihnen dann gerne das Programm"
                " und eine Anfahrtsbeschreibung.",
            ),
            "Mit freundlichen Grüßen",
        ),
        "NL": (
            FORMAL,
            (
                "Graag nodigen wij u uit voor ons voorjaarsevent op donderdag 16 april 2026 in onze"
                " showroom, waar wij onze nieuwe productlijn presenteren.",
                f"{IF_COMPANY}Uw collega's bij {{{{ contact.company_name }}}} zijn uiteraard ook van harte welkom."
                f" {END}U kunt korte demonstraties, gesprekken met onze productspecialisten en een ontspannen lunch"
                " verwachten. Deelname is kosteloos.",
                "Komt u ook? Beantwoord dan deze "
                + _channel("e-mail", "brief")
                + " of mail mij op {{ salesperson.email }}, dan stuur ik u het programma en de routebeschrijving.",
            ),
            "Met vriendelijke groet,",
        ),
        "FR": (
            FORMAL,
            (
                "Nous avons le plaisir de vous inviter à notre événement de printemps, le jeudi 16 avril 2026"
                " dans notre showroom, où nous présenterons notre nouvelle gamme.",
                f"{IF_COMPANY}Vos collègues de {{{{ contact.company_name }}}} sont bien entendu les bienvenus."
                f" {END}Au programme{NBSP}: de courtes démonstrations, des échanges avec nos spécialistes produits"
                " et un déjeuner convivial. La participation est gratuite.",
                f"Vous souhaitez venir{NBSP}? Répondez à "
                + _channel("cet e-mail", "ce courrier")
                + " ou écrivez-moi à {{ salesperson.email }}, et je vous enverrai le programme et le plan d'accès.",
            ),
            "Bien cordialement,",
        ),
        "DA": (
            FORMAL,
            (
                "Vi har hermed fornøjelsen at invitere dig til vores forårsarrangement torsdag den 16. april 2026"
                " i vores showroom, hvor vi præsenterer vores nye produktserie.",
                f"{IF_COMPANY}Dine kolleger hos {{{{ contact.company_name }}}} er naturligvis også meget velkomne."
                f" {END}Du kan se frem til korte demonstrationer, samtaler med vores produktspecialister og en"
                " afslappet frokost. Det er gratis at deltage.",
                "Har du lyst til at komme? Svar på "
                + _channel("denne e-mail", "dette brev")
                + " eller skriv til mig på {{ salesperson.email }}, så sender jeg dig programmet og en"
                " rutevejledning.",
            ),
            "Med venlig hilsen",
        ),
        "NB": (
            FORMAL,
            (
                "Vi har gleden av å invitere deg til vårarrangementet vårt torsdag 16. april 2026 i showrommet"
                " vårt, der vi presenterer den nye produktserien vår.",
                f"{IF_COMPANY}Kollegene dine i {{{{ contact.company_name }}}} er selvsagt også hjertelig velkommen."
                f" {END}Du kan se fram til korte demonstrasjoner, samtaler med produktspesialistene våre og en"
                " avslappet lunsj. Det er gratis å delta.",
                "Har du lyst til å komme? Svar på "
                + _channel("denne e-posten", "dette brevet")
                + " eller skriv til meg på {{ salesperson.email }}, så sender jeg deg programmet og en"
                " veibeskrivelse.",
            ),
            "Med vennlig hilsen",
        ),
        "FI": (
            FORMAL,
            (
                "Kutsumme teidät kevättapahtumaamme, joka järjestetään torstaina 16.4.2026"
                " näyttelytiloissamme. Tapahtumassa esittelemme uuden tuotesarjamme.",
                f"{IF_COMPANY}Myös kolleganne {{{{ contact.company_name }}}} -yhtiössä ovat lämpimästi"
                f" tervetulleita. {END}Luvassa on lyhyitä esittelyjä, keskusteluja tuoteasiantuntijoidemme kanssa"
                " ja rento lounas. Osallistuminen on maksutonta.",
                "Ilmoittautuminen onnistuu vastaamalla "
                + _channel("tähän sähköpostiin", "tähän kirjeeseen")
                + " tai kirjoittamalla minulle osoitteeseen {{ salesperson.email }}. Lähetän teille sen jälkeen"
                " ohjelman ja ajo-ohjeet.",
            ),
            "Ystävällisin terveisin",
        ),
    },
    "THANKS": {
        "EN": (
            FORMAL,
            (
                f"{IF_COMPANY}Many thanks for your order, and for the trust that you and your colleagues at"
                f" {{{{ contact.company_name }}}} place in us{ELSE}Many thanks for your order, and for the trust"
                f" you place in us{END}. We are already preparing it for delivery.",
                "If anything is not as you expected, please let me know and I will put it right straight away."
                " You can reach me directly on {{ salesperson.phone }} or at {{ salesperson.email }}.",
                "We look forward to working with you again.",
            ),
            "Kind regards,",
        ),
        "DE": (
            FORMAL,
            (
                f"{IF_COMPANY}herzlichen Dank für Ihre Bestellung und für das Vertrauen, das Sie und Ihr Team bei"
                f" {{{{ contact.company_name }}}} in uns setzen{ELSE}herzlichen Dank für Ihre Bestellung und für das"
                f" Vertrauen, das Sie in uns setzen{END}. Wir bereiten den Versand bereits vor.",
                "Sollte etwas nicht Ihren Erwartungen entsprechen, sagen Sie mir bitte Bescheid: Ich kümmere mich"
                " sofort darum. Sie erreichen mich direkt unter {{ salesperson.phone }} oder per E-Mail an"
                " {{ salesperson.email }}.",
                "Wir freuen uns auf die weitere Zusammenarbeit.",
            ),
            "Mit freundlichen Grüßen",
        ),
        "NL": (
            FORMAL,
            (
                f"{IF_COMPANY}Hartelijk dank voor uw bestelling en voor het vertrouwen dat u en uw collega's bij"
                f" {{{{ contact.company_name }}}} in ons stellen{ELSE}Hartelijk dank voor uw bestelling en voor het"
                f" vertrouwen dat u in ons stelt{END}. Wij maken uw bestelling nu klaar voor verzending.",
                "Is er iets niet zoals u had verwacht? Laat het mij weten, dan los ik het meteen op. U bereikt mij"
                " rechtstreeks op {{ salesperson.phone }} of via {{ salesperson.email }}.",
                "Wij kijken uit naar een fijne verdere samenwerking.",
            ),
            "Met vriendelijke groet,",
        ),
        "FR": (
            FORMAL,
            (
                f"{IF_COMPANY}Merci beaucoup pour votre commande et pour la confiance que vous et vos collègues de"
                f" {{{{ contact.company_name }}}} nous accordez{ELSE}Merci beaucoup pour votre commande et pour la"
                f" confiance que vous nous accordez{END}. Nous préparons dès maintenant son expédition.",
                "Si quelque chose ne correspond pas à vos attentes, faites-le-moi savoir" + NBSP + ": je m'en"
                " occupe immédiatement. Vous pouvez me joindre directement au {{ salesperson.phone }} ou à"
                " l'adresse {{ salesperson.email }}.",
                "Au plaisir de travailler de nouveau avec vous.",
            ),
            "Bien cordialement,",
        ),
        "DA": (
            FORMAL,
            (
                f"{IF_COMPANY}Mange tak for din bestilling og for den tillid, du og dine kolleger hos"
                f" {{{{ contact.company_name }}}} viser os{ELSE}Mange tak for din bestilling og for den tillid, du"
                f" viser os{END}. Vi er allerede i gang med at gøre den klar til levering.",
                "Hvis noget ikke er, som du havde forventet, så giv mig besked, så retter jeg det med det samme. Du"
                " kan kontakte mig direkte på {{ salesperson.phone }} eller {{ salesperson.email }}.",
                "Vi ser frem til det fortsatte samarbejde.",
            ),
            "Med venlig hilsen",
        ),
        "NB": (
            FORMAL,
            (
                f"{IF_COMPANY}Tusen takk for bestillingen og for tilliten du og kollegene dine i"
                f" {{{{ contact.company_name }}}} viser oss{ELSE}Tusen takk for bestillingen og for tilliten du"
                f" viser oss{END}. Vi er allerede i gang med å gjøre den klar for levering.",
                "Hvis noe ikke er som du forventet, gi meg beskjed, så ordner jeg det med en gang. Du når meg"
                " direkte på {{ salesperson.phone }} eller {{ salesperson.email }}.",
                "Vi ser fram til videre samarbeid.",
            ),
            "Med vennlig hilsen",
        ),
        "FI": (
            FORMAL,
            (
                f"{IF_COMPANY}Lämmin kiitos tilauksestanne ja luottamuksesta, jota te ja kolleganne"
                f" {{{{ contact.company_name }}}} -yhtiössä olette meitä kohtaan osoittaneet{ELSE}Lämmin kiitos"
                f" tilauksestanne ja luottamuksestanne{END}. Valmistelemme toimitusta jo parhaillaan.",
                "Jos jokin ei vastaa odotuksianne, kertokaa siitä minulle, niin korjaan asian heti. Tavoitatte"
                " minut suoraan numerosta {{ salesperson.phone }} tai osoitteesta {{ salesperson.email }}.",
                "Odotamme innolla jatkoa yhteistyöllemme.",
            ),
            "Ystävällisin terveisin",
        ),
    },
}

#: The templates and languages that have a demo letter.
LETTER_TEMPLATES = tuple(_TEXTS)
LETTER_LANGUAGES = tuple(_LANGUAGE)
assert all(set(languages) == set(_LANGUAGE) for languages in _TEXTS.values())


def demo_letter_text(template: str, language: str) -> LetterText:
    salutation, body, closing = _TEXTS[template][language]
    tag, reference, date_format, unsubscribe = _LANGUAGE[language]
    return LetterText(
        language=tag,
        salutation=salutation,
        body=body,
        closing=closing,
        reference=reference,
        date_format=date_format,
        unsubscribe=unsubscribe,
    )


@cache
def demo_letter_docx(template: str, language: str) -> bytes:
    """The demo letter of `template` in `language` as .docx bytes (built once per process)."""
    return letter_docx(demo_letter_text(template, language))


def demo_letter_file_name(template: str, language: str) -> str:
    return f"{template.lower()}-{language.lower()}.docx"
