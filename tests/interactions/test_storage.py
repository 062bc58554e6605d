"""Documents' bytes in Django's storage (interactions/storage.py, interactions/documents.py;
RELIABILITY 23): files and rows agree, old files go only after the commit, housekeeping removes
files no row names, downloads stream, the data migration moves the database's bytes."""

from __future__ import annotations

import hashlib
import io
import tempfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from crm.housekeeping import housekeeping
from crm.permissions import COMMAND_LINE
from interactions import storage
from interactions.documents import delete_if_unused, document_create, document_rewrite, interaction_template_attach
from interactions.models import Document, InteractionTemplateLanguage
from segments import merge
from tests.factories import attach_word_template, make_template
from tests.interactions.big_files import MIB, big_document, streamed_download
from tests.interactions.docx_builders import docx_bytes
from tests.segments.merge_world import merge_world

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=2)  # past the grace period


class Boom(Exception):
    pass


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """A storage of this test's own: housekeeping sees only its files."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_document_is_written_to_storage_with_its_size_and_sha256():
    document = document_create(data=b"hello world", file_name="../../etc/Spring letter.DOCX")

    assert document.file_name == "Spring letter.DOCX"
    assert document.file.name.startswith("documents/") and document.file.name.endswith(".docx")
    assert (document.size, document.sha256) == (11, hashlib.sha256(b"hello world").hexdigest())
    assert document.read_bytes() == b"hello world"
    with default_storage.open(document.file.name, "rb") as stored:
        assert stored.read() == b"hello world"


def test_a_file_object_is_streamed_into_storage():
    with tempfile.TemporaryFile() as source:
        for _ in range(3):
            source.write(b"x" * 1_000_000)
        document = document_create(data=source, file_name="big.zip", content_type="application/zip")

    assert document.size == 3_000_000
    assert document.sha256 == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_the_hash_survives_a_storage_that_reads_twice_or_skips():
    reader = storage._HashingReader(io.BytesIO(b"abcdef"))
    reader.read(4)
    reader.seek(0)  # a retried upload starts again
    assert reader.read() == b"abcdef" and reader.complete(6)
    assert reader.hash.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()
    reader.seek(0)
    reader.read(2)
    reader.seek(4)
    reader.read()
    assert not reader.complete(6)  # skipped ahead: file_store hashes the source itself


def test_a_rolled_back_transaction_leaves_no_row_and_housekeeping_removes_its_file_after_the_grace_period():
    kept = document_create(data=b"kept", file_name="kept.docx")
    with pytest.raises(Boom), transaction.atomic():
        document = document_create(data=b"lost", file_name="lost.docx")
        name = document.file.name
        raise Boom

    assert not Document.objects.filter(file=name).exists()
    assert default_storage.exists(name)  # written before the row, left behind by the rollback

    assert storage.unreferenced_files_prune(timezone.now()) == 0  # a transaction may still be running
    assert default_storage.exists(name)
    assert housekeeping(now=timezone.now() + LATER)["unreferenced files"] == 1
    assert not default_storage.exists(name)
    assert kept.read_bytes() == b"kept"


def test_housekeeping_never_removes_a_referenced_file(django_assert_max_num_queries, monkeypatch):
    documents = [document_create(data=f"letter {n}".encode(), file_name=f"{n}.docx") for n in range(5)]
    Document.objects.filter(pk=documents[0].pk).update(read_only=True)
    monkeypatch.setattr(storage, "FILES_PER_QUERY", 2)

    with django_assert_max_num_queries(3):  # set-based: one query per FILES_PER_QUERY listed files
        assert storage.unreferenced_files_prune(timezone.now() + timedelta(days=365)) == 0

    assert all(default_storage.exists(document.file.name) for document in documents)


def test_replacing_a_word_template_removes_the_old_file_only_after_the_commit(django_capture_on_commit_callbacks):
    template = make_template("SPRING")
    old = attach_word_template(template, "Dear {{ contact.name }}")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        new = interaction_template_attach(
            user=COMMAND_LINE, template=template, language=None, data=docx_bytes("Hello"), file_name="new.docx"
        )
        assert not Document.objects.filter(pk=old.pk).exists()
        assert default_storage.exists(old.file.name)  # the row is gone, the file waits for the commit
    assert default_storage.exists(old.file.name)
    for callback in callbacks:
        callback()

    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(new.file.name)


def test_a_rolled_back_replacement_or_delete_keeps_the_old_file(django_capture_on_commit_callbacks):
    document = document_create(data=b"first attempt", file_name="letter.docx")
    name = document.file.name

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom), transaction.atomic():
        assert document_rewrite(document_id=document.pk, data=b"second attempt", file_name="letter.docx")
        delete_if_unused(document.pk)
        raise Boom

    document.refresh_from_db()
    assert document.file.name == name and document.read_bytes() == b"first attempt"
    assert document.sha256 == hashlib.sha256(b"first attempt").hexdigest()


def test_a_rewrite_points_the_row_at_a_new_file_and_removes_the_old_one_at_commit(django_capture_on_commit_callbacks):
    document = document_create(data=b"first attempt", file_name="letter.docx")
    name = document.file.name

    with django_capture_on_commit_callbacks(execute=True):
        assert document_rewrite(document_id=document.pk, data=b"second", file_name="letter 2.docx")

    document.refresh_from_db()
    assert document.file.name != name and not default_storage.exists(name)
    assert (document.read_bytes(), document.size, document.file_name) == (b"second", 6, "letter 2.docx")
    assert document.sha256 == hashlib.sha256(b"second").hexdigest()


def test_a_large_download_streams_with_bounded_memory():
    document, digest = big_document(50)
    assert (document.size, document.sha256) == (50 * MIB, digest)

    response, length, received, peak = streamed_download(document)

    assert response["Content-Length"] == str(50 * MIB)
    assert response["Content-Disposition"] == 'attachment; filename="huge.zip"'
    assert (length, received) == (50 * MIB, digest)
    assert peak < 8 * MIB, f"peak {peak} bytes"


def test_a_merge_job_streams_its_result_into_storage(marketing):
    world = merge_world()

    job = merge.merge_job_start(user=marketing, segment=world.segment, output="zip")

    stored = job.document.file.name
    assert stored.startswith("documents/") and stored.endswith(".zip")
    with default_storage.open(stored, "rb") as file:
        data = file.read()
    assert job.document.size == len(data) and job.document.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_moves_the_database_bytes_into_storage():
    before, after = [("interactions", "0009_entry_idempotency_token")], [("interactions", "0012_document_drop_content")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_apps = MigrationExecutor(connection).loader.project_state(before).apps
        OldDocument = old_apps.get_model("interactions", "Document")
        ids = [
            OldDocument.objects.create(
                file_name=f"letter {n}.docx", content=f"bytes {n}".encode(), size=7, sha256="0" * 64, content_type="x"
            ).pk
            for n in range(3)
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    documents = list(Document.objects.filter(pk__in=ids).order_by("pk"))
    assert [document.read_bytes() for document in documents] == [b"bytes 0", b"bytes 1", b"bytes 2"]
    assert len({document.file.name for document in documents}) == 3
    assert all(document.file.name.endswith(".docx") for document in documents)
    assert storage.unreferenced_files_prune(timezone.now() + LATER) == 0


def test_lists_of_documents_read_no_files(viewer_client):
    template = make_template("SPRING")
    attach_word_template(template, "Dear {{ contact.name }}")
    row = InteractionTemplateLanguage.objects.get(template=template)
    default_storage.delete(row.document.file.name)  # a page listing it must not need the file

    assert viewer_client.get(reverse("interactions:template_detail", args=[template.code])).status_code == 200


def test_the_storage_is_the_file_system_unless_an_s3_url_is_set(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    import crm.settings

    monkeypatch.delenv("CRM_STORAGE_URL", raising=False)
    assert crm.settings._file_storage() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}

    monkeypatch.setenv("CRM_STORAGE_URL", "s3://crm-files/production/documents-root/")
    monkeypatch.delenv("CRM_S3_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("CRM_S3_REGION", "eu-central-1")
    backend = crm.settings._file_storage()
    assert backend["BACKEND"] == "storages.backends.s3.S3Storage"
    options = backend["OPTIONS"]
    assert (options["bucket_name"], options["location"], options["region_name"]) == (
        "crm-files",
        "production/documents-root",
        "eu-central-1",
    )
    assert options["endpoint_url"] is None and "addressing_style" not in options  # AWS itself
    assert options["default_acl"] is None  # private: the bucket's own (never public) setting

    monkeypatch.setenv("CRM_STORAGE_URL", "https://bucket.example.com/")
    with pytest.raises(ImproperlyConfigured, match="CRM_STORAGE_URL must be s3://bucket/prefix"):
        crm.settings._file_storage()
