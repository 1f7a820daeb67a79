"""Settings for the CRM email integration, read from the environment.

Every variable is listed in the README. Local defaults run the product on
SQLite with Celery tasks carried through the filesystem, so a fresh clone
works without services; production sets DATABASE_URL, CELERY_BROKER_URL and
the Nylas credentials.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP

import django_stubs_ext
import environ

# Give Django classes such as ModelAdmin and TabularInline a runtime
# __class_getitem__, so that admin classes can name their model type
# (admin.ModelAdmin[Contact]) for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Core
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-only-key" if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for "
        "local development."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SITE_URL: str = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "contacts",
    "mailsync",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content security: per-request CSP nonce and policy (SECURE_CSP below).
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "convex_email.urls"
WSGI_APPLICATION = "convex_email.wsgi.application"

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
                "mailsync.context_processors.email_account",
            ],
        },
    },
]

# Database: PostgreSQL in production and tests, SQLite when DATABASE_URL is unset.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
# Keep connections open between requests (seconds): opening one per request
# costs more than the webhook endpoint's own work.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves the web process and a threaded worker at
    # once: wait for locks instead of failing, and let readers run during
    # writes (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Authentication
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Internationalisation: times are stored in UTC and shown in TIME_ZONE.
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Static files
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Cache: no message body or snippet is ever written to it.
CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://"),
}

# Security: production turns these on through the environment.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Only the message-body view allows framing (by our own pages).
X_FRAME_OPTIONS = "DENY"

# Content security. Every page gets SECURE_CSP from Django's CSP middleware:
# scripts only from our static files or with this request's nonce, no
# plugins, no <base>, and framing only by our own pages. The message-body
# frame sets a stricter policy of its own (mailsync.views.message), which
# the middleware leaves in place. Inline styles are not allowed, so htmx's
# indicator styles are turned off in templates/base.html.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.SELF],
}
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # type: ignore[index]
    "django.template.context_processors.csp"
)
# How long a signed image link in a message frame stays valid, in seconds.
# The frame cannot send the session cookie, so this signature is what
# authenticates its image requests (see mailsync.views.images).
IMAGE_LINK_MAX_AGE_SECONDS = env.int(
    "MAILSYNC_IMAGE_LINK_MAX_AGE_SECONDS", default=15 * 60
)

# Celery: Redis in production; the filesystem transport lets a local worker
# run without Redis. Tasks carry ids only, and results are not stored.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_TRANSPORT_OPTIONS = env.json(
    "CELERY_BROKER_TRANSPORT_OPTIONS", default={}
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    "drain-webhook-deliveries": {
        "task": "mailsync.tasks.drain_webhook_deliveries",
        "schedule": timedelta(minutes=1),
    },
    "sweep-email-accounts": {
        "task": "mailsync.tasks.sweep_all_accounts",
        "schedule": timedelta(minutes=env.int("MAILSYNC_SWEEP_MINUTES", default=10)),
    },
}

# Nylas: the API key and the hosted-auth application (client) id.
NYLAS_API_KEY = env.str("NYLAS_API_KEY", default="")
NYLAS_API_URI = env.str("NYLAS_API_URI", default="https://api.us.nylas.com")
NYLAS_CLIENT_ID = env.str("NYLAS_CLIENT_ID", default="")
NYLAS_TIMEOUT_SECONDS = env.int("NYLAS_TIMEOUT_SECONDS", default=30)
NYLAS_WEBHOOK_SECRET = env.str("NYLAS_WEBHOOK_SECRET", default="")

# Mail sync
MAILSYNC_BACKFILL_DAYS = env.int("MAILSYNC_BACKFILL_DAYS", default=90)
MAILSYNC_PAGE_SIZE: int = env.int("MAILSYNC_PAGE_SIZE", default=200)
MAILSYNC_GOOGLE_PAGE_SIZE: int = env.int("MAILSYNC_GOOGLE_PAGE_SIZE", default=50)
MAILSYNC_WEBHOOK_DRAIN_DELAY_SECONDS = env.float(
    "MAILSYNC_WEBHOOK_DRAIN_DELAY_SECONDS", default=0.2
)
MAILSYNC_SWEEP_OVERLAP_MINUTES = env.int("MAILSYNC_SWEEP_OVERLAP_MINUTES", default=15)
MAILSYNC_MAX_RETRY_AFTER_SECONDS: int = env.int(
    "MAILSYNC_MAX_RETRY_AFTER_SECONDS", default=300
)

# Contacts: URL names of panels that other apps add to a contact's page.
# Each is reversed with (organisation slug, contact id) and loaded by htmx,
# so the contacts app never imports the apps that provide them.
CONTACTS_PANEL_URL_NAMES = ["mailsync:contact-emails"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own default handler would print every django.* line a second
    # time next to the root handler.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}
