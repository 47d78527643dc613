"""Drill: SendGrid answers 429 and 5xx for a while (and once answers only after our
timeout), and the shop's webhook endpoint answers 503 for a while. The retries
(backoff in the database rows, the beat's sweep) deliver everything, once."""

import pytest

from tests.emails.standin import Reply, rate_limited, server_error
from tests.faults.conftest import EventFeed, audit, settle

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def test_sendgrid_and_the_shop_failing_for_a_while(
    cluster_factory, shared_broker, shop_world, sendgrid, shop_endpoint
):
    cluster = cluster_factory(shared_broker)
    world = shop_world(returns=10, reviews=5, bulk=100)
    # given SendGrid rate-limits three requests, fails three, and answers one only
    # after our 2 s timeout (it accepts that one: the ambiguous window)
    sendgrid.reply(
        rate_limited(reset_in=1),
        rate_limited(reset_in=1),
        rate_limited(reset_in=1),
        server_error(),
        server_error(),
        server_error(),
        Reply(delay=3.0),
    )
    # and the shop answers 503 to the first fifteen webhook attempts
    shop_endpoint.statuses.extend([503] * 15)
    feed = EventFeed(sendgrid)

    # when a worker sends, with the beat's minute and SendGrid's events
    cluster.worker()
    settle(cluster, feed, timeout=120)

    # then every failure was met and retried, and nothing is lost or doubled
    statuses = [request["status"] for request in sendgrid.requests]
    assert statuses.count(429) == 3
    assert statuses.count(500) == 3
    assert [r["status"] for r in shop_endpoint.requests].count(503) == 15
    audit("failing-peers", world, sendgrid=sendgrid, shop=shop_endpoint)
