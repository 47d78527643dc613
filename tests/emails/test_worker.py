"""Real Celery workers on Redis send the outbox to the SendGrid stand-in; a worker
killed with SIGKILL mid-batch loses nothing and sends nothing twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from emails import services
from emails.models import Message, Status
from tests.emails.standin import StandIn

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


@pytest.fixture
def stand_in():
    server = StandIn().start()
    yield server
    server.stop()


@pytest.fixture
def workers(
    redis_url, transactional_db, django_db_serialized_rollback, stand_in, needs_postgres
):
    broker = redis_url.rsplit("/", 1)[0] + "/14"
    subprocess.run(
        ["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_VISIBILITY_TIMEOUT": "30",
        "SENDGRID_API_KEY": "SG.worker-test",
        "SENDGRID_API_HOST": stand_in.url,
        "SENDGRID_TIMEOUT": "10",
        "EMAIL_OUTBOX_BATCH_SIZE": "20",
        "EMAIL_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    started = []

    def start():
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
                "WARNING",
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
        started.append(worker)
        return worker

    producer = Celery(broker=broker, set_as_current=False)

    def kick():
        producer.send_task("emails.tasks.send_due_messages_task")

    yield start, kick
    for worker in started:
        if worker.poll() is None:
            worker.terminate()
        output, _ = worker.communicate(timeout=30)
        print(output)


def queue_messages(count: int) -> list[str]:
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            key=f"drill:{n:04d}",
            to_email=f"customer{n}@example.com",
            sender_label="drill",
            template="test_message",
            next_attempt_at=now,
        )
        for n in range(count)
    )
    return [f"drill:{n:04d}" for n in range(count)]


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def unsettled() -> int:
    return Message.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).count()


def test_a_worker_on_redis_sends_the_outbox_in_batches(workers, stand_in):
    start, kick = workers
    keys = queue_messages(50)
    start()

    kick()

    wait_until(lambda: Message.objects.filter(status=Status.SENT).count() == 50)
    assert stand_in.accepted == dict.fromkeys(keys, 1)
    assert len(stand_in.requests) == 3  # 20 + 20 + 10 personalizations


def test_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(workers, stand_in):
    start, kick = workers
    keys = queue_messages(100)
    stand_in.delay = 1.0  # every request takes a second: time to kill mid-request
    first = start()
    kick()

    # when the worker is inside its second request, it is killed
    wait_until(lambda: len(stand_in.requests) >= 2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    stand_in.delay = 0.0

    # the killed worker's lease runs out: the batch whose request had left becomes
    # ambiguous (SendGrid may have it), nothing else is lost
    time.sleep(1.5)  # the in-flight request completes at the stand-in
    requeued, ambiguous = services.expire_leases(
        now=timezone.now() + timedelta(seconds=LEASE_SECONDS + 1)
    )
    assert len(ambiguous) == 20
    assert requeued == []

    # a new worker sends the rest
    start()
    kick()
    wait_until(lambda: unsettled() == 0)
    assert Message.objects.filter(status=Status.SENT).count() == 80
    assert Message.objects.filter(status=Status.AMBIGUOUS).count() == 20

    # SendGrid's events for the ambiguous ones arrive: settled without a resend
    services.store_provider_events(
        events=[
            {
                "sg_event_id": f"ev-{pk}",
                "event": "processed",
                "email": email,
                "timestamp": int(time.time()),
                "outbox_id": str(pk),
                "outbox_key": key,
            }
            for pk, key, email in Message.objects.filter(
                status=Status.AMBIGUOUS
            ).values_list("pk", "key", "to_email")
        ]
    )
    services.sweep(now=timezone.now() + timedelta(days=1))

    assert Message.objects.filter(status=Status.SENT).count() == 100
    # every message accepted by SendGrid exactly once
    assert stand_in.accepted == dict.fromkeys(keys, 1)
