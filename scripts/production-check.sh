#!/usr/bin/env bash
# The production check (README "Deploy"; called by .ci/run): what the container runs, on a
# throw-away PostgreSQL 15 — the release step, scripts/serve.sh with DEBUG off, two task
# workers — then pages, static files, /healthz, a delivery and a merge that finish by
# themselves after the worker running them is killed with SIGKILL, and a 50,000-letter .zip
# streamed into the S3-compatible bucket and downloaded, each process under 500 MiB
# (scripts/production_check.py; PRODCHECK_ZIP_LETTERS=N for a smaller trial).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh || exit 1
scripts/messages.sh || exit 1
. scripts/pg.sh
pg_start || exit 1
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres crm || exit 1
echo "=== Production check (PostgreSQL 15 on 127.0.0.1:$PG_PORT) ==="
DATABASE_URL="$pg_url/crm" PRODCHECK_PG_STOP="$PG_CTL_STOP" .venv/bin/python scripts/production_check.py
