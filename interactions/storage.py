"""Where documents' bytes live: Django's default storage (settings STORAGES["default"]), the
file system under MEDIA_ROOT or an S3-compatible bucket (CRM_STORAGE_URL), shared by every web
and worker machine. The database keeps each document's description and its storage name.

- `file_store` streams bytes or a file object into a new, never reused name under
  `documents/` (yyyy/mm/<random>.<ext>), computing size and SHA-256 as it goes; it is written
  before the row that names it, so a row never points at a missing file.
- `stored_bytes` / `stored_open` read a document's bytes, rebuilding a compact letter from its
  base document (compact_letters); every reader goes through them.
- `files_delete_on_commit` removes replaced or deleted documents' files only once the deleting
  transaction has committed (nothing at all when it rolls back).
- `unreferenced_files_prune` (a crm.hooks housekeeper) removes the files no row names that are
  older than `GRACE` (a rolled-back transaction's file, a file whose delete failed, the files of
  a large bulk delete): set-based, one query per FILES_PER_QUERY listed names.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import posixpath
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

DOCUMENTS_PREFIX = "documents"
#: A file no row names is removed only when it is older than this: the transaction that is
#: about to insert its row may still be running.
GRACE = timedelta(hours=1)
#: Listed names compared with the database in one query.
FILES_PER_QUERY = 1000
#: Files a bulk delete removes at its commit; with more, housekeeping removes them all.
FILES_DELETED_AT_COMMIT = 100

_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}$")


def document_key(file_name: str, now=None) -> str:
    """A new storage name for a document called `file_name`: never used before, so a file is
    never overwritten and a name is never shared by two rows."""
    now = now or timezone.now()
    match = _EXTENSION.search(file_name or "")
    extension = match.group(0).lower() if match else ""
    return f"{DOCUMENTS_PREFIX}/{now:%Y/%m}/{uuid.uuid4().hex}{extension}"


class _HashingReader(io.RawIOBase):
    """A readable, seekable view of `source` that hashes what is read, in order. A storage that
    reads the file again from the start (a retried upload) starts the hash again; one that skips
    ahead makes the hash unknown (`complete` False): the caller hashes the source itself then."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self._restart()

    def _restart(self) -> None:
        self.hash = hashlib.sha256()
        self.hashed = 0  # bytes of the source hashed, from its start
        self.skipped = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.source.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self.source.seek(offset, whence)
        if position == 0:
            self._restart()
        return position

    def read(self, size: int = -1) -> bytes:
        start = self.source.tell()
        data = self.source.read(size)
        if start > self.hashed:
            self.skipped = True
        elif data and start + len(data) > self.hashed:
            self.hash.update(data[self.hashed - start :])
            self.hashed = start + len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def complete(self, size: int) -> bool:
        return not self.skipped and self.hashed == size


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str


def _digest(source: BinaryIO) -> str:
    source.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(1024 * 1024), b""):
        digest.update(chunk)
    return digest.hexdigest()


def file_store(data: bytes | BinaryIO, *, file_name: str) -> StoredFile:
    """Store `data` (bytes, or a seekable binary file object read from its start, never whole
    into memory) under a new name, and return the name with its size and SHA-256."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(0)
    reader = _HashingReader(source)
    name = default_storage.save(document_key(file_name), File(reader))
    sha256 = reader.hash.hexdigest() if reader.complete(size) else _digest(source)
    return StoredFile(name=name, size=size, sha256=sha256)


def file_open(name: str) -> BinaryIO:
    """The stored file `name`, open for reading in binary mode (read it in chunks). From an S3
    bucket it is the object's body as it arrives, so a download starts at once and nothing of
    it is kept (django-storages' own S3File would fetch the whole object first)."""
    from storages.backends.s3 import S3Storage

    if not isinstance(default_storage, S3Storage):
        return default_storage.open(name, "rb")
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    key = default_storage._normalize_name(clean_name(name))  # the bucket key under the prefix, as S3Storage makes it
    try:
        return default_storage.bucket.Object(key).get()["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(f"stored file {name} does not exist") from exc
        raise


def file_read(name: str) -> bytes:
    """The whole stored file `name` (for small files: Word templates, letters)."""
    with file_open(name) as file:
        return file.read()


def stored_bytes(name: str, base: str | None = None) -> bytes:
    """The bytes of the document stored as `name`, whole: the file itself, or, when `base` names
    the stored file of its base document, the letter rebuilt from the compact file and that base
    (compact_letters). Every reader of a document's bytes comes here (Document.read_bytes and
    .open, the print file)."""
    if base is None:
        return file_read(name)
    from .compact_letters import base_members, rebuild

    return rebuild(file_read(name), base_members(base))


def stored_open(name: str, base: str | None = None) -> BinaryIO:
    """The document stored as `name` open for reading (binary): streamed from storage when it
    is stored whole, the rebuilt letter in memory when it is compact (a few dozen KB)."""
    if base is None:
        return file_open(name)
    return io.BytesIO(stored_bytes(name, base))


def files_delete(names: Iterable[str]) -> None:
    """Remove stored files now; one that is already gone or cannot be removed is logged and left
    to housekeeping."""
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            logger.warning("stored file %s was not removed (housekeeping will)", name, exc_info=True)


def files_delete_on_commit(names: Iterable[str]) -> None:
    """Remove the stored files `names` once the current transaction commits (at once outside
    one); never when it rolls back."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: files_delete(names))


# --- Housekeeping ---------------------------------------------------------------------------------


def _listed(folder: str) -> Iterator[str]:
    """Every file under `folder` (its storage names), walking its sub-folders."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:  # nothing stored yet (file system)
        return
    for file in files:
        yield posixpath.join(folder, file)
    for sub in folders:
        yield from _listed(posixpath.join(folder, sub))


def _chunks(names: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for name in names:
        chunk.append(name)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def unreferenced_files_prune(now) -> int:
    """Remove the files under `documents/` that no document names and that were last changed
    more than GRACE before `now`; returns how many. Listed names are compared with the
    database FILES_PER_QUERY at a time; only the unreferenced ones have their time read."""
    from .models import Document

    cutoff = now - GRACE
    removed = 0
    for chunk in _chunks(_listed(DOCUMENTS_PREFIX), FILES_PER_QUERY):
        named = set(Document.objects.filter(file__in=chunk).values_list("file", flat=True))
        for name in chunk:
            if name in named:
                continue
            try:
                if default_storage.get_modified_time(name) >= cutoff:
                    continue
                default_storage.delete(name)
            except FileNotFoundError:
                continue
            removed += 1
    return removed
