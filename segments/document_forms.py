"""Forms of a segment's Word documents (SPEC R66, R67): replace the segment's copy of a
language's Word template, or give one line its own document. They check the file's name and
size before reading it (interactions.template_forms.DocxUploadForm); the services in
segments.documents check the content and store it."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from interactions.template_forms import DocxUploadForm, LanguageDocumentForm


class SegmentLanguageDocumentForm(LanguageDocumentForm):
    """Replace the segment's document of one language row; the template's stays as it is."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].label = _("Replacement for this segment only (.docx)")


class LineDocumentForm(DocxUploadForm):
    """One line's own document (an edited letter, or a template for this line only)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_line_document_%s")
        super().__init__(*args, **kwargs)
        self.fields["file"].label = _("Own Word document for this line (.docx)")
