"""Writes on stored documents: attaching a Word template to a template language (SPEC F1.9,
F1.10, D10; CONTRACT.md `interaction_template attach`).
"""

from __future__ import annotations

import logging
import re
from typing import BinaryIO

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from crm.models import Language
from crm.permissions import require

from .compact_letters import base_members, compact
from .models import Document, InteractionTemplate, InteractionTemplateLanguage
from .ooxml import DOCX_CONTENT_TYPE
from .storage import FILES_DELETED_AT_COMMIT, StoredFile, file_store, files_delete_on_commit
from .wordtemplates import validate_template

logger = logging.getLogger(__name__)

#: The name a compact letter's file is stored under (its extension says what it holds).
COMPACT_FILE_NAME = "letter.compact"

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def document_file_name(name: str, *, default: str = "document.docx") -> str:
    """A file name safe to store and to offer for download: the last path component, without
    control or reserved characters, at most 255 characters; `default` when nothing is left."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    return name[-255:] or default


def _store(
    data: bytes | BinaryIO | StoredFile, *, file_name: str, base: Document | None
) -> tuple[StoredFile, int | None]:
    """Store `data`: compact when it is a letter (bytes) made from `base`, a read-only Word
    template, and compact_letters can describe it (the stored file then holds what differs,
    while size and SHA-256 are the letter's); else whole. Returns the stored file and the base
    it needs (None: stored whole)."""
    if isinstance(data, StoredFile):
        return data, None
    if base is not None and base.read_only and isinstance(data, (bytes, bytearray)):
        try:
            compacted = compact(bytes(data), base_members(base.file.name))
        except OSError:  # the base's file cannot be read: the letter is stored whole
            logger.warning("base document %s cannot be read; the letter is stored whole", base.pk, exc_info=True)
            compacted = None
        if compacted is not None:
            stored = file_store(compacted.data, file_name=COMPACT_FILE_NAME)
            return StoredFile(name=stored.name, size=compacted.size, sha256=compacted.sha256), base.pk
    return file_store(data, file_name=file_name), None


def document_create(
    *,
    data: bytes | BinaryIO | StoredFile,
    file_name: str,
    content_type: str = DOCX_CONTENT_TYPE,
    read_only: bool = False,
    base: Document | None = None,
) -> Document:
    """Store `data` (bytes, or a seekable binary file streamed from its start) as a new
    document: the file first (size and SHA-256 computed while it is written), then the row, in
    the caller's transaction. `data` may be a file stored beforehand (`storage.file_store`, so a
    large file is written before the transaction starts). When that transaction rolls back the file stays without a row,
    and housekeeping removes it (storage.unreferenced_files_prune). Checks nothing about the
    content: callers validate first. A letter made from the Word template `base` (read-only)
    is stored compact when it can be (Document, compact_letters)."""
    name = document_file_name(file_name)
    stored, base_id = _store(data, file_name=name, base=base)
    return Document.objects.create(
        file_name=name,
        file=stored.name,
        size=stored.size,
        sha256=stored.sha256,
        content_type=content_type,
        read_only=read_only,
        base_id=base_id,
    )


def document_rewrite(*, document_id: int, data: bytes, file_name: str, base: Document | None = None) -> bool:
    """Replace the content of a document that is not read-only (a letter of a failed delivery
    attempt, owned by its entry); False when there is no such document. The new bytes go to a
    new file (compact when made from `base`, as in `document_create`), one UPDATE points the
    row at it, and the old file is removed once the caller's transaction commits."""
    previous = Document.objects.filter(pk=document_id, read_only=False).values_list("file", flat=True).first()
    if previous is None:
        return False
    name = document_file_name(file_name)
    stored, base_id = _store(data, file_name=name, base=base)
    if not Document.objects.filter(pk=document_id, read_only=False, file=previous).update(
        file=stored.name, size=stored.size, sha256=stored.sha256, file_name=name, base_id=base_id
    ):
        return False  # changed meanwhile: the new file has no row, housekeeping removes it
    files_delete_on_commit([previous])
    return True


def documents_delete_with(entries, *, deliveries=None) -> int:
    """Delete the letters stored for `entries` (R72: each belongs to its entry alone) and the
    print files of `deliveries` with their PDFs, in one statement each, inside the caller's transaction and
    before the caller deletes those rows: the database checks their references at commit, when
    they are gone. A plain DELETE, because Django's delete would load every document and look
    for other users of it in every table that refers to documents. Word templates (read-only)
    are never deleted here. Their files are removed once the transaction commits (up to
    storage.FILES_DELETED_AT_COMMIT of them; more are left to housekeeping, which removes files
    no row names). Returns the number of documents deleted."""
    doomed = [Document.objects.filter(pk__in=entries.filter(document__isnull=False).values("document_id"))]
    if deliveries is not None:
        doomed.append(
            Document.objects.filter(pk__in=deliveries.filter(print_document__isnull=False).values("print_document_id"))
        )
        doomed.append(Document.objects.filter(pk__in=deliveries.filter(print_pdf__isnull=False).values("print_pdf_id")))
    names: list[str] | None = []
    deleted = 0
    for documents in doomed:
        documents = documents.filter(read_only=False)
        if names is not None:
            names += documents.values_list("file", flat=True)[: FILES_DELETED_AT_COMMIT + 1 - len(names)]
            if len(names) > FILES_DELETED_AT_COMMIT:
                names = None
        deleted += documents._raw_delete(documents.db)
    if names:
        files_delete_on_commit(names)
    return deleted


def delete_if_unused(document_id: int) -> None:
    """Delete a replaced document unless it is read-only or something still refers to it
    (every foreign key to a document is PROTECT, so Django refuses the delete then); its file
    is removed once the caller's transaction commits."""
    name = Document.objects.filter(pk=document_id, read_only=False).values_list("file", flat=True).first()
    if name is None:
        return
    try:
        with transaction.atomic():
            deleted, _ = Document.objects.filter(pk=document_id, read_only=False).delete()
    except (ProtectedError, RestrictedError):
        return
    if deleted:
        files_delete_on_commit([name])


def interaction_template_attach(
    *, user, template: InteractionTemplate, language: Language | None, data: bytes, file_name: str
) -> Document:
    """Make `data` the Word template of the template's row for `language` (None: the template's
    default language, which may itself be blank), creating the row if needed, and return the
    new document.

    Guarantees: the document is checked completely first (wordtemplates.validate_template:
    package, every tag of every rendered part, a sandboxed trial render) and a problem raises
    WordTemplateInvalid listing every reason, before anything is written; then one durable
    transaction stores the document and points the row at it, with the row locked so two
    attaches to one row apply one after the other. The replaced document is deleted unless it
    is read-only or still used elsewhere. Needs interactions.change_interactiontemplate.
    """
    require(user, "interactions.change_interactiontemplate")
    validate_template(data)
    if language is None:
        language = template.language
    with transaction.atomic(durable=True):
        row, _ = InteractionTemplateLanguage.objects.get_or_create(
            template=template, language=language, defaults={"description": template.description}
        )
        row = InteractionTemplateLanguage.objects.select_for_update().get(pk=row.pk)
        previous = row.document_id
        document = document_create(data=data, file_name=file_name)
        row.document = document
        row.save(update_fields=["document"])
        if previous is not None:
            delete_if_unused(previous)
    return document
