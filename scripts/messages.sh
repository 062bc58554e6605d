#!/usr/bin/env bash
# The pages' translations: installs Debian's gettext (msgfmt) when it is missing — with apt-get
# when run as root, otherwise it says what to install — then compiles the committed catalogues
# (locale/<lang>/LC_MESSAGES/django.po) into the .mo files Django reads. The .mo files are
# git-ignored: every set-up makes them (scripts/run.sh, scripts/test.sh,
# scripts/production-check.sh; scripts/serve.sh when they are older than the catalogues; the
# image at build). `scripts/messages.sh --gettext-only` installs gettext and compiles nothing
# (scripts/check-catalogues.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v msgfmt >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "Installing Debian's gettext for the translations..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext) >/dev/null || exit 1
    else
        echo "The translations need Debian's gettext package: run 'sudo apt-get install gettext'." >&2
        exit 1
    fi
fi
[ "${1:-}" != "--gettext-only" ] || exit 0

# A checkout's .venv when there is one, else the interpreter on PATH (the container).
if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python; fi
# compilemessages walks the whole tree: .venv holds the packages' own (already compiled) catalogues.
# The settings need a key to load; this command signs nothing.
DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-compilemessages-only}" \
    "$python" manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0
