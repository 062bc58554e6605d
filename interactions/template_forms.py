"""Forms of the interaction template pages: uploading a Word template (SPEC F1.9, D10).

The forms check what can be checked without reading the file: it is a .docx by name and at most
`wordtemplates.MAX_FILE_BYTES` (from the upload's size, before a byte is read). Everything about
the content (package, macros, external content, every field and filter, the trial render) is
checked by the service the view calls (`interactions.documents.interaction_template_attach`,
`segments.documents.*_document_set`), whose WordTemplateInvalid lists every problem; the view
puts that list on the form's file field. No form saves anything.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from crm.untrusted import CheckedForm

from .ooxml import DOCX_CONTENT_TYPE
from .wordtemplates import MAX_FILE_BYTES

BLANK_LANGUAGE = "-"  # the form value of the row without a language (no code starts with "-")


class DocxUploadForm(CheckedForm):
    """One .docx file; `content()` reads it, once, after the form is valid."""

    file = forms.FileField(
        label=_("Word template (.docx)"),
        help_text=_("At most %(limit)s.") % {"limit": filesizeformat(MAX_FILE_BYTES)},
        widget=forms.ClearableFileInput(attrs={"accept": f".docx,{DOCX_CONTENT_TYPE}"}),
    )

    error_messages = {
        "not_docx": _("Only Word documents (.docx) can be uploaded; “%(name)s” is not one. Nothing was stored."),
        "too_big": _("The file is %(size)s, over the limit of %(limit)s. Nothing was stored."),
    }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".docx"):
            raise ValidationError(self.error_messages["not_docx"], code="not_docx", params={"name": upload.name})
        # The size Django counted while receiving the upload: refuse before reading it.
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(
                self.error_messages["too_big"],
                code="too_big",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(MAX_FILE_BYTES)},
            )
        return upload

    def content(self) -> bytes:
        if not hasattr(self, "_content"):
            upload = self.cleaned_data["file"]
            upload.seek(0)
            self._content = upload.read(MAX_FILE_BYTES + 1)
        return self._content

    def file_name(self) -> str:
        return self.cleaned_data["file"].name


class LanguageDocumentForm(DocxUploadForm):
    """A .docx for one language row; `language` is a language code, BLANK_LANGUAGE for the row
    without one.

    `languages` lists the (code, label) pairs the form accepts (the page decides which rows and
    languages a user may upload to).
    """

    language = forms.ChoiceField(label=_("Language"))

    field_order = ("language", "file")

    def __init__(self, *args, languages: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = languages
        self.fields["language"].error_messages["invalid_choice"] = _(
            "“%(value)s” is not a language you can upload a document for here."
        )

    def language_code(self) -> str | None:
        """The chosen language's code, None for the row without a language."""
        code = self.cleaned_data["language"]
        return None if code == BLANK_LANGUAGE else code
