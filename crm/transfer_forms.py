"""The upload form of the contact import page (crm/views/transfer.py)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .transfer import csv_size_problem
from .untrusted import CheckedForm


class ContactImportForm(CheckedForm):
    """A CSV file and its encoding. The size is checked from the upload's metadata, before the
    file is read, against `settings.CRM_CSV_MAX_BYTES`: the limit of the upload page (a batch
    job's `import_contacts` takes a file of any size)."""

    ENCODINGS = [
        ("utf-8-sig", _("UTF-8 (Excel: “CSV UTF-8”)")),
        ("cp1252", _("Windows-1252 (Excel on Windows: plain “CSV”)")),
    ]

    file = forms.FileField(label=_("CSV file"), help_text=_("A header line, then one contact per line."))
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS, initial="utf-8-sig", required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if problem := csv_size_problem(upload.size):
            raise ValidationError(
                _("%(problem)s."), code="too_big", params={"problem": problem[:1].upper() + problem[1:]}
            )
        return upload

    def clean_encoding(self) -> str:
        return self.cleaned_data["encoding"] or "utf-8-sig"
