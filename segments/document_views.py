"""A segment's Word documents (SPEC R14, R66, R67; D9, D10): its language rows with their
documents ("Replace for this segment only"), a line's own document, and the preview of any
line's letter as HTML and as a .docx download.

Views parse input with segments.document_forms, read through segments.document_selectors,
write only through segments.documents (which checks a document completely first and stores
nothing when it is refused; the page then lists every problem) and render letters only through
segments.merge.line_letter. A letter that cannot be made (no Word document for the line's
template and language, a missing salutation formula, a value a filter cannot format) shows the
reason instead. Login is required by LoginRequiredMiddleware; reading, previewing and
downloading need segments.view_segment, uploads and removals segments.change_segment (403
without it). A segment that was logged meanwhile leads to its logged segment with who logged
it and when, as every worksheet action does.

On the worksheet the "Word documents" panel is this page's `documents_panel` partial, loaded
by htmx; without JavaScript the worksheet links to this page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import View

from crm.languages import test_email_address
from crm.models import CorrespondenceType, Language
from interactions.letters import letter_html
from interactions.views.documents import document_response, download_response
from interactions.wordtemplates import WordTemplateInvalid

from . import document_selectors as selectors
from .document_forms import LineDocumentForm, SegmentLanguageDocumentForm
from .documents import language_fallback_notices, segment_language_document_set, segment_line_document_set
from .merge import MergeError, line_file_name, line_letter
from .models import Segment, SegmentLine
from .services import SegmentAlreadyLogged
from .views import SegmentPermissionMixin, get_segment, segment_url

DOCUMENTS_PAGE = "segments/segment_documents.html"
LETTER_PAGE = "segments/line_letter.html"
PANEL_TARGET = "word-documents"


def language_label(code: str | None) -> str:
    return code or _("(no language)")


def documents_url(segment: Segment) -> str:
    return reverse("segments:segment_documents", args=[segment.no])


def letter_url(segment: Segment, line_no: int) -> str:
    return reverse("segments:line_letter", args=[segment.no, line_no])


def render_documents(
    request,
    segment: Segment,
    *,
    bound: SegmentLanguageDocumentForm | None = None,
    partial: bool = False,
    status: int = 200,
) -> TemplateResponse:
    """The documents page (or only its panel); `bound` (a refused upload) shows its errors on
    the row it was posted for."""
    can_change = request.user.has_perm("segments.change_segment")
    rows = []
    for item in selectors.segment_language_documents(segment=segment):
        form = None
        if can_change:
            if bound is not None and bound.data.get("language") == item.key:
                form = bound
            else:
                form = SegmentLanguageDocumentForm(
                    languages=[(item.key, language_label(item.row.language_id))],
                    initial={"language": item.key},
                    auto_id=f"id_seg{item.key}_%s",
                )
        rows.append({"item": item, "row": item.row, "form": form, "label": language_label(item.row.language_id)})
    own_lines = selectors.lines_with_own_document(segment=segment)
    shown = list(own_lines[: selectors.LINES_SHOWN])
    context = {
        "segment": segment,
        "rows": rows,
        "orphan_form": bound if bound is not None and not any(row["form"] is bound for row in rows) else None,
        "own_lines": shown,
        "own_count": len(shown) if len(shown) < selectors.LINES_SHOWN else own_lines.count(),
        "can_change": can_change,
        "on_page": not partial,
    }
    template = DOCUMENTS_PAGE + "#documents_panel" if partial else DOCUMENTS_PAGE
    return TemplateResponse(request, template, context, status=status)


class SegmentDocumentsView(SegmentPermissionMixin, View):
    """The segment's Word documents; an htmx request from the worksheet gets the panel only."""

    permission_required = "segments.view_segment"

    def get(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        partial = bool(request.htmx) and request.htmx.target == PANEL_TARGET
        return render_documents(request, segment, partial=partial)


class SegmentLanguageDocumentView(SegmentPermissionMixin, View):
    """Replace the segment's document of one language (R66): the template's stays unchanged,
    and so do other segments'. A refused document stores nothing (400 with every problem)."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        keys = [item.key for item in selectors.segment_language_documents(segment=segment)]
        form = SegmentLanguageDocumentForm(
            request.POST, request.FILES, languages=[(key, language_label(key)) for key in keys]
        )
        if form.is_valid():
            code = form.language_code()
            try:
                document = segment_language_document_set(
                    user=request.user,
                    segment=segment,
                    language=Language.objects.get(code=code) if code else None,
                    data=form.content(),
                    file_name=form.file_name(),
                )
            except ValidationError as error:
                refused_upload(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Stored “%(name)s” (%(size)s) as %(no)s's Word document for %(language)s: its lines in that "
                        "language are merged from it. The interaction template's document is unchanged."
                    )
                    % {
                        "name": document.file_name,
                        "size": filesizeformat(document.size),
                        "no": segment.no,
                        "language": language_label(code),
                    },
                )
                if request.POST.get("next") == "documents":
                    return redirect(documents_url(segment))
                return HttpResponseRedirect(segment.get_absolute_url() + "#word-documents")
        return render_documents(request, segment, bound=form, status=400)


class SegmentDocumentDownloadView(SegmentPermissionMixin, View):
    """Download a document of the segment: a language row's or a line's own (404 for any other)."""

    permission_required = "segments.view_segment"

    def get(self, request, no: str, document_id: int) -> HttpResponse:
        segment = get_segment(no)
        document = selectors.segment_document(segment=segment, document_id=document_id)
        if document is None:
            raise Http404(_("%(no)s has no such document.") % {"no": segment.no})
        return document_response(document)


# --- One line's letter ---------------------------------------------------------------------------


def get_letter_line(segment: Segment, line_no: int) -> SegmentLine:
    line = selectors.letter_line(segment=segment, line_no=line_no)
    if line is None:
        raise Http404(_("%(no)s has no line %(line)s.") % {"no": segment.no, "line": line_no})
    return line


def refused_upload(form, error: ValidationError) -> None:
    """Put a refused upload's reasons on the form: a Word template's problems on the file field,
    any other refusal on the form. A segment logged meanwhile goes on to SegmentPermissionMixin,
    which leads to its logged segment."""
    if isinstance(error, SegmentAlreadyLogged):
        raise error
    form.add_error("file" if isinstance(error, WordTemplateInvalid) else None, error)


def make_letter(segment: Segment, line: SegmentLine) -> tuple[bytes | None, list[str]]:
    """The line's letter as .docx bytes, or None and the reasons it cannot be made."""
    try:
        return line_letter(segment, line), []
    except MergeError as error:  # segment_letters reports render errors as MergeError too
        return None, error.messages


def letter_source(segment: Segment, line: SegmentLine) -> str:
    """Where the line's letter comes from (segments.documents' order), in words."""
    language = language_label(line.language_id)
    if line.document_id:
        return _("This line's own document.")
    if line.word_document_id is None:
        return _("None: %(template)s has no Word document for language %(language)s.") % {
            "template": line.interaction_template_id or _("(no template)"),
            "language": language,
        }
    if line.interaction_template_id == segment.interaction_template_id:
        return _("The segment's Word document for language %(language)s.") % {"language": language}
    return _("Interaction template %(template)s's Word document for language %(language)s (set on this line).") % {
        "template": line.interaction_template_id,
        "language": language,
    }


def render_letter(request, segment: Segment, line: SegmentLine, *, form=None, status: int = 200):
    """The letter page: the HTML preview of the line's letter (or why there is none), where it
    comes from, and with change_segment the line's own-document upload."""
    letter, problems = make_letter(segment, line)
    can_change = request.user.has_perm("segments.change_segment")
    context = {
        "segment": segment,
        "line": line,
        "source": letter_source(segment, line),
        "document": selectors.word_document(line.word_document_id),
        "preview": mark_safe(letter_html(letter)) if letter is not None else "",
        "problems": problems,
        "language_notices": language_fallback_notices(
            segment, SegmentLine.objects.filter(pk=line.pk), {line.interaction_template_id}
        ),
        "can_change": can_change,
        # "Send a test to me" (segments.test_mail_views) on a line that goes out as an e-mail.
        "can_test_mail": line.correspondence_type == CorrespondenceType.EMAIL
        and request.user.has_perm("segments.log_segment"),
        "form": (form or LineDocumentForm()) if can_change else None,
        "back_url": segment_url(segment, line_no=line.line_no),
    }
    if context["can_test_mail"]:
        context["test_email"] = test_email_address(request.user)
    return TemplateResponse(request, LETTER_PAGE, context, status=status)


class LineLetterView(SegmentPermissionMixin, View):
    """Preview one line's letter: its text as HTML and a link to the .docx."""

    permission_required = "segments.view_segment"

    def get(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        return render_letter(request, segment, get_letter_line(segment, line_no))


class LineLetterDownloadView(SegmentPermissionMixin, View):
    """The line's letter as a .docx ("<company> - <name>.docx"); when it cannot be made, the
    letter page with the reason."""

    permission_required = "segments.view_segment"

    def get(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = get_letter_line(segment, line_no)
        letter, problems = make_letter(segment, line)
        if letter is None:
            for problem in problems:
                messages.error(request, problem)
            return redirect(letter_url(segment, line_no))
        return download_response(letter, file_name=line_file_name(line))


class LineDocumentView(SegmentPermissionMixin, View):
    """Give a line its own document (R67), replacing the one it had; refused: 400 with every problem."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = get_letter_line(segment, line_no)
        form = LineDocumentForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                document = segment_line_document_set(
                    user=request.user,
                    segment=segment,
                    line_no=line_no,
                    data=form.content(),
                    file_name=form.file_name(),
                )
            except ValidationError as error:
                refused_upload(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Line %(line)s (%(contact)s) now has its own Word document “%(name)s”; "
                        "its letter is merged from it."
                    )
                    % {"line": line_no, "contact": line.contact.no, "name": document.file_name},
                )
                return redirect(letter_url(segment, line_no))
        return render_letter(request, segment, line, form=form, status=400)


class LineDocumentRemoveView(SegmentPermissionMixin, View):
    """Remove a line's own document: the line is merged from the segment's document again."""

    permission_required = "segments.change_segment"

    def post(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        line = get_letter_line(segment, line_no)
        if line.document_id is None:
            messages.info(request, _("Line %(line)s has no document of its own.") % {"line": line_no})
            return redirect(letter_url(segment, line_no))
        try:
            segment_line_document_set(user=request.user, segment=segment, line_no=line_no, data=None)
        except SegmentAlreadyLogged:
            raise
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                _("Removed line %(line)s's own Word document; its letter is merged from the segment's again.")
                % {"line": line_no},
            )
        return redirect(letter_url(segment, line_no))
