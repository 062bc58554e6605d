"""Every document's bytes move from the database (`content`) to Django's default storage
(MEDIA_ROOT, or the bucket of CRM_STORAGE_URL), under a new name in `file`.

Documents are read CHUNK at a time by key (only one chunk's bytes in memory), each file is
written before its row is updated. A migration that fails half-way leaves files no row names:
housekeeping removes them (interactions.storage.unreferenced_files_prune); run again, it moves
only the documents still without a file. Backwards, the bytes are read back into `content`.
"""

import io
import uuid

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import migrations
from django.utils import timezone

CHUNK = 50


def _chunks(rows, fields):
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk").only(*fields)[:CHUNK])
        yield from chunk
        if len(chunk) < CHUNK:
            return
        last = chunk[-1].pk


def forward(apps, schema_editor):
    Document = apps.get_model("interactions", "Document")
    now = timezone.now()
    for document in _chunks(Document.objects.filter(file=""), ("pk", "file_name", "content")):
        extension = document.file_name.rsplit(".", 1)[-1].lower() if "." in document.file_name else ""
        suffix = f".{extension}" if extension.isalnum() and len(extension) <= 10 else ""
        key = f"documents/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"
        name = default_storage.save(key, File(io.BytesIO(bytes(document.content or b""))))
        Document.objects.filter(pk=document.pk).update(file=name)


def backward(apps, schema_editor):
    Document = apps.get_model("interactions", "Document")
    for document in _chunks(Document.objects.exclude(file=""), ("pk", "file")):
        with default_storage.open(document.file.name, "rb") as stored:
            Document.objects.filter(pk=document.pk).update(content=stored.read())


class Migration(migrations.Migration):
    dependencies = [("interactions", "0010_document_file")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
