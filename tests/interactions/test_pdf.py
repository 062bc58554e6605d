"""interactions.pdf: a .docx to PDF through LibreOffice. A private profile per conversion, the
timeout that kills every process of the conversion, the heartbeat while it runs, and each way
it fails; with real LibreOffice (tests.pdf_tools.require_libreoffice), two conversions at once."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import docx
import pytest

from interactions import pdf
from tests.pdf_tools import fake_soffice, pdf_page_count, pdf_page_text, require_libreoffice, without_libreoffice

# A LibreOffice stand-in: logs its arguments to $SOFFICE_LOG and writes a PDF where asked.
WRITES_PDF = """
for a; do case "$prev" in --outdir) out="$a";; esac; prev="$a"; last="$a"; done
echo "$@" >> "$SOFFICE_LOG"
sleep "${SOFFICE_SLEEP:-0}"
printf '%%PDF-1.4 fake of %s' "$(cat "$last")" > "$out/$(basename "$last" .docx).pdf"
"""


def convert(data: bytes = b"the letters", **options) -> bytes:
    out = io.BytesIO()
    size = pdf.docx_to_pdf(io.BytesIO(data), out, **options)
    assert size == len(out.getvalue())
    return out.getvalue()


def test_without_libreoffice_it_says_what_to_install(monkeypatch, tmp_path):
    without_libreoffice(monkeypatch, tmp_path)
    hint = "Install LibreOffice (Debian: apt-get install libreoffice-writer-nogui) to make PDFs"

    assert pdf.soffice_program() is None
    assert pdf.pdf_unavailable() == hint
    out = io.BytesIO()
    with pytest.raises(pdf.PdfError) as error:
        pdf.docx_to_pdf(io.BytesIO(b"x"), out)
    assert error.value.messages == [hint]
    assert out.getvalue() == b""


def test_libreoffice_is_found_as_libreoffice_too(monkeypatch, tmp_path):
    program = fake_soffice(monkeypatch, tmp_path, WRITES_PDF)
    program.rename(program.with_name("libreoffice"))
    monkeypatch.setenv("PATH", str(program.parent))  # no soffice anywhere on PATH

    assert pdf.soffice_program() == str(program.with_name("libreoffice"))
    assert pdf.pdf_unavailable() is None


def test_each_conversion_has_a_private_profile_and_streams_the_pdf_out(monkeypatch, tmp_path):
    fake_soffice(monkeypatch, tmp_path, WRITES_PDF)
    log = tmp_path / "soffice.log"
    monkeypatch.setenv("SOFFICE_LOG", str(log))

    assert convert(b"first") == b"%PDF-1.4 fake of first"
    assert convert(b"second") == b"%PDF-1.4 fake of second"

    calls = [line.split() for line in log.read_text().splitlines()]
    profiles = [call[0] for call in calls]
    assert all(profile.startswith("-env:UserInstallation=file:///") for profile in profiles)
    assert profiles[0] != profiles[1]
    assert all(call[1:4] == ["--headless", "--norestore", "--nolockcheck"] for call in calls)
    assert all(call[4:6] == ["--convert-to", "pdf:writer_pdf_Export"] for call in calls)
    # the temporary folders are gone
    assert not any(Path(profile.split("file://", 1)[1]).parent.exists() for profile in profiles)


def test_alive_is_called_while_libreoffice_works_and_may_stop_it(monkeypatch, tmp_path):
    fake_soffice(monkeypatch, tmp_path, WRITES_PDF)
    monkeypatch.setenv("SOFFICE_LOG", str(tmp_path / "soffice.log"))
    monkeypatch.setenv("SOFFICE_SLEEP", "1")
    monkeypatch.setattr(pdf, "ALIVE_EVERY", 0.1)
    beats = []

    convert(alive=lambda: beats.append(time.monotonic()))
    assert len(beats) >= 3

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        convert(alive=stop)


def test_a_conversion_past_its_timeout_is_killed_with_every_process_it_started(monkeypatch, tmp_path):
    child = tmp_path / "child.pid"
    fake_soffice(monkeypatch, tmp_path, f'sleep 60 &\necho $! > "{child}"\nwait\n')

    started = time.monotonic()
    with pytest.raises(pdf.PdfError) as error:
        convert(timeout=1)

    assert time.monotonic() - started < 10
    assert error.value.messages == ["LibreOffice did not finish the PDF within 1 seconds."]
    pid = int(child.read_text())
    for _ in range(50):  # the orphaned sleep is reaped by init a moment later
        if not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the conversion's child process {pid} still runs")


def test_a_failing_libreoffice_is_an_error_with_what_it_said(monkeypatch, tmp_path):
    fake_soffice(monkeypatch, tmp_path, 'echo "Error: the profile is broken" >&2\nexit 3\n')

    with pytest.raises(pdf.PdfError) as error:
        convert()

    assert error.value.messages == ["LibreOffice could not make the PDF (exit status 3): Error: the profile is broken"]


def test_libreoffice_that_makes_no_pdf_is_an_error(monkeypatch, tmp_path):
    # soffice exits 0 when it cannot load the document, and writes nothing
    fake_soffice(monkeypatch, tmp_path, 'echo "Error: source file could not be loaded"\nexit 0\n')

    with pytest.raises(pdf.PdfError) as error:
        convert()

    assert error.value.messages == ["LibreOffice made no PDF of the letters."]


def test_file_names_become_pdf_names():
    assert pdf.pdf_file_name("Segment 7 letters.docx") == "Segment 7 letters.pdf"
    assert pdf.pdf_file_name("letters") == "letters.pdf"


# --- With LibreOffice -----------------------------------------------------------------------------


def one_page(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_two_conversions_at_once_both_make_their_pdf(tmp_path):
    require_libreoffice()
    results: dict[str, bytes] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name] = convert(one_page(f"Letter for {name}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("Ada Åström", "Jürgen Groß")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for name, data in results.items():
        path = tmp_path / f"{abs(hash(name))}.pdf"
        path.write_bytes(data)
        assert pdf_page_count(path) == 1
        assert pdf_page_text(path, 1) == f"Letter for {name}"
    assert os.listdir(tmp_path) and len(results) == 2


# --- Many letters: chunks joined by pdfunite -------------------------------------------------------

# A LibreOffice stand-in that writes "%PDF-fake <name of the .docx>" and logs its arguments; a
# pdfunite stand-in that logs its arguments and concatenates its inputs into its last argument.
WRITES_NAMED_PDF = """
for a; do case "$prev" in --outdir) out="$a";; esac; prev="$a"; last="$a"; done
echo "$@" >> "$SOFFICE_LOG"
name="$(basename "$last" .docx)"
printf '%%PDF-fake %s;' "$name" > "$out/$name.pdf"
"""
JOINS = """
echo "$@" >> "$PDFUNITE_LOG"
for a; do last="$a"; done
for a; do [ "$a" = "$last" ] || cat "$a"; done > "$last"
"""


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """Fake soffice and pdfunite on PATH; their logs' lines (each run's arguments)."""
    program = fake_soffice(monkeypatch, tmp_path, WRITES_NAMED_PDF)
    join = program.with_name("pdfunite")
    join.write_text("#!/bin/sh\n" + JOINS)
    join.chmod(0o755)
    logs = {"soffice": tmp_path / "soffice.log", "pdfunite": tmp_path / "pdfunite.log"}
    for name, log in logs.items():
        log.touch()
        monkeypatch.setenv(f"{name.upper()}_LOG", str(log))
    return lambda name: [line.split() for line in logs[name].read_text().splitlines()]


def letters(count: int) -> list[bytes]:
    return [one_page(f"Letter {number}") for number in range(1, count + 1)]


def test_more_letters_than_a_chunk_are_converted_a_chunk_at_a_time_and_joined_in_order(fakes):
    out = io.BytesIO()

    assert pdf.letters_to_pdf(iter(letters(5)), out, chunk=2) == 5

    assert out.getvalue() == b"%PDF-fake chunk-00001;%PDF-fake chunk-00002;%PDF-fake chunk-00003;"
    runs = fakes("soffice")
    assert [Path(run[-1]).name for run in runs] == ["chunk-00001.docx", "chunk-00002.docx", "chunk-00003.docx"]
    assert len({run[0] for run in runs}) == 1  # one profile for the conversion's runs
    (join,) = fakes("pdfunite")
    assert [Path(part).name for part in join] == ["chunk-00001.pdf", "chunk-00002.pdf", "chunk-00003.pdf", "joined.pdf"]
    assert not Path(join[0]).parent.exists()  # the temporary folder is gone


def test_letters_within_one_chunk_are_one_conversion_without_pdfunite(fakes):
    out = io.BytesIO()

    assert pdf.letters_to_pdf(letters(2), out, chunk=2) == 2

    assert out.getvalue() == b"%PDF-fake chunk-00001;"
    assert len(fakes("soffice")) == 1 and fakes("pdfunite") == []
    with pytest.raises(ValueError, match="no letters"):
        pdf.letters_to_pdf([], io.BytesIO())


def test_without_pdfunite_more_than_a_chunk_is_refused_before_anything_is_converted(fakes, monkeypatch, settings):
    monkeypatch.setattr(pdf, "JOIN_PROGRAM", "no-such-pdfunite")
    settings.CRM_PDF_CHUNK_LETTERS = 2
    hint = (
        "Install poppler-utils (Debian: apt-get install poppler-utils): its pdfunite joins the PDFs "
        "of more than 2 letters"
    )

    with pytest.raises(pdf.PdfError) as error:
        pdf.letters_to_pdf(letters(3), io.BytesIO())

    assert error.value.messages == [hint]
    assert fakes("soffice") == []
    with pytest.raises(pdf.PdfError, match="Install poppler-utils"):
        pdf.pdf_require(letters=3)
    assert pdf.pdf_require(letters=2).endswith("soffice")  # one chunk needs no pdfunite


def test_a_failing_pdfunite_is_an_error_with_what_it_said(fakes, tmp_path):
    (tmp_path / "fake-bin" / "pdfunite").write_text('#!/bin/sh\necho "Syntax Error: broken" >&2\nexit 2\n')

    with pytest.raises(pdf.PdfError) as error:
        pdf.letters_to_pdf(letters(3), io.BytesIO(), chunk=2)

    assert error.value.messages == ["pdfunite could not make the PDF (exit status 2): Syntax Error: broken"]
