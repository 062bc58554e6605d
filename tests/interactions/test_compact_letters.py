"""Compact letters (issue 13; interactions/compact_letters.py): an entry's letter is stored as
what differs from its Word template, and every reader gets the letter rebuilt with the same
parts, in the same order, with the same bytes as when it was made."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import ProtectedError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from crm.models import CorrespondenceType
from crm.permissions import COMMAND_LINE
from interactions import compact_letters
from interactions.compact_letters import CompactLetterError, base_members, compact, rebuild
from interactions.delivery import ENTRY_RELATED, LetterMaker, delivery_start
from interactions.documents import (
    delete_if_unused,
    document_create,
    document_rewrite,
    documents_delete_with,
    interaction_template_attach,
)
from interactions.letters import combine_docx
from interactions.merge_fields import sample_context
from interactions.models import (
    Delivery,
    DeliveryItem,
    DeliveryKind,
    DeliveryStatus,
    Document,
    InteractionLogEntry,
    InteractionTemplate,
    InteractionTemplateLanguage,
)
from interactions.sample_template import sample_letter_docx
from interactions.storage import unreferenced_files_prune
from interactions.wordtemplates import prepare
from segments import services as segment_services
from segments.demo import demo_seed
from tests.interactions.docx_builders import docx_bytes, paragraph_texts, rezip
from tests.interactions.smtp_server import running_smtp_server

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
KB4 = 4 * 1024


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """A storage of this test's own: housekeeping sees only its files."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def parts(data: bytes) -> list[tuple[str, bytes]]:
    """The package's parts: names in order, with their bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def stored_size(document: Document) -> int:
    return default_storage.size(document.file.name)


def demo_log(correspondence_type=CorrespondenceType.HARD_COPY, contacts: int = 20, **values):
    """The demo data's LETTER template (the sample letter) logged with deliver for every contact."""
    demo_seed(contacts=contacts)
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Demo letters",
            "interaction_template": InteractionTemplate.objects.get(code="LETTER"),
            "correspondence_type": correspondence_type,
            "ignore_contact_correspondence_type": True,
            **values,
        },
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")
    return segment_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True).logged_segment


def deliver(logged, capture, kind=DeliveryKind.DELIVER) -> Delivery:
    with override_settings(TASKS=IMMEDIATE), capture(execute=True):
        delivery = delivery_start(user=COMMAND_LINE, logged_segment=logged, kind=kind)
    delivery.refresh_from_db()
    return delivery


def entries_of(logged):
    return (
        InteractionLogEntry.objects.filter(logged_segment=logged)
        .select_related(*ENTRY_RELATED, "document", "document__base")
        .order_by("pk")
    )


# --- the demo template --------------------------------------------------------------------------


def test_a_demo_letter_is_stored_in_at_most_4_kb_and_read_back_as_it_was_made(django_capture_on_commit_callbacks):
    logged = demo_log()
    delivery = deliver(logged, django_capture_on_commit_callbacks)
    entries = list(entries_of(logged))
    assert delivery.printed == len(entries) > 10 and delivery.failed == 0

    maker = LetterMaker()
    template_size = entries[0].word_template.size
    for entry in entries:
        document = entry.document
        assert document.base_id == entry.word_template_id and document.base.read_only
        assert stored_size(document) <= KB4 < template_size  # ~2.7 KB instead of ~38 KB
        made = maker.letter(entry)  # the letter the delivery made for this entry
        rebuilt = document.read_bytes()
        assert parts(rebuilt) == parts(made)  # same part names, order and bytes
        assert rebuilt == made  # our renderer's letter comes back byte for byte
        assert (document.size, document.sha256) == (len(made), hashlib.sha256(made).hexdigest())
        with document.open() as stream:
            assert stream.read() == made


def test_the_download_is_the_rebuilt_letter(django_capture_on_commit_callbacks, viewer_client):
    logged = demo_log(contacts=3)
    deliver(logged, django_capture_on_commit_callbacks)
    entry = entries_of(logged).first()
    assert entry.document.base_id is not None

    response = viewer_client.get(reverse("interactions:entry_document", args=[entry.pk]))

    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert body == LetterMaker().letter(entry) == entry.document.read_bytes()
    assert response["Content-Length"] == str(len(body)) == str(entry.document.size)
    assert response["Content-Disposition"].startswith("attachment;")


def test_the_print_file_combines_the_rebuilt_letters(django_capture_on_commit_callbacks):
    logged = demo_log(contacts=6)
    delivery = deliver(logged, django_capture_on_commit_callbacks)
    entries = list(entries_of(logged))
    assert all(entry.document.base_id for entry in entries)
    maker = LetterMaker()
    expected = io.BytesIO()
    combine_docx((maker.letter(entry) for entry in entries), expected)

    printed = delivery.print_document.read_bytes()

    assert delivery.print_document.base_id is None  # the print file is stored whole
    assert parts(printed) == parts(expected.getvalue())
    texts = paragraph_texts(printed)
    for entry in entries:
        assert any(entry.contact.name in text for text in texts)


def test_a_resend_stores_its_letter_compact_too(django_capture_on_commit_callbacks):
    with running_smtp_server() as smtp, override_settings(MAILERS=smtp.mailers()):
        logged = demo_log(CorrespondenceType.EMAIL, contacts=3, send_as_attachment=True)
        first = entries_of(logged).exclude(contact_via="").first()
        InteractionLogEntry.objects.filter(logged_segment=logged).exclude(pk=first.pk).update(canceled=True)
        smtp.refuse.add(first.contact_via)
        deliver(logged, django_capture_on_commit_callbacks)
        failed = entries_of(logged).get(pk=first.pk)
        assert failed.delivery_status == DeliveryStatus.ERROR and failed.document.base_id == failed.word_template_id
        old_file = failed.document.file.name
        smtp.refuse.clear()

        deliver(logged, django_capture_on_commit_callbacks, kind=DeliveryKind.RESEND)

        entry = entries_of(logged).get(pk=first.pk)
        (message,) = smtp.to(first.contact_via)
    assert entry.delivery_status == DeliveryStatus.SENT and entry.document_id == failed.document_id  # rewritten
    assert entry.document.file.name != old_file and not default_storage.exists(old_file)
    assert entry.document.base_id == entry.word_template_id and stored_size(entry.document) <= KB4
    (attached,) = message.attachments.values()
    assert entry.document.read_bytes() == attached  # R72: what was sent is what is stored
    assert entry.document.sha256 == hashlib.sha256(attached).hexdigest()


# --- the base ------------------------------------------------------------------------------------


def test_the_base_cannot_be_deleted_while_a_compact_letter_needs_it(django_capture_on_commit_callbacks):
    logged = demo_log(contacts=2)
    deliver(logged, django_capture_on_commit_callbacks)
    entry = entries_of(logged).first()
    base = entry.document.base
    letter = entry.document.read_bytes()

    with pytest.raises(ProtectedError) as raised, transaction.atomic():
        Document.objects.filter(pk=base.pk).delete()

    assert "Document.base" in str(raised.value)
    assert Document.objects.filter(pk=base.pk).exists() and default_storage.exists(base.file.name)
    delete_if_unused(base.pk)  # read-only and in use: left alone
    row = InteractionTemplateLanguage.objects.filter(document=base).first()
    interaction_template_attach(  # a new Word template for the row: the old one stays for its letters
        user=COMMAND_LINE, template=row.template, language=row.language, data=docx_bytes("New"), file_name="new.docx"
    )
    assert Document.objects.get(pk=entry.document_id).read_bytes() == letter


def test_housekeeping_keeps_compact_letters_and_their_base_and_deleting_letters_keeps_the_base(
    django_capture_on_commit_callbacks,
):
    logged = demo_log(contacts=3)
    deliver(logged, django_capture_on_commit_callbacks)
    entries = InteractionLogEntry.objects.filter(logged_segment=logged)
    documents = list(Document.objects.filter(pk__in=entries.values("document_id")))
    base = documents[0].base

    assert unreferenced_files_prune(timezone.now() + timedelta(hours=2)) == 0
    assert all(d.read_bytes()[:2] == b"PK" for d in documents)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        deleted = documents_delete_with(entries)
        DeliveryItem.objects.filter(entry__in=entries).delete()
        entries.delete()

    assert deleted == len(documents)
    assert not Document.objects.filter(pk__in=[d.pk for d in documents]).exists()
    assert not any(default_storage.exists(d.file.name) for d in documents)
    assert Document.objects.filter(pk=base.pk).exists() and default_storage.exists(base.file.name)


# --- what is stored whole -----------------------------------------------------------------------


def template_and_letter() -> tuple[Document, bytes]:
    template = sample_letter_docx()
    base = document_create(data=template, file_name="template.docx", read_only=True)
    return base, prepare(template).render(sample_context())


def test_a_letter_is_stored_whole_when_it_cannot_be_compacted():
    base, letter = template_and_letter()
    writable = document_create(data=base.read_bytes(), file_name="draft.docx")  # may still change: no base
    not_a_zip = document_create(data=b"not a zip", file_name="broken.docx", read_only=True)
    bzip2 = io.BytesIO()
    with zipfile.ZipFile(bzip2, "w", zipfile.ZIP_BZIP2) as zf:
        for name, data in parts(letter):
            zf.writestr(name, data)

    for data, against in [
        (letter, writable),  # the base is not read-only
        (letter, not_a_zip),  # the base is not a valid .docx
        (b"plain text", base),  # the letter is not a zip
        (bzip2.getvalue(), base),  # its parts cannot be copied as they are
        (letter, None),  # no base
    ]:
        document = document_create(data=data, file_name="letter.docx", base=against)
        assert document.base_id is None
        assert default_storage.size(document.file.name) == len(data) == document.size
        assert document.read_bytes() == data and document.sha256 == hashlib.sha256(data).hexdigest()

    compact_one = document_create(data=letter, file_name="letter.docx", base=base)
    assert compact_one.base_id == base.pk and stored_size(compact_one) <= KB4


def test_a_letter_of_another_order_with_a_part_the_base_lacks_is_described_exactly():
    base, letter = template_and_letter()
    reordered = list(reversed(parts(letter))) + [("word/extra.xml", b"<extra/>")]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in reordered:
            zf.writestr(name, data)

    document = document_create(data=out.getvalue(), file_name="letter.docx", base=base)

    assert document.base_id == base.pk and stored_size(document) < len(out.getvalue()) // 4
    assert parts(document.read_bytes()) == reordered
    assert document.size == len(document.read_bytes())


def test_a_rewrite_without_a_base_stores_whole_and_drops_the_base():
    base, letter = template_and_letter()
    document = document_create(data=letter, file_name="letter.docx", base=base)
    assert document.base_id == base.pk

    other = docx_bytes("Written by hand")
    assert document_rewrite(document_id=document.pk, data=other, file_name="letter.docx")

    document.refresh_from_db()
    assert document.base_id is None and document.read_bytes() == other and stored_size(document) == len(other)


def test_a_letter_stored_whole_before_compact_letters_reads_as_before():
    letter = rezip(docx_bytes("Old letter"))
    document = document_create(data=letter, file_name="old.docx")  # as every letter was stored until now

    assert document.base_id is None and document.read_bytes() == letter
    with document.open() as stream:
        assert stream.read() == letter


def test_a_damaged_compact_letter_says_why_it_cannot_be_read():
    base, letter = template_and_letter()
    members = base_members(base.file.name)
    compacted = compact(letter, members)
    assert compacted is not None and rebuild(compacted.data, members) == letter

    for data, reason in [
        (b"PK\x03\x04", "not a compact letter"),
        (compacted.data[:-10], "truncated"),
        (compacted.data + b"x", "trailing bytes"),
        (compacted.data[:30] + b"\x00" * 20 + compacted.data[50:], "damaged"),
    ]:
        with pytest.raises(CompactLetterError, match=reason):
            rebuild(data, members)
    with pytest.raises(CompactLetterError, match="has no part"):
        rebuild(compacted.data, {})


def test_bases_are_read_once_per_process(monkeypatch):
    base, letter = template_and_letter()
    reads = []
    monkeypatch.setattr(compact_letters, "_bases", compact_letters._Bases())
    real = compact_letters._members
    monkeypatch.setattr(compact_letters, "_members", lambda data: reads.append(len(data)) or real(data))

    for _ in range(3):
        base_members(base.file.name)

    assert len(reads) == 1
