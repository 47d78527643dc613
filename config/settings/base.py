"""Every setting lives here and reads the environment; see the table in README.md.

dev/test/production only override what differs.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


SECRET_KEY = env("SECRET_KEY", "insecure-local-only-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "shop",
    "cms",
    "emails",
    "loyalty",
    "reviews",
    "returns",
    "insights",
    "campaigns",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.locales",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_tasks",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.security.AdminLoginGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
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
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

# Database: SQLite by default (the demo), PostgreSQL in CI and production.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("CACHE_URL"),
        }
        if env("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Languages: English and Dutch, for UI text and for Wagtail pages.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
SHOP_TIME_ZONE = env("SHOP_TIME_ZONE", "Europe/Amsterdam")
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Wagtail
WAGTAIL_SITE_NAME = env("SITE_NAME", "Returnwise")
WAGTAILADMIN_BASE_URL = env("SITE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Wagtail's own background jobs (search indexing, reference index) run on django-tasks;
# ours run on Celery.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# django-allauth: e-mail is the login, verification is mandatory, login by code too.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {}  # {} keeps allauth's defaults; tests turn them off.
ACCOUNT_USER_DISPLAY = "shop.accounts.user_display"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{WAGTAIL_SITE_NAME}] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
# Reverse proxies in front of the app that append to X-Forwarded-For (nginx: 1). allauth
# takes the client IP for its per-IP limits from that many entries from the right; 0
# uses the socket's address, which behind a proxy is the proxy's: one bucket for all.
ALLAUTH_TRUSTED_PROXY_COUNT = int(env("ALLAUTH_TRUSTED_PROXY_COUNT", "0"))
# Staff (and customers) can turn on two-factor authentication at /accounts/2fa/: an
# authenticator app (TOTP) and recovery codes. Wagtail's own /admin/login/ sends an
# account with a second factor to allauth's login (config/security.py).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("SITE_NAME", "Returnwise")
# Failed logins on Wagtail's /admin/login/ allowed per window (attempts, seconds), per
# client IP and per IP + username, counted in the shared cache; {} turns it off.
ADMIN_LOGIN_FAILURE_LIMITS = {"ip": (20, 60), "ip_user": (5, 300)}
LOGIN_REDIRECT_URL = "shop:my_orders"
LOGIN_URL = "account_login"

# E-mail: SendGrid when a key is set (the emails app), Django's backend otherwise.
SENDGRID_API_KEY = env("SENDGRID_API_KEY")
SENDGRID_API_HOST = env("SENDGRID_API_HOST", "https://api.sendgrid.com")
SENDGRID_TIMEOUT = float(env("SENDGRID_TIMEOUT", "10"))
# EMAIL_BACKEND and EMAIL_DELIVERY_BACKEND: see the e-mail outbox block at the end.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Returnwise <service@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The shop: webhook secrets and API limits.
SHOPIFY_WEBHOOK_SECRET = env("SHOPIFY_WEBHOOK_SECRET")
WOOCOMMERCE_WEBHOOK_SECRET = env("WOOCOMMERCE_WEBHOOK_SECRET")
SHOP_DEFAULT_CURRENCY = env("SHOP_DEFAULT_CURRENCY", "EUR")
API_MAX_BODY_BYTES = int(env("API_MAX_BODY_BYTES", str(10 * 1024 * 1024)))
API_BATCH_MAX_ORDERS = 1000
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES + 1024
WEBHOOK_DELIVERY_RETENTION = timedelta(days=int(env("WEBHOOK_RETENTION_DAYS", "30")))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shop.api_auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Returnwise API",
    "DESCRIPTION": "The shop pushes its catalogue and orders here.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Document /api/v1/ only, not the Wagtail admin's internal API.
    "PREPROCESSING_HOOKS": ["shop.api.public_endpoints_only"],
}

# Celery: Redis in production, kombu's filesystem transport for the one-command demo.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # Above the longest countdown we use, so Redis never redelivers a waiting task.
    else {"visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", str(6 * 3600)))}
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A running task keeps going on broker connection loss (its ack may be lost; tasks are
# idempotent). True (Celery 6's default) would cancel SendGrid requests mid-way.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A worker started while Redis restarts waits for it instead of exiting.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "purge-webhook-deliveries": {
        "task": "shop.tasks.purge_webhook_deliveries_task",
        "schedule": crontab(minute=17, hour=3),
    },
}

# Logs: JSON lines on stderr (LOG_FORMAT=json), one per request (returnwise.request)
# and per Celery task (returnwise.task), each with the request id (config/logging.py).
# LOG_FORMAT=plain prints the same lines for a person reading a terminal.
LOG_FORMAT = env("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # returnwise.task writes the one line per task; Celery's own success line
        # would repeat it (failures still log, with their traceback, at ERROR).
        "celery.app.trace": {"level": "WARNING"},
    },
}
# Security headers (config/security.py). HSTS and the secure cookies: production.py.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURITY_CSP = {
    "default-src": ["'self'"],
    # Inline scripts only with the request's nonce: {{ request.csp_nonce }}.
    "script-src": ["'self'"],
    # Templates and the embeds use style attributes.
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "https:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    # Video embeds on Wagtail pages.
    "frame-src": ["'self'", "https:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
}
# Wagtail's admin still uses inline scripts in places, and blob: image previews.
SECURITY_CSP_ADMIN_PATH = "/admin/"
SECURITY_CSP_ADMIN = SECURITY_CSP | {
    "script-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:", "https:"],
    "media-src": ["'self'", "blob:"],
}
# Report violations without enforcing them (for trying a changed policy).
CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", False)
SECURITY_PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
)
# Staff avatars over https (Wagtail's default is protocol-relative), as img-src allows.
WAGTAIL_GRAVATAR_PROVIDER_URL = "https://www.gravatar.com/avatar"
# Bearer token for GET /metrics (Prometheus); unset turns the endpoint off (404).
METRICS_TOKEN = env("METRICS_TOKEN")
# Celery keeps Django's LOGGING in the worker (config/celery.py: setup_logging).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Loyalty: the daily scan expires balances, records expiry reminders and gives points
# for kept orders (earning rules are a Wagtail setting, LoyaltySettings).
CELERY_BEAT_SCHEDULE |= {
    "scan-points": {
        "task": "loyalty.tasks.scan_points_task",
        "schedule": crontab(minute=41, hour=2),
    },
}

# Return policies (cms) ---------------------------------------------------------------
# wagtail.contrib.simple_translation: editors copy a page tree for translation.
# corsheaders: the policy JSON and embed are fetched by the shop's pages (CORS below).
INSTALLED_APPS += ["wagtail.contrib.simple_translation", "corsheaders"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.common.CommonMiddleware"),
    "corsheaders.middleware.CorsMiddleware",
)
# Last: serves anonymous visitors cached pages (cms/page_cache.py).
MIDDLEWARE.append("cms.page_cache.AnonymousPageCacheMiddleware")
# Seconds an anonymous page render is kept; 0 turns the page cache off.
PAGE_CACHE_SECONDS = int(env("PAGE_CACHE_SECONDS", "600"))
# Shop origins allowed to fetch the policy JSON and embed (scheme://host[:port]).
POLICY_EMBED_ALLOWED_ORIGINS = env_list("POLICY_EMBED_ALLOWED_ORIGINS")
CORS_ALLOWED_ORIGINS = POLICY_EMBED_ALLOWED_ORIGINS
CORS_URLS_REGEX = r"^/(api/v1/policies/|embed/policy/)"
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_EXPOSE_HEADERS = ["ETag"]
# Seconds the shop's visitors and CDNs may reuse a policy answer (a publish shows
# within this time; ETags make the re-check cheap).
POLICY_EMBED_MAX_AGE = int(env("POLICY_EMBED_MAX_AGE", "60"))
# ISO 3166-1 countries the return policy applies to (schema.org applicableCountry).
POLICY_COUNTRIES = env_list("POLICY_COUNTRIES", "NL,BE")

# E-mail outbox (emails) ------------------------------------------------------------
# Every e-mail is an outbox row (docs/adr/0002-email-outbox.md). Django's EMAIL_BACKEND
# writes to the outbox too, so allauth's mails are stored, retried and listed in the
# admin; the worker then sends through SendGrid (SENDGRID_API_KEY set) or, without a
# key, through EMAIL_DELIVERY_BACKEND (console in dev, locmem in tests).
EMAIL_BACKEND = env("EMAIL_BACKEND", "emails.backends.OutboxEmailBackend")
EMAIL_DELIVERY_BACKEND = env(
    "EMAIL_DELIVERY_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
# SendGrid's Event Webhook verification key (base64 DER of the ECDSA public key, as
# SendGrid shows it); unset: the webhook refuses every request.
SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = env("SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY")
# A signed event older (or newer) than this is refused as a replay.
EMAIL_WEBHOOK_MAX_AGE_SECONDS = int(env("EMAIL_WEBHOOK_MAX_AGE_SECONDS", "600"))
# Messages one task claims and sends (one SendGrid request per 1,000 same-content).
EMAIL_OUTBOX_BATCH_SIZE = int(env("EMAIL_OUTBOX_BATCH_SIZE", "1000"))
# How long a worker holds claimed messages; past it, the sweep reclaims them.
EMAIL_OUTBOX_LEASE_SECONDS = int(env("EMAIL_OUTBOX_LEASE_SECONDS", "120"))
# Attempts (429/5xx/lost worker) before a message fails, and the backoff between them.
EMAIL_OUTBOX_MAX_ATTEMPTS = int(env("EMAIL_OUTBOX_MAX_ATTEMPTS", "8"))
EMAIL_OUTBOX_RETRY_BASE_SECONDS = float(env("EMAIL_OUTBOX_RETRY_BASE_SECONDS", "30"))
EMAIL_OUTBOX_RETRY_MAX_SECONDS = float(env("EMAIL_OUTBOX_RETRY_MAX_SECONDS", "3600"))
# After a timeout the request may have reached SendGrid: wait this long for one of its
# events before sending once more.
EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS = int(
    env("EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS", "1800")
)
CELERY_BEAT_SCHEDULE |= {
    "sweep-email-outbox": {
        "task": "emails.tasks.sweep_outbox_task",
        "schedule": timedelta(minutes=1),
    },
}

# --- Reviews (reviews/) ---------------------------------------------------------------
# Public review answers (product page, embed, JSON API, Google feed) are cached and
# purged when a review changes (reviews/cache.py); this bounds changes nothing announces.
REVIEWS_CACHE_SECONDS = int(env("REVIEWS_CACHE_SECONDS", "300"))
# Seconds the shop's visitors and CDNs may reuse the review embed and JSON.
REVIEWS_EMBED_MAX_AGE = int(env("REVIEWS_EMBED_MAX_AGE", "60"))
# Shop origins allowed to fetch or frame the review embed and JSON (default: the
# policy embed's origins).
REVIEWS_EMBED_ALLOWED_ORIGINS = (
    env_list("REVIEWS_EMBED_ALLOWED_ORIGINS") or POLICY_EMBED_ALLOWED_ORIGINS
)
CORS_ALLOWED_ORIGINS = sorted(
    set(CORS_ALLOWED_ORIGINS) | set(REVIEWS_EMBED_ALLOWED_ORIGINS)
)
CORS_URLS_REGEX = (
    r"^/(api/v1/policies/|embed/policy/|embed/reviews/|api/v1/products/[^/]+/reviews$)"
)
# Days a signed "write a review" link (the review-request e-mail) stays valid.
REVIEW_LINK_MAX_AGE_DAYS = int(env("REVIEW_LINK_MAX_AGE_DAYS", "60"))

# --- Returns (returns/) ---------------------------------------------------------------
# Signed webhooks to the shop (returns/outbound.py): attempts per event, backoff
# (doubling from the base, capped) and the HTTP timeout per attempt.
RETURNS_WEBHOOK_MAX_ATTEMPTS = int(env("RETURNS_WEBHOOK_MAX_ATTEMPTS", "12"))
RETURNS_WEBHOOK_RETRY_BASE_SECONDS = float(
    env("RETURNS_WEBHOOK_RETRY_BASE_SECONDS", "30")
)
RETURNS_WEBHOOK_RETRY_MAX_SECONDS = float(
    env("RETURNS_WEBHOOK_RETRY_MAX_SECONDS", "21600")
)
RETURNS_WEBHOOK_TIMEOUT_SECONDS = float(env("RETURNS_WEBHOOK_TIMEOUT_SECONDS", "10"))
CELERY_BEAT_SCHEDULE |= {
    "deliver-due-return-webhooks": {
        "task": "returns.tasks.deliver_due_webhooks_task",
        "schedule": timedelta(minutes=1),
    },
    # Photos of returns left unconfirmed for a day (returns/photos.py).
    "purge-abandoned-return-drafts": {
        "task": "returns.tasks.purge_abandoned_drafts_task",
        "schedule": crontab(minute=29),
    },
}

# --- Insights (insights/) -------------------------------------------------------------
# Nightly recompute of every customer's return figures, serial-returner flag and persona
# (the definitions are editable in the admin: InsightsSettings). Returns filed or
# resolved recompute their customer at once; `manage.py compute_insights` on demand.
CELERY_BEAT_SCHEDULE |= {
    "compute-insights": {
        "task": "insights.tasks.compute_insights_task",
        "schedule": crontab(minute=23, hour=4),
    },
}

# --- Campaigns (campaigns/) -----------------------------------------------------------
# The beat scans for due trigger orders, promotions whose time has come and review
# reminders every few minutes (campaigns.services.schedule_due); recipients are
# assigned and queued in batches of CAMPAIGNS_BATCH_SIZE, one transaction each.
CAMPAIGNS_BATCH_SIZE = int(env("CAMPAIGNS_BATCH_SIZE", "1000"))
# At most this many marketing e-mails per customer per 7 days; more wait (never dropped).
CAMPAIGNS_FREQUENCY_CAP = int(env("CAMPAIGNS_FREQUENCY_CAP", "3"))
# No marketing e-mail in these local hours (the customer's time zone where known).
CAMPAIGNS_QUIET_HOURS = env("CAMPAIGNS_QUIET_HOURS", "21:00-08:00")
# A trigger e-mail is sent at most this many days after its day: an order whose
# delivery is recorded late (an import, a 3PL's late report) or a beat that was down
# longer gets no "how is your purchase?" weeks on, and each pass reads only these days.
# Orders that fell due while a campaign was paused longer than this are not mailed.
CAMPAIGNS_CATCH_UP_DAYS = int(env("CAMPAIGNS_CATCH_UP_DAYS", "7"))
CELERY_BEAT_SCHEDULE |= {
    "schedule-due-campaigns": {
        "task": "campaigns.tasks.schedule_due_campaigns_task",
        "schedule": timedelta(minutes=5),
    },
}
