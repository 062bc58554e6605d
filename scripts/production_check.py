"""The production check (run by scripts/production-check.sh, which starts PostgreSQL and sets
DATABASE_URL and PRODCHECK_PG_STOP): what the container image runs, tried as an operator would.

1. The release step (`manage.py migrate`), then data through the batch commands (CONTRACT).
2. `scripts/serve.sh` with DEBUG off (gunicorn, whitenoise) and two `manage.py worker`s, on the
   database task queue; a real SMTP server on localhost in this process; every stored file
   (Word templates, letters, merge results) in an S3-compatible bucket (moto's S3 server on
   loopback, CRM_STORAGE_URL).
3. The login page, its stylesheet and htmx answer 200 (hashed names, long cache); `/healthz` 200.
   The login page in Danish, Norwegian and Finnish from the compiled catalogues (.mo, which
   every set-up makes and git ignores).
4. A delivery of 1,000 e-mails (`segment log --deliver`): the worker running it is killed with
   SIGKILL while the server holds its reply to one message; a supervisor starts a new worker
   (as compose's restart does). Without a click or command, the delivery finishes: each sent
   e-mail received once, the one in flight "outcome unknown".
5. A merge of 600 letters started from the worksheet page (logged in through the login form):
   the worker making it is killed halfway; it is started again by itself and its one file is
   downloaded from the page.
6. A merge of 50,000 letters to a .zip, started from the worksheet page, made by a worker
   straight into the bucket (streamed: past PostgreSQL's 1 GB value limit and without the
   file in memory), then downloaded from the page in a streamed response.
7. Every process's peak memory (RSS) stayed under 500 MiB.
8. PostgreSQL is stopped: `/healthz` answers 503.

Prints what it did and saw; exits 1 at the first thing that is not as it should be.
"""

from __future__ import annotations

import csv
import gettext
import html
import http.client
import io
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
EMAILS = 1000
HOLD_AT = 300
LETTERS = 600
ZIP_LETTERS = int(os.environ.get("PRODCHECK_ZIP_LETTERS", "50000"))
STARTED = time.monotonic()


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)
    say(f"ok: {message}")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Site:
    """HTTP to the served CRM as a browser behind the TLS proxy sees it (X-Forwarded-Proto)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = {"Host": "localhost", "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            all_headers["Referer"] = "https://localhost/"
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        connection.close()
        return response, content

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def download(self, path: str, out) -> tuple[http.client.HTTPResponse, int]:
        """GET `path` into the binary file `out` in 1 MiB chunks: (response, bytes written)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Host": "localhost", "X-Forwarded-Proto": "https"}
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        written = 0
        while chunk := response.read(1 << 20):
            out.write(chunk)
            written += len(chunk)
        connection.close()
        return response, written

    def csrf_post(self, page: str, path: str, fields: dict):
        _response, content = self.get(page)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)
        if token is None:
            raise CheckFailed(f"no CSRF token on {page}")
        return self.request("POST", path, body={"csrfmiddlewaretoken": token.group(1).decode(), **fields})


class Processes:
    """The served site and the workers, started as the container's entrypoint does."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.workers: dict[str, subprocess.Popen] = {}
        self.web: subprocess.Popen | None = None
        self.store: subprocess.Popen | None = None

    def start_object_store(self, port: int) -> None:
        self.store = self._start("s3", [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        out = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def start_web(self) -> None:
        self.web = self._start("web", ["scripts/serve.sh"])

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._start(name, [PYTHON, "manage.py", "worker", "--worker-id", name, "-v", "2"])
        say(f"worker {name} started (pid {self.workers[name].pid})")

    def kill(self, name: str) -> None:
        process = self.workers[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        say(f"worker {name} killed with SIGKILL")

    def stop(self) -> None:
        for process in [*self.workers.values(), self.web, self.store]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers.values(), self.web, self.store]:
            if process is None:
                continue
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()

    def peak_rss(self) -> dict[str, int]:
        """Peak resident memory (VmHWM, MiB) of every live process: the web master, each gunicorn
        worker, each task worker."""
        processes = {"web master": self.web.pid} if self.web else {}
        for child in _children(self.web.pid) if self.web else []:
            processes[f"web worker {child}"] = child
        processes.update({f"worker {name}": p.pid for name, p in self.workers.items() if p.poll() is None})
        return {name: peak for name, pid in processes.items() if (peak := _vm_hwm_mib(pid)) is not None}

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.logs.glob("*.log")))


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _vm_hwm_mib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) // 1024 if match else None


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise CheckFailed(f"manage.py {shlex.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def contacts_csv(prefix: str, count: int, city: str, email: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["no", "type", "name", "address", "post_code", "city", "email", "salutation", "salesperson"])
    for i in range(count):
        address = f"{prefix.lower()}{i:04d}@check.test" if email else ""
        writer.writerow(
            [f"{prefix}{i:04d}", "company", f"{city.title()} {i} Ltd", f"{i} Main St", "1000 AA", city, address]
            + ["COMPANY", "SL"]
        )
    return out.getvalue()


def running_worker(task_name: str) -> str:
    from django.db import close_old_connections
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    found: list[str] = []

    def claimed() -> bool:
        close_old_connections()
        row = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, task_path__endswith=task_name).first()
        if row is not None:
            found.append(row.worker_ids[-1])
        return bool(found)

    wait_for(claimed, f"a worker taking {task_name}", timeout=60)
    return found[0]


def main() -> int:
    logs = Path(tempfile.mkdtemp(prefix="crm-production-check-"))
    port, store_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://localhost",
        "DJANGO_BEHIND_PROXY": "true",
        "DJANGO_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "DJANGO_STATIC_ROOT": str(logs / "static"),
        "DJANGO_MEDIA_ROOT": str(logs / "media"),
        "DJANGO_LOG_LEVEL": "INFO",
        "CRM_JOB_LEASE_SECONDS": "6",  # two minutes in production; short so the check takes seconds
        "CRM_WORKER_BEAT_SECONDS": "1",
        "CRM_PUBLIC_URL": "https://localhost",
        "PORT": str(port),
        "CRM_STORAGE_URL": "s3://crm-check/files",
        "CRM_S3_ENDPOINT_URL": f"http://127.0.0.1:{store_port}",
        "CRM_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "check",
        "AWS_SECRET_ACCESS_KEY": "check-secret",
        "GUNICORN_WORKERS": "2",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"

    from tests.interactions.smtp_server import running_smtp_server

    processes = Processes(env, logs)
    with running_smtp_server(delay=0.001) as smtp:
        env.update(smtp.environment())
        os.environ.update(smtp.environment())
        try:
            run(env, processes, smtp, Site(port))
        except CheckFailed as failure:
            print(f"\nFAILED: {failure}\n\n{processes.tail()}", file=sys.stderr, flush=True)
            return 1
        finally:
            smtp.release.set()
            processes.stop()
    say(f"production check passed (logs in {logs})")
    return 0


def run(env: dict[str, str], processes: Processes, smtp, site: Site) -> None:
    import logging

    import django

    django.setup()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP server's conversation, line by line
    from django.db import close_old_connections

    from interactions.delivery import OUTCOME_UNKNOWN
    from interactions.models import Delivery, InteractionLogEntry

    processes.start_object_store(int(env["CRM_S3_ENDPOINT_URL"].rsplit(":", 1)[1]))
    wait_for(lambda: _bucket_made(env), "the S3 server answering", timeout=60)
    say(f"object store: bucket crm-check on {env['CRM_S3_ENDPOINT_URL']}")
    say("release step: manage.py migrate")
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "seed_demo", "--contacts", "50")
    with (
        tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as mails,
        tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as letters,
    ):
        mails.write(contacts_csv("PM", EMAILS, "MAILTOWN", email=True))
        letters.write(contacts_csv("PL", LETTERS, "LETTERTOWN", email=False))
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as many:
        many.write(contacts_csv("PZ", ZIP_LETTERS, "ZIPTOWN", email=False))
    manage(env, "import_contacts", mails.name)
    manage(env, "import_contacts", letters.name)
    manage(env, "import_contacts", many.name)
    password = secrets.token_urlsafe(16)
    manage(env | {"DJANGO_SUPERUSER_PASSWORD": password}, "createsuperuser", "--no-input", "--username", "checker",
           "--email", "checker@check.test")  # fmt: skip
    say(f"data: {EMAILS:,} e-mail contacts, {LETTERS:,} + {ZIP_LETTERS:,} letter contacts, an admin user")

    processes.start_web()
    wait_for(lambda: _answers(site, "/healthz"), "scripts/serve.sh answering", timeout=90)
    say(f"scripts/serve.sh is up on port {site.port}")
    processes.start_worker("w1")
    processes.start_worker("w2")

    # --- Pages, static files, health ---------------------------------------------------------
    response, page = site.get("/login/")
    check(response.status == 200, "GET /login/ answers 200")
    css = re.findall(rb'href="(/static/[^"]+\.css)"', page)
    scripts = re.findall(rb'src="(/static/[^"]+\.js)"', page)
    check(bool(css) and any(b"htmx" in src for src in scripts), f"the login page links {css + scripts}")
    for asset in css + scripts:
        response, body = site.get(asset.decode(), headers={"Accept-Encoding": "gzip"})
        cache = response.headers.get("Cache-Control", "")
        encoding = response.headers.get("Content-Encoding") or "identity"
        check(
            response.status == 200 and len(body) > 0 and "max-age=315360000" in cache,
            f"GET {asset.decode()} answers 200 ({len(body)} bytes, {encoding}, Cache-Control: {cache})",
        )
    response, body = site.get("/healthz")
    check(response.status == 200 and json.loads(body) == {"database": "ok"}, f"GET /healthz: 200 {body.decode()}")
    pages_in_languages(site)

    # --- A delivery with a worker killed halfway -----------------------------------------------
    smtp.hold_at = HOLD_AT
    number = manage(env, "segment", "create", "--description", "Production check mailing", "--interaction-template",
                    "NEWSLETTER", "--correspondence-type", "email", "--subject", "Production check",
                    "--salesperson", "SL").strip()  # fmt: skip
    manage(env, "segment", "add", number, "--filter", "city=MAILTOWN")
    logged_id, task_id = manage(env, "segment", "log", number, "--deliver").split()[:2]
    say(f"segment log {number} --deliver: logged segment {logged_id}, delivery task {task_id}")
    wait_for(smtp.held.is_set, f"message {HOLD_AT} reaching the SMTP server")
    victim = running_worker("delivery_task")
    processes.kill(victim)
    smtp.release.set()
    processes.start_worker("w3")  # the supervisor restarts the killed container
    delivery = Delivery.objects.get(logged_segment_id=logged_id)

    def delivered() -> bool:
        close_old_connections()
        delivery.refresh_from_db()
        return delivery.state == "finished"

    wait_for(delivered, "the delivery finishing without a click")
    entries = InteractionLogEntry.objects.filter(logged_segment_id=logged_id)
    unknown = list(entries.filter(delivery_error=OUTCOME_UNKNOWN).values_list("contact_via", flat=True))
    sent = set(entries.filter(delivery_status="sent").values_list("contact_via", flat=True))
    received = smtp.per_recipient()
    check(
        (delivery.sent, delivery.failed) == (EMAILS - 1, 1) and len(unknown) == 1,
        f"delivery {delivery.pk} finished: {delivery.sent} sent, {delivery.failed} failed ({unknown[0]}: outcome "
        "unknown)",
    )
    check(
        all(received[address] == 1 for address in sent) and received[unknown[0]] == 1,
        f"the SMTP server received {sum(received.values())} messages: each sent e-mail once, nothing twice",
    )

    # --- A merge from the page with a worker killed halfway -------------------------------------
    response, _body = site.csrf_post("/login/", "/login/", {"username": "checker", "password": password})
    check(response.status == 302, "logged in through the login form")
    job = merge_from_page(env, site, "Production check letters", "LETTERTOWN", "docx")
    victim = running_worker("merge_job_task")

    def half_made() -> bool:
        close_old_connections()
        job.refresh_from_db()
        return job.done >= LETTERS // 4

    wait_for(half_made, "the merge making letters")
    processes.kill(victim)
    say(f"merge {job.pk}: killed at {job.done} of {job.total} letters")
    processes.start_worker("w4")
    wait_for(lambda: merge_ended(job), "the merge finishing without a click")
    check(job.state == "finished" and job.done == LETTERS, f"merge {job.pk} finished: {job.done} letters")
    response, body = site.get(f"/merge-jobs/{job.pk}/download/")
    import docx

    sections = len(docx.Document(io.BytesIO(body)).sections) if response.status == 200 else 0
    check(sections == LETTERS, f"its file downloads from the page: {len(body):,} bytes, {sections} letters")
    stored = _bucket_objects(env)
    check(
        job.document.file.name in stored and stored[job.document.file.name] == len(body),
        f"the merge result is an object in the bucket ({len(stored)} objects: Word templates, letters, result)",
    )

    zip_merge(env, processes, site)

    peaks = processes.peak_rss()
    say("peak memory (RSS): " + ", ".join(f"{name} {mib} MiB" for name, mib in peaks.items()))
    check(max(peaks.values()) < 500, "every process stayed under 500 MiB")

    # --- The database goes away ----------------------------------------------------------------
    subprocess.run(shlex.split(os.environ["PRODCHECK_PG_STOP"]), check=True, capture_output=True)
    say("PostgreSQL stopped")
    response, body = site.get("/healthz")
    check(response.status == 503 and json.loads(body) == {"database": "unavailable"}, f"GET /healthz: 503 {body}")


def pages_in_languages(site: Site) -> None:
    """The login page speaks each language the browser asks for, with our compiled catalogue's
    words (the .mo made by the set-up; its translation of the page's title)."""
    for language in ("da", "nb", "fi"):
        mo = ROOT / "locale" / language / "LC_MESSAGES" / "django.mo"
        check(mo.exists(), f"{mo.relative_to(ROOT)} is compiled")
        catalogue = gettext.translation("django", str(ROOT / "locale"), [language])
        words = [catalogue.gettext(msgid) for msgid in ("Log in", "Marketing CRM") if catalogue.gettext(msgid) != msgid]
        _response, page = site.get("/login/", headers={"Accept-Language": language})
        text = html.unescape(page.decode())
        check(
            f'<html lang="{language}">' in text and bool(words) and all(word in text for word in words),
            f'GET /login/ in {language}: <html lang="{language}">, {", ".join(words) or "no translated title"}',
        )


def merge_from_page(env: dict[str, str], site: Site, description: str, city: str, output: str):
    """A segment of the contacts of `city` (batch commands), then its merge to `output` started
    from the Print letters page: the merge job the POST queued."""
    from segments.models import MergeJob

    number = manage(env, "segment", "create", "--description", description, "--interaction-template", "LETTER",
                    "--salesperson", "SL").strip()  # fmt: skip
    manage(env, "segment", "add", number, "--filter", f"city={city}")
    page = f"/segments/{number}/merge/"
    response, _body = site.csrf_post(page, page, {"output": output})
    location = response.headers.get("Location", "")
    check(response.status == 302 and "/merge-jobs/" in location, f"POST {page} queued a {output} merge: {location}")
    return MergeJob.objects.get(pk=int(re.search(r"/merge-jobs/(\d+)/", location).group(1)))


def merge_ended(job) -> bool:
    from django.db import close_old_connections

    close_old_connections()
    job.refresh_from_db()
    return job.state in ("finished", "failed")


def zip_merge(env: dict[str, str], processes: Processes, site: Site) -> None:
    """50,000 letters to a .zip from the page: one worker streams them into the bucket; the
    file downloads from the page without a web worker holding it."""
    import zipfile

    started = time.monotonic()
    job = merge_from_page(env, site, "Production check: a big mailing", "ZIPTOWN", "zip")
    worker = running_worker("merge_job_task")
    wait_for(lambda: merge_ended(job), f"the merge of {ZIP_LETTERS:,} letters", timeout=1800)
    seconds = time.monotonic() - started
    check(
        job.state == "finished" and job.done == ZIP_LETTERS,
        f"merge {job.pk} by worker {worker} finished: {job.done:,} letters in {seconds:.0f} s, "
        f"{job.document.size:,} bytes",
    )
    stored = _bucket_objects(env)
    check(
        stored.get(job.document.file.name) == job.document.size,
        f"the .zip is one object of {job.document.size:,} bytes in the bucket",
    )
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        response, size = site.download(f"/merge-jobs/{job.pk}/download/", out)
        seconds = time.monotonic() - started
        names = zipfile.ZipFile(out).namelist() if response.status == 200 else []
    check(
        response.status == 200 and size == job.document.size and len(names) == ZIP_LETTERS,
        f"it downloads from the page: {size:,} bytes in {seconds:.1f} s, {len(names):,} letters",
    )
    merge_peak = processes.peak_rss().get(f"worker {worker}")
    say(f"peak memory (RSS) of worker {worker}, which made the .zip: {merge_peak} MiB")


def _s3(env: dict[str, str]):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["CRM_S3_ENDPOINT_URL"],
        region_name=env["CRM_S3_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _bucket_made(env: dict[str, str]) -> bool:
    try:
        _s3(env).create_bucket(Bucket="crm-check")
    except Exception:  # noqa: BLE001 - not listening yet
        return False
    return True


def _bucket_objects(env: dict[str, str]) -> dict[str, int]:
    """Object key (without the location prefix) → size."""
    pages = _s3(env).get_paginator("list_objects_v2").paginate(Bucket="crm-check", Prefix="files/")
    return {item["Key"].removeprefix("files/"): item["Size"] for page in pages for item in page.get("Contents", [])}


def _answers(site: Site, path: str) -> bool:
    try:
        response, _body = site.get(path)
    except OSError:
        return False
    return response.status == 200


if __name__ == "__main__":
    sys.exit(main())
