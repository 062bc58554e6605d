"""Throw-away databases for the benchmark: a temporary SQLite file or a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url


class ScratchError(Exception):
    """The scratch database cannot be made (bad URL, file exists, server unreachable)."""


@contextlib.contextmanager
def scratch_database(url: str | None, *, keep: bool, log: Callable[[str], None]) -> Iterator[str]:
    """Yield the DATABASE_URL of a new, empty database; remove it afterwards unless `keep`.

    No URL: a SQLite file in a new temporary folder. A sqlite:// URL: that file, which must not
    exist yet. A postgres:// URL names a server and a database to connect to (the URL's
    database, or `postgres` when that one does not exist): a database `crm_bench_<random>` is
    created beside it and dropped afterwards, so the URL's own database is never written to.
    """
    if not url:
        folder = Path(tempfile.mkdtemp(prefix="crm-bench-"))
        try:
            yield f"sqlite:///{folder / 'bench.sqlite3'}"
        finally:
            if keep:
                log(f"kept the scratch database: {folder / 'bench.sqlite3'}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        config = dj_database_url.parse(url)
    except Exception as error:
        raise ScratchError(f'database-url: cannot read "{url}": {error}') from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        with _sqlite_file(config["NAME"], keep=keep, log=log):
            yield url
    elif engine == "django.db.backends.postgresql":
        with _postgres_database(url, config, keep=keep, log=log) as scratch_url:
            yield scratch_url
    else:
        raise ScratchError(f'database-url: unsupported database "{engine}" (use sqlite:// or postgres://)')


@contextlib.contextmanager
def _sqlite_file(name: str, *, keep: bool, log: Callable[[str], None]) -> Iterator[None]:
    path = Path(name) if name and name != ":memory:" else None
    if path is None:
        raise ScratchError("database-url: a SQLite URL must name a file")
    if path.exists():
        raise ScratchError(f'database-url: "{path}" exists; the benchmark needs a file it can create and delete')
    try:
        yield
    finally:
        if keep:
            log(f"kept the scratch database: {path}")
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _postgres_database(url: str, config: dict, *, keep: bool, log: Callable[[str], None]) -> Iterator[str]:
    import psycopg
    from psycopg import sql

    name = f"crm_bench_{secrets.token_hex(4)}"
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    admin = None
    for dbname in dict.fromkeys([config.get("NAME") or "postgres", "postgres"]):
        try:
            admin = psycopg.connect(dbname=dbname, autocommit=True, **params)
            break
        except psycopg.Error as error:
            problem = error
    if admin is None:
        raise ScratchError(f"database-url: cannot connect: {problem}".strip())
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        parts = urlsplit(url)
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            if keep:
                log(f"kept the scratch database: {name}")
            else:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
