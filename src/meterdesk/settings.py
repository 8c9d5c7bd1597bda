"""meterdesk settings: one module, everything from the environment, safe defaults.

Environment variables (all optional):
  METERDESK_DATA_DIR        where the SQLite database, generated and uploaded files live (./var)
  DATABASE_URL              e.g. postgres://user@127.0.0.1:5432/meterdesk; default SQLite in the data dir
  METERDESK_SECRET_KEY      the signing key; default: generated once and kept in the data dir
  METERDESK_DEBUG           1 to run in debug mode (never in production)
  METERDESK_ALLOWED_HOSTS   comma-separated host names (127.0.0.1,localhost)
  METERDESK_HTTPS           1 when served over HTTPS: secure cookies, HSTS, redirect to https
  METERDESK_READING_WINDOW  the submission window, e.g. 15-26 (overrides the utility's setting)
  METERDESK_SMTP_HOST/PORT/USER/PASSWORD/TLS   outgoing mail; without a host, mail is written
                            as files to <data dir>/mail
  METERDESK_FROM_EMAIL      sender of outgoing mail
  METERDESK_CACHE_URL       where the rate-limit counters are shared by every server process:
                            default the database; redis://127.0.0.1:6379/0 is faster; locmem://
                            each process its own memory
  METERDESK_REGISTRATION_CODE  1 to also ask, at registration and linking, for a one-time code
                            printed on the bill
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("METERDESK_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "files"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("METERDESK_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("METERDESK_DEBUG")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("METERDESK_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "meterdesk.utility",
    "meterdesk.customers",
    "meterdesk.tariffs",
    "meterdesk.metering",
    "meterdesk.billing",
    "meterdesk.payments",
    "meterdesk.registries",
    "meterdesk.documents",
    "meterdesk.portal",
    "meterdesk.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "meterdesk.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "meterdesk.urls"
WSGI_APPLICATION = "meterdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "meterdesk.utility.context_processors.utility",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
_default_sqlite = f"sqlite:///{DATA_DIR / 'meterdesk.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or _default_sqlite)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN
        # so that two concurrent submissions queue instead of failing half way.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # dj_database_url always sets CONN_MAX_AGE (0: a new connection per request), so setdefault
    # would never apply: keep connections 60 s unless the URL asked for a lifetime (?conn_max_age=).
    if not DATABASES["default"].get("CONN_MAX_AGE"):
        DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server and statements prepared once a connection has run them 5 times:
    # PostgreSQL then does not plan the API submission's statements again on every request. Off with
    # METERDESK_DB_PREPARED=0, e.g. behind a pooler in transaction mode (PgBouncer before 1.21).
    if os.environ.get("METERDESK_DB_PREPARED", "1") != "0":
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


#: The database cache's table (made by the migration customers/0004_shared_cache_table).
CACHE_TABLE = "meterdesk_cache"


def _caches(url: str) -> dict[str, dict[str, object]]:
    """The default cache from METERDESK_CACHE_URL. It holds the rate-limit counters (of the API,
    of registration and linking), so it is shared by every server process by default:
    unset, Django's database cache (one table, SQLite or PostgreSQL); ``redis://``/``rediss://``
    Redis, faster; ``locmem://`` each process's own memory (one process only). docs/adr/0011."""
    url = url.strip()
    if not url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": CACHE_TABLE,
                "KEY_PREFIX": "meterdesk",
                # Nothing but counters lives there, and they expire with their windows
                # (meterdesk.ratelimit clears expired ones): never cull live counters.
                "OPTIONS": {"MAX_ENTRIES": 10_000_000},
            }
        }
    if url == "locmem://":
        return {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "meterdesk"}
        }
    if url.startswith(("redis://", "rediss://", "unix://")):
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "meterdesk",
                # A cache that does not answer in 2 s is given up on: the rate limiter then lets
                # requests through uncounted for a few seconds (meterdesk/ratelimit.py).
                "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
            }
        }
    raise ImproperlyConfigured(
        "METERDESK_CACHE_URL: expected redis://host:port/db, rediss://…, locmem:// or nothing "
        f"(the database), got {url!r}"
    )


CACHES = _caches(os.environ.get("METERDESK_CACHE_URL", ""))

# --- auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "customers.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Registration and linking also ask for the one-time code printed on the bill (docs/security.md).
METERDESK_REGISTRATION_CODE = _env_bool("METERDESK_REGISTRATION_CODE")

# Lockout after repeated failed logins: per login name and, separately, per client address.
AXES_FAILURE_LIMIT = int(os.environ.get("METERDESK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("METERDESK_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The login form and authenticate() call the e-mail "username" (axes would look for "email").
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("METERDESK_PROXY_COUNT", "0")) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# --- security -------------------------------------------------------------------------------
HTTPS = _env_bool("METERDESK_HTTPS")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
if HTTPS and AXES_IPWARE_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 8
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer (django-csp; docs/adr/0014): scripts, styles, fonts and
# requests from this site only, no inline script or style, no plugins, no framing. form-action is
# not restricted: paying by card posts to this site, which redirects to the bank's page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("METERDESK_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

# --- i18n and time --------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("METERDESK_TIME_ZONE", "Europe/Moscow")
USE_TZ = True

# --- static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
MEDIA_URL = "/files/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- mail -----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("METERDESK_FROM_EMAIL", "meterdesk <no-reply@meterdesk.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if os.environ.get("METERDESK_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["METERDESK_SMTP_HOST"]
    EMAIL_PORT = int(os.environ.get("METERDESK_SMTP_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("METERDESK_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("METERDESK_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("METERDESK_SMTP_TLS")
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# --- background work ------------------------------------------------------------------------
# Tasks are stored in the database and run by `meterdesk manage db_worker` processes (the monthly
# close starts its own). METERDESK_TASKS=immediate runs them inline (tests, one-off scripts). With
# the database backend, the readings' confirmation e-mails go through their own outbox, sent in
# batches by `meterdesk manage send_confirmations` (metering.outbox); otherwise on commit.
TASKS = {
    "default": (
        {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default", "billing"]}
        if os.environ.get("METERDESK_TASKS") == "immediate"
        else {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "billing"]}
    )
}

# --- the utility ----------------------------------------------------------------------------
METERDESK_READING_WINDOW = os.environ.get("METERDESK_READING_WINDOW", "").strip() or None

# --- bank registries (meterdesk.registries) --------------------------------------------------
# A directory of the utility's own registry layouts (JSON files, see docs/registries.md), read
# beside the shipped ones; a layout there with a shipped layout's name replaces it.
METERDESK_REGISTRY_LAYOUTS = os.environ.get("METERDESK_REGISTRY_LAYOUTS", "").strip() or None
# --- end of bank registries -----------------------------------------------------------------

# --- card payments --------------------------------------------------------------------------
# METERDESK_PAYMENT_PROVIDER   sandbox (default: the built-in test provider) or yookassa
# METERDESK_YOOKASSA_SHOP_ID / METERDESK_YOOKASSA_SECRET_KEY   the shop's credentials (Basic auth)
# METERDESK_YOOKASSA_API_URL   https://api.yookassa.ru/v3 unless set
# METERDESK_YOOKASSA_TIMEOUT   seconds to wait for YooKassa (10)
# METERDESK_PAYMENT_MAX        the largest card payment in roubles (500000)
# METERDESK_SANDBOX_BANK_DELAY seconds the sandbox's "late bank" test card takes to succeed (60)
METERDESK_PAYMENT_PROVIDER = os.environ.get("METERDESK_PAYMENT_PROVIDER", "").strip().lower() or "sandbox"
METERDESK_YOOKASSA_SHOP_ID = os.environ.get("METERDESK_YOOKASSA_SHOP_ID", "").strip()
METERDESK_YOOKASSA_SECRET_KEY = os.environ.get("METERDESK_YOOKASSA_SECRET_KEY", "").strip()
METERDESK_YOOKASSA_API_URL = (
    os.environ.get("METERDESK_YOOKASSA_API_URL", "").strip() or "https://api.yookassa.ru/v3"
)
METERDESK_YOOKASSA_TIMEOUT = float(os.environ.get("METERDESK_YOOKASSA_TIMEOUT", "") or "10")
METERDESK_PAYMENT_MAX = os.environ.get("METERDESK_PAYMENT_MAX", "").strip() or "500000"
METERDESK_SANDBOX_BANK_DELAY = int(os.environ.get("METERDESK_SANDBOX_BANK_DELAY", "") or "60")
# --- end of card payments -------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("METERDESK_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
