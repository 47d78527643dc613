"""Demo loyalty data, run by `seed_demo` after the shop's: the rewards catalogue and a
year of points for the demo customer and some 40 others (review points after delivery,
a redemption or two, store credit for the demo customer).

Deterministic and idempotent: every entry has a key derived from the order's external
id or the customer's e-mail (never a database id), dated from the orders themselves,
so a second run finds every key and writes nothing.
"""

from __future__ import annotations

import hashlib
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
OTHER_CUSTOMERS = 40
REVIEW_POINTS = 50

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


def _reviewed(external_id: str) -> bool:
    """About two in three delivered orders get a review, the same ones every run."""
    return hashlib.sha256(external_id.encode()).digest()[0] % 3 != 0


def _has_photo(external_id: str) -> bool:
    return hashlib.sha256(external_id.encode()).digest()[1] % 2 == 0


def seed_rewards() -> int:
    created = 0
    for values in REWARDS:
        _, was_created = Reward.objects.get_or_create(
            name=values["name"], defaults=values
        )
        created += was_created
    return created


def _customers() -> list[Customer]:
    demo = list(Customer.objects.filter(email=DEMO_CUSTOMER_EMAIL))
    others = list(
        Customer.objects.filter(orders__external_id__startswith="demo-")
        .exclude(email=DEMO_CUSTOMER_EMAIL)
        .distinct()
        .order_by("email")[:OTHER_CUSTOMERS]
    )
    return demo + others


def seed_histories() -> None:
    rewards = {reward.kind: reward for reward in Reward.objects.all()}
    for customer in _customers():
        orders = Order.objects.filter(
            customer=customer,
            external_id__startswith="demo-",
            delivered_at__isnull=False,
        ).order_by("delivered_at", "pk")
        last, earned = None, 0
        for order in orders:
            if (
                not _reviewed(order.external_id)
                and customer.email != DEMO_CUSTOMER_EMAIL
            ):
                continue
            last = order.delivered_at + timedelta(days=5)
            points = REVIEW_POINTS + (25 if _has_photo(order.external_id) else 0)
            earned += points
            services.award_points(
                customer=customer,
                points=points,
                key=f"demo:review:{order.external_id}",
                reason=f"Review of order {order.number} approved",
                now=last,
            )
        reward = rewards.get(RewardKind.FREE_SHIPPING)
        # Decided on the planned points, not the live balance, so reruns agree.
        if reward and last and earned >= 600:
            services.redeem(
                customer=customer,
                reward=reward,
                key=f"demo:redeem:{customer.email}",
                now=last + timedelta(days=2),
            )
        if customer.email == DEMO_CUSTOMER_EMAIL and last:
            services.award_points(
                customer=customer,
                points=600,
                key="demo:welcome:customer@example.com",
                reason="Welcome bonus",
                now=last + timedelta(days=3),
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
