#!/usr/bin/env bash
# The whole test suite on SQLite and on PostgreSQL 15; fails if either fails.
# Sets up what it needs: the venv, Debian's chromium for the browser tests, LibreOffice
# (libreoffice-writer-nogui) and poppler-utils for the PDF tests, gettext and the compiled
# translations (scripts/messages.sh), and a throw-away PostgreSQL cluster on a loopback port,
# started here and stopped on exit.
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

# The PDF tests (letters through LibreOffice, checked with pdftotext) must run here, never skip.
if ! { command -v soffice || command -v libreoffice; } >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "Installing Debian's libreoffice-writer-nogui and poppler-utils for the PDF tests..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-writer-nogui poppler-utils) >/dev/null || exit 1
    else
        echo "The PDF tests need Debian's libreoffice-writer-nogui and poppler-utils: run 'sudo apt-get install libreoffice-writer-nogui poppler-utils'." >&2
        exit 1
    fi
fi
export CRM_REQUIRE_PDF=1

# The pages in Danish, Norwegian and Finnish read the compiled catalogues (.mo, never committed).
scripts/messages.sh || exit 1

.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1

. scripts/pg.sh
pg_start || exit 1

# The two runs go side by side (each is mostly one busy process; CI has two cores): each writes
# to its own log, shown whole when both have ended, so neither's output is interleaved.
logs=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$logs"; pg_stop' EXIT
echo "=== Test suite on SQLite and on PostgreSQL 15 (127.0.0.1:$PG_PORT), side by side ==="
env -u DATABASE_URL .venv/bin/pytest "$@" >"$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
DATABASE_URL="$pg_url/crm" .venv/bin/pytest "$@" >"$logs/postgresql.log" 2>&1 &
pg_pid=$!
status=0
wait $sqlite_pid || status=1
echo "=== Test suite on SQLite ==="
cat "$logs/sqlite.log"
wait $pg_pid || status=1
echo "=== Test suite on PostgreSQL 15 ==="
cat "$logs/postgresql.log"
if [ $status -ne 0 ]; then
    echo "FAILED: see the run(s) above." >&2
fi
exit $status
