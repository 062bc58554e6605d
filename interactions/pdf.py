"""Word documents as PDF through LibreOffice (SPEC R69; CONTRACT `segment merge … PATH.pdf`).

`docx_to_pdf` converts one .docx, read from a file object, into a PDF written to another,
with `soffice --headless --convert-to pdf`: the .docx is copied in blocks into a private
temporary folder, converted there and the PDF copied out in blocks (never whole in memory).
Each conversion has its own LibreOffice profile (`-env:UserInstallation`) in that folder, so
conversions running at once in several workers never share one (a shared profile makes the
second soffice hand its work to the first, or fail); a conversion that outlives its timeout is
killed with every process it started.

LibreOffice is optional: `pdf_unavailable` says what to install when neither `soffice` nor
`libreoffice` is on PATH, and every PDF option is refused with that reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PDF_CONTENT_TYPE = "application/pdf"
#: The programs that convert, looked up on PATH in this order.
PROGRAMS = ("soffice", "libreoffice")
#: How often a running conversion calls its `alive` callback (seconds).
ALIVE_EVERY = 5.0
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


def pdf_require() -> str:
    """The LibreOffice program; PdfError saying what to install when there is none."""
    program = soffice_program()
    if program is None:
        raise PdfError(install_hint(), code="no_libreoffice")
    return program


def docx_to_pdf_file(source: BinaryIO, **options) -> tuple[BinaryIO, int]:
    """`docx_to_pdf` into a new temporary file: (the file, at its start, and its size). The
    caller closes it (a download response does once it is sent); on an error nothing is left."""
    pdf = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller open
    try:
        size = docx_to_pdf(source, pdf, **options)
    except BaseException:
        pdf.close()
        raise
    pdf.seek(0)
    return pdf, size


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
    program = pdf_require()
    limit = float(timeout if timeout is not None else getattr(settings, "CRM_PDF_TIMEOUT", 3600))
    with tempfile.TemporaryDirectory(prefix="crm-pdf-") as folder:
        work = Path(folder)
        docx_path = work / "letters.docx"
        with open(docx_path, "wb") as copy:
            shutil.copyfileobj(source, copy, _COPY_BLOCK)
        (work / "out").mkdir()
        (work / "home").mkdir()
        command = [
            program,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(work / "out"),
            str(docx_path),
        ]
        environment = {**os.environ, "HOME": str(work / "home"), "TMPDIR": folder}
        _run(command, environment, limit, alive)
        pdf_path = work / "out" / "letters.pdf"
        if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
            raise PdfError(_("LibreOffice made no PDF of the letters."), code="no_pdf")
        with open(pdf_path, "rb") as made:
            shutil.copyfileobj(made, out, _COPY_BLOCK)
        return pdf_path.stat().st_size


def _run(command: list[str], environment: dict[str, str], limit: float, alive: Callable[[], None] | None) -> None:
    """Run LibreOffice in a session of its own (so a timeout kills soffice.bin as well as the
    script that started it), its output kept for the error message."""
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
                            _("LibreOffice did not finish the PDF within %(seconds)s seconds.")
                            % {"seconds": f"{limit:g}"},
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
                _("LibreOffice could not make the PDF (exit status %(code)s): %(output)s")
                % {"code": code, "output": said or "-"},
                code="pdf_failed",
            )


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
