"""Which language a user reads the pages in (issue 17).

A user's own language is on their profile (crm.Profile.language); empty means "my browser's".
It is put into the session when the user logs in or changes it on the profile page, so the
middleware (crm.middleware.UserLocaleMiddleware) finds it without a query. Log-out ends the
session: the log-in page then follows the browser again.

E-mails to contacts and the unsubscribe page use `language_of_code`: the interaction's or
contact's language code (reference data such as "DAN", "DA", "NOR", "FI") mapped to a language
of the pages (interactions.unsubscribe.page_language), English when none matches.
"""

from __future__ import annotations

from django.conf import settings
from django.conf.global_settings import LANGUAGES as DJANGO_LANGUAGES
from django.contrib.auth.signals import user_logged_in
from django.db import DatabaseError
from django.dispatch import receiver
from django.utils.translation.trans_real import parse_accept_lang_header

SESSION_KEY = "crm_language"

# Language codes of reference data (ISO 639-1/-2 and the ERP's Windows codes) → our languages.
_CODES = {
    "da": "da", "dan": "da", "dk": "da",
    "nb": "nb", "no": "nb", "nor": "nb", "nob": "nb", "nn": "nb", "nno": "nb",
    "fi": "fi", "fin": "fi",
    "en": "en", "eng": "en", "enu": "en", "eng-us": "en", "enu-us": "en",
}  # fmt: skip


def supported(language: str | None) -> str | None:
    """`language` if the pages speak it, else None."""
    return language if language in dict(settings.LANGUAGES) else None


def session_language(request) -> str | None:
    """The user's own language, kept in the session at log-in (None: follow the browser)."""
    session = getattr(request, "session", None)
    if session is None or settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None  # no session to read: do not touch it (no "Vary: Cookie" for probes)
    try:
        return supported(session.get(SESSION_KEY))
    except DatabaseError:
        # The sessions live in the database: when it is down, /healthz must still answer its
        # 503 (the production check stops PostgreSQL and asks); pages fail on their own reads.
        return None


def browser_language(request) -> str | None:
    """The first language of the browser's Accept-Language that the pages speak, by quality
    ("nb-NO", "no" and "nn" read as Norwegian Bokmål: Django alone knows no "no"); None if none."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in parse_accept_lang_header(header[:500]):
        if code == "*":
            break
        language = language_of_code(code)
        if language is not None:
            return language
    return None


def remember_language(request, language: str) -> None:
    """Keep the user's own `language` in the session ("" forgets it: follow the browser)."""
    if supported(language):
        request.session[SESSION_KEY] = language
    else:
        request.session.pop(SESSION_KEY, None)


def own_language(user) -> str:
    """The language on `user`'s profile ("" when none is chosen: follow the browser)."""
    from .models import Profile

    own = Profile.objects.filter(user_id=getattr(user, "pk", None)).values_list("language", flat=True).first()
    return supported(own) or ""


def language_of_code(code: str | None) -> str | None:
    """The language of the pages that a reference-data language code stands for ("DAN" → "da",
    "NOR" → "nb", "FI" → "fi", "ENU" → "en"); None when the code is empty or no language of ours."""
    key = (code or "").strip().lower()
    return supported(_CODES.get(key) or _CODES.get(key[:2]) or key)


# The ERP's three-letter (Windows) language codes of other languages → ISO 639-1, for the names
# of months and days in letters (Django's own locales have them for many more languages than
# our pages speak).
_LETTER_CODES = {
    "deu": "de", "des": "de", "dea": "de", "ger": "de",
    "nld": "nl", "nlb": "nl", "dut": "nl",
    "fra": "fr", "frb": "fr", "frc": "fr", "frs": "fr", "fre": "fr",
    "sve": "sv", "swe": "sv",
    "isl": "is", "ice": "is",
    "esp": "es", "spa": "es", "ita": "it", "ptg": "pt", "por": "pt", "plk": "pl", "pol": "pl",
    "csy": "cs", "cze": "cs", "ces": "cs", "hun": "hu", "rus": "ru", "eti": "et", "est": "et",
    "lvi": "lv", "lav": "lv", "lth": "lt", "lit": "lt",
}  # fmt: skip
_DJANGO_LANGUAGES = frozenset(code for code, _name in DJANGO_LANGUAGES)  # those Django has a locale for


def letter_language(code: str | None) -> str:
    """The Django language a letter in reference-data language `code` names its months and days
    in (the `date` filter of a Word template): ours ("DAN" → "da"), else any language Django has
    a locale for ("DEU" → "de", "NL" → "nl"), else the default language. The letter's own
    language, never the language of whoever merges or sends it."""
    key = (code or "").strip().lower()
    ours = language_of_code(key)
    if ours is not None:
        return ours
    for candidate in (_LETTER_CODES.get(key), key, key.split("-")[0]):
        if candidate in _DJANGO_LANGUAGES:
            return candidate
    return settings.LANGUAGE_CODE


def test_email_address(user) -> str:
    """Where `user`'s test e-mails go: the profile's address, else the user's e-mail ("" if neither)."""
    from .models import Profile

    own = Profile.objects.filter(user_id=getattr(user, "pk", None)).values_list("test_email", flat=True).first()
    return own or getattr(user, "email", "") or ""


@receiver(user_logged_in, dispatch_uid="crm.languages.remember_on_login")
def _remember_on_login(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        remember_language(request, own_language(user))
