#!/usr/bin/env bash
# The whole test suite on SQLite and on PostgreSQL 15; fails if either fails.
# Sets up what it needs: the venv, Debian's chromium for the browser tests, and a throw-away
# PostgreSQL cluster on a loopback port, started here and stopped on exit.
# Extra arguments go to pytest (e.g. scripts/test.sh -k contacts).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh || exit 1

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "Installing Debian's chromium package for the browser tests..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || exit 1
    else
        echo "The browser tests need Debian's chromium package: run 'sudo apt-get install chromium'." >&2
        exit 1
    fi
fi

pg_bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
if [ -z "$pg_bin" ]; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) >/dev/null || exit 1
        pg_bin=/usr/lib/postgresql/15/bin
    else
        echo "The PostgreSQL run needs PostgreSQL 15: run 'sudo apt-get install postgresql-15'." >&2
        exit 1
    fi
fi

.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1

pg_dir=$(mktemp -d /tmp/crm-pg.XXXXXX)
pg_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pg_dir"
    as_pg=(runuser -u postgres --)
fi
stop_pg() {
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$pg_dir"
}
trap stop_pg EXIT
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >/dev/null || exit 1
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c full_page_writes=off -c max_connections=50" start >/dev/null \
    || { cat "$pg_dir/log"; exit 1; }

status=0
echo "=== Test suite on SQLite ==="
env -u DATABASE_URL .venv/bin/pytest "$@" || status=1
echo "=== Test suite on PostgreSQL 15 (127.0.0.1:$pg_port) ==="
DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/crm" .venv/bin/pytest "$@" || status=1
if [ $status -ne 0 ]; then
    echo "FAILED: see the run(s) above." >&2
fi
exit $status
