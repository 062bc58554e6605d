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
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

# crm.permissions.require raises "app.codename[, app.codename] needed".
PERMISSION = re.compile(r"\b([a-z_]+)\.([a-z0-9_]+)\b")
DEFAULT_ACTIONS = ("add", "change", "delete", "view")
# "You do not have permission to <action>." for Django's default permissions, one sentence part
# per action so a translation inflects the model's plural name its own way.
ACTION_WORDS = {
    "add": _("add %(things)s"),
    "change": _("change %(things)s"),
    "delete": _("delete %(things)s"),
    "view": _("view %(things)s"),
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


def _in_words(name: str) -> str:
    """ "crm.view_contact" → "view contacts"; a custom permission → its name without "Can"."""
    app, _dot, codename = name.partition(".")
    action, _sep, model = codename.partition("_")
    if action in DEFAULT_ACTIONS:
        permission = Permission.objects.filter(content_type__app_label=app, codename=codename).select_related(
            "content_type"
        )
        row = permission.first()
        model_class = row.content_type.model_class() if row else None
        if model_class is not None:
            return ACTION_WORDS[action] % {"things": model_class._meta.verbose_name_plural}
        return ACTION_WORDS[action] % {"things": model.replace("_", " ")}
    row = Permission.objects.filter(content_type__app_label=app, codename=codename).first()
    if row is not None:
        return re.sub(r"^can\s+", "", row.name, flags=re.IGNORECASE).rstrip(".")
    return codename.replace("_", " ")


def missing_permission_text(request, exception) -> str:
    """ "You do not have permission to …" for the refused request, or a general sentence."""
    names = _permission_names(request, exception)
    if not names:
        return gettext("You do not have permission to open this page.")
    actions = [_in_words(name) for name in names]
    return gettext("You do not have permission to %(actions)s.") % {
        "actions": pgettext("between two permissions", " and ").join(actions)
    }


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


@requires_csrf_token
def server_error(request, template_name="500.html"):
    """Django's server_error (a plain render, no context processors), with a bare page when even
    the layout cannot render (say, static files never collected): never a second exception."""
    try:
        body = loader.get_template(template_name).render()
    except Exception:  # the error page must answer whatever broke
        logger.exception("the 500 page could not be rendered")
        body = FALLBACK_500
    return HttpResponseServerError(body)
