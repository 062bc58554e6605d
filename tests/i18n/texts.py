"""What the issue-17 page tests share: every page of the app (the every-page walk's pages, found
from the URLconf, plus Django admin's index, contact list and contact page), the texts a page
shows (text nodes and the attributes people read or hear), the texts stored in the database
(data, not language) and the active catalogue's translations.

A page is rendered with Django's test client as the admin of the every-page walk (who may see
every page); the language comes from the Accept-Language header unless the test sets a
profile language."""

from __future__ import annotations

import re
from email.utils import getaddresses
from html.parser import HTMLParser

from django.apps import apps
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import resolve, reverse
from django.utils.translation import trans_real

from crm.models import Contact
from interactions.outbox import outbox_folder, outbox_messages
from segments.models import SegmentLine
from tests.browser.test_every_page_browser import ANONYMOUS

# Attributes whose value people read (a tooltip, a placeholder) or hear (a screen reader).
READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
# Input types whose value is the text of a button.
BUTTON_INPUTS = {"submit", "button", "reset"}
# Elements whose content is not text of the page in a language: not shown, data (a textarea's
# value) or code (field names of Word templates, CSV columns, commands).
HIDDEN_CONTENT = {"script", "style", "template", "textarea", "code", "kbd", "samp"}
# Elements (by class) whose content is data: a letter made from a Word template.
DATA_CLASSES = {"letter-preview"}

ADMIN_PAGES = ("admin:index", "admin:crm_contact_changelist", "admin:crm_contact_change")


# The worksheet's htmx fragments (no page of their own: no <html>), shown inside it.
FRAGMENTS = ("segments:segment_preview", "segments:line_row")


def all_pages(found: dict[str, str]) -> dict[str, str]:
    """{name: path} of the every-page walk's pages (`found`, without its session), admin's and
    the worksheet's fragments (of the open segment's first line; the preview of "add the
    contacts of Delft")."""
    pages = {name: path for name, path in found.items() if name != "session"}
    contact = Contact.objects.order_by("pk").first()
    for name in ADMIN_PAGES:
        pages[name] = reverse(name, args=[contact.pk] if name.endswith("_change") else [])
    no = resolve(found["segments:segment_detail"]).kwargs["no"]
    line_no = SegmentLine.objects.filter(segment__no=no).order_by("line_no").values_list("line_no", flat=True)[0]
    pages["segments:segment_preview"] = reverse("segments:segment_preview", args=[no]) + "?action=add&city=Delft"
    pages["segments:line_row"] = reverse("segments:line_row", args=[no, line_no])
    return pages


def render(client: Client, name: str, path: str, accept_language: str):
    """The page `name` at `path` as `client` sees it (logged out for the log-in page; a fragment
    as htmx asks for it) in the browser's `accept_language`."""
    headers = {"Accept-Language": accept_language, **({"HX-Request": "true"} if name in FRAGMENTS else {})}
    return (Client() if name in ANONYMOUS else client).get(path, headers=headers)


def admin_client(username: str = "ada") -> Client:
    """A client logged in as the every-page walk's admin."""
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def squeeze(text: str) -> str:
    return " ".join(text.split())


class PageTexts(HTMLParser):
    """The texts a page shows, as (where, text): "text" for a text node (also <title> and
    <option>), "@placeholder" etc. for an attribute, "@value" for a button's value; and the
    `lang` of <html>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[tuple[str, str]] = []
        self.nodes: list[str] = []  # the shown text nodes in order (a message may span several)
        self.lang: str | None = None
        self._hidden: list[str] = []  # the open elements whose content is skipped

    def handle_starttag(self, tag, attrs):
        attrs = {key: value or "" for key, value in attrs}
        if tag == "html":
            self.lang = attrs.get("lang")
        nested = bool(self._hidden) and tag == self._hidden[-1]  # the same element in itself
        if nested or tag in HIDDEN_CONTENT or DATA_CLASSES & set(attrs.get("class", "").split()):
            self._hidden.append(tag)
        if self._hidden:
            return
        for name in READ_ATTRIBUTES:
            if squeeze(attrs.get(name, "")):
                self.texts.append((f"@{name}", squeeze(attrs[name])))
        if tag == "input" and attrs.get("type", "").lower() in BUTTON_INPUTS and squeeze(attrs.get("value", "")):
            self.texts.append(("@value", squeeze(attrs["value"])))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self._hidden and tag == self._hidden[-1]:
            self._hidden.pop()

    def handle_data(self, data):
        if not self._hidden and squeeze(data):
            self.texts.append(("text", squeeze(data)))
            self.nodes.append(data)


def page_texts(html: str) -> PageTexts:
    parser = PageTexts()
    parser.feed(html)
    parser.close()
    return parser


def stored_texts() -> set[str]:
    """Every text value stored in the CRM's tables, the users' and groups' names, our company's
    details (settings.CRM_COMPANY) and the Outbox's e-mails: data, which a page shows as it is
    in any language."""
    values: set[str] = {squeeze(value) for value in settings.CRM_COMPANY.values() if value}
    folder = outbox_folder()
    for sent in outbox_messages(folder) if folder and folder.is_dir() else []:
        headers = [str(sent.message[name] or "") for name in ("From", "To")]
        names = [name for name, _address in getaddresses(headers)]
        parts = [*names, *(sent.text or "").splitlines()]
        parts += [str(part) for item in sent.message.items() for part in item]  # every header, as shown
        parts += [part.get_content_type() for part in sent.message.walk()]
        parts += [attachment.get_filename() or "" for attachment in sent.attachments]
        values.update(squeeze(part) for part in parts if squeeze(part))
    text_fields = (models.CharField, models.TextField)
    chosen = [*(m for label in ("crm", "interactions", "segments") for m in apps.get_app_config(label).get_models())]
    chosen += [apps.get_model("auth", "User"), apps.get_model("auth", "Group")]
    for model in chosen:
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, text_fields) and not f.choices]
        if not names:
            continue
        for row in model._default_manager.values_list(*names).distinct():
            values.update(squeeze(value) for value in row if isinstance(value, str) and squeeze(value))
    return values


def translations(language: str) -> dict[str, str]:
    """{English msgid: its translation} of every catalogue Django loaded for `language` (ours and
    Django's own), for the msgids it translates to something else. A message with a context
    counts by its msgid; a plural by its singular."""
    catalogue = trans_real.translation(language)._catalog
    found: dict[str, str] = {}
    for key in catalogue.keys():  # noqa: SIM118 (a TranslationCatalog: no __iter__)
        if isinstance(key, tuple):
            if key[1] != 0:
                continue
            msgid = key[0]
        else:
            msgid = key
        translated = catalogue.get(key)
        msgid = msgid.split("\x04", 1)[-1]
        if msgid and translated and translated != msgid:
            found.setdefault(msgid, translated)
    return found


def language_words(language: str) -> set[str]:
    """Every translation in the catalogues of `language`, also with a capital first letter (as
    Django shows a field's verbose name): text of that language, even where it is spelt like an
    English msgid (Danish "By" is "City", not "By")."""
    catalogue = trans_real.translation(language)._catalog
    words = {squeeze(translated) for _key, translated in catalogue.items() if squeeze(translated)}
    return words | {word[:1].upper() + word[1:] for word in words}


# Texts of Django's own templates that Django does not mark (not ours to mark): (page, text).
UPSTREAM = {
    ("admin:crm_contact_changelist", "@alt", "Search"),  # admin/search_form.html's search icon
}


LETTER = re.compile(r"[^\W\d_]")


def has_letters(text: str) -> bool:
    return bool(LETTER.search(text))
