.PHONY: run test lint format bench messages catalogues

run:  ## install, migrate, seed demo data on first run, start the server
	scripts/run.sh

test:  ## the whole suite on SQLite and PostgreSQL 15 (sets up venv, chromium, a throw-away cluster)
	scripts/test.sh

messages:  ## compile the translations (locale/<lang>/LC_MESSAGES/django.po → .mo; installs gettext when missing)
	scripts/messages.sh

catalogues:  ## the catalogue check CI runs: every string of the code translated in da, nb and fi
	scripts/check-catalogues.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

bench:  ## benchmark at 100k contacts on SQLite (see bench/README.md for more)
	.venv/bin/python manage.py bench --contacts 100000
