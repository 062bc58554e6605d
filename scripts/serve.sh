#!/usr/bin/env bash
# The production entrypoint: checks the settings it must not start without, collects the static
# files and compiles the translations when they are missing or older than the code, then replaces
# itself with gunicorn.
# It never migrates: the release step (`manage.py migrate --no-input`) does that, once.
# Extra arguments go to gunicorn (e.g. scripts/serve.sh --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."

refuse() {
    echo "serve.sh: $*" >&2
    exit 1
}

# The same words settings.env_bool takes for "on".
debug="${DJANGO_DEBUG:-}"
debug="${debug,,}"
debug="${debug//[[:space:]]/}"
case "$debug" in
    1 | true | yes | on) refuse "DJANGO_DEBUG is on: it shows tracebacks and settings to visitors. Unset it (or set it to false) to serve; use 'make run' for a local install." ;;
esac
[ -n "${DJANGO_SECRET_KEY:-}" ] \
    || refuse "DJANGO_SECRET_KEY is not set. Set it to 50+ random characters, the same in every web and worker process (python -c 'import secrets; print(secrets.token_urlsafe(50))')."

# A checkout's .venv when there is one, else the interpreter on PATH (the container).
if [ -x .venv/bin/python ]; then bin=.venv/bin/; else bin=""; fi

export DJANGO_TASKS_BACKEND="${DJANGO_TASKS_BACKEND:-django_tasks_db.DatabaseBackend}"

# STATIC_ROOT as crm/settings.py has it. The image collects at build time; a checkout collects
# on its first start and again after an update of the code's static files or the packages.
manifest="${DJANGO_STATIC_ROOT:-staticfiles}/staticfiles.json"
if [ ! -f "$manifest" ] || [ -n "$(find static requirements.txt -newer "$manifest" -print -quit 2>/dev/null)" ]; then
    "${bin}python" manage.py collectstatic --no-input -v 0
fi

# The compiled translations (.mo, git-ignored) as the catalogues have them. The image compiles at
# build time; a checkout compiles on its first start and again after an update of a catalogue.
stale=$(find locale -name '*.po' 2>/dev/null | while read -r po; do [ "${po%.po}.mo" -nt "$po" ] || echo "$po"; done)
if [ -n "$stale" ]; then
    command -v msgfmt >/dev/null 2>&1 \
        || refuse "the translations are not compiled and gettext's msgfmt is missing: run scripts/messages.sh (it installs Debian's gettext)."
    "${bin}python" manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0
fi

# Workers: 2 per core + 1, at most 8 (a container may see all of the host's cores).
cores=$(nproc 2>/dev/null || echo 1)
workers_default=$((2 * cores + 1))
[ "$workers_default" -le 8 ] || workers_default=8
tmp_dir=/dev/shm
[ -d "$tmp_dir" ] && [ -w "$tmp_dir" ] || tmp_dir=/tmp

# No access log from gunicorn: the crm.requests logger writes one line per request to stdout.
exec "${bin}gunicorn" crm.wsgi:application \
    --bind "0.0.0.0:${PORT:-8000}" \
    --worker-class gthread \
    --workers "${GUNICORN_WORKERS:-$workers_default}" \
    --threads "${GUNICORN_THREADS:-4}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-30}" \
    --keep-alive "${GUNICORN_KEEPALIVE:-5}" \
    --max-requests "${GUNICORN_MAX_REQUESTS:-1000}" \
    --max-requests-jitter "${GUNICORN_MAX_REQUESTS_JITTER:-100}" \
    --worker-tmp-dir "$tmp_dir" \
    --error-logfile - \
    --no-control-socket \
    "$@"
