"""Interaction template pages (SPEC F1.9, F1.14, D10): the templates with their languages, and a
template's page with the Word template of each language, the upload that attaches or replaces
one, every field and filter a Word template may use, and a sample .docx to start from.

Views parse input with interactions.template_forms, read through
interactions.template_selectors and write only through
interactions.documents.interaction_template_attach, which checks the document completely and
stores nothing when it is refused; the page then lists every problem. Login is required by
LoginRequiredMiddleware; reading and downloading need interactions.view_interactiontemplate,
uploading interactions.change_interactiontemplate (403 without it; the form is not shown).
Admins also have Django admin for the templates' other fields.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views import View

from crm.models import Language

from .. import template_selectors as selectors
from ..documents import interaction_template_attach
from ..merge_fields import sample_context
from ..models import InteractionTemplate, InteractionTemplateLanguage
from ..sample_template import SAMPLE_FILE_NAME, sample_letter_docx
from ..template_forms import BLANK_LANGUAGE, LanguageDocumentForm
from ..wordtemplates import ALLOWED_FIELDS, ALLOWED_FILTERS, WordTemplateInvalid, field_text
from .documents import document_response, download_response

TEMPLATES_PER_PAGE = 50


class TemplatePermissionMixin(PermissionRequiredMixin):
    raise_exception = True
    permission_required = "interactions.view_interactiontemplate"


def language_label(code: str | None, name: str = "") -> str:
    if code is None:
        return _("(no language)")
    return f"{code} – {name}" if name else code


def merge_fields() -> list[dict]:
    """ALLOWED_FIELDS as the page lists them: the tag to type, what it holds, and an example:
    the field rendered from the sample line's fields, as a letter would show it."""
    sample = sample_context()
    return [
        {"tag": "{{ " + path + " }}", "description": field.description, "example": field_text(path, sample)}
        for path, field in ALLOWED_FIELDS.items()
    ]


def merge_filters() -> list[dict]:
    return [
        {"name": name, "description": description, "example": example}
        for name, (description, example) in ALLOWED_FILTERS.items()
    ]


def row_key(row: InteractionTemplateLanguage) -> str:
    return row.language_id or BLANK_LANGUAGE


def row_accepts_upload(template: InteractionTemplate, row: InteractionTemplateLanguage) -> bool:
    """The row without a language can only be reached when the template's default language is
    blank too (the attach service reads "no language" as "the default language")."""
    return row.language_id is not None or template.language_id is None


class UploadChoices:
    """Which language rows a user can upload to: the template's rows, and languages to add."""

    def __init__(self, template: InteractionTemplate, rows: list[InteractionTemplateLanguage]):
        self.template = template
        self.rows = rows
        self.row_choices = {
            row_key(row): language_label(row.language_id, row.language.name if row.language else "")
            for row in rows
            if row_accepts_upload(template, row)
        }
        self.add_choices = [
            (language.code, language_label(language.code, language.name))
            for language in selectors.languages_without_row(rows=rows)
        ]
        if template.language_id is None and all(row.language_id is not None for row in rows):
            self.add_choices.insert(0, (BLANK_LANGUAGE, language_label(None)))

    def all(self) -> list[tuple[str, str]]:
        return [*self.row_choices.items(), *self.add_choices]

    def row_form(self, key: str, bound: LanguageDocumentForm | None) -> LanguageDocumentForm:
        if bound is not None and bound.data.get("language") == key:
            return bound
        return LanguageDocumentForm(
            languages=[(key, self.row_choices[key])], initial={"language": key}, auto_id=f"id_row{key}_%s"
        )

    def unplaced(self, bound: LanguageDocumentForm | None) -> bool:
        """A refused upload for no row of the page: it is shown as the "add a language" form."""
        return bound is not None and bound.data.get("language") not in self.row_choices

    def add_form(self, bound: LanguageDocumentForm | None) -> LanguageDocumentForm:
        if self.unplaced(bound):
            return bound
        return LanguageDocumentForm(languages=[("", _("Choose a language…")), *self.add_choices], auto_id="id_add_%s")


def render_template_page(
    request, template: InteractionTemplate, *, bound: LanguageDocumentForm | None = None, status: int = 200
) -> TemplateResponse:
    """The template page; `bound` (a refused upload) is shown with its errors where it was posted."""
    rows = selectors.template_language_rows(template=template)
    can_change = request.user.has_perm("interactions.change_interactiontemplate")
    choices = UploadChoices(template, rows)
    items = []
    for row in rows:
        key = row_key(row)
        form = choices.row_form(key, bound) if can_change and key in choices.row_choices else None
        items.append(
            {"row": row, "form": form, "label": language_label(row.language_id, getattr(row.language, "name", ""))}
        )
    context = {
        "template": template,
        "rows": items,
        "can_change": can_change,
        "add_form": choices.add_form(bound)
        if can_change and (choices.add_choices or choices.unplaced(bound))
        else None,
        "fields": merge_fields(),
        "filters": merge_filters(),
        "sample_file_name": SAMPLE_FILE_NAME,
        # Shown as code inside a translated sentence (a template tag cannot sit in its text).
        "filter_example": "{{ field|filter }}",
        "condition_example": "{% if line.personal_text %}…{% endif %}",
    }
    return TemplateResponse(request, "interactions/template_detail.html", context, status=status)


class TemplateListView(TemplatePermissionMixin, View):
    """Interaction templates by code, 50 a page, with their languages and which have a Word
    template (three queries: count, page, language rows)."""

    def get(self, request) -> HttpResponse:
        page_obj = Paginator(selectors.template_list(), TEMPLATES_PER_PAGE).get_page(request.GET.get("page"))
        return TemplateResponse(
            request, "interactions/template_list.html", {"page_obj": page_obj, "query_without_page": ""}
        )


class TemplateDetailView(TemplatePermissionMixin, View):
    """A template, its language rows with their Word templates, and the fields a template may use."""

    def get(self, request, code: str) -> HttpResponse:
        template = get_object_or_404(selectors.template_detail_queryset(), code=code)
        return render_template_page(request, template)


class TemplateDocumentUploadView(TemplatePermissionMixin, View):
    """Attach or replace the Word template of one language row (a new row for a language that
    is not yet one). A refused document stores nothing and is shown with every problem (400)."""

    permission_required = "interactions.change_interactiontemplate"

    def post(self, request, code: str) -> HttpResponse:
        template = get_object_or_404(selectors.template_detail_queryset(), code=code)
        rows = selectors.template_language_rows(template=template)
        form = LanguageDocumentForm(request.POST, request.FILES, languages=UploadChoices(template, rows).all())
        if form.is_valid():
            language_code = form.language_code()
            language = Language.objects.get(code=language_code) if language_code else None
            previous = next((row.document for row in rows if row.language_id == language_code), None)
            try:
                document = interaction_template_attach(
                    user=request.user,
                    template=template,
                    language=language,
                    data=form.content(),
                    file_name=form.file_name(),
                )
            except WordTemplateInvalid as error:
                form.add_error("file", error.problems)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                text = _("Stored “%(name)s” (%(size)s) as the Word template of %(code)s for %(language)s.") % {
                    "name": document.file_name,
                    "size": filesizeformat(document.size),
                    "code": template.code,
                    "language": language_label(language_code),
                }
                if previous is not None:
                    text += " " + _("It replaces “%(name)s”.") % {"name": previous.file_name}
                messages.success(request, text)
                return redirect("interactions:template_detail", code=template.code)
        return render_template_page(request, template, bound=form, status=400)


class TemplateDocumentDownloadView(TemplatePermissionMixin, View):
    """Download the Word template of one of the template's language rows (404 for any other document)."""

    def get(self, request, code: str, document_id: int) -> HttpResponse:
        template = get_object_or_404(InteractionTemplate.objects.only("code"), code=code)
        document = selectors.template_document(template=template, document_id=document_id)
        if document is None:
            raise Http404(_("%(code)s has no such Word template.") % {"code": template.code})
        return document_response(document)


class TemplateSampleView(TemplatePermissionMixin, View):
    """The sample letter to start a Word template from (interactions.sample_template)."""

    def get(self, request) -> HttpResponse:
        return download_response(sample_letter_docx(), file_name=SAMPLE_FILE_NAME)
