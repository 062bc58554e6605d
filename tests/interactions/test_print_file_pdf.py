"""A delivery's print file as PDF (interactions.print_pdf, the delivery page): "Make the PDF"
queues a worker job (done on return with the immediate backend), the page shows "Making the
PDF…" polled by htmx, then a link that streams the stored PDF, one page per one-page letter;
a second click while it is queued or being made queues nothing; a failure shows its reason and
may be retried; a job whose worker stopped is queued again by the workers' healing; the
download never converts anything. Without LibreOffice the button is disabled and says what to
install. Making it needs interactions.change_loggedsegment; downloading it
interactions.view_loggedsegment."""

from __future__ import annotations

import datetime
import re
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.http import FileResponse
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django_tasks_db.models import DBTaskResult

from crm.housekeeping import housekeeping
from crm.permissions import COMMAND_LINE
from crm.worker import heal
from interactions import pdf, print_pdf, services
from interactions.models import Delivery, Document, PdfState
from tests.interactions.test_views_deliveries import build_segment, log_and_deliver
from tests.pdf_tools import fake_soffice, pdf_page_count, pdf_page_text, require_libreoffice, without_libreoffice

pytestmark = pytest.mark.django_db(transaction=True)

HINT = "Install LibreOffice (Debian: apt-get install libreoffice-writer-nogui) to make PDFs"
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def delivery(marketing_client) -> Delivery:
    segment = build_segment(emails=1, letters=3)
    assert log_and_deliver(marketing_client, segment).status_code == 302
    return Delivery.objects.get()


def pdf_url(delivery: Delivery) -> str:
    return reverse("interactions:delivery_print_pdf", args=[delivery.pk])


def make_url(delivery: Delivery) -> str:
    return reverse("interactions:delivery_print_pdf_make", args=[delivery.pk])


def state_url(delivery: Delivery) -> str:
    return reverse("interactions:delivery_print_pdf_state", args=[delivery.pk])


def page_url(delivery: Delivery) -> str:
    return reverse("interactions:delivery_detail", args=[delivery.pk])


def page_of(client, delivery: Delivery) -> str:
    return client.get(page_url(delivery)).content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", strip_tags(html))


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def pdf_tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path__endswith="print_pdf_task").order_by("enqueued_at"))


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO(), stderr=StringIO())


def pdf_documents() -> list[Document]:
    return list(Document.objects.filter(content_type="application/pdf"))


def converter_forbidden(monkeypatch, tmp_path) -> None:
    """From here on, any LibreOffice or pdfunite run fails the test (and none is on PATH)."""

    def no_conversion(*args, **kwargs):
        raise AssertionError("a PDF was converted")

    monkeypatch.setattr(pdf, "_run", no_conversion)
    without_libreoffice(monkeypatch, tmp_path)


def check_pages(data: bytes, tmp_path, names: list[str]) -> None:
    path = tmp_path / "print.pdf"
    path.write_bytes(data)
    assert pdf_page_count(path) == len(names)
    for page, name in enumerate(names, start=1):
        assert re.search(r"Dear (Paul Paper\d)", pdf_page_text(path, page)).group(1) == name


# --- Made by a job, downloaded from storage --------------------------------------------------------


def test_make_the_pdf_has_it_ready_on_return_and_the_download_streams_the_stored_pdf(
    marketing_client, delivery, monkeypatch, tmp_path
):
    require_libreoffice()
    html = page_of(marketing_client, delivery)
    assert f'action="{make_url(delivery)}"' in html and "Make the PDF" in html
    assert f'href="{pdf_url(delivery)}"' not in html

    response = marketing_client.post(make_url(delivery))

    assert response.status_code == 302 and response["Location"] == page_url(delivery)
    delivery.refresh_from_db()
    assert (delivery.pdf_state, delivery.pdf_error) == (PdfState.READY, "")
    assert delivery.pdf_task_id
    document = delivery.print_pdf
    no = delivery.logged_segment.segment_no
    assert (document.file_name, document.content_type) == (f"Segment {no} letters.pdf", "application/pdf")
    html = page_of(marketing_client, delivery)
    assert f'href="{pdf_url(delivery)}"' in html and f"Download as PDF (Segment {no} letters.pdf," in text(html)
    assert "hx-get" not in html  # nothing to wait for

    converter_forbidden(monkeypatch, tmp_path)  # the download only reads storage
    response = marketing_client.get(pdf_url(delivery))

    assert response.status_code == 200
    assert isinstance(response, FileResponse) and response.streaming
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="Segment {no} letters.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data) == document.size
    monkeypatch.undo()
    check_pages(data, tmp_path, ["Paul Paper0", "Paul Paper1", "Paul Paper2"])


def test_on_a_queue_the_page_shows_the_pdf_coming_and_a_second_click_queues_nothing(
    marketing_client, delivery, django_assert_max_num_queries, tmp_path
):
    require_libreoffice()
    with override_settings(TASKS=DB_TASKS):
        response = marketing_client.post(make_url(delivery))
        assert response.status_code == 302 and "The PDF is being made already." not in messages_of(response)
        delivery.refresh_from_db()
        assert delivery.pdf_state == PdfState.QUEUED
        (task,) = pdf_tasks()
        assert delivery.pdf_task_id == str(task.pk) and task.args_kwargs["args"] == [delivery.pk]

        html = page_of(marketing_client, delivery)
        assert "Making the PDF…" in text(html) and "It waits for a worker." in text(html)
        assert f'hx-get="{state_url(delivery)}" hx-trigger="every 1s"' in html
        assert f'href="{pdf_url(delivery)}"' not in html and f'action="{make_url(delivery)}"' not in html
        with django_assert_max_num_queries(6):  # session, user, permissions, delivery
            partial = marketing_client.get(state_url(delivery), headers={"HX-Request": "true"}).content.decode()
        assert partial.strip().startswith('<div id="print-pdf"') and "Making the PDF…" in partial

        again = marketing_client.post(make_url(delivery))
        assert messages_of(again) == ["The PDF is being made already."]
        Delivery.objects.filter(pk=delivery.pk).update(pdf_state=PdfState.MAKING, pdf_heartbeat_at=timezone.now())
        assert "Converting" in page_of(marketing_client, delivery)
        marketing_client.post(make_url(delivery))
        assert len(pdf_tasks()) == 1
        Delivery.objects.filter(pk=delivery.pk).update(pdf_state=PdfState.QUEUED, pdf_heartbeat_at=None)

        run_worker()

    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.READY and len(pdf_documents()) == 1
    (task,) = pdf_tasks()
    assert task.status == TaskResultStatus.SUCCESSFUL
    partial = marketing_client.get(state_url(delivery), headers={"HX-Request": "true"}).content.decode()
    assert "hx-get" not in partial and f'href="{pdf_url(delivery)}"' in partial
    check_pages(
        b"".join(marketing_client.get(pdf_url(delivery)).streaming_content),
        tmp_path,
        [
            "Paul Paper0",
            "Paul Paper1",
            "Paul Paper2",
        ],
    )


def test_the_job_runs_once_however_often_its_task_is_delivered(delivery):
    require_libreoffice()
    with override_settings(TASKS=DB_TASKS):
        print_pdf.print_pdf_request(user=COMMAND_LINE, delivery_id=delivery.pk)

    first = print_pdf.print_pdf_run(delivery.pk)
    second = print_pdf.print_pdf_run(delivery.pk)

    assert first["ready"] is True and second == {"delivery": delivery.pk, "claimed": False}
    assert [document.pk for document in pdf_documents()] == [first["document"]]
    delivery.refresh_from_db()
    assert delivery.print_pdf_id == first["document"]
    # asked again once it is ready: nothing is queued
    assert print_pdf.print_pdf_request(user=COMMAND_LINE, delivery_id=delivery.pk)[1] is False


# --- Failure, retry, no LibreOffice --------------------------------------------------------------


def test_a_failed_conversion_shows_its_reason_and_can_be_tried_again(marketing_client, delivery, monkeypatch, tmp_path):
    require_libreoffice()
    fake_soffice(monkeypatch, tmp_path, 'echo "Error: no fonts" >&2\nexit 3\n')
    before = Document.objects.count()

    marketing_client.post(make_url(delivery))

    delivery.refresh_from_db()
    reason = "LibreOffice could not make the PDF (exit status 3): Error: no fonts"
    assert (delivery.pdf_state, delivery.pdf_error, delivery.print_pdf_id) == (PdfState.FAILED, reason, None)
    assert Document.objects.count() == before
    html = page_of(marketing_client, delivery)
    assert f"The PDF could not be made: {reason}" in text(html)
    assert "Try the PDF again" in html and "hx-get" not in html

    monkeypatch.undo()  # LibreOffice works again
    marketing_client.post(make_url(delivery))

    delivery.refresh_from_db()
    assert (delivery.pdf_state, delivery.pdf_error) == (PdfState.READY, "")
    assert "could not be made" not in page_of(marketing_client, delivery)


def test_without_libreoffice_the_button_is_disabled_and_says_what_to_install(
    marketing_client, delivery, monkeypatch, tmp_path
):
    without_libreoffice(monkeypatch, tmp_path)

    html = page_of(marketing_client, delivery)
    assert make_url(delivery) not in html and pdf_url(delivery) not in html
    assert re.search(r"<button[^>]*download-pdf[^>]*disabled", html)
    assert HINT in text(html)

    response = marketing_client.post(make_url(delivery), follow=True)
    assert response.redirect_chain == [(page_url(delivery), 302)]
    assert text(response.content.decode()).count(HINT) == 2  # the message, and beside the button
    response = marketing_client.get(pdf_url(delivery))
    assert response.status_code == 302 and response["Location"] == page_url(delivery)
    assert messages_of(response) == [HINT]
    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.NONE and pdf_documents() == []


def test_a_delivery_without_a_print_file_has_no_pdf(marketing_client):
    segment = build_segment(emails=1, letters=0)
    log_and_deliver(marketing_client, segment)
    delivery = Delivery.objects.get()

    assert marketing_client.get(pdf_url(delivery)).status_code == 404
    response = marketing_client.post(make_url(delivery))
    assert f"Delivery {delivery.pk} has no print file." in messages_of(response)
    assert "PDF" not in text(page_of(marketing_client, delivery))
    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.NONE


# --- Who may ---------------------------------------------------------------------------------------


def test_a_viewer_may_download_the_pdf_but_not_have_one_made(client, viewer_client, delivery, monkeypatch, tmp_path):
    html = page_of(viewer_client, delivery)
    assert make_url(delivery) not in html
    assert "someone who may change logged segments can have one made" in text(html)
    assert viewer_client.post(make_url(delivery)).status_code == 403
    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.NONE

    response = client.get(pdf_url(delivery))
    assert response.status_code == 302 and "login" in response["Location"]
    assert "login" in client.post(make_url(delivery))["Location"]

    require_libreoffice()
    print_pdf.print_pdf_request(user=COMMAND_LINE, delivery_id=delivery.pk)
    converter_forbidden(monkeypatch, tmp_path)
    response = viewer_client.get(pdf_url(delivery))
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF-")


# --- A worker that stops ---------------------------------------------------------------------------


def test_a_pdf_whose_worker_died_is_queued_again_by_the_workers_healing(marketing_client, delivery):
    require_libreoffice()
    with override_settings(TASKS=DB_TASKS):
        marketing_client.post(make_url(delivery))
        (task,) = pdf_tasks()
        # a worker claimed it, then was killed: no sign of life since long before a lease
        long_ago = timezone.now() - datetime.timedelta(minutes=10)
        Delivery.objects.filter(pk=delivery.pk).update(pdf_state=PdfState.MAKING, pdf_heartbeat_at=long_ago)
        DBTaskResult.objects.filter(pk=task.pk).update(status=TaskResultStatus.FAILED)
        html = page_of(marketing_client, delivery)
        assert "Stalled" in html and "but its worker stopped" in text(html)
        assert "Try the PDF again" in html

        assert heal()["requeued"] == 1
        assert heal()["requeued"] == 0  # once

        delivery.refresh_from_db()
        assert delivery.pdf_state == PdfState.QUEUED and delivery.pdf_heartbeat_at is None
        first, second = pdf_tasks()
        assert first.pk == task.pk and delivery.pdf_task_id == str(second.pk)
        run_worker()

    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.READY and len(pdf_documents()) == 1


def test_a_queued_pdf_whose_task_was_lost_gets_a_new_one(marketing_client, delivery):
    require_libreoffice()
    with override_settings(TASKS=DB_TASKS):
        marketing_client.post(make_url(delivery))
        DBTaskResult.objects.all().delete()
        Delivery.objects.filter(pk=delivery.pk).update(pdf_queued_at=timezone.now() - datetime.timedelta(minutes=10))

        assert heal()["requeued"] == 1

        delivery.refresh_from_db()
        (task,) = pdf_tasks()
        assert delivery.pdf_state == PdfState.QUEUED and delivery.pdf_task_id == str(task.pk)


def test_a_worker_asked_to_stop_hands_the_pdf_back_to_the_queue(delivery, monkeypatch, tmp_path):
    fake_soffice(monkeypatch, tmp_path, "sleep 5\n")
    monkeypatch.setattr(pdf, "ALIVE_EVERY", 0.05)
    monkeypatch.setattr(print_pdf, "stop_requested", lambda: True)
    with override_settings(TASKS=DB_TASKS):
        print_pdf.print_pdf_request(user=COMMAND_LINE, delivery_id=delivery.pk)
        (task,) = pdf_tasks()

        result = print_pdf.print_pdf_run(delivery.pk)

    assert result["handed_back"] is True
    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.QUEUED and delivery.pdf_heartbeat_at is None
    assert [row.pk for row in pdf_tasks()][0] == task.pk and delivery.pdf_task_id == str(pdf_tasks()[1].pk)
    assert pdf_documents() == []


# --- Housekeeping and deletion ---------------------------------------------------------------------


def test_housekeeping_keeps_the_stored_pdf_and_deleting_the_logged_segment_removes_it(delivery):
    require_libreoffice()
    delivery, _queued = print_pdf.print_pdf_request(user=COMMAND_LINE, delivery_id=delivery.pk)
    name = delivery.print_pdf.file.name
    lost = default_storage.save("documents/2000/01/lost.pdf", ContentFile(b"a run that lost its job"))

    removed = housekeeping(timezone.now() + datetime.timedelta(days=2))

    assert removed["unreferenced files"] >= 1  # with the files earlier tests left in this process
    assert default_storage.exists(name) and not default_storage.exists(lost)

    services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[delivery.logged_segment_id], canceled=True)
    services.logged_segment_delete(user=COMMAND_LINE, logged_segment_id=delivery.logged_segment_id)

    assert pdf_documents() == [] and not default_storage.exists(name)


def test_a_print_file_of_more_letters_than_a_chunk_is_converted_from_its_letters_in_chunks(
    marketing_client, monkeypatch, settings, tmp_path
):
    require_libreoffice()
    settings.CRM_PDF_CHUNK_LETTERS = 2
    assert log_and_deliver(marketing_client, build_segment(emails=0, letters=5)).status_code == 302
    delivery = Delivery.objects.get()
    runs = []
    convert = pdf._Converter.convert
    monkeypatch.setattr(pdf._Converter, "convert", lambda self, path: runs.append(path.name) or convert(self, path))

    marketing_client.post(make_url(delivery))

    delivery.refresh_from_db()
    assert delivery.pdf_state == PdfState.READY, delivery.pdf_error
    assert runs == ["chunk-00001.docx", "chunk-00002.docx", "chunk-00003.docx"]
    data = b"".join(marketing_client.get(pdf_url(delivery)).streaming_content)
    check_pages(data, tmp_path, [f"Paul Paper{number}" for number in range(5)])
