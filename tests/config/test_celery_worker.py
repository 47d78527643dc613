"""A real Celery worker on Redis runs a task end to end against the test database."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from shop.models import OrderSource, WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


@pytest.fixture
def celery_worker(redis_url, transactional_db, django_db_serialized_rollback):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": redis_url,
    }
    subprocess.run(
        ["redis-cli", "-n", redis_url.rsplit("/", 1)[-1], "flushdb"],
        check=False,
        capture_output=True,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield env
    worker.terminate()
    output, _ = worker.communicate(timeout=30)
    print(output)


@pytest.mark.integration
def test_worker_runs_the_purge_task_from_redis(celery_worker):
    # given a delivery id past its retention and a fresh one
    old = WebhookDelivery.objects.create(
        platform=OrderSource.SHOPIFY, delivery_id="old", topic="orders/create"
    )
    WebhookDelivery.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(days=45)
    )
    WebhookDelivery.objects.create(
        platform=OrderSource.SHOPIFY, delivery_id="new", topic="orders/create"
    )

    # when the task is sent through Redis (not eagerly) to the worker process
    producer = Celery(broker=celery_worker["CELERY_BROKER_URL"], set_as_current=False)
    producer.send_task("shop.tasks.purge_webhook_deliveries_task")

    # then the worker deletes the old row and keeps the new one
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not WebhookDelivery.objects.filter(delivery_id="old").exists():
            break
        time.sleep(0.25)
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == [
        "new"
    ]
