"""Print letters and deliver in a real browser (SPEC D8, D9).

From a worksheet: "Print letters…", one combined .docx, the job page (its progress bar polled by
htmx while a worker makes the letters), the download opened with python-docx (one letter per
line, in line order). And the Log page with "Send the e-mails and make the letters": the
delivery page with its summary, a failed e-mail and its reason, and the print file, whose PDF a
worker makes while the page shows it coming.

Set CRM_SCREENSHOTS=DIR to keep screenshots of the pages (1280×800) for a look at the layout.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import docx
import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from playwright.sync_api import expect

from crm.models import CorrespondenceType
from interactions.models import Delivery, DeliveryState
from segments import services
from segments.models import MergeJob, MergeState, SegmentLine
from tests.conftest import make_user
from tests.factories import attach_word_template, make_company, make_person, make_salesperson, make_template
from tests.pdf_tools import pdf_page_count, pdf_page_text, require_libreoffice

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CRM_SCREENSHOTS")
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def letters_in(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs if p.text.startswith("Dear ")]


@pytest.fixture
def worksheet():
    """A segment of Acme Delft and three persons; the template's letter greets the contact."""
    seller = make_salesperson("ANN", name="Ann Seller")
    template = make_template("SPRING", description="Spring letter", correspondence_type="")
    attach_word_template(template, "Dear {{ contact.name }},", "{{ address_block }}", "Spring greetings from Delft.")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=seller, email="info@acme.test")
    make_person(
        acme,
        no="P100",
        name="Dora Delft",
        city="Delft",
        salesperson=seller,
        email="dora@acme.test",
        correspondence_type=CorrespondenceType.EMAIL,
    )
    make_person(
        acme,
        no="P101",
        name="Dirk Delft",
        city="Delft",
        salesperson=seller,
        email="dirk@@acme",
        correspondence_type=CorrespondenceType.EMAIL,
    )
    make_person(
        acme,
        no="P102",
        name="Daan Delft",
        city="Delft",
        salesperson=seller,
        correspondence_type=CorrespondenceType.HARD_COPY,
    )
    user = make_user("marketing", username="mia")
    segment = services.segment_create(
        user=user, values={"description": "Spring mailing", "interaction_template": template}
    )
    services.segment_add_contacts(user=user, segment=segment, query="company_no=C100")
    return user, segment


def test_print_letters_from_the_worksheet_and_download_the_combined_docx(page, login, worksheet, monkeypatch):
    user, segment = worksheet
    names = list(
        SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("contact__name", flat=True)
    )
    # A queue backend, so the job waits for a worker and the page polls.
    with override_settings(TASKS=DATABASE_TASKS):
        login(user)
        page.goto(segment.get_absolute_url())
        page.click(".worksheet-head a:has-text('Print letters…')")
        page.wait_for_url(re.compile(rf".*/segments/{segment.no}/merge/$"))
        expect(page.locator(".merge-summary")).to_contain_text("The merge makes 4 letters")
        expect(page.locator("table.merge-documents")).to_contain_text("SPRING.docx")
        expect(page.locator("input[name=output][value=docx]")).to_be_checked()
        shot(page, "merge-form")

        with page.expect_navigation():
            page.click("button:has-text('Make 4 letters')")

        job = MergeJob.objects.get()
        page.wait_for_url(re.compile(rf".*/merge-jobs/{job.pk}/$"))
        expect(page.locator("#merge-progress")).to_contain_text("Waiting for a worker")
        expect(page.locator("#merge-progress")).to_contain_text("0 of 4 letters · 0%")
        shot(page, "merge-job-queued")

        # The worker, here in the test's own thread; the browser keeps polling the live server.
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

        link = page.locator("#merge-progress a.download")
        expect(link).to_be_visible(timeout=15_000)  # the polled fragment brings the link
    assert MergeJob.objects.get().state == MergeState.FINISHED
    expect(page.locator("#merge-progress")).to_contain_text("Made 4 letters in one .docx, one letter per page.")
    expect(page.locator("#merge-progress progress")).to_have_attribute("value", "4")
    shot(page, "merge-job-finished")

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"Segment {segment.no}.docx"
    data = Path(download.path()).read_bytes()
    assert letters_in(data) == [f"Dear {name}," for name in names]


def test_log_with_delivery_lands_on_the_delivery_summary(page, login, worksheet):
    user, segment = worksheet
    login(user)
    page.goto(f"/segments/{segment.no}/log/")

    deliver = page.locator("label:has-text('Send the e-mails and make the letters after logging') input")
    expect(deliver).to_be_checked()
    expect(page.locator(".deliver-summary")).to_contain_text("sends 2 e-mails and makes 1 letter to print")
    shot(page, "log-confirm-deliver")
    with page.expect_navigation():
        page.click(f"button:has-text('Log {segment.no}')")

    delivery = Delivery.objects.get()
    page.wait_for_url(re.compile(rf".*/deliveries/{delivery.pk}/$"))
    assert delivery.state == DeliveryState.FINISHED
    summary = page.locator(".delivery-summary")
    expect(summary).to_contain_text("1 e-mail sent, 1 letter made for print, 1 failed")
    expect(page.locator("table.delivery-failures")).to_contain_text("P101 Dirk Delft")
    expect(page.locator("table.delivery-failures")).to_contain_text('invalid e-mail address "dirk@@acme"')
    expect(page.locator("a:has-text('Resend failed e-mails (1)…')")).to_be_visible()
    assert [message.to for message in mail.outbox] == [["dora@acme.test"]]
    shot(page, "delivery-finished")

    with page.expect_download() as download_info:
        page.click("a:has-text('Download the letters to print')")
    assert letters_in(Path(download_info.value.path()).read_bytes()) == ["Dear Daan Delft,"]

    page.click("a:has-text('Resend failed e-mails (1)…')")
    expect(page.locator(".confirm-summary")).to_contain_text("Resend 1 entry whose delivery failed.")
    shot(page, "delivery-resend-confirm")
    page.click("a:has-text('Back, send nothing')")
    expect(page.locator(f"#delivery-{delivery.pk}")).to_contain_text("Finished")
    shot(page, "logged-segment-deliveries")


def test_make_the_print_files_pdf_and_watch_it_become_a_download(page, login, worksheet, tmp_path):
    require_libreoffice()
    user, segment = worksheet
    login(user)
    page.goto(f"/segments/{segment.no}/log/")
    with page.expect_navigation():
        page.click(f"button:has-text('Log {segment.no}')")
    delivery = Delivery.objects.get()
    page.wait_for_url(re.compile(rf".*/deliveries/{delivery.pk}/$"))
    panel = page.locator("#print-pdf")
    expect(panel.locator("button:has-text('Make the PDF')")).to_be_visible()

    # A queue backend, so the PDF waits for a worker and the panel polls.
    with override_settings(TASKS=DATABASE_TASKS):
        with page.expect_navigation():
            panel.locator("button:has-text('Make the PDF')").click()
        expect(panel).to_contain_text("Making the PDF… It waits for a worker.")
        shot(page, "delivery-pdf-making")

        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

        link = panel.locator("a.download-pdf")
        expect(link).to_be_visible(timeout=15_000)  # the polled panel brings the link
    expect(link).to_contain_text(f"Download as PDF (Segment {segment.no} letters.pdf,")
    shot(page, "delivery-pdf-ready")

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"Segment {segment.no} letters.pdf"
    path = tmp_path / "letters.pdf"
    path.write_bytes(Path(download.path()).read_bytes())
    assert pdf_page_count(path) == 1 and "Dear Daan Delft," in pdf_page_text(path, 1)
