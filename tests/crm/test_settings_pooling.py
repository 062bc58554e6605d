"""Connection pooling (README "Deploy"): behind pgbouncer's transaction pooling, one variable
turns off server-side cursors and persistent connections; without it both stay on."""

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
