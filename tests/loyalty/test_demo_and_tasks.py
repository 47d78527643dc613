"""seed_demo's loyalty histories and the daily beat task."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty import demo, services, tasks
from loyalty.models import LoyaltySettings, PointsAccount, PointsEntry, Reward
from loyalty.queries import ledger_mismatches
from shop import demo as shop_demo
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_the_demo_customer_a_history_once():
    # Review points come from reviews/demo.py (tests/reviews/test_demo.py).
    shop_demo.seed_demo(orders=300, customers=40)

    first = demo.seed_demo()
    second = demo.seed_demo()

    assert first == {
        "rewards": 3,
        "points entries": 2,  # welcome bonus, free shipping redeemed
        "coupons": 2,  # free shipping, store credit
        "store credit entries": 1,
    }
    assert second == {
        "rewards": 0,
        "points entries": 0,
        "coupons": 0,
        "store credit entries": 0,
    }
    account = PointsAccount.objects.get(customer__email="customer@example.com")
    assert account.balance == 600 - Reward.objects.get(kind="free_shipping").points_cost
    assert ledger_mismatches() == []
    assert not PointsEntry.objects.filter(key__startswith="demo:review:").exists()


def test_the_daily_task_expires_reminds_and_awards(customer):
    LoyaltySettings.objects.create(points_per_euro=1, return_window_days=30)
    now = timezone.now()
    services.award_points(
        customer=customer,
        points=40,
        key="old",
        reason="r",
        now=now - timedelta(days=400),
    )
    reminded = CustomerFactory()
    services.award_points(
        customer=reminded,
        points=10,
        key="soon",
        reason="r",
        now=now - timedelta(days=350),
    )
    OrderFactory(
        customer=reminded, total=Decimal("20.00"), delivered_at=now - timedelta(days=31)
    )

    result = tasks.scan_points_task.delay().get()
    again = tasks.scan_points_task.delay().get()

    assert result == {"expired": 1, "reminders": 1, "kept_orders": 1}
    assert again == {"expired": 0, "reminders": 0, "kept_orders": 0}
    assert PointsAccount.objects.get(customer=customer).balance == 0
    assert PointsAccount.objects.get(customer=reminded).balance == 30


def test_the_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["scan-points"]
    assert entry["task"] == "loyalty.tasks.scan_points_task"
