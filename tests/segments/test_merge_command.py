"""`manage.py segment merge NO --output PATH.docx|PATH.zip` (CONTRACT.md): every line, each
from its language's Word document; writes only the output file, never a partial one; errors
on stderr, exit status 1, no file."""

from __future__ import annotations

import io
import os
import zipfile
from io import StringIO

import docx
import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.permissions import COMMAND_LINE
from segments import merge, services
from segments.models import SegmentLine
from tests.factories import make_template
from tests.interactions.docx_builders import paragraph_texts
from tests.segments.merge_world import letter_texts, merge_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return merge_world()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("segment", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fail(*args: str) -> list[str]:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("segment", *args, stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    return err.getvalue().splitlines()


def lines_of(world):
    return list(SegmentLine.objects.filter(segment=world.segment).select_related("contact").order_by("line_no"))


def test_merge_to_a_combined_docx_writes_only_the_file(world, tmp_path):
    path = tmp_path / "letters.docx"
    before = row_counts()

    out, err = run("merge", world.segment.no, "--output", str(path))

    assert out == ""
    assert err.strip() == f"{world.segment.no}: 4 letter(s) written to {path}"
    assert row_counts() == before
    document = docx.Document(str(path))
    assert len(document.sections) == 4
    texts = [p.text for p in document.paragraphs]
    expected = [
        text for line in lines_of(world) for text in letter_texts(line.contact, world.expected[line.contact.no])
    ]
    assert texts == expected
    assert os.listdir(tmp_path) == ["letters.docx"]  # no temporary file left behind


def test_merge_to_a_zip_of_one_docx_per_line(world, tmp_path):
    path = tmp_path / "letters.ZIP"
    before = row_counts()

    run("merge", world.segment.no, "--output", str(path))

    assert row_counts() == before
    archive = zipfile.ZipFile(path)
    assert len(archive.namelist()) == 4
    for name, line in zip(archive.namelist(), lines_of(world), strict=True):
        assert paragraph_texts(archive.read(name)) == letter_texts(line.contact, world.expected[line.contact.no])


def test_every_line_is_merged_whatever_its_correspondence_type(world, tmp_path):
    first, second, *_ = lines_of(world)
    for line, kind in ((first, "email"), (second, "hard_copy")):
        services.segment_set_line(
            user=COMMAND_LINE, segment=world.segment, line_no=line.line_no, values={"correspondence_type": kind}
        )

    run("merge", world.segment.no, "--output", str(tmp_path / "all.docx"))

    assert len(docx.Document(str(tmp_path / "all.docx")).sections) == 4


def test_a_line_without_a_word_document_is_an_error_naming_the_template_and_no_file(world, tmp_path):
    line = lines_of(world)[2]
    services.segment_set_line(
        user=COMMAND_LINE,
        segment=world.segment,
        line_no=line.line_no,
        values={"interaction_template": make_template("NODOC")},
    )
    path = tmp_path / "letters.docx"
    before = row_counts()

    problems = fail("merge", world.segment.no, "--output", str(path))

    assert problems == [
        'Interaction template "NODOC" has no Word document for language EN (1 line): attach one on the template page.'
    ]
    assert os.listdir(tmp_path) == []
    assert row_counts() == before


def test_an_error_while_merging_leaves_no_file_and_an_existing_file_unchanged(world, tmp_path, monkeypatch):
    path = tmp_path / "letters.docx"
    path.write_bytes(b"previous")
    real = merge.line_context
    calls = []

    def failing(line, *args, **kwargs):
        calls.append(line.pk)
        if len(calls) == 3:
            raise merge.MergeError("broken on purpose")
        return real(line, *args, **kwargs)

    monkeypatch.setattr(merge, "line_context", failing)

    third = lines_of(world)[2]
    assert fail("merge", world.segment.no, "--output", str(path)) == [f"line {third.line_no}: broken on purpose"]
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["letters.docx"]


@pytest.mark.parametrize("name", ["letters", "letters.docx.txt", "letters.doc", "letters.pdf.txt"])
def test_an_output_other_than_docx_zip_or_pdf_is_an_error(world, tmp_path, name):
    path = tmp_path / name
    problems = fail("merge", world.segment.no, "--output", str(path))
    assert problems == [
        f'--output: "{path}" must end in .docx (one combined document), .zip (one document per line) '
        "or .pdf (one PDF of all letters)"
    ]
    assert os.listdir(tmp_path) == []


def test_an_unknown_segment_is_an_error(db, tmp_path):
    assert fail("merge", "SEG99999", "--output", str(tmp_path / "x.docx")) == ['segment "SEG99999" does not exist']
    assert os.listdir(tmp_path) == []


def test_a_segment_without_lines_is_an_error(world, tmp_path):
    empty = services.segment_create(user=COMMAND_LINE, values={"description": "Empty"})
    assert fail("merge", empty.no, "--output", str(tmp_path / "x.docx")) == [f"{empty.no} has no lines to merge."]
    assert os.listdir(tmp_path) == []


def test_a_logged_segment_is_named_as_such(world, tmp_path):
    from segments.services import segment_log

    no = world.segment.no
    segment_log(user=COMMAND_LINE, segment=world.segment)

    (problem,) = fail("merge", no, "--output", str(tmp_path / "x.docx"))
    assert problem.startswith(f"Segment {no} was already logged by ")


def test_a_missing_folder_is_an_error(world, tmp_path):
    path = tmp_path / "nowhere" / "x.docx"
    assert fail("merge", world.segment.no, "--output", str(path)) == [
        f'--output: the folder "{tmp_path / "nowhere"}" does not exist'
    ]


def test_output_is_required(world):
    with pytest.raises(CommandError, match="--output"):
        call_command("segment", "merge", world.segment.no, stdout=StringIO(), stderr=StringIO())


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_stderr_on_a_terminal(world, tmp_path, monkeypatch):
    monkeypatch.setattr(merge, "PROGRESS_EVERY", 2)
    err = Terminal()

    call_command(
        "segment", "merge", world.segment.no, "--output", str(tmp_path / "x.docx"), stdout=StringIO(), stderr=err
    )

    assert "\rMerging letters: 2 / 4" in err.getvalue() and "\rMerging letters: 4 / 4" in err.getvalue()
