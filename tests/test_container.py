"""Containerfile, compose.yaml and .dockerignore, read as text (CI builds and pulls no images)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = (ROOT / "Containerfile").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()


def instructions(name: str) -> list[str]:
    return re.findall(rf"^{name} (.+)$", CONTAINERFILE, re.M)


def service(name: str) -> str:
    """The text of one service in compose.yaml (up to the next top-level or service key)."""
    match = re.search(rf"^  {name}:\n((?:    .*\n|\n)+)", COMPOSE, re.M)
    assert match, f"no service {name}"
    return match[1]


def test_image_is_slim_python_312_and_runs_serve_sh_as_a_non_root_user():
    assert instructions("FROM") == ["python:3.12-slim"]
    (user,) = instructions("USER")
    assert user not in {"root", "0"}
    assert re.search(rf"useradd .*{user}$", CONTAINERFILE, re.M)
    assert instructions("ENTRYPOINT") == ['["/app/scripts/serve.sh"]']
    assert instructions("EXPOSE") == ["8000"]
    assert CONTAINERFILE.index("USER") > CONTAINERFILE.index("pip install -r requirements.txt")


def run_instruction(containing: str) -> str:
    """The one RUN instruction mentioning `containing`, its continuation lines joined."""
    runs = [" ".join(match.split()) for match in re.findall(r"^RUN ((?:.*\\\n)*.*)$", CONTAINERFILE, re.M)]
    (run,) = [run for run in runs if containing in run]
    return run.replace("\\ ", "")


def test_image_installs_libreoffice_fonts_and_pdfunite_for_pdfs():
    run = run_instruction("libreoffice")
    assert run.startswith("apt-get update && apt-get install -y --no-install-recommends ")
    packages = run.split("--no-install-recommends ")[1].split(" && ")[0].split()
    assert {"libreoffice-writer-nogui", "poppler-utils"} <= set(packages)
    assert {"fonts-dejavu-core", "fonts-liberation2", "fonts-crosextra-carlito"} <= set(packages)
    assert run.endswith("&& rm -rf /var/lib/apt/lists/*")
    assert CONTAINERFILE.index("libreoffice-writer-nogui") < CONTAINERFILE.index("USER")


def test_image_collects_static_files_at_build_with_debug_off_and_a_throwaway_key():
    (run,) = [r for r in instructions("RUN") if "collectstatic" in r]
    assert "DJANGO_SECRET_KEY=" in run and "DJANGO_DEBUG=false" in run
    assert "manage.py collectstatic --no-input" in run


def test_image_health_check_uses_the_standard_library_probe():
    (healthcheck,) = instructions("HEALTHCHECK")
    assert healthcheck.endswith('CMD ["python", "scripts/healthcheck.py"]')
    assert "curl" not in CONTAINERFILE


def test_compose_runs_postgres_a_release_step_web_and_two_workers():
    assert re.findall(r"^  (\w+):$", COMPOSE.split("\nservices:\n")[1].split("\nvolumes:\n")[0], re.M) == [
        "db",
        "release",
        "web",
        "worker",
    ]
    db = service("db")
    assert "image: postgres:15\n" in db
    assert "pgdata:/var/lib/postgresql/data" in db and "pg_isready" in db
    release = service("release")
    assert 'entrypoint: ["python", "manage.py"]' in release
    assert 'command: ["migrate", "--no-input"]' in release
    assert 'restart: "no"' in release
    web = service("web")
    assert "condition: service_completed_successfully" in web and "condition: service_healthy" in web
    assert "migrate" not in web
    worker = service("worker")
    assert 'command: ["worker"]' in worker
    assert "replicas: 2" in worker and "stop_grace_period: 40s" in worker
    assert "condition: service_completed_successfully" in worker


def test_compose_requires_the_secrets_and_queues_the_tasks():
    assert "DJANGO_SECRET_KEY: ${DJANGO_SECRET_KEY:?" in COMPOSE
    assert "DJANGO_ALLOWED_HOSTS: ${DJANGO_ALLOWED_HOSTS:?" in COMPOSE
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in COMPOSE
    assert "DATABASE_URL: postgres://crm:${POSTGRES_PASSWORD:?" in COMPOSE
    assert "DJANGO_TASKS_BACKEND: django_tasks_db.DatabaseBackend" in COMPOSE
    assert "- media:/app/media" in COMPOSE
    assert COMPOSE.endswith("\nvolumes:\n  pgdata:\n  media:\n")


def test_build_context_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", ".secret_key", "db.sqlite3*", "media", "staticfiles"} <= ignored
