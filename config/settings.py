"""One settings module, read from the environment, with safe local defaults.

Locally almost nothing needs setting: SQLite in the project folder, tasks run eagerly. DEBUG is
off unless the environment turns it on (R-SEC-1): `make run` and the tests (tests/settings.py) set
DEBUG=1 themselves, and manage.py does for its other commands on a checkout with neither DEBUG nor
SECRET_KEY set. With DEBUG off SECRET_KEY is required. Production sets DATABASE_URL (PostgreSQL),
CELERY_BROKER_URL (Redis), SECRET_KEY and ALLOWED_HOSTS; every variable: README.md, "Production
settings".
"""

import datetime as dt
import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)  # R-SEC-1: no debug page unless explicitly on
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off (for local development set DEBUG=1).")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"
# SPEC §15 (admissions/chain.py): the key of the decisions' keyed chain (R-VER-1), `id:secret`,
# and the bureau's Ed25519 checkpoint key (R-VER-3), `id:base64 private key`; several, comma-separated,
# newest first, to rotate. Unset, both are derived from SECRET_KEY (local use; `check --deploy` warns).
DECISION_CHAIN_KEY = os.environ.get("DECISION_CHAIN_KEY", "")
CHECKPOINT_SIGNING_KEY = os.environ.get("CHECKPOINT_SIGNING_KEY", "")
# R-SEC-8: the keys lookup codes are hashed with, newest first (comma-separated); the current
# SECRET_KEY is always tried last, so codes hashed before the upgrade keep working and are re-hashed
# under the newest key when next used (admissions/services/applications.py).
LOOKUP_CODE_KEYS = env_list("LOOKUP_CODE_KEYS", "")
# R-CHG-3: the day re-confirmation took effect (ISO date). The first asks are due no earlier than 30 days
# later, spread over the 30 days after that by reference, so the city's families are not all asked at once.
RECONFIRMATION_IN_FORCE_FROM = os.environ.get("RECONFIRMATION_IN_FORCE_FROM", "2026-12-07")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Our apps, lowest first: each may import only the ones above it.
    "core",  # no models: errors, actor, the service-form base
    "facilities",
    "assessments",
    "admissions",
    "api",
    "web",  # the pages (staff and the families' portal), beside api: neither imports the other
    "simulation",  # planning tools on top of everything; nothing imports it
    "axes",  # staff login throttling (R-SEC-2): config/staff_login.py
]

MIDDLEWARE = [
    "config.https.ForwardedProtoMiddleware",  # before anything asks request.is_secure()
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.RequestSizeLimitMiddleware",
    "config.malformed_input.MalformedInputMiddleware",  # NUL, lone surrogates, deep JSON: 400 (R-SEC-1)
    "config.busy.DatabaseBusyMiddleware",  # a lock wait that ran out: 503 with Retry-After, not 500
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "api.middleware.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (R-SEC-6)
    "config.staff_login.StaffSessionTimeoutMiddleware",  # 8 hours, 30 idle minutes (R-SEC-2)
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.staff_menu",
                "web.context_processors.neutral_path",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite is a first-class default. IMMEDIATE transactions take the write lock at BEGIN, so two
# writers queue up instead of one failing with "database is locked" half-way through; the busy
# timeout is how long the second one waits.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
# R-VER-5: on PostgreSQL the application connects as a role that does not own the tables
# (DATABASE_URL); the commands that change the schema or the grants connect as the owner
# (DATABASE_OWNER_URL), so `python manage.py migrate` needs no other setting.
DATABASE_OWNER_URL = os.environ.get("DATABASE_OWNER_URL", "")
OWNER_COMMANDS = {"migrate", "db_roles", "createcachetable"}
if DATABASE_OWNER_URL and len(sys.argv) > 1 and sys.argv[1] in OWNER_COMMANDS:
    DATABASE_URL = DATABASE_OWNER_URL
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # mmap: pages are read from the shared OS cache without a system call each; every request
        # opens a new connection (CONN_MAX_AGE 0), whose own page cache starts empty (issue 7 bench:
        # a queue count 23 → 11 ms at 100,000 applications).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=268435456;",
    }
else:
    # No parallel workers for one query: a web request's queries are small (one home's queue), and
    # starting workers cost more than they saved (the queue page's query 25 → 5 ms; issue 7 bench).
    DATABASES["default"]["OPTIONS"] = {"options": "-c max_parallel_workers_per_gather=0"}
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
REDIS_CACHE_URL = os.environ.get("REDIS_CACHE_URL", "")
if REDIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "config.redis_cache.ReusingRedisCache", "LOCATION": REDIS_CACHE_URL}}
else:
    # The database cache: shared by every process of one installation, so the public lookup's
    # rate limits (R-PUB-2) hold across gunicorn workers without Redis. Its table comes with `migrate`
    # (admissions/migrations/0012_cache_table.py).
    # MAX_ENTRIES high: the default 300 would cull lockout counters under a flood of lookups.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_table",
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }

# --- Auth -------------------------------------------------------------------------------------
# Staff login and sessions (R-SEC-2): config/staff_login.py says why each number is what it is.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "config.staff_login.LoginThrottleHandler"  # 5 per username or 20 per address
AXES_FAILURE_LIMIT = 5  # the username's limit; the handler scales the address's count to it
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, in this order
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)  # the window counted, and how long a lockout lasts
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # refused attempts do not lengthen the lockout
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.staff_login.lockout_response"  # the login page, 429, when to try again
AXES_CLIENT_IP_CALLABLE = "config.proxies.client_address"  # TRUSTED_PROXIES decides (R-SEC-4)
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_VERBOSE = False
SESSION_COOKIE_AGE = 8 * 60 * 60  # staff sessions end after 8 hours; 30 idle minutes: the middleware
STAFF_SESSION_LIMITS = True  # config.staff_login.StaffSessionTimeoutMiddleware: 8 hours, 30 idle minutes
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "staff:dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date format per language (issue 15): config/formats/<language>/formats.py; shown through
# core.dates in Python and the DATE_FORMAT / DATETIME_FORMAT names in templates.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"  # never served publicly: evidence files are for staff only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Celery ------------------------------------------------------------------------------------
# Without a broker every task runs inline, so `make run` and the tests need nothing running.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_IGNORE_RESULT = True

# Where webhooks may be sent (host names, comma-separated); empty: anywhere the subscriber names.
WEBHOOK_ALLOWED_HOSTS = [h.lower() for h in env_list("WEBHOOK_ALLOWED_HOSTS", "")]
# The first retry of a failed webhook or notification, in seconds (then doubling, at most an hour).
# 30 in production; the real-worker tests (tests/background) make it 1.
WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", "30"))

# --- Notifications: SMS and email (admissions/notify_backends.py) ------------------------------
# SMS: `console` logs the notification's id and kind only (never the phone or the text);
# `http` POSTs {to, text, template} as JSON to SMS_GATEWAY_URL, with SMS_GATEWAY_KEY as bearer token.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_KEY = os.environ.get("SMS_GATEWAY_KEY", "")
SMS_TEMPLATE = os.environ.get("SMS_TEMPLATE", "")
SMS_GATEWAY_TIMEOUT = float(os.environ.get("SMS_GATEWAY_TIMEOUT", "10"))  # seconds, per connect/send/read
if SMS_BACKEND not in ("console", "http"):
    raise RuntimeError("SMS_BACKEND must be `console` or `http`.")
if SMS_BACKEND == "http" and not SMS_GATEWAY_URL:
    raise RuntimeError("SMS_GATEWAY_URL must be set when SMS_BACKEND is `http`.")
# Email: any Django email backend; the console one while DEBUG is on, SMTP otherwise.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds per SMTP command: a server that hangs is a failed attempt, tried again later. It also
# sets how long a sending worker holds a notification (admissions/services/notifications.py).
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")
# --- end of notifications -------------------------------------------------------------------------

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}


def _api_introduction() -> str:
    """The docs page's introduction (tokens, Idempotency-Key, errors), kept beside the schema code."""
    from api.schema import INTRODUCTION  # api.schema imports nothing of Django's settings

    return INTRODUCTION.strip()


SPECTACULAR_SETTINGS = {
    "TITLE": "Care-home waiting list API",
    "VERSION": "1.0.0",
    "DESCRIPTION": _api_introduction(),
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several serializers have a field `state` with different choices; the re-review's gets its own
    # name rather than a numbered one (a warning fails `make check`).
    "ENUM_NAME_OVERRIDES": {"ReviewRequestStateEnum": "admissions.models.ReviewRequestState"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problem_responses",
        "api.schema.add_summaries",
    ],
}

# --- Security when deployed ------------------------------------------------------------------------
# The reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks, comma-separated);
# empty: none, the client is REMOTE_ADDR (R-SEC-4, config/proxies.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
# R-SEC-6: they alone are believed about X-Forwarded-Proto too (config/https.py).
# SECURE_SSL=1 where the site is served over HTTPS (directly or behind TRUSTED_PROXIES that say so in
# X-Forwarded-Proto): plain HTTP is redirected, HSTS tells browsers to use HTTPS only, cookies are
# sent over HTTPS only. `manage.py check --deploy` is clean with it (tests/config/test_production_run.py).
SECURE_SSL = env_bool("SECURE_SSL", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL or (not DEBUG and env_bool("SECURE_COOKIES", True))
if SECURE_SSL:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes inside the network speak plain HTTP
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 60 * 60)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Believed only from TRUSTED_PROXIES: config.https.ForwardedProtoMiddleware drops it otherwise.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp): scripts, styles, images and fonts from this server only; no
# inline script or style, no eval, no plugins, not framed. `data:` images: the API docs' icons.
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
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"


# --- Logging: to stdout; ID numbers never logged (SPEC §10) -----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes: a line per failed login (username and address) is kept; its INFO chatter is not.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Demo accounts (seed_demo): the password comes from the environment; a printed default otherwise.
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "")

# --- Personal data (SPEC §16) ------------------------------------------------------------------
# R-PRIV-3: the keys of the keyed hash that replaces an anonymised person's ID number, newest first,
# as "key-id:key,…". Keep every older key listed while hashes made with it may exist: the bar and
# the refusal count of a person who applies again are found through it. Unset: one key derived from
# SECRET_KEY (key id "secret-key"), which then must not be rotated without listing it here.
ID_NUMBER_HASH_KEYS = [tuple(item.split(":", 1)) for item in env_list("ID_NUMBER_HASH_KEYS", "") if ":" in item] or [
    ("secret-key", SECRET_KEY)
]
# R-PRIV-2: error reports (the technical 500 page, the administrators' email) mask personal data
# (admissions.privacy_filters); R-SEC-1: and settings named *URL* (DATABASE_URL carries a password).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.ReporterFilter"
