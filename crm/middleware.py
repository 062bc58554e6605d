"""The CRM's middleware: the request log and the user's language.

One log line per request on the "crm.requests" logger (stdout, see LOGGING in settings).

The line is `METHOD PATH STATUS DURATIONms`: the path without its query string (search terms
and tokens stay out of the log) and percent-encoded, so a hostile path cannot forge a second
line. Gunicorn's own access log is off (scripts/serve.sh); this is the access log. The
duration is the time until the response is handed to the server: a streamed download's
transfer is not in it. Server errors (5xx) are logged at WARNING, the rest at INFO.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from .languages import browser_language, session_language

logger = logging.getLogger("crm.requests")

# Characters a path may show as they are (RFC 3986 pchar and "/"); anything else is %-encoded.
PATH_SAFE = "/:@!$&'()*+,;=-._~"


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        logger.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s %s %s %.1fms",
            request.method,
            # A view may put a path without its secret in `log_path` (the unsubscribe page's token).
            quote(getattr(request, "log_path", None) or request.path, safe=PATH_SAFE),
            status,
            duration_ms,
        )
        return response


class UserLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (no language prefix in URLs), with the user's own language
    first: the log-in keeps the profile's language in the session (crm.languages), so this costs
    no query. Without one, the browser's Accept-Language decides (crm.languages.browser_language:
    Norwegian "no" counts as Bokmål), else LANGUAGE_CODE. The response gets Django's
    Content-Language and Vary: Accept-Language (process_response)."""

    def process_request(self, request):
        language = session_language(request) or browser_language(request) or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
