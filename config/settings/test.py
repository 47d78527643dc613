import tempfile

from .base import *  # noqa: F403

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789"
DEBUG = False
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/returnwise"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ACCOUNT_RATE_LIMITS = False
# Unit tests run tasks inline; the integration tests start a real worker on Redis.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
SHOPIFY_WEBHOOK_SECRET = "shopify-test-secret"
WOOCOMMERCE_WEBHOOK_SECRET = "woocommerce-test-secret"
LOGGING["root"]["level"] = "WARNING"
# Serve static files from the finders; there is no collectstatic in tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# E-mail outbox: the worker delivers into django.core.mail.outbox. (Django's test
# set-up replaces EMAIL_BACKEND with locmem; tests/emails put the outbox back.)
EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SENDGRID_API_KEY = ""
SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = ""
# Uploads made by tests land in a throwaway folder, never in var/media.
MEDIA_ROOT = tempfile.mkdtemp(prefix="returnwise-test-media-")
# Like allauth's limits, the admin login guard is tested on purpose (tests/config).
ADMIN_LOGIN_FAILURE_LIMITS = {}
