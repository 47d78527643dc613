"""The Celery app. Settings come from Django's settings under the CELERY_ namespace."""

import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("returnwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def create_filesystem_broker_folders(sender, **kwargs):
    """kombu's filesystem transport (the demo's broker) expects its folders to exist,
    in the web process that publishes as much as in the worker that consumes."""
    if not str(sender.conf.broker_url or "").startswith("filesystem"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Keep Django's LOGGING (JSON lines with request ids) in the worker and beat
    instead of Celery's own format: connecting this signal stops Celery from
    configuring logging."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# One log line per task, request ids carried from web to worker (config/logging.py).
import config.logging  # noqa: E402, F401
