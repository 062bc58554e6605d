"""The error pages inside the layout: 403 says which permission is missing, in plain words.

404 and 500 are Django's own handlers with our templates (templates/404.html, 500.html); 500
renders without a request context (Django's server_error), so it shows no details and needs
nothing that may have failed.
"""

from __future__ import annotations

import logging
import re

from django.contrib.auth.models import Permission
from django.http import HttpResponseForbidden, HttpResponseServerError
from django.template import loader
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

# crm.permissions.require raises "app.codename[, app.codename] needed".
PERMISSION = re.compile(r"\b([a-z_]+)\.([a-z0-9_]+)\b")
# One whole sentence per permission, so that each language words it its own way: Django's four
# actions with the model's plural name (its verbose_name_plural, translated) ...
DEFAULT_ACTIONS = {
    "add": _("You do not have permission to add %(things)s."),
    "change": _("You do not have permission to change %(things)s."),
    "delete": _("You do not have permission to delete %(things)s."),
    "view": _("You do not have permission to view %(things)s."),
}
# ... and the models' own permissions (Meta.permissions; tests check that each has its sentence).
CUSTOM_PERMISSIONS = {
    "crm.import_contacts": _("You do not have permission to import contacts from CSV."),
    "crm.export_contacts": _("You do not have permission to export contacts."),
    "segments.log_segment": _("You do not have permission to log segments."),
    "segments.run_mail_merge": _("You do not have permission to run the Word mail merge."),
}


def _permission_names(request, exception) -> list[str]:
    """The permissions the refused request needed: named in the exception (crm.permissions.require)
    or on the view (PermissionRequiredMixin's `permission_required`)."""
    message = str(exception or "")
    names = [f"{app}.{codename}" for app, codename in PERMISSION.findall(message) if "needed" in message]
    if names:
        return names
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    required = getattr(getattr(view, "view_class", None), "permission_required", None)
    if isinstance(required, str):
        return [required]
    return list(required or [])


def _sentence(name: str) -> str:
    """ "crm.view_contact" → "You do not have permission to view contacts."; a permission of a
    model's Meta.permissions → its own sentence, else its name as the model declares it."""
    if name in CUSTOM_PERMISSIONS:
        return str(CUSTOM_PERMISSIONS[name])
    app, _dot, codename = name.partition(".")
    row = (
        Permission.objects.filter(content_type__app_label=app, codename=codename).select_related("content_type").first()
    )
    model_class = row.content_type.model_class() if row else None
    action, _sep, model = codename.partition("_")
    if action in DEFAULT_ACTIONS:
        things = model_class._meta.verbose_name_plural if model_class is not None else model.replace("_", " ")
        return DEFAULT_ACTIONS[action] % {"things": things}
    declared = dict(model_class._meta.permissions) if model_class is not None else {}
    permission = declared.get(codename) or (row.name if row else codename.replace("_", " "))
    return gettext("You do not have the permission “%(permission)s”.") % {"permission": permission}


def missing_permission_text(request, exception) -> str:
    """ "You do not have permission to …" for the refused request, or a general sentence."""
    names = _permission_names(request, exception)
    if not names:
        return gettext("You do not have permission to open this page.")
    return " ".join(_sentence(name) for name in names)


def _back(request) -> str:
    """The page the user came from when it is one of ours (the Referer), else ""."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure()):
        return referer
    return ""


@requires_csrf_token
def permission_denied(request, exception=None, template_name="403.html"):
    template = loader.get_template(template_name)
    context = {"missing": missing_permission_text(request, exception), "back": _back(request)}
    return HttpResponseForbidden(template.render(context, request))


FALLBACK_500 = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Something went wrong · Marketing CRM</title>"
    "</head><body><main><h1>Something went wrong on our side</h1><p>Your last action may not have been saved. "
    "Please try again in a moment.</p><p><a href='/'>Go to the start page</a></p></main></body></html>"
)


def _fallback_500() -> str:
    """FALLBACK_500 in the active language (the English constant when even that fails)."""
    try:
        return format_html(
            "<!doctype html><html lang='{}'><head><meta charset='utf-8'><title>{} · {}</title></head><body><main>"
            "<h1>{}</h1><p>{}</p><p><a href='/'>{}</a></p></main></body></html>",
            get_language() or "en",
            gettext("Something went wrong"),
            gettext("Marketing CRM"),
            gettext("Something went wrong on our side"),
            gettext("Your last action may not have been saved. Please try again in a moment."),
            gettext("Go to the start page"),
        )
    except Exception:  # the error page must answer whatever broke
        return FALLBACK_500


@requires_csrf_token
def server_error(request, template_name="500.html"):
    """Django's server_error (a plain render, no context processors), with a bare page when even
    the layout cannot render (say, static files never collected): never a second exception."""
    try:
        body = loader.get_template(template_name).render()
    except Exception:  # the error page must answer whatever broke
        logger.exception("the 500 page could not be rendered")
        body = _fallback_500()
    return HttpResponseServerError(body)
