"""`manage.py interaction_template attach CODE FILE.docx [--language CODE]` and its service
(CONTRACT.md; SPEC F1.9, F1.10): success, unknown codes, and an invalid document that leaves the
previous one in place with nothing stored."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from crm.permissions import COMMAND_LINE
from interactions.documents import document_file_name, interaction_template_attach
from interactions.models import Document, InteractionTemplateLanguage
from interactions.sample_template import sample_letter_docx
from interactions.wordtemplates import MAX_FILE_BYTES, WordTemplateInvalid
from tests.factories import make_language, make_template
from tests.interactions.docx_builders import docx_bytes

pytestmark = pytest.mark.django_db


def attach(*args: str) -> tuple[int, str, str]:
    """Run the command; (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("interaction_template", "attach", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def template():
    return make_template("SPRING", language=make_language("ENU"))


@pytest.fixture
def letter(tmp_path):
    path = tmp_path / "spring letter.docx"
    path.write_bytes(sample_letter_docx())
    return path


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def row_of(template, language_code):
    return InteractionTemplateLanguage.objects.get(template=template, language_id=language_code)


def test_attach_stores_the_document_on_the_default_language_row(template, letter):
    status, out, err = attach("SPRING", str(letter))
    assert (status, out) == (0, "")
    document = row_of(template, "ENU").document
    data = letter.read_bytes()
    assert document.read_bytes() == data
    assert (document.file_name, document.size, document.sha256) == (
        "spring letter.docx",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert document.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert not document.read_only
    assert f"attached spring letter.docx ({len(data):,} bytes) to SPRING/ENU as document {document.pk}" in err


def test_attach_creates_the_row_of_another_language(template, letter):
    make_language("NLD")
    assert attach("SPRING", str(letter), "--language", "NLD")[0] == 0
    row = row_of(template, "NLD")
    assert row.document is not None
    assert row.description == template.description
    assert not InteractionTemplateLanguage.objects.filter(template=template, language_id="ENU").exists()


def test_a_template_without_default_language_uses_its_blank_language_row(letter):
    template = make_template("NOLANG")
    assert attach("NOLANG", str(letter))[0] == 0
    assert InteractionTemplateLanguage.objects.get(template=template, language=None).document is not None


def test_attaching_again_replaces_and_deletes_the_previous_document(template, letter):
    attach("SPRING", str(letter))
    first = row_of(template, "ENU").document_id
    assert attach("SPRING", str(letter))[0] == 0
    assert row_of(template, "ENU").document_id != first
    assert not Document.objects.filter(pk=first).exists()
    assert Document.objects.count() == 1


def test_a_read_only_or_shared_previous_document_is_kept(template, letter):
    attach("SPRING", str(letter))
    first = row_of(template, "ENU").document
    other = make_template("OTHER", language=make_language("NLD"))
    InteractionTemplateLanguage.objects.create(template=other, language_id="NLD", document=first)
    assert attach("SPRING", str(letter))[0] == 0
    assert Document.objects.filter(pk=first.pk).exists()  # still the other template's document

    second = row_of(template, "ENU").document
    Document.objects.filter(pk=second.pk).update(read_only=True)
    assert attach("SPRING", str(letter))[0] == 0
    assert Document.objects.filter(pk=second.pk).exists()


def test_unknown_codes_are_errors_naming_them(letter):
    status, out, err = attach("NOSUCH", str(letter), "--language", "XX")
    assert (status, out) == (1, "")
    assert err.splitlines() == ['interaction_template: unknown code "NOSUCH"', 'language: unknown code "XX"']
    assert Document.objects.count() == 0


def test_a_missing_file_is_an_error(template, tmp_path):
    status, _, err = attach("SPRING", str(tmp_path / "nope.docx"))
    assert status == 1
    assert err.startswith(f"file: cannot read {tmp_path / 'nope.docx'}: ")


def test_a_file_over_the_limit_is_refused_without_reading_it(template, tmp_path):
    path = tmp_path / "huge.docx"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    status, _, err = attach("SPRING", str(path))
    assert status == 1
    assert err.splitlines() == ["file: the file is 5.0 MB, over the limit of 5.0 MB"]


def test_an_invalid_document_leaves_the_previous_one_in_place(template, letter, tmp_path):
    attach("SPRING", str(letter))
    previous = row_of(template, "ENU").document_id
    bad = write(tmp_path, "bad.docx", docx_bytes("Dear {{ contact.fist_name }}", header="{{ contact.owner.password }}"))
    status, out, err = attach("SPRING", str(bad))
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        'word/document.xml: unknown field "contact.fist_name"',
        'word/header1.xml: unknown field "contact.owner.password"',
    ]
    assert row_of(template, "ENU").document_id == previous
    assert Document.objects.count() == 1


def test_an_ssti_template_is_refused_and_runs_nothing(template, tmp_path):
    canary = tmp_path / "canary"
    payload = "{{ cycler.__init__.__globals__.os.popen('touch " + str(canary) + "').read() }}"
    bad = write(tmp_path, "ssti.docx", docx_bytes("Hello", title=payload))
    status, _, err = attach("SPRING", str(bad))
    assert status == 1
    assert "docProps/core.xml (title): template uses a forbidden expression (a call)" in err
    assert not canary.exists()
    assert Document.objects.count() == 0
    assert not InteractionTemplateLanguage.objects.exists()


def test_a_file_that_is_not_a_docx_is_refused(template, tmp_path):
    status, _, err = attach("SPRING", str(write(tmp_path, "letter.docx", b"PK\x03\x04 truncated")))
    assert status == 1
    assert "not a Word document (.docx): the file is not a zip package" in err
    assert Document.objects.count() == 0


def test_the_service_checks_the_permission(template, viewer, admin_user):
    data = sample_letter_docx()
    with pytest.raises(PermissionDenied):
        interaction_template_attach(user=viewer, template=template, language=None, data=data, file_name="a.docx")
    document = interaction_template_attach(
        user=admin_user, template=template, language=None, data=data, file_name="../../etc/a\x00.docx"
    )
    assert document.file_name == "a_.docx"
    assert row_of(template, "ENU").document == document


def test_the_service_raises_every_problem_before_writing(template):
    with pytest.raises(WordTemplateInvalid) as raised:
        interaction_template_attach(
            user=COMMAND_LINE, template=template, language=None, data=docx_bytes("{{ a }}{{ b }}"), file_name="x.docx"
        )
    assert raised.value.problems == ['word/document.xml: unknown field "a"', 'word/document.xml: unknown field "b"']
    assert not InteractionTemplateLanguage.objects.exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("C:\\Users\\me\\Letter.docx", "Letter.docx"), ("", "document.docx"), ('a<b>:"c".docx', "a_b_c_.docx")],
)
def test_stored_file_names_are_safe(name, expected):
    assert document_file_name(name) == expected


# --- the real command line -----------------------------------------------------------------------


def manage(*args: str) -> subprocess.CompletedProcess:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings['NAME']}"
    else:
        password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
        host = f"{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}"
        url = f"postgres://{settings['USER'] or ''}{password}@{host}/{settings['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_exit_statuses_and_streams_from_the_shell(tmp_path):
    template = make_template("SPRING", language=make_language("ENU"))
    letter = write(tmp_path, "letter.docx", sample_letter_docx())

    attached = manage("interaction_template", "attach", "SPRING", str(letter))
    assert (attached.returncode, attached.stdout) == (0, "")
    assert attached.stderr.startswith("attached letter.docx (")
    previous = row_of(template, "ENU").document_id

    bad = write(tmp_path, "bad.docx", docx_bytes("{{ contact.fist_name }}"))
    refused = manage("interaction_template", "attach", "SPRING", str(bad))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert 'word/document.xml: unknown field "contact.fist_name"' in refused.stderr.splitlines()
    assert "Traceback" not in refused.stderr
    assert row_of(template, "ENU").document_id == previous

    unknown = manage("interaction_template", "attach", "NOSUCH", str(letter))
    assert unknown.returncode == 1
    assert 'interaction_template: unknown code "NOSUCH"' in unknown.stderr.splitlines()

    malformed = manage("interaction_template", "attach", "SPRING")
    assert malformed.returncode == 2
