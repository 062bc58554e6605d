"""PDF checks shared by the tests: LibreOffice present (a skip, or a failure when the run must
make PDFs: CRM_REQUIRE_PDF=1, which scripts/test.sh sets after installing it), and the pages
and page texts of a PDF through poppler-utils (pdfinfo, pdftotext)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from interactions.pdf import soffice_program


def require_libreoffice() -> None:
    """Skip the test when LibreOffice or poppler-utils is missing; fail instead under
    CRM_REQUIRE_PDF=1 (CI installs both)."""
    missing = [
        name
        for name, found in (
            ("LibreOffice (soffice)", soffice_program()),
            ("poppler-utils (pdftotext)", shutil.which("pdftotext") and shutil.which("pdfinfo")),
        )
        if not found
    ]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed: apt-get install libreoffice-writer-nogui poppler-utils"
    if os.environ.get("CRM_REQUIRE_PDF") == "1":
        pytest.fail(f"CRM_REQUIRE_PDF=1 but {reason}")
    pytest.skip(reason)


def pdf_page_count(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def pdf_page_text(path: Path, page: int) -> str:
    """The text of page `page` (from 1), whitespace folded."""
    text = subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return re.sub(r"\s+", " ", text).strip()


def without_libreoffice(monkeypatch, tmp_path: Path) -> None:
    """PATH is a folder without soffice or libreoffice, as on a machine without LibreOffice."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def fake_soffice(monkeypatch, tmp_path: Path, script: str) -> Path:
    """A `soffice` on PATH that runs the shell `script` (its arguments in "$@")."""
    folder = tmp_path / "fake-bin"
    folder.mkdir(exist_ok=True)
    program = folder / "soffice"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    return program
