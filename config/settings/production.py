"""Production: hardens base and requires every secret; nothing else differs.

`manage.py check --deploy --fail-level WARNING` passes with the variables below set
(tests/config/test_settings.py runs it).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403


def required(name: str) -> str:
    value = env(name)
    if not value:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


DEBUG = False
SECRET_KEY = required("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or [required("ALLOWED_HOSTS")]
required("DATABASE_URL")
# The filesystem broker and the per-process cache are for the demo on one machine:
# production shares Redis between processes (Celery, allauth's rate limits).
required("CELERY_BROKER_URL")
required("CACHE_URL")
# Links in e-mails and in Wagtail's notifications must not point at localhost.
WAGTAILADMIN_BASE_URL = required("SITE_URL")

STORAGES["staticfiles"] = {
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# The orchestrator probes the container over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
EMAIL_DELIVERY_BACKEND = env(
    "EMAIL_DELIVERY_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
