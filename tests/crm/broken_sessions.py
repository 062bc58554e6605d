"""A session engine whose store cannot be read, as when the database holding the sessions is
down (tests/crm/test_health.py)."""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import OperationalError


class SessionStore(DatabaseSessionStore):
    def load(self):
        raise OperationalError("connection to the sessions' database failed")
