"""meterdesk settings: one module, everything from the environment, safe defaults.

The environment is read here and nowhere else, and only the variables declared in ENVIRONMENT
(name, default, meaning): the code reads the Django settings made from them. The README's
configuration table lists exactly these variables (tests/test_environment.py checks both).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Variable:
    """An environment variable meterdesk reads: unset or empty, it has its default."""

    name: str
    default: str
    meaning: str


ENVIRONMENT: tuple[Variable, ...] = (
    Variable(
        "METERDESK_DATA_DIR",
        "var",
        "where the SQLite database, the secret key, generated files and mail files live",
    ),
    Variable(
        "DATABASE_URL",
        "",
        "the database, e.g. postgres://meterdesk@127.0.0.1:5432/meterdesk; unset: SQLite in the data dir",
    ),
    Variable(
        "METERDESK_DB_PREPARED",
        "1",
        "PostgreSQL: server-side parameters and prepared statements; 0 behind a pooler in transaction mode",
    ),
    Variable("METERDESK_SECRET_KEY", "", "Django's signing key; unset: generated once into the data dir"),
    Variable("METERDESK_DEBUG", "", "1: debug mode (never in production)"),
    Variable(
        "METERDESK_ALLOWED_HOSTS",
        "127.0.0.1,localhost,[::1]",
        "comma-separated host names the site answers to",
    ),
    Variable("METERDESK_HTTPS", "", "1 when served over HTTPS: secure cookies, HSTS, redirect to https"),
    Variable(
        "METERDESK_CSRF_TRUSTED_ORIGINS",
        "",
        "comma-separated origins trusted for unsafe requests, e.g. https://lk.example.ru",
    ),
    Variable("METERDESK_PROXY_COUNT", "0", "the number of reverse proxies in front (for client addresses)"),
    Variable(
        "METERDESK_FORWARDED_ALLOW_IPS",
        "127.0.0.1",
        "comma-separated addresses of the proxies whose X-Forwarded-* headers `meterdesk serve` trusts",
    ),
    Variable(
        "METERDESK_LOGIN_FAILURE_LIMIT", "5", "failed logins before a lockout, per login and per address"
    ),
    Variable("METERDESK_LOGIN_COOLOFF_MINUTES", "15", "minutes a lockout lasts"),
    Variable(
        "METERDESK_REGISTRATION_CODE",
        "",
        "1: registration and linking also ask for a one-time code printed on the bill",
    ),
    Variable(
        "METERDESK_CACHE_URL",
        "",
        "where the rate-limit counters are shared by every server process: unset, the database; redis://127.0.0.1:6379/0; locmem:// each process alone",
    ),
    # A phone app reading its dashboards, or a hub submitting every meter of a house.
    Variable(
        "METERDESK_API_RATE_TOKEN", "120/m", "API requests per device token (or session login); off: no limit"
    ),
    # Many devices of a household (or an office) behind one address.
    Variable("METERDESK_API_RATE_ADDRESS", "600/m", "API requests per client address"),
    # Linking an account through the API takes a number and a meter serial: slow down guessing.
    Variable("METERDESK_API_RATE_LINK", "10/h", "API account links per login"),
    # A household registers a few people, each may mistype; a guesser gets 10 tries a day.
    Variable(
        "METERDESK_LINK_RATE_ACCOUNT",
        "10/d",
        "registration and linking attempts (web and API) per account number",
    ),
    # An office helping its customers register stays under it.
    Variable(
        "METERDESK_LINK_RATE_ADDRESS",
        "30/h",
        "registration and linking attempts (web and API) per client address",
    ),
    Variable("METERDESK_TIME_ZONE", "Europe/Moscow", "the time zone of the server's clock and logs"),
    Variable(
        "METERDESK_READING_WINDOW",
        "",
        "days of the month readings are accepted, e.g. 15-26; unset: the utility's setting",
    ),
    Variable(
        "METERDESK_FROM_EMAIL", "meterdesk <no-reply@meterdesk.localhost>", "the sender of outgoing mail"
    ),
    Variable(
        "METERDESK_SMTP_HOST",
        "",
        "the SMTP server of outgoing mail; unset: mail is written as files to <data dir>/mail",
    ),
    Variable("METERDESK_SMTP_PORT", "25", "its port"),
    Variable("METERDESK_SMTP_USER", "", "its login"),
    Variable("METERDESK_SMTP_PASSWORD", "", "its password"),
    Variable("METERDESK_SMTP_TLS", "", "1: STARTTLS"),
    Variable(
        "METERDESK_TASKS",
        "",
        "immediate: background tasks run inline (tests, one-off scripts); unset: stored in the database for the workers",
    ),
    Variable(
        "METERDESK_BILLING_FAST_PATH",
        "1",
        "0: the monthly close bills every account through the Python engine, not the SQL fast path",
    ),
    Variable(
        "METERDESK_REGISTRY_LAYOUTS", "", "a directory of the utility's own bank-registry layouts (JSON)"
    ),
    Variable(
        "METERDESK_PAYMENT_PROVIDER", "sandbox", "card payments: sandbox (the built-in test bank) or yookassa"
    ),
    Variable("METERDESK_YOOKASSA_SHOP_ID", "", "YooKassa: the shop's id"),
    Variable("METERDESK_YOOKASSA_SECRET_KEY", "", "YooKassa: the shop's secret key"),
    Variable("METERDESK_YOOKASSA_API_URL", "https://api.yookassa.ru/v3", "YooKassa: the API's address"),
    Variable("METERDESK_YOOKASSA_TIMEOUT", "10", "YooKassa: seconds to wait for an answer"),
    Variable("METERDESK_PAYMENT_MAX", "500000", "the largest card payment, in roubles"),
    Variable(
        "METERDESK_SANDBOX_BANK_DELAY", "60", "seconds the sandbox's late-bank test card takes to succeed"
    ),
    Variable(
        "METERDESK_RECEIPT_VAT_CODE",
        "11",
        "the fiscal receipt's VAT code (YooKassa's vat_code, 1-12; 11: VAT 22 %)",
    ),
    Variable(
        "METERDESK_RECEIPT_TAX_SYSTEM",
        "",
        "the fiscal receipt's tax system code (1-6); unset: not sent (the shop's default)",
    ),
    Variable(
        "METERDESK_RECEIPT_ITEM",
        "Электроэнергия, лицевой счёт {account}",
        "the fiscal receipt's item, {account} replaced by the account number",
    ),
    Variable(
        "METERDESK_AUTOPAY_NOTICE_DAYS", "3", "autopayment: days before the due date the notice is e-mailed"
    ),
    Variable("METERDESK_AUTOPAY_ATTEMPTS", "3", "autopayment: tries of a declined bill, a day apart"),
    Variable(
        "METERDESK_MAIL_ADDRESSES",
        "readings@meterdesk.localhost",
        "readings by e-mail: the published addresses (comma-separated) `meterdesk mail serve` accepts letters for; answers come from the first",
    ),
    Variable(
        "METERDESK_MAIL_MAX_BYTES", "26214400", "readings by e-mail: the largest letter accepted, in bytes"
    ),
    Variable(
        "METERDESK_MAIL_TLS_CERT",
        "",
        "readings by e-mail: the certificate (PEM) for STARTTLS; unset: no STARTTLS",
    ),
    Variable(
        "METERDESK_MAIL_TLS_KEY",
        "",
        "readings by e-mail: its private key (PEM); unset: in the certificate's file",
    ),
    Variable(
        "METERDESK_MAIL_DKIM_RECORDS",
        "",
        "readings by e-mail: a file of DKIM key records (`selector._domainkey.domain <TXT value>` a line) used instead of DNS",
    ),
    Variable(
        "METERDESK_MAIL_TRUSTED_HOSTS",
        "",
        "readings by e-mail: authserv-ids (comma-separated) of the mail hosts whose Authentication-Results header is trusted",
    ),
    Variable(
        "METERDESK_MAIL_ANSWERS_PER_HOUR",
        "5",
        "readings by e-mail: the most answers sent to one address in an hour",
    ),
    Variable(
        "METERDESK_MAIL_ANSWER_LEASE",
        "120",
        "readings by e-mail: seconds an answer claimed by a mail worker is left to it; a worker that dies mid-send leaves it due again then",
    ),
    Variable(
        "METERDESK_MAIL_IMAP_URL",
        "",
        "readings by e-mail: the mailbox `meterdesk mail poll` reads, imaps://user:password@host:993/INBOX (imap:// with STARTTLS where offered)",
    ),
    Variable(
        "METERDESK_MAIL_IMAP_INTERVAL",
        "60",
        "readings by e-mail: seconds between looks at a mailbox without IDLE",
    ),
    Variable(
        "METERDESK_IVR_OPERATOR",
        "",
        "the phone line: where a call to an operator goes (a SIP URI); unset: a callback request",
    ),
    Variable(
        "METERDESK_IVR_OPERATOR_HOURS", "09:00-20:00", "the phone line: the operators' hours, utility time"
    ),
    Variable(
        "METERDESK_IVR_PROMPTS",
        "",
        "the phone line: a folder of recorded prompts (WAV, named by the text's hash) used instead of synthesis",
    ),
    Variable(
        "METERDESK_IVR_SPEECH",
        "",
        "the phone line: the speech recognizers, comma-separated: pocketsphinx (English), vosk (Russian); unset: keys only",
    ),
    Variable(
        "METERDESK_IVR_VOSK_MODEL",
        "",
        "the phone line: the folder of the Vosk model for Russian speech (e.g. vosk-model-small-ru)",
    ),
    Variable(
        "METERDESK_SITE_URL",
        "http://127.0.0.1:8000",
        "the personal account's public address, for links sent outside a web request (SMS)",
    ),
    Variable("METERDESK_SMS_BACKEND", "", "text messages: unset (none), file (the data dir's sms/) or smsru"),
    Variable("METERDESK_SMS_URL", "https://sms.ru", "text messages: the SMS.ru API's address"),
    Variable("METERDESK_SMS_API_KEY", "", "text messages: the SMS.ru api_id (a secret)"),
    Variable(
        "METERDESK_SMS_SENDER", "", "text messages: the sender name agreed with SMS.ru; unset: its default"
    ),
    Variable("METERDESK_SMS_PER_DAY", "3", "text messages: the most sent to one number in a day"),
    Variable("METERDESK_PAY_LINK_DAYS", "7", "payment links sent by SMS: the days a link works"),
    Variable(
        "METERDESK_SCHEDULE_OFF",
        "",
        "the scheduled jobs not to run, comma-separated (autopay, reminders, reconcile, notices, support)",
    ),
    Variable(
        "METERDESK_NOTIFY_QUIET_HOURS",
        "21:00-09:00",
        "reminders: the hours (the utility's time) when no SMS is sent; empty: none",
    ),
    Variable(
        "METERDESK_TERMINAL_IDLE_SECONDS",
        "90",
        "the office terminal: seconds without a touch before a household's session ends",
    ),
    Variable("METERDESK_LOG_LEVEL", "INFO", "the level of the log on standard error"),
    Variable(
        "METERDESK_DEMO_PASSWORD",
        "",
        "`meterdesk demo`: the demo customer's password; unset: a random one, printed",
    ),
    Variable(
        "METERDESK_ADMIN_PASSWORD",
        "",
        "`meterdesk demo`: the administrator's password; unset: a random one, printed",
    ),
)
_DECLARED = {variable.name: variable for variable in ENVIRONMENT}


def _env(name: str) -> str:
    """The value of a declared variable, as given (a password may hold spaces); its default when
    it is unset or empty."""
    return os.environ.get(name) or _DECLARED[name].default


def _env_text(name: str) -> str:
    """The value of a declared variable without surrounding blanks; its default when none is left."""
    return _env(name).strip() or _DECLARED[name].default


def _env_bool(name: str) -> bool:
    return _env_text(name).lower() in {"1", "true", "yes", "on"}


def _env_int(name: str) -> int:
    value = _env_text(name)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(_env_text("METERDESK_DATA_DIR")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "files"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)


def _secret_key() -> str:
    key = _env("METERDESK_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("METERDESK_DEBUG")
ALLOWED_HOSTS = [h.strip() for h in _env("METERDESK_ALLOWED_HOSTS").split(",") if h.strip()]

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
    "auditlog",
    "meterdesk.utility",
    "meterdesk.customers",
    "meterdesk.tariffs",
    "meterdesk.metering",
    "meterdesk.billing",
    "meterdesk.payments",
    "meterdesk.registries",
    "meterdesk.documents",
    "meterdesk.mail",
    "meterdesk.phone",
    "meterdesk.programme",
    "meterdesk.notify",
    "meterdesk.schedule",
    "meterdesk.support",
    "meterdesk.portal",
    "meterdesk.api",
    "meterdesk.backoffice",
    "meterdesk.terminal",
    "meterdesk.inspections",
    "meterdesk.orders",
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
    "meterdesk.portal.middleware.UserLanguageMiddleware",  # a login's pages in its language
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
DATABASES = {"default": dj_database_url.parse(_env_text("DATABASE_URL") or _default_sqlite)}
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
    if _env_text("METERDESK_DB_PREPARED") != "0":
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


CACHES = _caches(_env_text("METERDESK_CACHE_URL"))

# Rate limits, ``<requests>/<period>`` or ``off``, counted in that cache (meterdesk.ratelimit).
METERDESK_API_RATE_TOKEN = _env_text("METERDESK_API_RATE_TOKEN")
METERDESK_API_RATE_ADDRESS = _env_text("METERDESK_API_RATE_ADDRESS")
METERDESK_API_RATE_LINK = _env_text("METERDESK_API_RATE_LINK")
METERDESK_LINK_RATE_ACCOUNT = _env_text("METERDESK_LINK_RATE_ACCOUNT")
METERDESK_LINK_RATE_ADDRESS = _env_text("METERDESK_LINK_RATE_ADDRESS")

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
# `meterdesk demo`'s passwords (a random one each when unset).
METERDESK_DEMO_PASSWORD = _env("METERDESK_DEMO_PASSWORD")
METERDESK_ADMIN_PASSWORD = _env("METERDESK_ADMIN_PASSWORD")

# Lockout after repeated failed logins: per login name and, separately, per client address.
AXES_FAILURE_LIMIT = _env_int("METERDESK_LOGIN_FAILURE_LIMIT")
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("METERDESK_LOGIN_COOLOFF_MINUTES"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The login form and authenticate() call the e-mail "username" (axes would look for "email").
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = _env_int("METERDESK_PROXY_COUNT") or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)
# The proxies whose X-Forwarded-* headers gunicorn trusts (`meterdesk serve`).
METERDESK_FORWARDED_ALLOW_IPS = _env_text("METERDESK_FORWARDED_ALLOW_IPS")

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
CSRF_TRUSTED_ORIGINS = [o.strip() for o in _env("METERDESK_CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]

# --- i18n and time --------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = _env_text("METERDESK_TIME_ZONE")
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
DEFAULT_FROM_EMAIL = _env_text("METERDESK_FROM_EMAIL")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if _env_text("METERDESK_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _env_text("METERDESK_SMTP_HOST")
    EMAIL_PORT = _env_int("METERDESK_SMTP_PORT")
    EMAIL_HOST_USER = _env_text("METERDESK_SMTP_USER")
    EMAIL_HOST_PASSWORD = _env("METERDESK_SMTP_PASSWORD")
    EMAIL_USE_TLS = _env_bool("METERDESK_SMTP_TLS")
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# --- background work ------------------------------------------------------------------------
# Tasks are stored in the database and run by `meterdesk manage db_worker` processes (the monthly
# close starts its own). METERDESK_TASKS=immediate runs them inline (tests, one-off scripts). With
# the database backend, the readings' confirmation e-mails go through their own outbox, sent in
# batches by `meterdesk send-confirmations` (core.confirmations); otherwise on commit.
TASKS = {
    "default": (
        {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default", "billing"]}
        if _env_text("METERDESK_TASKS") == "immediate"
        else {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "billing"]}
    )
}

# --- the utility ----------------------------------------------------------------------------
METERDESK_READING_WINDOW = _env_text("METERDESK_READING_WINDOW") or None

# --- the monthly close ----------------------------------------------------------------------
# Off: every account goes through the Python engine (billing.fast_path.fast_path_available).
METERDESK_BILLING_FAST_PATH = _env_text("METERDESK_BILLING_FAST_PATH").lower() not in {
    "0",
    "false",
    "no",
    "off",
}

# --- bank registries (meterdesk.registries) --------------------------------------------------
# A directory of the utility's own registry layouts (JSON files, see docs/registries.md), read
# beside the shipped ones; a layout there with a shipped layout's name replaces it.
METERDESK_REGISTRY_LAYOUTS = _env_text("METERDESK_REGISTRY_LAYOUTS") or None
# --- end of bank registries -----------------------------------------------------------------

# --- card payments --------------------------------------------------------------------------
METERDESK_PAYMENT_PROVIDER = _env_text("METERDESK_PAYMENT_PROVIDER").lower()
METERDESK_YOOKASSA_SHOP_ID = _env_text("METERDESK_YOOKASSA_SHOP_ID")
METERDESK_YOOKASSA_SECRET_KEY = _env_text("METERDESK_YOOKASSA_SECRET_KEY")
METERDESK_YOOKASSA_API_URL = _env_text("METERDESK_YOOKASSA_API_URL")
METERDESK_YOOKASSA_TIMEOUT = float(_env_text("METERDESK_YOOKASSA_TIMEOUT"))
METERDESK_PAYMENT_MAX = _env_text("METERDESK_PAYMENT_MAX")
METERDESK_SANDBOX_BANK_DELAY = _env_int("METERDESK_SANDBOX_BANK_DELAY")
# The fiscal receipt (54-FZ) sent with each payment (payments.receipts).
METERDESK_RECEIPT_VAT_CODE = _env_int("METERDESK_RECEIPT_VAT_CODE")
if not 1 <= METERDESK_RECEIPT_VAT_CODE <= 12:
    raise ImproperlyConfigured("METERDESK_RECEIPT_VAT_CODE: one of YooKassa's VAT codes, 1 to 12")
METERDESK_RECEIPT_TAX_SYSTEM = (
    _env_int("METERDESK_RECEIPT_TAX_SYSTEM") if _env_text("METERDESK_RECEIPT_TAX_SYSTEM") else None
)
if METERDESK_RECEIPT_TAX_SYSTEM is not None and not 1 <= METERDESK_RECEIPT_TAX_SYSTEM <= 6:
    raise ImproperlyConfigured("METERDESK_RECEIPT_TAX_SYSTEM: one of YooKassa's tax system codes, 1 to 6")
METERDESK_RECEIPT_ITEM = _env_text("METERDESK_RECEIPT_ITEM")
# Autopayment (payments.autopay): the notice, and how often a declined bill is tried.
METERDESK_AUTOPAY_NOTICE_DAYS = max(1, _env_int("METERDESK_AUTOPAY_NOTICE_DAYS"))
METERDESK_AUTOPAY_ATTEMPTS = max(1, _env_int("METERDESK_AUTOPAY_ATTEMPTS"))
# --- end of card payments -------------------------------------------------------------------

# --- readings by e-mail (meterdesk.mail, docs/email.md) -----------------------------------------
METERDESK_MAIL_ADDRESSES = [
    a.strip().lower() for a in _env_text("METERDESK_MAIL_ADDRESSES").split(",") if a.strip()
]
METERDESK_MAIL_MAX_BYTES = _env_int("METERDESK_MAIL_MAX_BYTES")
METERDESK_MAIL_TLS_CERT = _env_text("METERDESK_MAIL_TLS_CERT") or None
METERDESK_MAIL_TLS_KEY = _env_text("METERDESK_MAIL_TLS_KEY") or None
METERDESK_MAIL_DKIM_RECORDS = _env_text("METERDESK_MAIL_DKIM_RECORDS") or None
METERDESK_MAIL_TRUSTED_HOSTS = [
    h.strip().lower() for h in _env_text("METERDESK_MAIL_TRUSTED_HOSTS").split(",") if h.strip()
]
METERDESK_MAIL_ANSWERS_PER_HOUR = _env_int("METERDESK_MAIL_ANSWERS_PER_HOUR")
METERDESK_MAIL_ANSWER_LEASE = max(1, _env_int("METERDESK_MAIL_ANSWER_LEASE"))
METERDESK_MAIL_IMAP_URL = _env("METERDESK_MAIL_IMAP_URL").strip() or None
METERDESK_MAIL_IMAP_INTERVAL = max(1, _env_int("METERDESK_MAIL_IMAP_INTERVAL"))
# --- end of readings by e-mail ----------------------------------------------------------------

# --- the phone line (meterdesk.phone, docs/phone.md) -------------------------------------------
METERDESK_IVR_OPERATOR = _env_text("METERDESK_IVR_OPERATOR")
METERDESK_IVR_OPERATOR_HOURS = _env_text("METERDESK_IVR_OPERATOR_HOURS")
METERDESK_IVR_PROMPTS = _env_text("METERDESK_IVR_PROMPTS") or None
METERDESK_IVR_SPEECH = [e.strip().lower() for e in _env_text("METERDESK_IVR_SPEECH").split(",") if e.strip()]
METERDESK_IVR_VOSK_MODEL = _env_text("METERDESK_IVR_VOSK_MODEL") or None
METERDESK_SITE_URL = _env_text("METERDESK_SITE_URL").rstrip("/")
METERDESK_SMS_BACKEND = _env_text("METERDESK_SMS_BACKEND").lower()
METERDESK_SMS_URL = _env_text("METERDESK_SMS_URL")
METERDESK_SMS_API_KEY = _env_text("METERDESK_SMS_API_KEY")
METERDESK_SMS_SENDER = _env_text("METERDESK_SMS_SENDER")
METERDESK_SMS_PER_DAY = _env_int("METERDESK_SMS_PER_DAY")
METERDESK_PAY_LINK_DAYS = _env_int("METERDESK_PAY_LINK_DAYS")
METERDESK_NOTIFY_QUIET_HOURS = _env_text("METERDESK_NOTIFY_QUIET_HOURS")
METERDESK_SCHEDULE_OFF = _env_text("METERDESK_SCHEDULE_OFF")
# The office terminal (meterdesk.terminal, docs/terminal.md).
METERDESK_TERMINAL_IDLE_SECONDS = max(15, _env_int("METERDESK_TERMINAL_IDLE_SECONDS"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _env_text("METERDESK_LOG_LEVEL").upper()},
    "loggers": {"axes": {"level": "WARNING"}},
}
