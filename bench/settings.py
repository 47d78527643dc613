"""Settings for bench.pages: the dev settings with bench/urls.py as the URLconf, which adds
a constant view to measure the framework's own cost against."""

from config.settings.dev import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
