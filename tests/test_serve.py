"""scripts/serve.sh (the production entrypoint), scripts/healthcheck.py and scripts/secret_key.sh."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "scripts" / "serve.sh"
KEY = "serve-test-" + "k" * 50


def clean_env(**env: str) -> dict[str, str]:
    """This process's environment without any Django, database or gunicorn setting, plus `env`."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "GUNICORN_")) and k not in {"DATABASE_URL", "PORT"}
    }
    return {**keep, **env}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run([SERVE], env=clean_env(**env), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("debug", ["true", "1", " On "])
def test_serve_refuses_to_start_with_debug_on(debug):
    result = serve(DJANGO_DEBUG=debug, DJANGO_SECRET_KEY=KEY)
    assert result.returncode == 1
    assert "DJANGO_DEBUG is on" in result.stderr
    assert "gunicorn" not in result.stdout + result.stderr.replace("DJANGO_DEBUG is on", "")


@pytest.mark.parametrize("key", [None, ""])
def test_serve_refuses_to_start_without_a_secret_key(key):
    result = serve(**({} if key is None else {"DJANGO_SECRET_KEY": key}))
    assert result.returncode == 1
    assert result.stderr.startswith("serve.sh: DJANGO_SECRET_KEY is not set.")


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@contextlib.contextmanager
def running_server(tmp: Path):
    """serve.sh with a key, SQLite and nothing else set up: no static files, no migrations."""
    port = free_port()
    env = clean_env(
        DJANGO_SECRET_KEY=KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_BEHIND_PROXY="true",
        DATABASE_URL=f"sqlite:///{tmp / 'crm.sqlite3'}",
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        PORT=str(port),
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    stdout, stderr = tmp / "stdout.log", tmp / "stderr.log"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen([SERVE], env=env, stdout=out, stderr=err, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve.sh did not start: {stderr.read_text()}")
                time.sleep(0.3)
        yield {"base": base, "process": process, "tmp": tmp, "stdout": stdout, "stderr": stderr, "port": port}
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.mark.slow
def test_serve_answers_the_health_probe_over_plain_http(server):
    status, headers, body = get(f"{server['base']}/healthz")
    assert (status, body) == (200, b'{"database": "ok"}')
    assert "Set-Cookie" not in headers
    probe = [sys.executable, ROOT / "scripts" / "healthcheck.py"]
    ok = subprocess.run(probe, env=clean_env(PORT=str(server["port"]), DJANGO_ALLOWED_HOSTS="127.0.0.1,x.example"))
    assert ok.returncode == 0
    wrong_host = subprocess.run(probe, env=clean_env(PORT=str(server["port"]), DJANGO_ALLOWED_HOSTS="crm.example"))
    assert wrong_host.returncode == 1  # Django's host check stays on for the probe


@pytest.mark.slow
def test_serve_collects_and_serves_hashed_static_files_for_a_long_time(server):
    status, _headers, page = get(f"{server['base']}/login/", **{"X-Forwarded-Proto": "https"})
    assert status == 200
    css = re.search(rb'href="(/static/css/crm\.[0-9a-f]{12}\.css)"', page)
    assert css, page[:500]
    status, headers, body = get(f"{server['base']}{css[1].decode()}", **{"X-Forwarded-Proto": "https"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "max-age=315360000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert body == (ROOT / "static" / "css" / "crm.css").read_bytes()
    status, headers, _body = get(
        f"{server['base']}{css[1].decode()}", **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}
    )
    assert headers["Content-Encoding"] == "gzip"
    assert (server["tmp"] / "static" / "staticfiles.json").is_file()


@pytest.mark.slow
def test_serve_runs_gunicorn_in_its_place_without_migrating_and_queues_tasks(server):
    pid = server["process"].pid
    assert b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()  # exec: signals reach gunicorn
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"DJANGO_TASKS_BACKEND=django_tasks_db.DatabaseBackend" in environ
    with sqlite3.connect(server["tmp"] / "crm.sqlite3") as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []


@pytest.mark.slow
def test_serve_logs_requests_on_stdout_once_and_stops_on_sigterm(tmp_path):
    with running_server(tmp_path) as server:
        get(f"{server['base']}/healthz?probe=lb")
        server["process"].send_signal(signal.SIGTERM)
        assert server["process"].wait(timeout=30) == 0
    stdout, stderr = server["stdout"].read_text(), server["stderr"].read_text()
    assert re.search(r" GET /healthz 200 \d+\.\dms$", stdout, re.M), stdout
    assert "probe=lb" not in stdout + stderr
    assert "Starting gunicorn" in stderr  # gunicorn's own log on stderr, without an access log
    assert "GET /healthz" not in stderr


def test_secret_key_is_made_once_private_and_reused(tmp_path):
    key_file = tmp_path / "key"
    make = [ROOT / "scripts" / "secret_key.sh", str(key_file)]
    first = subprocess.run(make, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(make, capture_output=True, text=True, check=True).stdout
    assert first == second == key_file.read_text()
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    other = subprocess.run([make[0], str(tmp_path / "other")], capture_output=True, text=True, check=True).stdout
    assert other != first


def test_make_run_uses_the_kept_key_and_git_ignores_it():
    assert 'DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-$(scripts/secret_key.sh)}"' in (ROOT / "scripts/run.sh").read_text()
    ignored = subprocess.run(["git", "check-ignore", "-q", ".secret_key"], cwd=ROOT)
    assert ignored.returncode == 0
