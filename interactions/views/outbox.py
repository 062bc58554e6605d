"""The Outbox pages (issue 14, part 6): under DEBUG only (interactions/urls.py routes them only
then), the e-mails `make run`'s file backend wrote, listed and shown one by one.

A message's HTML part is shown in a sandboxed <iframe> whose src is its own URL: that response
holds only the HTML part, with a CSP of its own that loads nothing from anywhere (inline styles
and data:/cid: images only), so the page's CSP stays as strict as every other page's.
Attachments download. Reading needs interactions.change_loggedsegment (who may send e-mails
sees them).
"""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_safe

from ..outbox import OutboxMessage, outbox_folder, outbox_message, outbox_messages
from .documents import download_response

PERMISSION = "interactions.change_loggedsegment"
HTML_PART_CSP = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.UNSAFE_INLINE],
    "img-src": ["data:", "cid:"],
    "frame-ancestors": [CSP.SELF],
    "form-action": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "sandbox": [""],
}


def _message(file_name: str, index: int) -> OutboxMessage:
    folder = outbox_folder()
    found = outbox_message(folder, file_name, index) if folder is not None else None
    if found is None:
        raise Http404("No such message in the outbox.")
    return found


@require_safe
@permission_required(PERMISSION, raise_exception=True)
def outbox_list(request):
    folder = outbox_folder()
    messages = outbox_messages(folder) if folder is not None else []
    return TemplateResponse(request, "interactions/outbox_list.html", {"folder": folder, "outbox": messages})


@require_safe
@permission_required(PERMISSION, raise_exception=True)
def outbox_detail(request, file_name: str, index: int):
    found = _message(file_name, index)
    headers = [(name, str(value)) for name, value in found.message.items()]
    attachments = [
        (number, part.get_filename() or f"attachment-{number}", part.get_content_type())
        for number, part in enumerate(found.attachments)
    ]
    return TemplateResponse(
        request,
        "interactions/outbox_detail.html",
        {"item": found, "headers": headers, "attachments": attachments},
    )


@require_safe
@permission_required(PERMISSION, raise_exception=True)
@xframe_options_sameorigin
@csp_override(HTML_PART_CSP)
def outbox_html(request, file_name: str, index: int):
    html = _message(file_name, index).html
    if html is None:
        raise Http404("The message has no HTML part.")
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@require_safe
@permission_required(PERMISSION, raise_exception=True)
def outbox_attachment(request, file_name: str, index: int, number: int):
    attachments = _message(file_name, index).attachments
    if not 0 <= number < len(attachments):
        raise Http404("No such attachment.")
    part = attachments[number]
    return download_response(
        part.get_payload(decode=True) or b"",
        file_name=part.get_filename() or f"attachment-{number}",
        content_type=part.get_content_type(),
    )
