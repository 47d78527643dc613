"""Drill: a Celery worker is killed with SIGKILL in the middle of sending a batch of
e-mails to SendGrid (first one pool process, then the whole worker). A new worker,
the beat's sweep and SendGrid's events finish the job: every e-mail reaches SendGrid
exactly once, every shop webhook arrives once, nothing else changes."""

import os
import signal

import pytest

from emails.models import Message, Status
from tests.faults.conftest import EventFeed, audit, log, settle, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def in_flight() -> int:
    """Rows whose SendGrid request has left and not been answered."""
    return Message.objects.filter(
        status=Status.SENDING, request_started_at__isnull=False
    ).count()


def test_worker_sigkill_mid_batch(
    cluster_factory, shared_broker, shop_world, sendgrid, shop_endpoint
):
    cluster = cluster_factory(shared_broker)
    world = shop_world(returns=10, reviews=10, bulk=160)
    sendgrid.delay = 0.5  # each request takes half a second: time to kill in it
    feed = EventFeed(sendgrid)
    worker = cluster.worker()

    # when the pool process dies in its third request (acks_late +
    # reject_on_worker_lost: its task goes back to the queue)
    wait_until(lambda: len(sendgrid.requests) >= 3, what="the third request")
    assert in_flight() > 0
    (child,) = cluster.children(worker)
    os.kill(child, signal.SIGKILL)
    log(f"killed the pool process {child} mid-request")

    # and then the whole worker, parent and all, two requests later
    seen = len(sendgrid.requests)
    wait_until(lambda: len(sendgrid.requests) >= seen + 2, what="two more requests")
    assert in_flight() > 0
    cluster.kill(worker)
    log("killed the whole worker mid-request")
    sendgrid.delay = 0.0

    # then a new worker, the beat's minute and SendGrid's events settle everything
    cluster.worker()
    settle(cluster, feed, timeout=90)

    audit("worker-sigkill", world, sendgrid=sendgrid, shop=shop_endpoint)
