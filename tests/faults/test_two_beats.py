"""Drill: two `celery beat` processes run the whole schedule at once (a deploy that
forgot to stop the old one), every second, against three worker processes. Every
scheduled job is idempotent by key: points for kept orders, expiry reminders and
post-purchase campaign e-mails are each given once, and every e-mail reaches SendGrid
exactly once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Assignment
from emails.models import Message
from loyalty.models import ExpiryReminder, LoyaltySettings, PointsAccount, PointsEntry
from tests.campaigns.core_setup import delivered_order, make_campaign
from tests.factories import CustomerFactory
from tests.faults.conftest import EventFeed, audit, log, settle, wait_until
from tests.returns import core_setup as returns_setup

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def test_two_beats_at_once(
    cluster_factory, shared_broker, shop_world, sendgrid, shop_endpoint
):
    cluster = cluster_factory(shared_broker)
    world = shop_world(returns=4, reviews=6, bulk=20)
    # given work for every scheduled job: orders whose return window has closed
    # (points per euro kept), balances inside the reminder period, and orders due
    # for a post-purchase campaign
    rules = LoyaltySettings.load()
    rules.points_per_euro = 1
    rules.reminder_days = 400  # every balance (12 months) is due a reminder
    rules.save()
    now = timezone.now()
    kept = [
        returns_setup.order(
            customer=CustomerFactory(), delivered_at=now - timedelta(days=40)
        )
        for _ in range(6)
    ]
    campaign = make_campaign(delay_days=3, holdout_percent=0, activated_at=now)
    due = [delivered_order(delivered_at=now - timedelta(days=3)) for _ in range(6)]
    feed = EventFeed(sendgrid)

    # when two beats send the whole schedule every second to three worker processes
    cluster.worker(concurrency=3)
    beats = [cluster.beat(every=1.0), cluster.beat(every=1.0)]

    def done() -> bool:
        return (
            PointsEntry.objects.filter(key__startswith="order:").count() == len(kept)
            and Assignment.objects.filter(campaign=campaign).count() == len(due)
            and ExpiryReminder.objects.filter(sent_at__isnull=False).count()
            == PointsAccount.objects.filter(balance__gt=0).count()
        )

    wait_until(done, timeout=120, what="the scheduled jobs")
    time.sleep(5)  # a few more rounds of both beats
    assert [beat.poll() for beat in beats] == [None, None]  # both ran throughout
    for beat in beats:
        cluster.stop_one(beat)
    log("two beats stopped")
    settle(cluster, feed, timeout=90)

    # then each job's outcome is there once, and each e-mail went once
    world.ledger |= {f"order:{order.pk}" for order in kept}
    reminders = list(ExpiryReminder.objects.values_list("pk", flat=True))
    assert len(reminders) == PointsAccount.objects.filter(balance__gt=0).count() == 12
    world.messages |= {f"points-expiry:{pk}" for pk in reminders}
    world.messages |= {f"campaign:{campaign.pk}:{order.pk}" for order in due}
    world.orders |= {order.pk for order in kept + due}
    assert Message.objects.filter(key__startswith="campaign:").count() == len(due)
    audit("two-beats", world, sendgrid=sendgrid, shop=shop_endpoint)
