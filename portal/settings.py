"""Settings of the authority portal, read from the environment.

Two modes. ``PORTAL_MODE=development`` (the default) runs on embedded defaults: SQLite,
Celery tasks run eagerly in-process, console email, sealed files in ./var. ``PORTAL_MODE=
production`` has no defaults for secrets or services: each one that is missing stops the
start with an ``ImproperlyConfigured`` naming the variable. Every variable is documented
in ``.env.example``.
"""

import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

PORTAL_MODE = env.str("PORTAL_MODE", default="development")
if PORTAL_MODE not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"PORTAL_MODE must be 'development' or 'production', not {PORTAL_MODE!r}."
    )
PRODUCTION = PORTAL_MODE == "production"


def required(name: str, dev_default: str, *, cast=str):
    """Read a setting that production must supply; development falls back to a default."""
    if PRODUCTION:
        value = env.str(name, default="")
        if not value:
            raise ImproperlyConfigured(
                f"{name} is not set. Production mode (PORTAL_MODE=production) has no default "
                f"for it; see .env.example."
            )
        return cast(value)
    return cast(env.str(name, default=dev_default))


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


DEBUG = env.bool("DJANGO_DEBUG", default=False) and not PRODUCTION

# A fixed development key: it protects nothing of value, and production refuses to start
# without SECRET_KEY.
SECRET_KEY = required(
    "SECRET_KEY", "development-only-key-never-used-in-production-0123456789abcdefghijkl"
)

ALLOWED_HOSTS = required("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver", cast=_csv)

# The portal's own origin: the audience of signed submissions and the WebAuthn origin.
# WebAuthn needs a host name, not an IP address: development uses localhost, on the port
# `make run` serves (PORT, 8000 by default) unless PORTAL_AUDIENCE says otherwise.
PORTAL_AUDIENCE = required(
    "PORTAL_AUDIENCE", f"http://localhost:{env.int('PORT', default=8000)}"
).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "portal",
    "accounts",
    "requests_app",
    "requests_app.transparency",
    "project",
]
# The demonstration directory is an app of development and tests only: a production
# database has none of its tables (docs/platform-data-source.md). PORTAL_DEMO_SOURCE=false
# leaves it out of a development process too (a test migrates a database as production).
DEMO_SOURCE = env.bool("PORTAL_DEMO_SOURCE", default=True) and not PRODUCTION
if DEMO_SOURCE:
    INSTALLED_APPS.append("requests_app.demo_source")

MIDDLEWARE = [
    # First: refuses an oversized body before anything (the CSRF check included) reads it.
    "portal.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.AccountStandingMiddleware",
    "accounts.middleware.PreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "project.navigation.navigation",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url_config(
        required("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'portal.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes a writing transaction take SQLite's write lock at BEGIN: writers
    # commit in the order they began, which the audit sequencer relies on there.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg's own default, which Django turns off: without a threshold psycopg prepares
    # nothing. The ORM binds its parameters on the client and is never prepared whatever
    # this says; portal.compiled runs its few per-request reads prepared (and the queue's
    # count of the states), and asks for that (a pooler in transaction mode must keep
    # prepared statements: README, "Running it in production").
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Passwords and sessions ------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

# --- Second factors ------------------------------------------------------------------
OTP_TOTP_ISSUER = "Authority portal"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# Should a device admin ever be registered again, it shows no secret (accounts/admin.py).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
OTP_WEBAUTHN_RP_ID = urlsplit(PORTAL_AUDIENCE).hostname or "localhost"
OTP_WEBAUTHN_RP_NAME = "Authority portal"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [PORTAL_AUDIENCE]
# Password first, then the passkey: never a passkey alone.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
# Lockouts (accounts/services/throttle.py), each within LOCKOUT_MINUTES: an account is
# locked from one address after LOCKOUT_ACCOUNT_FAILURES failures from it; an address for
# every account after LOCKOUT_ADDRESS_FAILURES; an account everywhere (passkeys excepted)
# once its failures come from LOCKOUT_ACCOUNT_ADDRESSES distinct addresses.
LOCKOUT_ACCOUNT_FAILURES = env.int("LOCKOUT_ACCOUNT_FAILURES", default=5)
LOCKOUT_ADDRESS_FAILURES = env.int("LOCKOUT_ADDRESS_FAILURES", default=20)
LOCKOUT_ACCOUNT_ADDRESSES = env.int("LOCKOUT_ACCOUNT_ADDRESSES", default=5)
LOCKOUT_MINUTES = env.int("LOCKOUT_MINUTES", default=15)
# How many reverse proxies in front of the portal append to X-Forwarded-For (0: none).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# How long a mailbox-verification link stays valid.
MAILBOX_LINK_HOURS = env.int("MAILBOX_LINK_HOURS", default=24)
# How long a password-reset link stays valid (Django's token generator reads this).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_MINUTES", default=60) * 60

# Idle timeout: the session expires SESSION_IDLE_MINUTES after the last request.
SESSION_COOKIE_AGE = int(
    timedelta(minutes=env.int("SESSION_IDLE_MINUTES", default=30)).total_seconds()
)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# The refusal in the portal's layout (Django's own page has an inline style the CSP blocks).
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"

# --- Transport security ------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=63072000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # __Host- cookies: Secure, Path=/, no Domain, so no sibling host can set or read them.
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-portal_session"
    CSRF_COOKIE_NAME = "__Host-portal_csrf"
    CSRF_TRUSTED_ORIGINS = [PORTAL_AUDIENCE]
else:
    SESSION_COOKIE_NAME = "portal_session"
    CSRF_COOKIE_NAME = "portal_csrf"

# Content Security Policy, by Django's own middleware: no inline scripts or styles,
# nothing from another origin.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    # No CSP.NONCE: every script is a file from this origin, which 'self' allows. An inline
    # script would need it back (and the template tag {{ csp_nonce }} on the script).
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "/static/"
# collectstatic writes here for production; development serves from the finders.
STATIC_ROOT = (
    env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")) if PRODUCTION else None
)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env.str("SEALED_STORAGE_DIR", default=str(BASE_DIR / "var" / "sealed"))
        },
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Email (Django 6.1 mailers) ---------------------------------------------------------------
if PRODUCTION:
    _email = env.email_url_config(required("EMAIL_URL", ""))
    # The connection options are the SMTP backend's; Django 6.1 refuses them for any other
    # backend (consolemail://, filemail://), which would break every email at send time.
    _smtp = _email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    MAILERS = {
        "default": {
            "BACKEND": _email["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _email.get("EMAIL_HOST", ""),
                "port": _email.get("EMAIL_PORT", 25),
                "username": _email.get("EMAIL_HOST_USER", ""),
                "password": _email.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": bool(_email.get("EMAIL_USE_TLS", False)),
                "use_ssl": bool(_email.get("EMAIL_USE_SSL", False)),
                "timeout": 20,
            }
            if _smtp
            else {},
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")

# --- Audit log (docs/audit-log.md) --------------------------------------------------------
# Seconds between runs of the sequencer (Celery beat), which puts committed events into
# the Merkle tree and signs a tree head; events it has not taken after
# AUDIT_SEQUENCE_ALARM_SECONDS fail verify_audit. At most AUDIT_SEQUENCE_BATCH events
# per transaction.
AUDIT_SEQUENCER_SECONDS = env.int("AUDIT_SEQUENCER_SECONDS", default=5)
AUDIT_SEQUENCE_ALARM_SECONDS = env.int("AUDIT_SEQUENCE_ALARM_SECONDS", default=3600)
AUDIT_SEQUENCE_BATCH = env.int("AUDIT_SEQUENCE_BATCH", default=50000)
# The newest signed head is time-stamped and sent to the witnesses at most this often.
AUDIT_PUBLISH_INTERVAL_SECONDS = env.int("AUDIT_PUBLISH_INTERVAL_SECONDS", default=300)
# Optional RFC 3161 time-stamping authority for tree heads, and the PEM file of the
# certificates its answers must chain to (required with the URL).
AUDIT_TSA_URL = env.str("AUDIT_TSA_URL", default="")
AUDIT_TSA_CA_FILE = env.str("AUDIT_TSA_CA_FILE", default="")
if AUDIT_TSA_URL and not AUDIT_TSA_CA_FILE:
    raise ImproperlyConfigured(
        "AUDIT_TSA_URL is set but AUDIT_TSA_CA_FILE is not: the time-stamping authority's "
        "answers cannot be checked without the certificates they must chain to."
    )
# Witnesses that receive each published tree head: addresses (mail) and URLs (a POST of
# the signed head as JSON, retried with backoff), comma-separated.
AUDIT_WITNESS_EMAILS = env.list("AUDIT_WITNESS_EMAILS", default=[])
AUDIT_WITNESS_WEBHOOKS = env.list("AUDIT_WITNESS_WEBHOOKS", default=[])

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = required("CELERY_BROKER_URL", "")
# Without a broker (development), tasks run eagerly in-process, still after commit.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_IMPORTS = [
    "requests_app.delivery.tasks",
    "requests_app.review.tasks",
    "requests_app.transparency.tasks",
]
CELERY_BEAT_SCHEDULE = {
    "audit-sequence": {
        "task": "portal.tasks.audit_sequence",
        "schedule": timedelta(seconds=AUDIT_SEQUENCER_SECONDS),
        # A run that waited in the queue past the next one is useless: drop it.
        "options": {"expires": AUDIT_SEQUENCER_SECONDS},
    },
    "verify-audit-chain": {
        "task": "portal.tasks.audit_chain_verify",
        "schedule": timedelta(hours=1),
    },
    "seal-pending-disclosures": {
        "task": "requests_app.delivery.seal_pending",
        "schedule": timedelta(minutes=2),
    },
    "deadline-reminders": {
        "task": "requests_app.review.tasks.deadline_reminders",
        "schedule": timedelta(minutes=10),
    },
    "preservation-reminders": {
        "task": "requests_app.review.tasks.preservation_reminders",
        "schedule": timedelta(hours=1),
    },
    "user-notices-sweep": {
        "task": "requests_app.review.tasks.user_notices_sweep",
        "schedule": timedelta(hours=1),
    },
    "purge-expired-responses": {
        "task": "requests_app.delivery.purge_expired",
        "schedule": timedelta(hours=1),
    },
    "purge-orphan-sealed-files": {
        "task": "requests_app.delivery.purge_orphans",
        "schedule": timedelta(hours=6),
    },
    "purge-expired-registrations": {
        "task": "accounts.tasks.registrations_expired_purge",
        "schedule": timedelta(hours=1),
    },
    # Reads fold what is pending first; this keeps that little (transparency/rollups.py).
    "transparency-rollups-fold": {
        "task": "requests_app.transparency.tasks.rollups_fold",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    # Each run sends only the notices that are due (every EMERGENCY_ESCALATE_MINUTES).
    "emergency-escalations": {
        "task": "requests_app.review.tasks.emergency_escalations",
        "schedule": timedelta(minutes=1),
    },
}

# --- Request bodies ---------------------------------------------------------------------------
# The largest body any request may send, refused with 413 before anything reads it
# (portal.middleware.RequestBodyLimitMiddleware); the intake endpoints have their own limits.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
# How deeply a JSON body may nest ([ and { levels); deeper is 400 malformed (portal.jsondepth).
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)

# --- Emergency escalation (requests_app/review/escalation.py) -------------------------------
# An emergency nobody claimed within this many minutes is escalated to the on-call
# reviewers, and again each time as many minutes pass until someone claims it.
EMERGENCY_ESCALATE_MINUTES = env.int("EMERGENCY_ESCALATE_MINUTES", default=15)
# The platform's paging system: each escalation is also POSTed there as JSON signed with
# the portal's Ed25519 key over RFC 8785 (empty: email only).
PAGING_WEBHOOK_URL = env.str("PAGING_WEBHOOK_URL", default="")

# --- REST framework and OpenAPI ------------------------------------------------------------
REST_FRAMEWORK = {
    # The token first: DRF takes the WWW-Authenticate challenge of a 401 from it.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "accounts.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "portal.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# --- Intake (PROTOCOL §3-§5) ---------------------------------------------------------------
# The portal's Ed25519 key for receipts and response signatures (PEM, PKCS#8). Development
# creates it on first use; in production every web and Celery process reads the same file.
PORTAL_SIGNING_KEY_FILE = required(
    "PORTAL_SIGNING_KEY_FILE", str(BASE_DIR / "var" / "portal-signing-key.pem")
)
# The portal's age identity for legal documents at rest (age-keygen -o ...): documents are
# stored only as ciphertext to it, so the storage alone (a copied bucket) reveals none.
# Development creates it on first use; production needs the same file in every process.
PORTAL_STORAGE_KEY_FILE = required(
    "PORTAL_STORAGE_KEY_FILE", str(BASE_DIR / "var" / "portal-storage-key.txt")
)
# The AES-256 key that seals TOTP seeds in the database (portal/crypto.py): 32 random bytes,
# base64, in a file outside the database (head -c 32 /dev/urandom | base64 > totp-key).
# Development creates it on first use; production needs the same file in every process.
TOTP_SEED_KEY_FILE = required("TOTP_SEED_KEY_FILE", str(BASE_DIR / "var" / "totp-seed-key.txt"))
# Where `seed_demo` keeps the demo officer's case system (key, identity, API token), for
# the guides' commands to run against `make run`. Development only.
DEMO_FILES_DIR = Path(env.str("PORTAL_DEMO_DIR", default=str(BASE_DIR / "var" / "demo")))
INTAKE_MAX_ENVELOPE_BYTES = env.int("INTAKE_MAX_ENVELOPE_BYTES", default=256 * 1024)
INTAKE_MAX_ATTACHMENTS = env.int("INTAKE_MAX_ATTACHMENTS", default=10)
INTAKE_MAX_ATTACHMENT_BYTES = env.int("INTAKE_MAX_ATTACHMENT_BYTES", default=20 * 1024 * 1024)
INTAKE_MAX_TOTAL_BYTES = env.int("INTAKE_MAX_TOTAL_BYTES", default=50 * 1024 * 1024)
INTAKE_MAX_REQUEST_BYTES = INTAKE_MAX_TOTAL_BYTES + INTAKE_MAX_ENVELOPE_BYTES + 64 * 1024
INTAKE_RATE_LIMITS = {
    "submission_token": env.str("INTAKE_RATE_PER_TOKEN", default="30/min"),
    "submission_officer": env.str("INTAKE_RATE_PER_OFFICER", default="60/min"),
    "submission_address": env.str("INTAKE_RATE_PER_ADDRESS", default="120/min"),
    # Clarification replies (text or signed, API and web): a budget of their own.
    "reply_officer": env.str("INTAKE_REPLY_RATE_PER_OFFICER", default="10/min"),
    "reply_address": env.str("INTAKE_REPLY_RATE_PER_ADDRESS", default="60/min"),
}

# --- Review and delivery -------------------------------------------------------------------
# Where disclosed records come from: "http" (the platform's internal lookup API,
# docs/platform-data-source.md), or in development and tests "directory" (the demonstration
# directory, requests_app.demo_source). Production must name it and cannot use the demo.
PLATFORM_DATA_SOURCE = required("PLATFORM_DATA_SOURCE", "directory")
if PRODUCTION and PLATFORM_DATA_SOURCE == "directory":
    raise ImproperlyConfigured(
        "PLATFORM_DATA_SOURCE=directory is the demonstration directory, which production does "
        "not install; use 'http' (docs/platform-data-source.md)."
    )
# portal.E006 (check --deploy) also wants it named in the environment.
PLATFORM_DATA_SOURCE_EXPLICIT = bool(env.str("PLATFORM_DATA_SOURCE", default=""))
PLATFORM_API_URL = env.str("PLATFORM_API_URL", default="")
PLATFORM_API_TOKEN = env.str("PLATFORM_API_TOKEN", default="")
# The host names of the platform's public web addresses: a `url` target must be an https://
# address on one of them (PROTOCOL §2.2), e.g. a profile https://<host>/u/<username>.
PLATFORM_URL_HOSTS = [
    host.strip().lower()
    for host in env.list("PLATFORM_URL_HOSTS", default=["platform.example", "www.platform.example"])
    if host.strip()
]
# Days a sealed response stays downloadable before it is purged.
# Platform policy: tell users of a disclosure that had no non-disclosure order.
USER_NOTICE_WITHOUT_ORDER = env.bool("USER_NOTICE_WITHOUT_ORDER", default=True)
SEALED_RESPONSE_RETENTION_DAYS = env.int("SEALED_RESPONSE_RETENTION_DAYS", default=30)
# The age tool that encrypts each sealed response (portal.crypto.AgeEncryption): the
# absolute path of the reference implementation's binary (Go; Debian's package `age`),
# run as `age --encrypt -r ... ` between two pipes. By default the `age` found on PATH as
# the settings load; empty (or no age installed) seals with pyrage in a Python child
# process instead: the same age v1 output, slower (bench/README.md). portal.E009 refuses
# a path that is not an executable file.
AGE_TOOL = env.str("AGE_TOOL", default=shutil.which("age") or "")
# The platform's name as its records custodian signs for it in a response's certificate of
# authenticity (certificate.pdf, PROTOCOL §6.8).
PLATFORM_NAME = env.str("PLATFORM_NAME", default="The platform")

# --- Agency supervisors ----------------------------------------------------------------------
# A supervisor's vouch replaces a registering officer's own callback only while the
# supervisor's own confirmed callback is younger than this many days.
SUPERVISOR_VOUCH_CALLBACK_DAYS = env.int("SUPERVISOR_VOUCH_CALLBACK_DAYS", default=90)

# Rate-limit counters must be shared by every worker: Redis in production.
CACHE_URL = env.str("CACHE_URL", default=CELERY_BROKER_URL if PRODUCTION else "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Authority portal API",
    "DESCRIPTION": (
        "Signed legal requests from vetted authorities and sealed responses. "
        "The wire contract is PROTOCOL 1.2 (docs/PROTOCOL.md); "
        "every error is application/problem+json."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "KeyStatusEnum": "accounts.models.KeyStatus",
        "LegalRequestStatusEnum": "requests_app.lifecycle.models.LegalRequest.Status",
        "TargetTypeEnum": "requests_app.lifecycle.models.TargetType",
        "KindEnum": "requests_app.lifecycle.models.RequestKind",
        "OffenceEnum": "requests_app.lifecycle.models.Offence",
    },
    # Every error is a problem document: said once, for every operation (portal/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.openapi.problem_responses",
    ],
}

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The languages at launch, named in their own language (the switcher shows them so).
LANGUAGES = [
    ("en", "English"),
    ("pt-br", "Português (Brasil)"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("hi", "हिन्दी"),
]
# The portal's catalogs, then the country names django-countries does not translate (Hindi),
# generated from CLDR by scripts/country_catalogs.py.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_countries"]
# The language cookie says nothing secret, but is sent only over HTTPS in production.
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Stored and computed in UTC; each page is shown in the viewer's zone (accounts.preferences).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging -----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint (portal/pdf.py) logs every step of every PDF at INFO: keep its warnings.
    "loggers": {"weasyprint": {"level": "WARNING"}},
}

HEALTHZ_BROKER_TIMEOUT = env.float("HEALTHZ_BROKER_TIMEOUT", default=2.0)
