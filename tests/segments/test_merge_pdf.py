"""Letters as one PDF (CONTRACT `segment merge NO --output PATH.pdf`, the "Print letters" page's
PDF choice): made by LibreOffice from the combined .docx, one page per one-page letter, each
contact's name on its page. Without LibreOffice the command exits 1 saying what to install and
writes nothing, and the page shows the choice disabled with that reason."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from interactions import pdf
from segments.models import MergeJob, MergeOutput, MergeState, SegmentLine
from tests.pdf_tools import fake_soffice, pdf_page_count, pdf_page_text, require_libreoffice, without_libreoffice
from tests.segments.merge_world import merge_world
from tests.segments.test_views_merge import build, download_url, job_url, merge_url, text_of

pytestmark = pytest.mark.django_db

HINT = "Install LibreOffice (Debian: apt-get install libreoffice-writer-nogui) to make PDFs"


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def contacts_of(segment) -> list[tuple[str, str]]:
    """(no., name) of each line's contact in line order."""
    lines = SegmentLine.objects.filter(segment=segment).order_by("line_no")
    return list(lines.values_list("contact__no", "contact__name"))


# --- segment merge --output x.pdf -----------------------------------------------------------------


def test_merge_to_pdf_has_one_page_per_letter_with_its_contact(tmp_path):
    require_libreoffice()
    world = merge_world()
    path = tmp_path / "letters.pdf"
    before = row_counts()
    out, err = StringIO(), StringIO()

    call_command("segment", "merge", world.segment.no, "--output", str(path), stdout=out, stderr=err)

    assert out.getvalue() == ""
    assert err.getvalue().strip() == f"{world.segment.no}: 4 letter(s) written to {path}"
    assert row_counts() == before
    assert os.listdir(tmp_path) == ["letters.pdf"]
    assert path.read_bytes().startswith(b"%PDF-")
    contacts = contacts_of(world.segment)
    assert pdf_page_count(path) == len(contacts) == 4
    for page, (no, name) in enumerate(contacts, start=1):
        text = pdf_page_text(path, page)
        assert f"Contact {no}: {name}" in text, (page, text)  # its own line, and no other's
        assert text.count("Contact ") == 1, (page, text)
    assert "Lettre en français" in pdf_page_text(path, [name for _no, name in contacts].index("Pierre Dupont") + 1)


def test_merge_to_pdf_without_libreoffice_exits_1_saying_what_to_install(monkeypatch, tmp_path):
    world = merge_world()
    without_libreoffice(monkeypatch, tmp_path)
    path = tmp_path / "out" / "letters.pdf"
    path.parent.mkdir()
    before = row_counts()
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as error:
        call_command("segment", "merge", world.segment.no, "--output", str(path), stdout=out, stderr=err)

    assert error.value.returncode == 1
    assert err.getvalue().splitlines() == [HINT]
    assert out.getvalue() == ""
    assert os.listdir(path.parent) == []
    assert row_counts() == before


def test_a_pdf_merge_that_fails_in_libreoffice_leaves_no_file(monkeypatch, tmp_path):
    from tests.pdf_tools import fake_soffice

    world = merge_world()
    fake_soffice(monkeypatch, tmp_path, 'echo "Error: no fonts" >&2\nexit 5\n')
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "letters.pdf").write_bytes(b"previous")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("segment", "merge", world.segment.no, "--output", str(folder / "letters.pdf"), stderr=err)

    assert err.getvalue().splitlines() == ["LibreOffice could not make the PDF (exit status 5): Error: no fonts"]
    assert os.listdir(folder) == ["letters.pdf"]
    assert (folder / "letters.pdf").read_bytes() == b"previous"


# --- The "Print letters" page ---------------------------------------------------------------------


def test_the_page_offers_pdf_next_to_docx_and_zip(marketing_client):
    require_libreoffice()
    segment = build(n_persons=1)

    html = marketing_client.get(merge_url(segment)).content.decode()

    assert 'value="pdf"' in html
    assert "One PDF of all letters" in html
    assert HINT not in html
    pdf_input = html[html.index('value="pdf"') - 200 : html.index('value="pdf"') + 100]
    assert "disabled" not in pdf_input


def test_without_libreoffice_the_pdf_choice_is_disabled_and_says_what_to_install(
    marketing_client, monkeypatch, tmp_path
):
    segment = build(n_persons=1)
    without_libreoffice(monkeypatch, tmp_path)

    page = marketing_client.get(merge_url(segment))
    html = page.content.decode()
    pdf_input = html[html.index('value="pdf"') - 200 : html.index('value="pdf"') + 100]
    assert "disabled" in pdf_input
    assert f"One PDF of all letters ({HINT})" in text_of(page)

    jobs = MergeJob.objects.count()
    response = marketing_client.post(merge_url(segment), {"output": "pdf"})
    assert response.status_code == 400
    assert HINT in text_of(response)
    assert MergeJob.objects.count() == jobs


def test_a_pdf_merge_from_the_page_is_a_job_whose_file_is_the_pdf(marketing_client):
    require_libreoffice()
    segment = build(n_persons=2)

    response = marketing_client.post(merge_url(segment), {"output": "pdf"})

    job = MergeJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.output, job.state, job.total, job.done) == (MergeOutput.PDF, MergeState.FINISHED, 3, 3), job.error
    assert "Made 3 letters in one PDF, one letter per page." in text_of(marketing_client.get(job_url(job)))
    download = marketing_client.get(download_url(job))
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == f'attachment; filename="Segment {segment.no}.pdf"'
    data = b"".join(download.streaming_content)
    assert data.startswith(b"%PDF-")
    assert job.document.content_type == "application/pdf" and job.document.size == len(data)


# --- More letters than a chunk --------------------------------------------------------------------


def test_more_letters_than_a_chunk_are_converted_in_chunks_into_one_pdf(tmp_path, monkeypatch, settings):
    require_libreoffice()
    settings.CRM_PDF_CHUNK_LETTERS = 2
    segment = build(n_persons=4)  # the company and its four persons
    runs = []
    convert = pdf._Converter.convert
    monkeypatch.setattr(pdf._Converter, "convert", lambda self, path: runs.append(path.name) or convert(self, path))
    path = tmp_path / "letters.pdf"
    err = StringIO()

    call_command("segment", "merge", segment.no, "--output", str(path), stderr=err)

    assert err.getvalue().strip() == f"{segment.no}: 5 letter(s) written to {path}"
    assert runs == ["chunk-00001.docx", "chunk-00002.docx", "chunk-00003.docx"]
    names = [name for _no, name in contacts_of(segment)]
    assert len(names) == 5 and pdf_page_count(path) == 5
    for page, name in enumerate(names, start=1):
        text = pdf_page_text(path, page)
        assert f"Dear {name}" in text and text.count("Dear ") == 1, (page, text)


def test_more_letters_than_a_chunk_without_pdfunite_exits_1_saying_what_to_install(tmp_path, monkeypatch, settings):
    settings.CRM_PDF_CHUNK_LETTERS = 2
    segment = build(n_persons=4)
    fake_soffice(monkeypatch, tmp_path, "exit 9\n")  # never run: refused before
    monkeypatch.setattr(pdf, "JOIN_PROGRAM", "no-such-pdfunite")
    folder = tmp_path / "out"
    folder.mkdir()
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("segment", "merge", segment.no, "--output", str(folder / "letters.pdf"), stderr=err)

    assert err.getvalue().splitlines() == [
        "Install poppler-utils (Debian: apt-get install poppler-utils): its pdfunite joins the PDFs of more than "
        "2 letters"
    ]
    assert os.listdir(folder) == []
