"""The `channel` and `unsubscribe_url` fields (CONTRACT.md "Word template fields") in every
renderer: `segment merge` and print files render `letter`, an e-mail (as body or attachment)
and the preview of an e-mail line render `email`; `unsubscribe_url` is empty in a letter, and
in an e-mail it is what `merge_fields.unsubscribe_url` gives: the contact's signed link under
CRM_PUBLIC_URL for an entry of a logged segment, empty for a segment line's preview."""

from __future__ import annotations

import io
import os
import tempfile

import docx
import pytest

from crm.models import CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions import merge_fields
from interactions.unsubscribe import unsubscribe_url
from segments import merge
from segments import services as segment_services
from segments.models import SegmentLine
from tests.interactions.docx_builders import paragraph_texts
from tests.interactions.test_delivery import build, deliver, entries, log, smtp  # noqa: F401 (smtp: a fixture)

pytestmark = pytest.mark.django_db

CHANNEL = (
    "{{ salutation_formal }},",
    '{%p if channel == "letter" %}',
    "{{ address_block }}",
    "{%p endif %}",
    "channel=[{{ channel }}] unsubscribe=[{{ unsubscribe_url }}]",
)


def channel_lines(texts: list[str]) -> list[str]:
    return [text for text in texts if text.startswith("channel=")]


@pytest.fixture
def unsubscribe_link(monkeypatch):
    """What the consent issue's endpoint will give: a link per contact."""
    monkeypatch.setattr(merge_fields, "unsubscribe_url", lambda line: f"https://crm.test/u/{line.contact.no}")


def test_segment_merge_renders_letter_and_the_preview_the_lines_own_channel(unsubscribe_link):
    segment, (company, person) = build(n_persons=1, paragraphs=CHANNEL)  # e-mail lines
    line = SegmentLine.objects.get(segment=segment, contact=person)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "letters.docx")
        merge.merge_to_path(segment, path)
        with open(path, "rb") as merged:
            texts = [p.text for p in docx.Document(io.BytesIO(merged.read())).paragraphs]
    preview = paragraph_texts(merge.line_letter(segment, line))

    assert channel_lines(texts) == ["channel=[letter] unsubscribe=[]"] * 2
    assert "1 Main St\n2611 AB Delft" in "\n".join(texts)
    assert channel_lines(preview) == [f"channel=[email] unsubscribe=[https://crm.test/u/{person.no}]"]
    assert "1 Main St" not in "\n".join(preview)

    SegmentLine.objects.filter(pk=line.pk).update(correspondence_type=CorrespondenceType.HARD_COPY)
    assert channel_lines(paragraph_texts(merge.line_letter(segment, line))) == ["channel=[letter] unsubscribe=[]"]


def test_an_email_renders_email_with_its_unsubscribe_link_and_no_address_block(
    smtp,  # noqa: F811
    unsubscribe_link,
    django_capture_on_commit_callbacks,
):
    segment, (company, person) = build(n_persons=1, paragraphs=CHANNEL, send_as_attachment=False)
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    (message,) = smtp.to(person.email)
    assert f"channel=[email] unsubscribe=[https://crm.test/u/{person.no}]" in message.text
    assert "1 Main St" not in message.text
    entry = entries(logged).get(contact=person)
    assert channel_lines(paragraph_texts(entry.document.read_bytes())) == [
        f"channel=[email] unsubscribe=[https://crm.test/u/{person.no}]"
    ]


def test_an_email_attachment_renders_email_with_the_contacts_own_unsubscribe_link(
    smtp,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CRM_PUBLIC_URL = "https://crm.example.com"
    segment, (company, person) = build(n_persons=1, paragraphs=CHANNEL, send_as_attachment=True)
    logged = log(segment)

    deliver(logged, django_capture_on_commit_callbacks)

    (message,) = smtp.to(person.email)
    (attached,) = message.attachments.values()
    url = unsubscribe_url(contact_id=person.pk, logged_segment_id=logged.pk)
    assert url.startswith("https://crm.example.com/u/")
    assert channel_lines(paragraph_texts(attached)) == [f"channel=[email] unsubscribe=[{url}]"]


def test_a_print_file_renders_letter(smtp, unsubscribe_link, django_capture_on_commit_callbacks):  # noqa: F811
    segment, contacts = build(n_persons=2, paragraphs=CHANNEL, correspondence_type=CorrespondenceType.HARD_COPY)
    logged = log(segment)

    delivery = deliver(logged, django_capture_on_commit_callbacks)

    texts = paragraph_texts(delivery.print_document.read_bytes())
    assert channel_lines(texts) == ["channel=[letter] unsubscribe=[]"] * 3
    assert sum("1 Main St\n2611 AB Delft" in text for text in texts) == 3


def test_a_segment_line_set_to_email_previews_as_email():
    segment, (company, person) = build(
        n_persons=1, paragraphs=CHANNEL, correspondence_type=CorrespondenceType.HARD_COPY
    )
    line = SegmentLine.objects.get(segment=segment, contact=person)
    segment_services.segment_set_line(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line.line_no,
        values={"correspondence_type": CorrespondenceType.EMAIL},
    )

    assert channel_lines(paragraph_texts(merge.line_letter(segment, line))) == ["channel=[email] unsubscribe=[]"]
