"""Drill: Redis (the broker, without persistence) restarts while a worker sends, and a
customer files a return while it is down. Every queued task is gone with it; the
outbox and webhook rows in PostgreSQL are not, and the beat's sweep sends them."""

import logging
from contextlib import contextmanager

import pytest

from emails.models import Message
from tests.faults.conftest import (
    EventFeed,
    World,
    audit,
    file_return,
    log,
    settle,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]


@contextmanager
def logged(name: str):
    """The records `name` logs meanwhile, kept off the terminal."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(name)
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def test_redis_restart_during_sending(
    own_redis, cluster_factory, shop_world, sendgrid, shop_endpoint
):
    cluster = cluster_factory(own_redis.url)
    shop_world(returns=5, reviews=5, bulk=120)
    sendgrid.delay = 0.3
    feed = EventFeed(sendgrid)
    cluster.worker()

    # when Redis goes away in the middle of the sending
    wait_until(lambda: len(sendgrid.requests) >= 2, what="the second request")
    own_redis.stop()

    # and a customer files a return meanwhile: it commits; its kicks cannot be
    # published (logged, not raised: on_commit(robust=True))
    with logged("django.db.backends.base") as errors:
        during = file_return()
    assert Message.objects.filter(key__contains=during.rma).exists()
    assert errors  # the e-mail, webhook and insights kicks failed to publish
    log(f"Redis down: return {during.rma} filed, {len(errors)} kicks lost")

    # then, with Redis back (empty), the beat's minute finds everything in the
    # database: the interrupted batches, the new return's e-mail and webhook
    own_redis.start()
    sendgrid.delay = 0.0
    world = World().snapshot()
    settle(cluster, feed, timeout=90)

    audit("redis-restart", world, sendgrid=sendgrid, shop=shop_endpoint)
