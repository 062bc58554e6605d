"""Word documents as PDF through LibreOffice (SPEC R69; CONTRACT `segment merge … PATH.pdf`).

`docx_to_pdf` converts one .docx, read from a file object, into a PDF written to another,
with `soffice --headless --convert-to pdf`: the .docx is copied in blocks into a private
temporary folder, converted there and the PDF copied out in blocks (never whole in memory).
Each conversion has its own LibreOffice profile (`-env:UserInstallation`) in that folder, so
conversions running at once in several workers never share one (a shared profile makes the
second soffice hand its work to the first, or fail); a conversion that outlives its timeout is
killed with every process it started.

`letters_to_pdf` makes one PDF of many letters (a merge, a print file) in chunks: more than
settings.CRM_PDF_CHUNK_LETTERS letters are combined and converted CRM_PDF_CHUNK_LETTERS at a
time (LibreOffice's time and memory grow faster than the number of pages of one document; a
chunk bounds both), each chunk's PDF kept in a temporary folder, and the chunks' PDFs joined in
order by poppler-utils' `pdfunite` into `out` (streamed in blocks: no PDF is ever whole in
Python's memory). The chunks of one conversion share one LibreOffice profile, made by the first.

LibreOffice is optional: `pdf_unavailable` says what to install when neither `soffice` nor
`libreoffice` is on PATH, and every PDF option is refused with that reason. Joining chunks
needs `pdfunite` (Debian: poppler-utils): without it a PDF of more than one chunk is refused
with what to install (`pdf_require(letters=…)` before anything is made, else as soon as a
second chunk shows up, before anything is converted).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PDF_CONTENT_TYPE = "application/pdf"
#: The programs that convert, looked up on PATH in this order.
PROGRAMS = ("soffice", "libreoffice")
#: The program that joins the PDFs of a conversion's chunks (poppler-utils).
JOIN_PROGRAM = "pdfunite"
#: How often a running conversion calls its `alive` callback (seconds): well within any job
#: lease (crm.worker.job_lease; a few seconds in the worker tests).
ALIVE_EVERY = 1.0
_COPY_BLOCK = 1024 * 1024


class PdfError(ValidationError):
    """A PDF cannot be made: LibreOffice is missing, or the conversion failed or timed out."""


def install_hint() -> str:
    return _("Install LibreOffice (Debian: apt-get install libreoffice-writer-nogui) to make PDFs")


def soffice_program() -> str | None:
    """The LibreOffice program found on PATH (`soffice`, else `libreoffice`), or None."""
    for name in PROGRAMS:
        found = shutil.which(name)
        if found:
            return found
    return None


def pdf_unavailable() -> str | None:
    """Why no PDF can be made here (what to install), or None when LibreOffice is on PATH."""
    return None if soffice_program() else install_hint()


def chunk_letters() -> int:
    """Letters converted by one LibreOffice run (settings.CRM_PDF_CHUNK_LETTERS, at least 1)."""
    return max(1, int(getattr(settings, "CRM_PDF_CHUNK_LETTERS", 500)))


def join_hint() -> str:
    return _(
        "Install poppler-utils (Debian: apt-get install poppler-utils): its pdfunite joins the PDFs "
        "of more than %(chunk)s letters"
    ) % {"chunk": chunk_letters()}


def pdf_require(*, letters: int = 0) -> str:
    """The LibreOffice program; PdfError saying what to install when there is none, or when
    `letters` letters need more than one chunk and `pdfunite` is missing."""
    program = soffice_program()
    if program is None:
        raise PdfError(install_hint(), code="no_libreoffice")
    if letters > chunk_letters():
        _join_program()
    return program


def _join_program() -> str:
    found = shutil.which(JOIN_PROGRAM)
    if found is None:
        raise PdfError(join_hint(), code="no_pdfunite")
    return found


def pdf_file_name(file_name: str) -> str:
    """`file_name` with its extension replaced by .pdf ("Segment 7 letters.docx" → "….pdf")."""
    stem, extension = os.path.splitext(file_name)
    return f"{stem if extension else file_name}.pdf"


def docx_to_pdf(
    source: BinaryIO,
    out: BinaryIO,
    *,
    timeout: float | None = None,
    alive: Callable[[], None] | None = None,
) -> int:
    """Convert the .docx read from `source` (from its current position) into a PDF written to
    `out`; return the PDF's size in bytes.

    `timeout` (seconds; default settings.CRM_PDF_TIMEOUT) bounds the conversion: past it every
    process of the conversion is killed and PdfError says so. `alive()` is called every
    ALIVE_EVERY seconds while LibreOffice works (a job's heartbeat); whatever it raises stops
    the conversion (its processes are killed) and passes through. PdfError when LibreOffice is
    missing, fails, or makes no PDF; `out` is then left as it was or incomplete."""
    with _Converter(timeout=timeout, alive=alive) as converter:
        docx_path = converter.folder / "letters.docx"
        with open(docx_path, "wb") as copy:
            shutil.copyfileobj(source, copy, _COPY_BLOCK)
        return _copy_out(converter.convert(docx_path), out)


def letters_to_pdf(
    letters: Iterable[bytes],
    out: BinaryIO,
    *,
    chunk: int | None = None,
    timeout: float | None = None,
    alive: Callable[[], None] | None = None,
) -> int:
    """One PDF of `letters` (complete .docx packages, in order; one letter per page or more)
    written to `out`; returns how many letters it holds.

    The letters are combined (interactions.letters.combine_docx) and converted `chunk` at a
    time (default settings.CRM_PDF_CHUNK_LETTERS): one LibreOffice run per chunk, the chunks'
    PDFs written to a temporary folder and joined in order by `pdfunite` into `out`. A single
    chunk is converted straight into `out`. `timeout` bounds each LibreOffice run; `alive()` is
    called while LibreOffice works and between chunks (see `docx_to_pdf`). PdfError saying
    what to install when LibreOffice is missing, or `pdfunite` once a second chunk shows up
    (before anything is converted); ValueError when there is no letter. Memory stays bounded
    whatever the number of letters: one letter and one chunk's combining state in Python, one
    chunk in LibreOffice; `pdfunite` reads the chunks' files itself."""
    from .letters import combine_docx

    size = chunk or chunk_letters()
    remaining = iter(letters)
    total = 0
    join = ""
    with _Converter(timeout=timeout, alive=alive) as converter:
        parts: list[Path] = []
        first = next(remaining, None)
        while first is not None:
            docx_path = converter.folder / f"chunk-{len(parts) + 1:05d}.docx"
            with open(docx_path, "wb") as combined:
                total += combine_docx(itertools.chain([first], itertools.islice(remaining, size - 1)), combined)
            first = next(remaining, None)
            if first is not None and not parts:
                join = _join_program()  # before the first chunk is converted
            parts.append(converter.convert(docx_path))
            docx_path.unlink()
            if alive is not None:
                alive()
        if not parts:
            raise ValueError("there are no letters to convert")
        if len(parts) == 1:
            _copy_out(parts[0], out)
            return total
        joined = converter.folder / "joined.pdf"
        _run([join, *map(str, parts), str(joined)], converter.environment, converter.limit, alive, JOIN_PROGRAM)
        for part in parts:
            part.unlink()
        _copy_out(joined, out)
    return total


def _copy_out(pdf_path: Path, out: BinaryIO) -> int:
    with open(pdf_path, "rb") as made:
        shutil.copyfileobj(made, out, _COPY_BLOCK)
    return pdf_path.stat().st_size


class _Converter:
    """One conversion's private temporary folder (removed at the end) with its LibreOffice
    profile, used by each LibreOffice run of the conversion in turn."""

    def __init__(self, *, timeout: float | None, alive: Callable[[], None] | None) -> None:
        self.program = pdf_require()
        self.limit = float(timeout if timeout is not None else getattr(settings, "CRM_PDF_TIMEOUT", 3600))
        self.alive = alive

    def __enter__(self) -> _Converter:
        self._folder = tempfile.TemporaryDirectory(prefix="crm-pdf-")
        self.folder = Path(self._folder.name)
        (self.folder / "out").mkdir()
        (self.folder / "home").mkdir()
        self.environment = {**os.environ, "HOME": str(self.folder / "home"), "TMPDIR": str(self.folder)}
        return self

    def __exit__(self, *exc_info) -> None:
        self._folder.cleanup()

    def convert(self, docx_path: Path) -> Path:
        """The PDF LibreOffice made of `docx_path` (a file in the folder), next to it."""
        command = [
            self.program,
            f"-env:UserInstallation={(self.folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(self.folder / "out"),
            str(docx_path),
        ]
        _run(command, self.environment, self.limit, self.alive)
        made = self.folder / "out" / f"{docx_path.stem}.pdf"
        if not made.is_file() or made.stat().st_size == 0:
            raise PdfError(_("LibreOffice made no PDF of the letters."), code="no_pdf")
        return made.replace(docx_path.with_suffix(".pdf"))


def _run(
    command: list[str],
    environment: dict[str, str],
    limit: float,
    alive: Callable[[], None] | None,
    name: str = "LibreOffice",
) -> None:
    """Run `name` (LibreOffice, pdfunite) in a session of its own (so a timeout kills
    soffice.bin as well as the script that started it), its output kept for the error message."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
        deadline = time.monotonic() + limit
        try:
            while True:
                try:
                    code = process.wait(timeout=max(0.0, min(ALIVE_EVERY, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        raise PdfError(
                            _("%(program)s did not finish the PDF within %(seconds)s seconds.")
                            % {"program": name, "seconds": f"{limit:g}"},
                            code="pdf_timeout",
                        ) from None
                    if alive is not None:
                        alive()
        except BaseException:
            _kill(process)
            raise
        if code != 0:
            output.seek(0)
            said = output.read(2000).decode(errors="replace").strip()
            raise PdfError(
                _("%(program)s could not make the PDF (exit status %(code)s): %(output)s")
                % {"program": name, "code": code, "output": said or "-"},
                code="pdf_failed",
            )


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
