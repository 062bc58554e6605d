"""A one-page sample letter (.docx) to start a Word template from (SPEC D10, F1.9).

Built at run time with python-docx, so the repository holds no binary file: the template page
offers it for download, and the tests use it as a realistic letter. It uses only fields of
`interactions.wordtemplates.ALLOWED_FIELDS` and passes `interaction_template attach`'s checks.
"""

from __future__ import annotations

import io

from docx import Document as new_document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

SAMPLE_FILE_NAME = "sample-letter.docx"


def sample_letter_docx() -> bytes:
    """The sample letter as .docx bytes: our company in the header and footer, the recipient's
    address block, date, subject, formal salutation, the line's personal text (a paragraph that
    disappears when the line has none), the campaign, and the salesperson's signature."""
    document = new_document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
    section.left_margin = section.right_margin = Cm(2.5)
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)

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

    document.add_paragraph()
    document.add_paragraph("{{ address_block }}")
    document.add_paragraph()
    document.add_paragraph('{{ company.city }}, {{ today|date("j F Y") }}')
    document.add_paragraph("Our reference: {{ segment.no }} / {{ contact.no }}")
    subject = document.add_paragraph()
    subject.add_run("{{ line.subject|default(line.description) }}").bold = True
    document.add_paragraph("{{ salutation_formal }},")
    document.add_paragraph(
        "As {{ contact.job_title|default('a valued customer') }} at {{ contact.company_name|default(contact.name) }}, "
        "you are among the first to hear about {{ campaign.description|default('our new range') }}. "
        "We would be glad to show you what it can do for you."
    )
    document.add_paragraph("{%p if line.personal_text %}")
    document.add_paragraph("{{ line.personal_text }}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph(
        "Please reply to this letter, call {{ salesperson.phone }} or write to {{ salesperson.email }}: "
        "we will gladly answer your questions."
    )
    document.add_paragraph("Kind regards,")
    document.add_paragraph()
    signature = document.add_paragraph()
    signature.add_run("{{ salesperson.name }}").bold = True
    signature.add_run("\n{{ salesperson.job_title }}\n{{ company.name }}")

    properties = document.core_properties
    properties.title = "{{ line.subject|default(line.description) }}"
    properties.subject = "{{ campaign.description }}"
    properties.author = "{{ salesperson.name }}"
    properties.comments = "Sample letter template: merge fields are written between double braces."
    properties.keywords = ""
    properties.last_modified_by = ""
    properties.revision = 1

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
