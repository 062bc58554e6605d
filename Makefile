.PHONY: run test lint format bench

run:  ## install, migrate, seed demo data on first run, start the server
	scripts/run.sh

test:  ## the whole suite on SQLite and PostgreSQL 15 (sets up venv, chromium, a throw-away cluster)
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

bench:  ## benchmark at 100k contacts on SQLite (see bench/README.md for more)
	.venv/bin/python manage.py bench --contacts 100000
