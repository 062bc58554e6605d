"""Issue 17's set-up: the compiled translations are made by every set-up and never committed
(scripts/messages.sh), and the catalogue check (scripts/check-catalogues.sh, run by .ci/run)
fails on a string of the code missing from a catalogue, a fuzzy one, a bad format and a
committed .mo — tried on a tiny Django project of its own, so the checkout is never touched."""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_container import run_instruction

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def script(name: str) -> str:
    return (SCRIPTS / name).read_text()


def test_every_set_up_path_compiles_the_catalogues_and_installs_gettext():
    assert "scripts/messages.sh\n" in script("run.sh")
    test_sh = script("test.sh")
    assert test_sh.index("scripts/messages.sh") < test_sh.index("pytest")  # before both suites
    assert "scripts/messages.sh" in script("production-check.sh")
    assert "compilemessages" in script("serve.sh")
    messages = script("messages.sh")
    assert "apt-get install -y -qq gettext" in messages and "compilemessages --ignore=.venv" in messages


def test_the_image_installs_gettext_and_compiles_at_build():
    packages = run_instruction("libreoffice-writer-nogui")
    assert "gettext" in packages.split()
    build = run_instruction("collectstatic")
    assert "DJANGO_DEBUG=false python manage.py compilemessages" in build


def test_compiled_catalogues_are_git_ignored_and_ci_runs_the_check_before_the_tests():
    assert "*.mo" in (ROOT / ".gitignore").read_text().split()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("scripts/check-catalogues.sh") < ci.index("make test")


# --- The catalogue check on a tiny project ---------------------------------------------------------

SETTINGS = """
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "x"
INSTALLED_APPS = []
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [BASE_DIR / "templates"]}]
"""
MANAGE = """
import os, sys
from django.core.management import execute_from_command_line
os.environ["DJANGO_SETTINGS_MODULE"] = "tiny_settings"
execute_from_command_line(sys.argv)
"""
PAGE = (
    '{% load i18n %}<h1>{% translate "Contacts" %}</h1>'
    "<p>{% blocktranslate %}Segment {{ no }}{% endblocktranslate %}</p>"
)
HEADER = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
    '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
)


def catalogue(segment: str = "Målgruppe %(no)s", *, fuzzy: bool = False) -> str:
    flags = "#, fuzzy, python-format" if fuzzy else "#, python-format"
    return HEADER + f'msgid "Contacts"\nmsgstr "Kontakter"\n\n{flags}\nmsgid "Segment %(no)s"\nmsgstr "{segment}"\n'


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A git checkout of a tiny Django project with the check script and the real .venv."""
    project = tmp_path / "tiny"
    (project / "scripts").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "tests").mkdir()
    shutil.copy(SCRIPTS / "check-catalogues.sh", project / "scripts")
    for name in ("bootstrap.sh", "messages.sh"):
        (project / "scripts" / name).write_text("#!/bin/sh\nexit 0\n")
        (project / "scripts" / name).chmod(0o755)
    (project / ".venv").symlink_to(ROOT / ".venv")
    (project / "tiny_settings.py").write_text(SETTINGS)
    (project / "manage.py").write_text(MANAGE)
    (project / "templates" / "page.html").write_text(PAGE)
    (project / "tests" / "test_page.py").write_text('"{% translate \\"Only in a test\\" %}"')
    (project / ".gitignore").write_text(".venv\n*.mo\n")
    for language in ("da", "nb", "fi"):
        (project / "locale" / language / "LC_MESSAGES").mkdir(parents=True)
    git(project, "init", "-q")
    return project


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)


def write_catalogues(project: Path, **by_language: str) -> None:
    for language in ("da", "nb", "fi"):
        path = project / "locale" / language / "LC_MESSAGES" / "django.po"
        path.write_text(by_language.get(language, catalogue()))
    git(project, "add", "-A")


def check(project: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [project / "scripts" / "check-catalogues.sh"], capture_output=True, text=True, env=env, timeout=120
    )


def files(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
    }


def test_complete_catalogues_pass_and_the_checkout_is_not_touched(tiny):
    write_catalogues(tiny)
    before = files(tiny)

    result = check(tiny)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "da: 2 translated messages." in result.stdout
    assert files(tiny) == before  # makemessages ran in a copy


def test_a_string_missing_from_a_catalogue_fails_naming_it_but_not_the_tests_strings(tiny):
    write_catalogues(tiny, nb=HEADER + 'msgid "Contacts"\nmsgstr "Kontakter"\n')

    result = check(tiny)

    assert result.returncode == 1
    assert "nb: 1 translated message, 1 untranslated message." in result.stdout
    assert '    msgid "Segment %(no)s"' in result.stdout
    assert "Only in a test" not in result.stdout
    assert "da: 2 translated messages." in result.stdout


def test_a_fuzzy_entry_fails_naming_it(tiny):
    write_catalogues(tiny, fi=catalogue("Segmentti %(no)s", fuzzy=True))

    result = check(tiny)

    assert result.returncode == 1
    assert "fi: 1 translated message, 1 fuzzy translation." in result.stdout
    assert "fuzzy in locale/fi/LC_MESSAGES/django.po" in result.stdout
    assert '    msgid "Segment %(no)s"' in result.stdout


def test_a_translation_with_a_wrong_placeholder_fails(tiny):
    write_catalogues(tiny, da=catalogue("Målgruppe %(nr)s"))

    result = check(tiny)

    assert result.returncode == 1
    assert "da: msgfmt -c finds errors" in result.stdout


def test_a_committed_mo_file_fails(tiny):
    write_catalogues(tiny)
    mo = tiny / "locale" / "da" / "LC_MESSAGES" / "django.mo"
    mo.write_bytes(b"")
    git(tiny, "add", "-f", str(mo))

    result = check(tiny)

    assert result.returncode == 1
    assert "locale/da/LC_MESSAGES/django.mo" in result.stdout


# --- Compiling: scripts/messages.sh and scripts/serve.sh on the tiny project ------------------------


def test_messages_sh_compiles_the_catalogues_django_then_reads(tiny):
    write_catalogues(tiny)
    shutil.copy(SCRIPTS / "messages.sh", tiny / "scripts")

    result = subprocess.run([tiny / "scripts" / "messages.sh"], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    with (tiny / "locale" / "da" / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        assert gettext.GNUTranslations(mo).gettext("Contacts") == "Kontakter"


def test_serve_sh_compiles_catalogues_newer_than_their_mo_and_leaves_fresh_ones(tiny):
    """serve.sh (with gunicorn replaced by a script that only says it ran) on the tiny project,
    whose static files are collected already."""
    write_catalogues(tiny)
    shutil.copy(SCRIPTS / "serve.sh", tiny / "scripts")
    real_venv = (tiny / ".venv").resolve()
    (tiny / ".venv").unlink()
    (tiny / ".venv" / "bin").mkdir(parents=True)
    for name, body in {"python": f'exec {real_venv}/bin/python "$@"', "gunicorn": "echo gunicorn started"}.items():
        (tiny / ".venv" / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (tiny / ".venv" / "bin" / name).chmod(0o755)
    (tiny / "static").mkdir()
    (tiny / "staticfiles").mkdir()
    (tiny / "staticfiles" / "staticfiles.json").write_text("{}")
    mo = tiny / "locale" / "fi" / "LC_MESSAGES" / "django.mo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")} | {"DJANGO_SECRET_KEY": "k" * 50}

    def serve() -> str:
        result = subprocess.run([tiny / "scripts" / "serve.sh"], capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "gunicorn started" in serve()
    compiled = mo.stat().st_mtime_ns
    assert serve() and mo.stat().st_mtime_ns == compiled  # fresh: not compiled again

    os.utime(mo.with_suffix(".po"), ns=(compiled + 10**9, compiled + 10**9))  # a newer catalogue
    serve()
    assert mo.stat().st_mtime_ns > compiled
