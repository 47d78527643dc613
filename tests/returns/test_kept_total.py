"""Loyalty's points for kept orders count only what the customer kept: returns
answers loyalty's `kept_order_deductions` with the value refunded or credited."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty import services as loyalty
from loyalty.models import LoyaltySettings, PointsEntry
from returns import services
from tests.factories import UserFactory
from tests.returns import core_setup as setup


@pytest.fixture
def ready(db):
    setup.policy(restocking_fee_percent=Decimal("10"))
    setup.centre()
    LoyaltySettings.objects.create(points_per_euro=1, return_window_days=30)


def _order():
    # three lines of 2 × 25.00: 150.00, delivered long enough ago for points
    return setup.order(
        lines=3,
        quantity=2,
        price="25.00",
        placed_at=timezone.now() - timedelta(days=45),
        delivered_at=timezone.now() - timedelta(days=40),
    )


def test_kept_order_points_drop_by_the_refunded_amount(ready):
    order = _order()
    first, second, third = order.lines.all()
    request = setup.submit(
        order,
        # refund 1 × 25.00 minus a 10 percent fee: 22.50
        setup.choice(first, quantity=1),
        # store credit 2 × 25.00 for a defect: no fee, 50.00 taken back
        setup.choice(second, quantity=2, reason="defective", resolution="store_credit"),
        # an exchange keeps the value with the customer
        setup.choice(third, quantity=1, resolution="exchange"),
        # (the window has closed: staff files it as an exception)
        by_user=UserFactory(is_staff=True),
        window_exception=True,
    )
    services.approve(request=request)

    assert loyalty.kept_total(order) == Decimal("77.50")
    entry = loyalty.award_kept_order_points(order=order, now=timezone.now())
    assert entry.amount == 77
    assert PointsEntry.objects.get(key=f"order:{order.pk}").amount == 77


def test_cancelled_and_rejected_returns_do_not_count(ready):
    order = _order()
    staff = UserFactory(is_staff=True)
    cancelled = setup.submit(order, by_user=staff, window_exception=True)
    services.cancel(request=cancelled, by=staff)
    rejected = setup.submit(order, by_user=staff, window_exception=True)
    services.reject(request=rejected, reason="Too late", by=staff)

    assert loyalty.kept_total(order) == Decimal("150.00")


def test_an_order_without_returns_is_kept_whole(ready):
    order = _order()
    assert loyalty.kept_total(order) == Decimal("150.00")
