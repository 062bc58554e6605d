"""A large document written through storage, and its download read under tracemalloc (the
storage tests' memory checks, RELIABILITY 23)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import tracemalloc

from interactions.documents import document_create
from interactions.views.documents import document_response

MIB = 1024 * 1024


def big_document(mebibytes: int, file_name: str = "huge.zip"):
    """A document of `mebibytes` random MiB streamed from a temporary file; (document, SHA-256)."""
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as source:
        block = os.urandom(MIB)
        for _ in range(mebibytes):
            source.write(block)
            digest.update(block)
        document = document_create(data=source, file_name=file_name, content_type="application/zip")
    return document, digest.hexdigest()


def streamed_download(document):
    """The document's download response read block by block under tracemalloc:
    (response, bytes received, their SHA-256, peak traced memory)."""
    received, length = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        response = document_response(document)
        for chunk in response.streaming_content:
            received.update(chunk)
            length += len(chunk)
        response.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, length, received.hexdigest(), peak
