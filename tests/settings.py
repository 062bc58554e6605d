"""Settings for the test suite: crm.settings as production runs it, with two test-only values.

The secret key is a fixed throw-away one and plain http is allowed, so the test client does not
need https on every request (tests/crm/test_settings.py checks the https behaviour itself).
Passwords hash with MD5 only to keep user fixtures fast.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "k" * 50)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from crm.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per test process, so parallel runs never share (or drop) each other's.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"/tmp/crm-test-{os.getpid()}.sqlite3"}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_crm_{os.getpid()}"}  # noqa: F405
