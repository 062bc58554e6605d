"""Connection pooling (README "Deploy"): behind pgbouncer's transaction pooling, one variable
turns off server-side cursors and persistent connections; without it both stay on. And a
connection to PostgreSQL gives up after a few seconds when the server does not answer."""

from __future__ import annotations

from tests.crm.test_settings import PRODUCTION_ENV, _manage

SHOW = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(d.get('DISABLE_SERVER_SIDE_CURSORS', False), d['CONN_MAX_AGE'])"
)


def test_transaction_pooling_turns_off_server_side_cursors_and_persistent_connections():
    pooled = _manage("shell", "-c", SHOW, env={**PRODUCTION_ENV, "DJANGO_DB_TRANSACTION_POOLING": "true"})
    direct = _manage("shell", "-c", SHOW, env=PRODUCTION_ENV)

    assert pooled.stdout.split()[-2:] == ["True", "0"], pooled.stderr
    assert direct.stdout.split()[-2:] == ["False", "60"], direct.stderr


CONNECT_TIMEOUT = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['connect_timeout'])"


def test_a_postgresql_connection_gives_up_after_a_connect_timeout_that_the_url_can_override():
    default = _manage("shell", "-c", CONNECT_TIMEOUT, env=PRODUCTION_ENV)
    configured = _manage("shell", "-c", CONNECT_TIMEOUT, env={**PRODUCTION_ENV, "DJANGO_DB_CONNECT_TIMEOUT": "2"})
    in_url = _manage(
        "shell",
        "-c",
        CONNECT_TIMEOUT,
        env={**PRODUCTION_ENV, "DATABASE_URL": PRODUCTION_ENV["DATABASE_URL"] + "?connect_timeout=9"},
    )

    assert default.stdout.split()[-1:] == ["5"], default.stderr
    assert configured.stdout.split()[-1:] == ["2"], configured.stderr
    assert in_url.stdout.split()[-1:] == ["9"], in_url.stderr
