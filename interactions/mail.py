"""What an e-mail of the CRM looks like, and whether the mail server answers (SPEC R70; issue 14).

- `sender`: "<salesperson> via <our company>" on the configured sending address
  (DEFAULT_FROM_EMAIL; our company's name is CRM_COMPANY["name"], the `company.name` field);
  `reply_to`: the salesperson, by name; `message_id`: on the sending address's domain.
- `email_html`: a letter's HTML (interactions.letters.letter_html: known tags, no attributes,
  every text escaped) as a whole HTML document that mail clients render: a charset, inline
  styles only (no <style> block, no class, no external stylesheet, no image), a 600-pixel
  column; `plain_text` its text part, one line per paragraph and no markup.
- `unsubscribe_headers`, `unsubscribe_text` and `email_html(unsubscribe_url=)`: every e-mail a
  delivery sends carries its contact's unsubscribe link (interactions.unsubscribe) in the
  `List-Unsubscribe` header with RFC 8058's `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
  (a mail client's own "Unsubscribe" button POSTs to it), and visibly, as a last small line
  "Unsubscribe from these e-mails: URL" of the text part and of the HTML part (a link there).
- `mail_server_problem`: the Log pre-flight's check of the default mailer's SMTP server
  (connect, EHLO, STARTTLS and LOGIN when configured, NOOP, QUIT, at most
  MAIL_SERVER_CHECK_TIMEOUT seconds each step); None for a backend that is not SMTP.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
import unicodedata
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.utils import DNS_NAME
from django.utils.encoding import punycode
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

# Seconds each step of the pre-flight's SMTP conversation may take (issue 14: 10 s).
MAIL_SERVER_CHECK_TIMEOUT = 10

# --- Headers ------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """A display name on one line: control and separator characters become spaces."""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text or "")
    return " ".join(text.split())


def sending_address() -> str:
    """The address e-mails are sent from (DEFAULT_FROM_EMAIL, without a display name it may have)."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def sending_domain() -> str:
    return punycode(sending_address().rpartition("@")[2] or DNS_NAME.get_fqdn())


def sender(salesperson_name: str) -> str:
    """The From header: "<salesperson> via <our company>" (our company's name alone without a
    salesperson's name) on the sending address."""
    company = _one_line(settings.CRM_COMPANY.get("name", ""))
    name = _one_line(salesperson_name)
    display = _("%(salesperson)s via %(company)s") % {"salesperson": name, "company": company} if name else company
    return str(Address(display_name=display if company or name else "", addr_spec=sending_address()))


def reply_to(salesperson) -> list[str]:
    """Replies go to the salesperson (by name) when they have an e-mail address."""
    if salesperson is None or not salesperson.email:
        return []
    return [str(Address(display_name=_one_line(salesperson.name), addr_spec=salesperson.email.strip()))]


def message_id() -> str:
    """A Message-ID on the sending address's domain (where the mail server signs and sends from)."""
    return make_msgid(domain=sending_domain())


# --- Body ---------------------------------------------------------------------------------------

FONT = "font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#222222"
# letter_html writes these tags without attributes: each gets its inline style.
TAG_STYLES = {
    "p": "margin:0 0 12px 0",
    "h1": "margin:0 0 16px 0;font-size:22px;line-height:1.3;font-weight:bold",
    "h2": "margin:0 0 14px 0;font-size:19px;line-height:1.3;font-weight:bold",
    "h3": "margin:0 0 12px 0;font-size:17px;line-height:1.3;font-weight:bold",
    "h4": "margin:0 0 12px 0;font-size:15px;font-weight:bold",
    "h5": "margin:0 0 12px 0;font-size:15px;font-weight:bold",
    "h6": "margin:0 0 12px 0;font-size:15px;font-weight:bold",
    "table": "border-collapse:collapse;margin:0 0 12px 0",
    "td": "padding:2px 12px 2px 0;vertical-align:top",
    "strong": "font-weight:bold",
    "em": "font-style:italic",
}
_TAG = re.compile("<(" + "|".join(TAG_STYLES) + ")>")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


FOOTER_STYLE = (
    "margin:24px 0 0 0;padding:12px 0 0 0;border-top:1px solid #dddddd;font-size:12px;line-height:1.4;color:#666666"
)
LINK_STYLE = "color:#666666;text-decoration:underline"


def _unsubscribe_line() -> str:
    return _("Unsubscribe from these e-mails: %(url)s")


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers of an e-mail whose one-click unsubscribe URL is `url`."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe_text(url: str) -> str:
    """The text part's last paragraph: "Unsubscribe from these e-mails: URL"."""
    return "\n" + _unsubscribe_line() % {"url": url} + "\n"


def unsubscribe_html(url: str) -> str:
    """The HTML part's last paragraph, small and grey, the URL a link (and its own text, so a
    client that shows no links still shows it)."""
    link = f'<a href="{html.escape(url)}" style="{LINK_STYLE}">{html.escape(url)}</a>'
    return f'<p style="{FOOTER_STYLE}">' + html.escape(_unsubscribe_line()) % {"url": link} + "</p>"


def email_html(body_html: str, *, title: str, language: str = "", unsubscribe_url: str = "") -> str:
    """`body_html` (letter_html's tags, no attributes) as an HTML e-mail: a whole document with
    its charset and language, every element styled inline, in a centred 600-pixel column; with
    `unsubscribe_url`, the unsubscribe line below the letter."""
    styled = _TAG.sub(lambda m: f'<{m.group(1)} style="{TAG_STYLES[m.group(1)]}">', body_html)
    if unsubscribe_url:
        styled += "\n" + unsubscribe_html(unsubscribe_url)
    lang = f' lang="{language.lower()}"' if _LANGUAGE.match(language or "") else ""
    return (
        "<!DOCTYPE html>\n"
        f"<html{lang}>\n"
        "<head>\n"
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        "</head>\n"
        f'<body style="margin:0;padding:0;background-color:#ffffff;{FONT}">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="border-collapse:collapse;background-color:#ffffff">\n'
        '<tr><td align="center" style="padding:24px 12px">\n'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" '
        'style="border-collapse:collapse;width:100%;max-width:600px">\n'
        f'<tr><td align="left" style="{FONT}">\n'
        f"{styled}\n"
        "</td></tr>\n</table>\n</td></tr>\n</table>\n</body>\n</html>\n"
    )


def paragraph_html(text: str) -> str:
    """One escaped paragraph in letter_html's form (for a body written here, not from a letter)."""
    return f"<p>{html.escape(text)}</p>"


_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr)>|<br\s*/?>", re.IGNORECASE)


def plain_text(body_html: str) -> str:
    """The text of a letter's HTML, one line per paragraph, no markup."""
    text = html.unescape(strip_tags(_BLOCK_END.sub("\n", body_html)))
    return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"


# --- The mail server ----------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return _("it answered %(code)s %(text)s") % {"code": exc.smtp_code, "text": text}
    if isinstance(exc, TimeoutError):
        return _("no answer within %(seconds)s s") % {"seconds": MAIL_SERVER_CHECK_TIMEOUT}
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ssl.SSLError):
        return exc.strerror
    return str(exc) or type(exc).__name__


def mail_server_problem() -> str | None:
    """Why the default mailer's SMTP server cannot take e-mails now, as the Log pre-flight lists
    it ("cannot reach the mail server HOST:PORT: reason"); None when it answers, and for a
    backend that is not SMTP (locmem, console, file: nothing to reach). One conversation as a
    delivery opens it (connect, EHLO, STARTTLS and LOGIN when configured), then NOOP and QUIT."""
    backend = mailers.default
    if not isinstance(backend, SMTPBackend):
        return None
    try:
        options = {"local_hostname": DNS_NAME.get_fqdn(), "timeout": MAIL_SERVER_CHECK_TIMEOUT}
        if backend.use_ssl:
            options["context"] = backend.ssl_context
        with backend.connection_class(backend.host, backend.port, **options) as connection:
            connection.ehlo()
            if backend.use_tls:
                connection.starttls(context=backend.ssl_context)
                connection.ehlo()
            if backend.username and backend.password:
                connection.login(backend.username, backend.password)
            code, text = connection.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, text)
            # leaving the block sends QUIT
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return _("cannot reach the mail server %(host)s:%(port)s: %(reason)s") % {
            "host": backend.host,
            "port": backend.port,
            "reason": _reason(exc),
        }
    return None
