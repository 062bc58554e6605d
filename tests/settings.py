"""Settings for the test suite: crm.settings as production runs it, with a few test-only values.

The secret key is a fixed throw-away one and plain http is allowed, so the test client does not
need https on every request (tests/crm/test_settings.py checks the https behaviour itself).
Passwords hash with MD5 only to keep user fixtures fast; static files need no collectstatic (below).
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "k" * 50)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
# Stored documents go to a folder of this test process (inherited by the processes it starts),
# removed at the end of the session (tests/conftest.py).
os.environ.setdefault("DJANGO_MEDIA_ROOT", f"/tmp/crm-test-media-{os.getpid()}")

from crm.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per test process, so parallel runs never share (or drop) each other's.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"/tmp/crm-test-{os.getpid()}.sqlite3"}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_crm_{os.getpid()}"}  # noqa: F405

# Production (DEBUG off) serves static files from collectstatic's hashed copies; tests need no
# collectstatic: plain names, and WhiteNoise finds the files in the apps as under DEBUG.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
