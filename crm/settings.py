"""Settings for the CRM, read from the environment (see README, "Configuration").

One module for every deployment: production behaviour is switched on by environment
variables (DJANGO_DEBUG off, a real DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS), never by a
second settings file, so `manage.py check --deploy` judges exactly what runs.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (50+ random characters), "
            "or set DJANGO_DEBUG=true for a local install."
        )
    warnings.warn("DJANGO_SECRET_KEY is not set: using a random key (DEBUG only).", stacklevel=1)
    SECRET_KEY = get_random_secret_key()

# Keys signed with before a key change still verify (sessions, and the unsubscribe links in
# e-mails already sent, which never expire): comma-separated, newest first.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "django_htmx",
    "django_tasks_db",
    "crm",
    "interactions",
    "segments",
]

MIDDLEWARE = [
    "crm.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crm.middleware.UserLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "crm.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "crm.context_processors.main_nav",
            ],
        },
    },
]

WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

# Database: DATABASE_URL, defaulting to a SQLite file beside manage.py.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers need IMMEDIATE transactions (a writer takes the lock at BEGIN,
    # so two writers queue instead of failing with "database is locked" on upgrade) and
    # a busy timeout; WAL lets readers go on while one writer writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;",
    }
    # Tests use a file, not :memory:, so threads and processes share one database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}
else:
    # A database that does not answer fails a connection (a request, /healthz, a worker's
    # beat) after this many seconds instead of the operating system's minutes; a
    # `?connect_timeout=` in DATABASE_URL wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DJANGO_DB_CONNECT_TIMEOUT", "5"))
    )
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3" and env_bool("DJANGO_DB_TRANSACTION_POOLING"):
    # Behind pgbouncer in transaction pooling mode a connection may change between two
    # transactions: no server-side cursors (they outlive a transaction) and no persistent
    # connections of our own (the pooler keeps them).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The pages speak English, Danish, Norwegian Bokmål and Finnish (locale/, compiled by
# compilemessages in the set-up). A user's own language (crm.Profile, kept in the session at
# log-in) wins, else the browser's Accept-Language, else English (crm.middleware.UserLocaleMiddleware).
# Batch commands run in LANGUAGE_CODE: their output is the machine interface of CONTRACT.md.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("da", "Dansk"), ("nb", "Norsk bokmål"), ("fi", "Suomi")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English keeps ISO dates (crm/formats/en); Danish, Norwegian and Finnish use Django's formats.
FORMAT_MODULE_PATH = ["crm.formats"]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
# Without DEBUG, static files are served by WhiteNoise from STATIC_ROOT (manage.py collectstatic):
# names carry a content hash, .gz copies are made (and .br with the brotli package), and the
# hashed names are cached for a year. Under DEBUG (make run) runserver serves them from the apps.
STORAGES = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
if not DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))


def _file_storage() -> dict:
    """Where stored documents' bytes go (interactions.storage): the file system under MEDIA_ROOT,
    or with CRM_STORAGE_URL=s3://bucket/prefix an S3-compatible bucket (django-storages;
    CRM_S3_ENDPOINT_URL for another service than AWS, e.g. MinIO, addressed by path;
    CRM_S3_REGION; credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the machine's
    role, as boto3 finds them). Objects are private (no ACL: the bucket's own, which must not
    be public); downloads always go through the CRM's views, never to a bucket URL."""
    url = os.environ.get("CRM_STORAGE_URL", "").strip()
    if not url:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"CRM_STORAGE_URL must be s3://bucket/prefix, not {url!r}")
    endpoint = os.environ.get("CRM_S3_ENDPOINT_URL", "").strip() or None
    options = {
        "bucket_name": parts.netloc,
        "location": parts.path.strip("/"),
        "endpoint_url": endpoint,
        "region_name": os.environ.get("CRM_S3_REGION", "").strip() or None,
        "default_acl": None,
        "querystring_auth": True,  # a URL, should one ever be made, is signed and expires
        "file_overwrite": True,  # every document gets a new random name: no existence check
        "max_memory_size": 4 * 1024 * 1024,  # a file opened for reading spills to disk past 4 MiB
    }
    if endpoint:
        options["addressing_style"] = "path"
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES["default"] = _file_storage()

# Security. Cookies are Secure unless DEBUG serves plain http on localhost.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer probes over plain http
if env_bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# Upload limits: Django has no file-size cap of its own; forms check these.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
CRM_CSV_MAX_BYTES = int(os.environ.get("CRM_CSV_MAX_BYTES", str(10 * 1024 * 1024)))

# Email (CONTRACT.md, "Environment"): DJANGO_EMAIL_BACKEND, default SMTP through EMAIL_HOST,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS; DJANGO_EMAIL_FILE_PATH for
# the file backend. Configured as Django 6.1's MAILERS.
_email_backend = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
_email_options: dict = {}
if _email_backend.endswith("smtp.EmailBackend"):
    _email_options = {
        "host": os.environ.get("EMAIL_HOST", "localhost"),
        "port": int(os.environ.get("EMAIL_PORT", "25")),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", default=False),
        "timeout": int(os.environ.get("EMAIL_TIMEOUT", "30")),
    }
elif _email_backend.endswith("filebased.EmailBackend"):
    _email_options = {"file_path": os.environ.get("DJANGO_EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))}
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "marketing@localhost")

# Background work (CONTRACT.md): immediate unless DJANGO_TASKS_BACKEND names a queue.
TASKS = {
    "default": {"BACKEND": os.environ.get("DJANGO_TASKS_BACKEND", "django.tasks.backends.immediate.ImmediateBackend")}
}
# Workers (`manage.py worker`, crm.worker): a delivery or merge whose worker shows no sign of
# life for a lease is taken over by another worker; heartbeats every CRM_WORKER_BEAT_SECONDS;
# finished task results are kept CRM_TASK_RESULTS_KEEP_DAYS; housekeeping runs every
# CRM_HOUSEKEEPING_HOURS (one worker of many).
CRM_JOB_LEASE_SECONDS = int(os.environ.get("CRM_JOB_LEASE_SECONDS", "120"))
CRM_WORKER_BEAT_SECONDS = float(os.environ.get("CRM_WORKER_BEAT_SECONDS", "15"))
CRM_TASK_RESULTS_KEEP_DAYS = int(os.environ.get("CRM_TASK_RESULTS_KEEP_DAYS", "14"))
CRM_HOUSEKEEPING_HOURS = float(os.environ.get("CRM_HOUSEKEEPING_HOURS", "24"))
# A Log started from the Log page with more lines than this runs as a task (segments.log_jobs),
# the page showing its progress; at or below it the web request logs it.
CRM_LOG_INLINE_LINES = int(os.environ.get("CRM_LOG_INLINE_LINES", "5000"))
# A PDF made by LibreOffice (interactions.pdf: merges to PDF and print files' PDFs, in a worker,
# or `segment merge`) is given up after this many seconds (each run of LibreOffice, one chunk).
CRM_PDF_TIMEOUT = float(os.environ.get("CRM_PDF_TIMEOUT", "3600"))
# More letters than this are converted to PDF this many at a time, the chunks' PDFs joined by
# pdfunite (poppler-utils): LibreOffice's time and memory stay those of one chunk.
CRM_PDF_CHUNK_LETTERS = int(os.environ.get("CRM_PDF_CHUNK_LETTERS", "500"))

# The address people outside reach the CRM at (CONTRACT.md "Environment"), e.g.
# https://crm.example.com, with the path prefix a proxy mounts the CRM under if any: the links in
# e-mails (the unsubscribe link, interactions.unsubscribe) start with it. Unset: make run's
# address. Its host must be in DJANGO_ALLOWED_HOSTS.
CRM_PUBLIC_URL = os.environ.get("CRM_PUBLIC_URL", "").strip().rstrip("/") or "http://localhost:8000"
if not CRM_PUBLIC_URL.startswith(("https://", "http://")):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"CRM_PUBLIC_URL must be an https:// or http:// address, not {CRM_PUBLIC_URL!r}")
# Requests to the public unsubscribe page (GET or POST) one client address may make per minute;
# beyond that it answers 429 until the minute is over.
CRM_UNSUBSCRIBE_RATE_LIMIT = int(os.environ.get("CRM_UNSUBSCRIBE_RATE_LIMIT", "30"))

# Our own company's details, used in letters (CONTRACT.md "Word template fields").
CRM_COMPANY = {
    "name": os.environ.get("CRM_COMPANY_NAME", "Cronus Marketing Ltd."),
    "address": os.environ.get("CRM_COMPANY_ADDRESS", "5 The Ring"),
    "post_code": os.environ.get("CRM_COMPANY_POST_CODE", "1012 AB"),
    "city": os.environ.get("CRM_COMPANY_CITY", "Amsterdam"),
    "country": os.environ.get("CRM_COMPANY_COUNTRY", "Netherlands"),
    "phone": os.environ.get("CRM_COMPANY_PHONE", "+31 20 555 0100"),
    "email": os.environ.get("CRM_COMPANY_EMAIL", "marketing@example.com"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"request": {"format": "%(asctime)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "request"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        # Each task's state changes (INFO) would otherwise show twice on a command's stderr under
        # DEBUG (Django's own console handler and ours); workers log theirs through django_tasks_db.
        "django.tasks": {"level": os.environ.get("DJANGO_TASKS_LOG_LEVEL", "WARNING")},
        # One line per request on stdout (crm/middleware.py); runserver logs its own under DEBUG.
        "crm.requests": {
            "handlers": ["stdout"],
            "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING" if DEBUG else "INFO"),
            "propagate": False,
        },
    },
}

# Login throttling (django-axes; README "Configuration"). Wrong passwords are counted in the
# database, so every web process sees them, per username and per client address separately:
# after CRM_LOGIN_SLOWDOWN_AFTER failures a further try must wait CRM_LOGIN_DELAY_SECONDS, doubling
# with each failure (crm/throttle.py refuses an early one without checking the password, and
# never sleeps); at CRM_LOGIN_FAILURE_LIMIT failures that username or address is locked out (429)
# until CRM_LOGIN_LOCKOUT_MINUTES have passed since its last counted failure, or an admin clears
# it (Django admin, "Access attempts"; `manage.py axes_reset_username`, `axes_reset_ip`).
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as axes asks
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "crm.throttle.LoginAttemptHandler"
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one alone locks
AXES_FAILURE_LIMIT = int(os.environ.get("CRM_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CRM_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a lock ends on time, however often it is knocked on
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "crm.throttle.client_ip"
AXES_ENABLE_ADMIN = False  # crm/admin.py registers axes' models with the lock-out state shown
AXES_VERBOSE = False  # no "AXES: BEGIN" banner in every process's log
CRM_BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", default=False)
CRM_LOGIN_SLOWDOWN_AFTER = int(os.environ.get("CRM_LOGIN_SLOWDOWN_AFTER", "3"))
CRM_LOGIN_DELAY_SECONDS = int(os.environ.get("CRM_LOGIN_DELAY_SECONDS", "2"))
CRM_LOGIN_MAX_DELAY_SECONDS = 60
CRM_LOGIN_LOG_KEEP_DAYS = int(os.environ.get("CRM_LOGIN_LOG_KEEP_DAYS", "90"))  # successful log-ins, for admins
