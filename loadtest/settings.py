"""Settings for the load test: production's (DEBUG off, Redis cache and broker,
manifest static files, secrets required) with loadtest/urls.py as the URLconf, which
adds the bare view the figures are compared with.

The one relaxation: gunicorn is reached over plain HTTP on the loopback, where a
reverse proxy would terminate TLS in production, so the session and CSRF cookies may
travel without TLS (SECURE_SSL_REDIRECT is turned off through its variable)."""

import os

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "loadtest.urls"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The manifest, as in production, without the gzip/brotli copies: the load fetches no
# static file, and compressing Wagtail's admin files is most of the set-up time.
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
}

if os.environ.get("LOADTEST_TRACEMALLOC"):
    from loadtest import memtrace

    memtrace.start(os.environ["LOADTEST_TRACEMALLOC"])
