"""Downloads of stored documents (SPEC F1.10, R72, D10): the helper every download page uses,
and an interaction log entry's letter and Word template.

Every download is an attachment (never shown inline, so a document can never run as a page of
this site), under a file name cleaned by `document_file_name`, with its content type and
`X-Content-Type-Options: nosniff`. Login is required by LoginRequiredMiddleware; an entry's
documents need interactions.view_interactionlogentry.
"""

from __future__ import annotations

import io

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views import View

from ..documents import document_file_name
from ..models import Document, InteractionLogEntry
from ..ooxml import DOCX_CONTENT_TYPE


def _as_download(response: HttpResponseBase, *, file_name: str, size: int) -> HttpResponseBase:
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=document_file_name(file_name)
    )
    response["Content-Length"] = str(size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def download_response(data: bytes, *, file_name: str, content_type: str = DOCX_CONTENT_TYPE) -> HttpResponse:
    """`data` (made in this request: a sample or one line's letter) as a download named
    `file_name` (made safe), never rendered by the browser."""
    response = HttpResponse(data, content_type=content_type or DOCX_CONTENT_TYPE)
    return _as_download(response, file_name=file_name, size=len(data))


def document_response(document: Document) -> FileResponse:
    """A stored document as a download under its own file name and content type, streamed from
    storage in blocks (never whole in memory, whatever its size; users are never sent to the
    storage itself). A compact letter is rebuilt from its Word template (a few dozen KB in
    memory) and sent with the length of what was rebuilt."""
    stream = document.open()
    size = stream.getbuffer().nbytes if isinstance(stream, io.BytesIO) else document.size
    response = FileResponse(stream, content_type=document.content_type or DOCX_CONTENT_TYPE)
    return _as_download(response, file_name=document.file_name, size=size)


class EntryDocumentView(PermissionRequiredMixin, View):
    """Download an entry's stored letter (`document`, R72: exactly what was produced for it) or,
    with `kind="word_template"`, the Word template it was merged from. 404 when it has none."""

    permission_required = "interactions.view_interactionlogentry"
    raise_exception = True
    kind = "document"

    def get(self, request, pk: int) -> HttpResponse:
        entry = get_object_or_404(InteractionLogEntry.objects.only("pk", f"{self.kind}_id"), pk=pk)
        document_id = getattr(entry, f"{self.kind}_id")
        if document_id is None:
            if self.kind == "document":
                raise Http404(_("Interaction %(no)s has no stored document.") % {"no": entry.pk})
            raise Http404(_("Interaction %(no)s was not merged from a Word template.") % {"no": entry.pk})
        return document_response(Document.objects.select_related("base").get(pk=document_id))
