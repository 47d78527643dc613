"""Demo loyalty data, run by `seed_demo` after the shop's: the rewards catalogue and the
demo customer's welcome bonus, a redemption and store credit.

Review points are not made up here: reviews/demo.py (which runs after this) writes
real reviews and approves them through reviews/services.py, which awards them in this
ledger under `review:<id>` and `review-photo:<id>`.

Deterministic and idempotent: every entry has a key derived from the customer's
e-mail (never a database id), dated from their orders, so a second run finds every
key and writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from loyalty import services
from loyalty.models import (
    Coupon,
    PointsEntry,
    Reward,
    RewardKind,
    StoreCreditEntry,
)
from shop.models import Customer, Order

DEMO_CUSTOMER_EMAIL = "customer@example.com"
WELCOME_POINTS = 600

REWARDS = [
    {
        "name": "EUR 5 off your next order",
        "kind": RewardKind.FIXED_AMOUNT,
        "points_cost": 500,
        "value": Decimal("5.00"),
        "sort_order": 1,
    },
    {
        "name": "Free shipping",
        "kind": RewardKind.FREE_SHIPPING,
        "points_cost": 300,
        "value": Decimal("0.00"),
        "sort_order": 2,
    },
    {
        "name": "10% off one order",
        "kind": RewardKind.PERCENTAGE,
        "points_cost": 800,
        "value": Decimal("10.00"),
        "per_customer_limit": 1,
        "sort_order": 3,
    },
]


def seed_rewards() -> int:
    created = 0
    for values in REWARDS:
        _, was_created = Reward.objects.get_or_create(
            name=values["name"], defaults=values
        )
        created += was_created
    return created


def seed_histories() -> None:
    """The demo customer: a welcome bonus after their last delivery, free shipping
    redeemed with it, and a refund as store credit."""
    customer = Customer.objects.filter(email=DEMO_CUSTOMER_EMAIL).first()
    if customer is None:
        return
    last_order = (
        Order.objects.filter(customer=customer, delivered_at__isnull=False)
        .order_by("-delivered_at", "-pk")
        .first()
    )
    if last_order is None:
        return
    last = last_order.delivered_at
    services.award_points(
        customer=customer,
        points=WELCOME_POINTS,
        key="demo:welcome:customer@example.com",
        reason="Welcome bonus",
        now=last + timedelta(days=3),
    )
    reward = Reward.objects.filter(kind=RewardKind.FREE_SHIPPING).first()
    if reward is not None:
        services.redeem(
            customer=customer,
            reward=reward,
            key=f"demo:redeem:{customer.email}",
            now=last + timedelta(days=4),
        )
    services.credit_store(
        customer=customer,
        amount=Decimal("15.00"),
        currency="EUR",
        key="demo:credit:customer@example.com",
        reason="Return refunded as store credit",
        now=last,
    )


@transaction.atomic
def seed_demo() -> dict[str, int]:
    before = (
        PointsEntry.objects.count(),
        Coupon.objects.count(),
        StoreCreditEntry.objects.count(),
    )
    rewards = seed_rewards()
    seed_histories()
    return {
        "rewards": rewards,
        "points entries": PointsEntry.objects.count() - before[0],
        "coupons": Coupon.objects.count() - before[1],
        "store credit entries": StoreCreditEntry.objects.count() - before[2],
    }
