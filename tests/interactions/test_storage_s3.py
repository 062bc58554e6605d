"""Documents in an S3-compatible bucket (CRM_STORAGE_URL=s3://bucket/prefix with
CRM_S3_ENDPOINT_URL): moto's S3 server (`python -m moto.server`, the process behind
ThreadedMotoServer) on a free loopback port stands in for the object store
(no network beyond loopback), STORAGES["default"] is built from those variables by
crm.settings, and the same services store, read, stream, delete and prune documents."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import boto3
import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

import crm.settings
from crm.housekeeping import housekeeping
from interactions import storage
from interactions.documents import delete_if_unused, document_create
from interactions.merge_fields import sample_context
from interactions.models import Document
from interactions.sample_template import sample_letter_docx
from interactions.views.documents import document_response
from interactions.wordtemplates import prepare
from segments import merge
from tests.interactions.big_files import MIB, big_document, streamed_download
from tests.segments.merge_world import merge_world

pytestmark = pytest.mark.django_db

PREFIX = "crm-files"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in a process of its own (so the memory of this one is the client's
    alone), on a free loopback port; stopped after the module."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, settings):
    """A new bucket of this test, and the default storage pointed at it through the environment
    variables an operator sets."""
    name = f"crm-test-{uuid.uuid4().hex[:12]}"
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "CRM_STORAGE_URL": f"s3://{name}/{PREFIX}/",
        "CRM_S3_ENDPOINT_URL": s3_endpoint,
        "CRM_S3_REGION": "us-east-1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }.items():
        monkeypatch.setenv(variable, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    settings.STORAGES = {**settings.STORAGES, "default": crm.settings._file_storage()}  # resets default_storage
    return client, name


def keys(client, name) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", []))


def test_the_variables_make_a_private_s3_storage(bucket):
    from storages.backends.s3 import S3Storage

    _client, name = bucket
    assert isinstance(default_storage, S3Storage)
    assert (default_storage.bucket_name, default_storage.location) == (name, PREFIX)
    assert default_storage.default_acl is None and default_storage.addressing_style == "path"


def test_a_document_is_stored_read_streamed_and_deleted_in_the_bucket(bucket, django_capture_on_commit_callbacks):
    client, name = bucket

    document = document_create(data=b"Dear Anna", file_name="Anna.docx")

    assert keys(client, name) == [f"{PREFIX}/{document.file.name}"]
    grants = client.get_object_acl(Bucket=name, Key=f"{PREFIX}/{document.file.name}")["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only: never public
    assert document.read_bytes() == b"Dear Anna"
    assert (document.size, document.sha256) == (9, hashlib.sha256(b"Dear Anna").hexdigest())
    response = document_response(document)
    assert response.getvalue() == b"Dear Anna"
    assert response["Content-Disposition"] == 'attachment; filename="Anna.docx"'
    assert response["Content-Length"] == "9"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delete_if_unused(document.pk)
    assert keys(client, name) == [f"{PREFIX}/{document.file.name}"]  # not before the commit
    for callback in callbacks:
        callback()
    assert keys(client, name) == []


def test_a_compact_letter_is_stored_small_in_the_bucket_and_downloaded_rebuilt(bucket):
    client, name = bucket
    template = sample_letter_docx()
    base = document_create(data=template, file_name="template.docx", read_only=True)
    letter = prepare(template).render(sample_context())

    document = document_create(data=letter, file_name="letter.docx", base=base)

    stored = client.head_object(Bucket=name, Key=f"{PREFIX}/{document.file.name}")["ContentLength"]
    assert document.base_id == base.pk and stored <= 4096
    assert document.read_bytes() == letter
    response = document_response(document)
    assert b"".join(response.streaming_content) == letter and response["Content-Length"] == str(len(letter))


def test_a_large_file_is_uploaded_in_parts_and_downloaded_as_a_stream(bucket):
    document, digest = big_document(20)  # past boto3's multipart threshold (8 MiB)
    assert (document.size, document.sha256) == (20 * MIB, digest)

    _response, length, received, peak = streamed_download(document)

    assert (length, received) == (20 * MIB, digest)
    assert peak < 8 * MIB, f"peak {peak} bytes"


def test_a_merge_job_stores_its_result_in_the_bucket(bucket, marketing):
    client, name = bucket
    world = merge_world()  # its Word templates go to the bucket too

    job = merge.merge_job_start(user=marketing, segment=world.segment, output="docx")

    assert job.state == "finished"
    assert f"{PREFIX}/{job.document.file.name}" in keys(client, name)
    data = job.document.read_bytes()
    assert data[:2] == b"PK" and job.document.sha256 == hashlib.sha256(data).hexdigest()


def test_housekeeping_removes_the_bucket_files_no_row_names(bucket):
    client, name = bucket
    kept = document_create(data=b"kept", file_name="kept.docx")
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = document_create(data=b"lost", file_name="lost.docx").file.name
        raise RuntimeError("the transaction fails after storing")
    assert not Document.objects.filter(file=lost).exists()
    assert keys(client, name) == sorted([f"{PREFIX}/{kept.file.name}", f"{PREFIX}/{lost}"])

    assert storage.unreferenced_files_prune(timezone.now()) == 0  # within the grace period
    assert housekeeping(now=timezone.now() + timedelta(hours=2))["unreferenced files"] == 1

    assert keys(client, name) == [f"{PREFIX}/{kept.file.name}"]
    assert kept.read_bytes() == b"kept"
