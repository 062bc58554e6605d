"""A delivery's print file as PDF (interactions.views.deliveries.DeliveryPrintPdfView): made by
LibreOffice from the stored .docx when it is downloaded, one page per one-page letter. Without
LibreOffice the delivery page shows the PDF button disabled with what to install, and the PDF
address leads back to the page with that message."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.html import strip_tags

from interactions.models import Delivery
from tests.interactions.test_views_deliveries import build_segment, log_and_deliver
from tests.pdf_tools import pdf_page_count, pdf_page_text, require_libreoffice, without_libreoffice

pytestmark = pytest.mark.django_db(transaction=True)

HINT = "Install LibreOffice (Debian: apt-get install libreoffice-writer-nogui) to make PDFs"


@pytest.fixture
def delivery(marketing_client) -> Delivery:
    segment = build_segment(emails=1, letters=3)
    assert log_and_deliver(marketing_client, segment).status_code == 302
    return Delivery.objects.get()


def pdf_url(delivery: Delivery) -> str:
    return reverse("interactions:delivery_print_pdf", args=[delivery.pk])


def page_of(client, delivery: Delivery) -> str:
    return client.get(reverse("interactions:delivery_detail", args=[delivery.pk])).content.decode()


def test_print_file_downloads_as_pdf_with_one_page_per_letter(marketing_client, delivery, tmp_path):
    require_libreoffice()
    assert f'href="{pdf_url(delivery)}"' in page_of(marketing_client, delivery)

    response = marketing_client.get(pdf_url(delivery))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    no = delivery.logged_segment.segment_no
    assert response["Content-Disposition"] == f'attachment; filename="Segment {no} letters.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data)
    path = tmp_path / "print.pdf"
    path.write_bytes(data)
    assert pdf_page_count(path) == 3
    assert [re.search(r"Dear (Paul Paper\d)", pdf_page_text(path, page)).group(1) for page in (1, 2, 3)] == [
        "Paul Paper0",
        "Paul Paper1",
        "Paul Paper2",
    ]


def test_without_libreoffice_the_pdf_button_is_disabled_and_says_what_to_install(
    marketing_client, delivery, monkeypatch, tmp_path
):
    without_libreoffice(monkeypatch, tmp_path)

    html = page_of(marketing_client, delivery)
    assert pdf_url(delivery) not in html
    assert re.search(r"<button[^>]*download-pdf[^>]*disabled", html)
    assert HINT in strip_tags(html)

    response = marketing_client.get(pdf_url(delivery))
    assert response.status_code == 302
    assert response["Location"] == reverse("interactions:delivery_detail", args=[delivery.pk])
    assert [str(message) for message in get_messages(response.wsgi_request)] == [HINT]


def test_a_delivery_without_a_print_file_has_no_pdf(marketing_client):
    segment = build_segment(emails=1, letters=0)
    log_and_deliver(marketing_client, segment)
    delivery = Delivery.objects.get()

    assert marketing_client.get(pdf_url(delivery)).status_code == 404
    assert "Download as PDF" not in page_of(marketing_client, delivery)


def test_a_viewer_may_download_the_pdf_and_anonymous_may_not(client, viewer_client, delivery, monkeypatch, tmp_path):
    without_libreoffice(monkeypatch, tmp_path)  # the permission is checked before any conversion
    assert viewer_client.get(pdf_url(delivery)).status_code == 302
    response = client.get(pdf_url(delivery))
    assert response.status_code == 302 and "login" in response["Location"]
