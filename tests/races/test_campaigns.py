"""Two beats schedule the same campaign at once: every due order gets one
assignment and, when treated, one outbox message."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from campaigns import services
from campaigns.models import Assignment, Group
from emails import services as email_services
from emails.models import Message
from tests.campaigns.core_setup import delivered_order, make_campaign
from tests.races.interleave import competitor_at

pytestmark = [
    pytest.mark.races,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("shop_time_zone"),
]
AMS = ZoneInfo("Europe/Amsterdam")
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=AMS)
ORDERS = 6


@pytest.fixture
def shop_time_zone():
    with override_settings(SHOP_TIME_ZONE="Europe/Amsterdam"):
        yield


@pytest.fixture
def campaign():
    campaign = make_campaign(delay_days=3, holdout_percent=20)
    for _ in range(ORDERS):
        delivered_order(delivered_at=dt.datetime(2026, 3, 6, 12, 0, tzinfo=AMS))
    return campaign


def assert_each_order_once(campaign):
    assignments = Assignment.objects.filter(campaign=campaign)
    assert assignments.count() == ORDERS
    assert assignments.values("order").distinct().count() == ORDERS
    treated = assignments.filter(group=Group.TREATMENT)
    assert treated.filter(message__isnull=True).count() == 0
    assert Message.objects.count() == treated.count() > 0
    assert set(Message.objects.values_list("key", flat=True)) == set(
        treated.values_list("key", flat=True)
    )


def test_a_second_beat_that_finishes_between_the_first_ones_read_and_write(
    campaign,
):
    # Beat 1 has read the due orders; beat 2 runs from start to end before beat 1
    # writes its batch.
    with competitor_at(
        services._Batcher,
        "run",
        lambda: services.schedule_due(now=NOW),
    ) as competitor:
        first = services.schedule_due(now=NOW)

    assert competitor.outcome == "finished"
    second = competitor.join()
    assert second.assigned == ORDERS
    assert first.queued == 0
    assert_each_order_once(campaign)


def test_a_second_beat_arriving_while_the_first_writes_its_batch(campaign):
    # Beat 1 has inserted its assignments and holds them; beat 2 starts before beat
    # 1 writes the outbox messages.
    with competitor_at(
        email_services,
        "enqueue_many",
        lambda: services.schedule_due(now=NOW),
    ) as competitor:
        first = services.schedule_due(now=NOW)

    assert competitor.outcome == "blocked"  # on the assignments' unique keys
    second = competitor.join()
    assert first.queued > 0
    assert second.queued == 0
    assert_each_order_once(campaign)
