"""Letters (.docx) built in code: the sample letter to start a Word template from (SPEC D10,
F1.9), and the builder the demo data writes its letters with (`letter_docx`).

Built at run time with python-docx, so the repository holds no binary file: the template page
offers the sample for download, and the tests use it as a realistic letter. They use only
fields of `interactions.wordtemplates.ALLOWED_FIELDS` and pass `interaction_template attach`'s
checks.

Every letter has the same shape: our company in the header and footer; on paper only
(`channel == "letter"`) the recipient's address block, the date, our reference and the subject;
then the salutation line, the body, the line's personal text (a paragraph that disappears when
the line has none), the closing and the salesperson's signature, and in an e-mail that has an
unsubscribe link, that link. Spacing comes from paragraph spacing, never from empty paragraphs,
so a letter has no empty paragraph at all.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from docx import Document as new_document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

SAMPLE_FILE_NAME = "sample-letter.docx"


@dataclass(frozen=True)
class LetterText:
    """The words of one letter in one language; each text may hold the allowed tags.

    `salutation` is the salutation paragraph with the punctuation the language wants after it
    (the formula itself has none): "{{ salutation_formal }},". `body` is a list of paragraphs;
    `personal_text_after` is how many of them come before the line's personal text."""

    language: str  # the document's language tag, e.g. "de-DE"
    salutation: str
    body: tuple[str, ...]
    closing: str
    reference: str  # "Our reference:", with the language's punctuation
    date_format: str = "j F Y"  # Django date format letters, for `today`
    personal_text_after: int = 1
    unsubscribe: str = ""  # the paragraph's text before the link, e.g. "Unsubscribe:"
    title: str = "{{ line.subject|default(line.description) }}"
    comments: str = ""


def _space(paragraph, before: float = 0, after: float = 0) -> None:
    paragraph.paragraph_format.space_before = Pt(before)
    paragraph.paragraph_format.space_after = Pt(after)


def letter_docx(text: LetterText) -> bytes:
    """One letter as .docx bytes (the shape in the module docstring)."""
    document = new_document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
    section.left_margin = section.right_margin = Cm(2.5)
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    style.paragraph_format.space_before = Pt(0)
    style.paragraph_format.space_after = Pt(8)

    header = section.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    header.add_run("{{ company.name }}").bold = True
    header.add_run("\n{{ company.address }}\n{{ company.post_code }} {{ company.city }}")
    header.add_run("\n{{ company.phone }} · {{ company.email }}")

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run(
        "{{ company.name }} · {{ company.address }} · {{ company.post_code }} {{ company.city }}"
        " · {{ company.country }}"
    ).font.size = Pt(8)

    def paragraph(content: str = "", before: float = 0, after: float = 8):
        added = document.add_paragraph(content)
        _space(added, before, after)
        return added

    def tag(content: str):  # a docxtpl paragraph tag: the whole paragraph is replaced
        return paragraph(content, 0, 0)

    tag('{%p if channel == "letter" %}')
    paragraph("{{ address_block }}", before=36, after=24)
    paragraph('{{ company.city }}, {{ today|date("' + text.date_format + '") }}', after=0)
    paragraph(text.reference + " {{ segment.no }} / {{ contact.no }}", after=18)
    paragraph(after=12).add_run(text.title).bold = True
    tag("{%p endif %}")
    paragraph(text.salutation, after=10)
    for index, body in enumerate(text.body):
        if index == text.personal_text_after:
            tag("{%p if line.personal_text %}")
            paragraph("{{ line.personal_text }}")
            tag("{%p endif %}")
        paragraph(body)
    if text.personal_text_after >= len(text.body):
        tag("{%p if line.personal_text %}")
        paragraph("{{ line.personal_text }}")
        tag("{%p endif %}")
    paragraph(text.closing, before=6, after=24)
    tag("{%p if salesperson.name %}")
    paragraph(after=0).add_run("{{ salesperson.name }}").bold = True
    tag("{%p endif %}")
    tag("{%p if salesperson.job_title %}")
    paragraph("{{ salesperson.job_title }}", after=0)
    tag("{%p endif %}")
    paragraph("{{ company.name }}", after=0)
    if text.unsubscribe:
        tag("{%p if unsubscribe_url %}")
        paragraph(text.unsubscribe + " {{ unsubscribe_url }}", before=18).runs[0].font.size = Pt(8)
        tag("{%p endif %}")

    properties = document.core_properties
    properties.title = text.title
    properties.subject = "{{ campaign.description }}"
    properties.author = "{{ salesperson.name }}"
    properties.comments = text.comments
    properties.language = text.language
    properties.keywords = ""
    properties.last_modified_by = ""
    properties.revision = 1

    out = io.BytesIO()
    document.save(out)
    return _without_times(out.getvalue())


def _without_times(package: bytes) -> bytes:
    """The package with one fixed time on every part (python-docx stamps the current time):
    the same letter text always gives the same bytes, whenever it is made."""
    fixed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(fixed, "w") as target:
        for info in source.infolist():
            part = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            part.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(part, source.read(info))
    return fixed.getvalue()


SAMPLE_LETTER = LetterText(
    language="en-GB",
    salutation="{{ salutation_formal }},",
    body=(
        "{% if contact.company_name %}We would like to introduce you and your colleagues at"
        " {{ contact.company_name }} to{% else %}We would like to introduce you to{% endif %}"
        " our new spring range. You are among the first to hear about it.",
        'I would be glad to show you what it can do for you. Reply to this {% if channel == "email" %}e-mail'
        "{% else %}letter{% endif %}, call me on {{ salesperson.phone }} or write to {{ salesperson.email }}:"
        " I will gladly answer your questions.",
    ),
    closing="Kind regards,",
    reference="Our reference:",
    unsubscribe="No more e-mails like this one?",
    comments="Sample letter template: merge fields are written between double braces.",
)


def sample_letter_docx() -> bytes:
    """The sample letter as .docx bytes: our company in the header and footer; in a letter the
    recipient's address block, date, reference and subject; the formal salutation, the line's
    personal text (a paragraph that disappears when the line has none), and the salesperson's
    signature."""
    return letter_docx(SAMPLE_LETTER)
