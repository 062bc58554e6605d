#!/usr/bin/env bash
# Run the CRM locally: venv, the compiled translations, migrations, the demo logins, demo data on first run, the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/messages.sh
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-$(scripts/secret_key.sh)}"
export DJANGO_SECURE_SSL_REDIRECT="${DJANGO_SECURE_SSL_REDIRECT:-false}"
# E-mails go to files in sent-mail/ (the Outbox page shows them), never to a mail server.
export DJANGO_EMAIL_BACKEND="${DJANGO_EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
port="${PORT:-8000}"
.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py create_demo_users
.venv/bin/python manage.py seed_demo --if-empty --segments --contacts "${DEMO_CONTACTS:-2000}"
echo
echo "  CRM running at http://127.0.0.1:${port}/"
echo "  Log in as admin / admin-demo (also: marketing / marketing-demo, viewer / viewer-demo): your browser's language"
echo "  In Danish, Norwegian, Finnish: marketing-da, marketing-nb, marketing-fi / marketing-demo"
echo "  E-mails are written to sent-mail/, shown at http://127.0.0.1:${port}/outbox/"
echo
exec .venv/bin/python manage.py runserver "127.0.0.1:${port}"
