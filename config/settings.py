"""Settings read from the environment (django-environ), with embedded defaults for a fresh machine.

Every default works without a server: SQLite under ``var/`` and kombu's filesystem transport as
Celery broker. Production points ``DATABASE_URL`` at MySQL/MariaDB and ``CELERY_BROKER_URL`` at
Redis or RabbitMQ (see docs/deploy.md).
"""

from __future__ import annotations

import copy
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ

from config.dotenv import env_file_path
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
# ``make run``'s ``.env`` (config/dotenv.py): read unless the test suite is running; the
# environment wins over the file (read_env only sets what is not set).
_ENV_FILE = env_file_path()
if _ENV_FILE is not None and _ENV_FILE.is_file() and "pytest" not in sys.modules:
    environ.Env.read_env(str(_ENV_FILE))
VAR_DIR = Path(environ.Env().str("TALLY_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# The test suite (pytest, or TALLY_TESTING=1 for mypy and tools) needs no secrets and talks plain
# HTTP; anything that serves requests with DEBUG off does (docs/security.md).
_testing = "pytest" in sys.modules or env.bool("TALLY_TESTING", default=False)
TALLY_TEST_RUN = _testing


def _required_secret(name: str, *, debug_default: str, test_default: str) -> str:
    """A secret that must come from the environment when DEBUG is off (ImproperlyConfigured)."""
    if DEBUG:
        return env.str(name, default=debug_default)
    value = env.str(name, default="")
    if not value and not _testing:
        raise environ.ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    return value or test_default


SECRET_KEY = _required_secret(
    "SECRET_KEY", debug_default="insecure-development-key-only-for-debug", test_default="test-only-secret-key"
)
TESTING = _testing
CELERY_BROKER_URL_ENV = env.str("CELERY_BROKER_URL", default="filesystem://")

# --- Transport security: secure by default when DEBUG is off (docs/security.md) ----------------
_secure = not DEBUG and not _testing
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_secure)
# A load balancer probes the backend over plain HTTP; /healthz carries nothing secret.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_secure)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_secure)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_secure)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_secure)
# Opt-in, only behind a TLS-terminating proxy that sets (and strips from clients) the header, e.g.
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_header and (len(_proxy_header) != 2 or not all(_proxy_header)):
    raise environ.ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be HEADER,value")
SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1]) if _proxy_header else None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "drf_spectacular_sidecar",
    "axes",
    "plans",
    "billing",
    "usage",
    "orders",
    "ops",
]

MIDDLEWARE = [
    "config.metrics.MetricsMiddleware",  # first: it times everything below it
    "config.api.middleware.RequestIdMiddleware",
    # Around everything that touches the database: marks replica reads, pins a client that wrote.
    "config.replica.ReplicaReadsMiddleware",
    "config.api.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.admin_time.AdminLocalTimeMiddleware",  # the admin shows TALLY_TIME_ZONE, the API UTC
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.api.middleware.ApiErrorEnvelopeMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Admin login lockout (django-axes, issue 14.3) ----------------------------------------------
# AxesStandaloneBackend first refuses a locked-out login; ModelBackend authenticates.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Locked per (username, IP) pair: an attacker elsewhere cannot lock a real user out of their office.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_IPWARE_PROXY_COUNT = env.int("THROTTLE_NUM_PROXIES", default=0) or None
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"tally_admin": "config.templatetags.tally_admin"},
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tally.sqlite3'}")}
_db = DATABASES["default"]
if "sqlite" in _db["ENGINE"]:
    # Writers queue on the IMMEDIATE lock instead of failing with "database is locked"; WAL lets
    # readers go on while a worker writes. This keeps the money rules true on the embedded default.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        }
    )
elif "mysql" in _db["ENGINE"]:
    # READ COMMITTED: fewer gap locks (fewer deadlocks under concurrent charges) and pollers see
    # other transactions' commits. Every read-modify-write of money holds a row lock anyway.
    _db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "isolation_level": "read committed"})
    # Django's backend with START TRANSACTION for atomic() (one round trip less: the module says why)
    _db["ENGINE"] = "config.mysql_backend"
    _db.setdefault("TEST", {}).update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})
    _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# Read replica (issue 21.5, docs/scaling.md): reports, lists and the admin's read-only pages read
# from DATABASE_REPLICA_URL when it is set (config/replica.py); a request that wrote, and its
# client for REPLICA_PIN_SECONDS afterwards, read the primary. The test suite always has the alias,
# as a TEST MIRROR of default, with REPLICA_READS off unless a test turns it on.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL or _testing:
    _replica = env.db("DATABASE_REPLICA_URL") if DATABASE_REPLICA_URL else copy.deepcopy(_db)
    _replica.setdefault("OPTIONS", {}).update(copy.deepcopy(_db.get("OPTIONS", {})))
    _replica["CONN_MAX_AGE"] = _db.get("CONN_MAX_AGE", 0)
    if "mysql" in _replica["ENGINE"]:
        _replica["ENGINE"] = "config.mysql_backend"
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = _replica
REPLICA_READS = bool(DATABASE_REPLICA_URL)
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=10)
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- I18N / time -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]  # dates as 2026-12-01, times with the zone named (admin)
TALLY_TIME_ZONE = env.str("TALLY_TIME_ZONE", default="Asia/Shanghai")
TALLY_CURRENCY = env.str("TALLY_CURRENCY", default="CNY")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS: list[Path] = []

# --- REST framework ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.throttling.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only in production; the browsable API (HTML forms, session-authenticated) with DEBUG.
    "DEFAULT_RENDERER_CLASSES": [
        "config.api.envelope.EnvelopeJSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.negotiation.JsonForBrowsersNegotiation",
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.DecimalJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageSizePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema_tags.TallyAutoSchema",  # one tag per area
    "EXCEPTION_HANDLER": "config.api.envelope.envelope_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": (
        ["config.api.throttling.TallyThrottle"] if env.bool("THROTTLE_ENABLED", default=True) else []
    ),
    # Proxies in front whose X-Forwarded-For is trusted for the client IP (0: REMOTE_ADDR).
    "NUM_PROXIES": env.int("THROTTLE_NUM_PROXIES") if env.str("THROTTLE_NUM_PROXIES", default="") else None,
}

# --- Cache and throttling (issue 14.3) ---------------------------------------------------------
# A cache every worker shares: CACHE_URL if given, else the Redis broker, else local memory (the
# embedded single-machine default, where each process counts on its own).
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif CELERY_BROKER_URL_ENV.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CELERY_BROKER_URL_ENV,
            "KEY_PREFIX": "tally",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TALLY_THROTTLE_CACHE = "default"
TALLY_THROTTLE_KEY_PREFIX = env.str("THROTTLE_KEY_PREFIX", default="v1")
# Rates as "N/s|min|hour|day". The test suite runs with rates no test reaches (tests/config/
# test_throttling.py sets its own); a deployment gets the production defaults.
_THROTTLE_DEFAULTS = (
    {"user": "1000000/min", "anon": "1000000/min", "internal": "1000000/min"}
    if TESTING
    else {"user": "1200/min", "anon": "120/min", "internal": "120000/min"}
)
TALLY_THROTTLE_RATES = {
    "user": env.str("THROTTLE_RATE_USER", default=_THROTTLE_DEFAULTS["user"]),
    "anon": env.str("THROTTLE_RATE_ANON", default=_THROTTLE_DEFAULTS["anon"]),
    "internal": env.str("THROTTLE_RATE_INTERNAL", default=_THROTTLE_DEFAULTS["internal"]),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tally API",
    "DESCRIPTION": (
        "Orders, subscriptions and billing. Every response is the envelope "
        "`{code, msg, data}`; see the error-code catalogue in the `x-error-codes` extension."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from the drf-spectacular-sidecar package, not a CDN: /api/docs/ works
    # offline and pins the UI's version with the rest of the dependencies.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # API clients authenticate with a token; the session (browsable API, admin) is not an API
    # contract, and two alternative schemes confuse clients and schemathesis' auth check alike.
    "AUTHENTICATION_WHITELIST": ["config.api.throttling.ThrottledTokenAuthentication"],
    # One name per choice set (without them the schema check warns, and check --deploy with it).
    "ENUM_NAME_OVERRIDES": {
        "PlanStatusEnum": "plans.models.PlanStatus",
        "VehicleOrderTypeEnum": "orders.vehicle.models.VehicleOrderType",
        "VehicleOrderStateEnum": "orders.vehicle.models.VehicleOrderState",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_catalogue",
        "config.api.schema.wrap_responses_in_envelope",
        "config.api.schema.one_of_without_discriminator_is_any_of",
        "config.api.examples.add_examples",  # after the envelope: examples are whole responses
    ],
}

# --- Request size (issue 14) -------------------------------------------------------------------
# One limit for every API body (413 in the envelope), larger where a batch needs it: 1000 meter
# events of at most ~450 bytes each (ids of 100 characters, escaped) fit in 1 MiB.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
API_BODY_LIMITS = {
    "/api/v1/meter-events": env.int("API_METER_EVENTS_MAX_BODY_BYTES", default=1024 * 1024),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = max([API_MAX_BODY_BYTES, *API_BODY_LIMITS.values()])

# --- Celery ------------------------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
for _sub in ("out", "processed", "control"):
    (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
# With a host: ``filesystem://`` alone makes kombu warn "No hostname was supplied" at every start.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TALLY_TIME_ZONE
# django-celery-beat's DatabaseScheduler, writing its rows from the code at start (config/beat.py)
CELERY_BEAT_SCHEDULER = "config.beat:TallyScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Tally --------------------------------------------------------------------------------------
# The published development secret (README): it verifies callbacks only with DEBUG on.
DEV_CALLBACK_SECRET = "dev-callback-secret"  # noqa: S105 - published on purpose, refused in production
PAYMENT_CALLBACK_SECRET = _required_secret(
    "PAYMENT_CALLBACK_SECRET", debug_default=DEV_CALLBACK_SECRET, test_default="test-only-callback-secret"
)
if not DEBUG and not _testing and PAYMENT_CALLBACK_SECRET == DEV_CALLBACK_SECRET:
    raise environ.ImproperlyConfigured("PAYMENT_CALLBACK_SECRET must not be the published development secret")
# The sandbox payment method and its pay page (/sandbox/pay/<id>) credit money nobody paid: on with
# DEBUG (and in the test suite), off otherwise unless enabled explicitly (manage.py check warns).
PAYMENT_SANDBOX_ENABLED = env.bool("PAYMENT_SANDBOX_ENABLED", default=DEBUG or _testing)
# ``manage.py load_demo`` creates logins with published passwords and a funded wallet: on with DEBUG
# (and in the test suite), refused otherwise unless enabled explicitly (check --deploy errors on
# demo logins that still sign in).
DEMO_DATA_ENABLED = env.bool("DEMO_DATA_ENABLED", default=DEBUG or _testing)
# Older secrets still accepted while a rotation is under way (comma separated).
PAYMENT_CALLBACK_OLD_SECRETS = env.list("PAYMENT_CALLBACK_OLD_SECRETS", default=[])
PAYMENT_SERVICE_URL = env.str("PAYMENT_SERVICE_URL", default="")
PAYMENT_DEFAULT_PROVIDER = env.str("PAYMENT_DEFAULT_PROVIDER", default="sandbox")
# Pay links and callbacks point at this server: it follows PORT unless set (``PORT=8833 make run``).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{env.str('PORT', default='8000')}")
PLAN_SERVICE_URL = env.str("PLAN_SERVICE_URL", default="")
PLAN_SYNC_HOURS = env.int("PLAN_SYNC_HOURS", default=3)
PLAN_SYNC_RETRIES = env.int("PLAN_SYNC_RETRIES", default=3)
PLAN_SYNC_BACKOFF_SECONDS = env.float("PLAN_SYNC_BACKOFF_SECONDS", default=1.0)
NOTIFY_URL = env.str("NOTIFY_URL", default="")
# Signs every notification (docs/notifications.md). Required with a NOTIFY_URL when DEBUG is off: a
# receiver must be able to tell Tally's posts from anyone's.
NOTIFY_SECRET = env.str("NOTIFY_SECRET", default="dev-notify-secret" if DEBUG or _testing else "")
if NOTIFY_URL and not NOTIFY_SECRET:
    raise environ.ImproperlyConfigured("NOTIFY_SECRET must be set when NOTIFY_URL is set and DEBUG is off")
HTTP_TIMEOUT_SECONDS = env.float("HTTP_TIMEOUT_SECONDS", default=5.0)
RENEWAL_LEAD = timedelta(days=env.int("RENEWAL_LEAD_DAYS", default=7))
RENEWAL_GRACE = timedelta(days=env.int("RENEWAL_GRACE_DAYS", default=7))
IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48))
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=30.0)
# A `running` Idempotency-Key is leased this long to the request doing the work (a few times the
# longest request: gunicorn's --timeout is 60 s); after that a retry takes the key over.
IDEMPOTENCY_LEASE_SECONDS = env.float("IDEMPOTENCY_LEASE_SECONDS", default=300.0)
BILLING_CHUNK_SIZE = env.int("BILLING_CHUNK_SIZE", default=200)
# check-quota answers from a cache every write retires on commit (billing.quota_cache): entries live
# this long in each process's local memory (0: no cache), and the SHARED figure on a shared Redis.
BILLING_CHECK_CACHE_SECONDS = env.float("BILLING_CHECK_CACHE_SECONDS", default=2.0)
BILLING_CHECK_CACHE_SHARED_SECONDS = env.float("BILLING_CHECK_CACHE_SHARED_SECONDS", default=60.0)
# How long a process remembers a namespace's account id for check-quota on a shared Redis, where a
# token renewed by every account rename or delete retires it at once (10 s on local memory).
BILLING_NAMESPACE_CACHE_SHARED_SECONDS = env.float("BILLING_NAMESPACE_CACHE_SHARED_SECONDS", default=600.0)
# A meter event of a period already billed is accepted while its timestamp is at most this many days
# old and billed as a correction (docs/package-orders.md, "Late and voided events"); older: refused.
METER_EVENT_LATENESS_DAYS = env.int("METER_EVENT_LATENESS_DAYS", default=35)
# Balance and runway alerts (docs/notifications.md): the deployment defaults of every account
# without its own threshold (0 = off), and how often beat evaluates them.
BALANCE_ALERT_BELOW = Decimal(env.str("BALANCE_ALERT_BELOW", default="0"))
RUNWAY_ALERT_DAYS = env.int("RUNWAY_ALERT_DAYS", default=7)
BALANCE_ALERTS_EVERY_SECONDS = env.int("BALANCE_ALERTS_EVERY_SECONDS", default=600)
STATEMENT_NUMBER_PREFIX = env.str("STATEMENT_NUMBER_PREFIX", default="TLY")
STATEMENT_CHUNK_SIZE = env.int("STATEMENT_CHUNK_SIZE", default=500)
STATEMENT_WORKERS = env.int("STATEMENT_WORKERS", default=2)
STATEMENT_SWEEP_WINDOW = timedelta(days=env.int("STATEMENT_SWEEP_DAYS", default=40))
# Page bookmarks of an owner's vehicle order list (docs/vehicle-orders.md, B5): one every N rows,
# kept in the cache at most this many seconds (what bounds a set whose forget was lost).
VEHICLE_LIST_BOOKMARK_EVERY = env.int("VEHICLE_LIST_BOOKMARK_EVERY", default=1000)
VEHICLE_LIST_BOOKMARK_SECONDS = env.int("VEHICLE_LIST_BOOKMARK_SECONDS", default=600)

# --- Logging ------------------------------------------------------------------------------------
# Plain lines for ``make run``; LOG_FORMAT=json for a log pipeline (config/logs.py). Celery's
# worker keeps this configuration instead of installing its own, so task lines carry request ids.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
# GET /metrics (Prometheus): a bearer token, or a client inside these networks (docs/deploy.md).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"), fmt=LOG_FORMAT)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Beat sends ops.heartbeat this often; /healthz calls the worker stale when the last answer is
# older than TALLY_HEARTBEAT_STALE_SECONDS (docs/deploy.md, "Health").
TALLY_HEARTBEAT_SECONDS = env.int("TALLY_HEARTBEAT_SECONDS", default=30)
TALLY_HEARTBEAT_STALE_SECONDS = env.int("TALLY_HEARTBEAT_STALE_SECONDS", default=120)
TALLY_JOB_RUN_RETENTION_DAYS = env.int("TALLY_JOB_RUN_RETENTION_DAYS", default=30)
