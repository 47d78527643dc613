"""Planted data for the insights admin tests, with the answers worked out by hand.

Shoes (category), orders placed in March and May 2026:
- Order 1 (Ada, placed 10 March): A 40 × 50.00, B 40 × 20.00, C 40 × 10.00,
  D 5 × 10.00. Returns: A 20 size-fit (confirmed, received opened), B 2 damaged in
  transit (confirmed, received damaged), D 5 stated defective but confirmed wrong item
  (received damaged), C 4 changed mind (received as new), C 10 changed mind rejected
  (does not count).
- Order 2 (Bo, placed 10 May): A 20 × 50.00; 1 returned size-fit.

Units 145, returned 32 (22.1 %); value 4250.00, returned 1180.00 (27.8 %);
controllable 28, uncontrollable 4. A is the product to fix: 60 units, 21 controllable
(35.0 %) against the category's 28/145 (19.3 %); D (5 units) is too small to judge.
Centre Rotterdam: 4 lines received, 2 damaged (50.0 %), 1 wrong item (25.0 %), 3
inspected, 1 confirmed reason differs (33.3 %).

Customers for the serial-returner page (relative to today, so the 365-day window of
the override service sees them): Sam (3 orders, 4 of 6 units back: serial) and Kim
(3 orders, 1 of 3 back: a loyal keeper), plus Noor without orders (new).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone

from insights import services
from returns.models import FulfilmentCentre, ReturnLine, ReturnStatus
from shop.models import Product
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    UserFactory,
)
from tests.insights.planted import give_back, order

PERIOD = {"start": "2026-01-01", "end": "2026-06-30"}


@dataclass
class Shop:
    a: Product
    b: Product
    c: Product
    d: Product
    centre: FulfilmentCentre


def member_of(client, group_name: str):
    user = UserFactory(username=group_name.replace(" ", "-").lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return user


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def plant_shop() -> Shop:
    shoes = CategoryFactory(name="Shoes")
    a, b, c, d = (
        ProductFactory(sku=f"SHOE-{name}", name=f"Shoe {name}", category=shoes)
        for name in "ABCD"
    )
    rotterdam = FulfilmentCentre.objects.create(
        name="Rotterdam", code="rdam", address="Havenweg 12", is_default=True
    )
    FulfilmentCentre.objects.create(name="Tilburg", code="tlb", address="Ringbaan 1")
    ada = CustomerFactory(email="ada@example.com")
    first = order(
        ada,
        (a, 40, Decimal("50.00")),
        (b, 40, Decimal("20.00")),
        (c, 40, Decimal("10.00")),
        (d, 5, Decimal("10.00")),
        placed=at("2026-03-10"),
        delivered=at("2026-03-13"),
    )
    common = {"centre": rotterdam, "status": ReturnStatus.INSPECTED}
    give_back(
        first,
        (a, 20, "size-fit"),
        confirmed={0: "size-fit"},
        comment="=2+5 runs small",
        prevention="@SUM a size chart",
        shipping_cost=Decimal("0.00"),
        handling_cost=Decimal("6.00"),
        refund_total=Decimal("1000.00"),
        value_recovered=Decimal("400.00"),
        **common,
    )
    give_back(
        first,
        (b, 2, "damaged-in-transit"),
        confirmed={0: "damaged-in-transit"},
        shipping_cost=Decimal("4.95"),
        handling_cost=Decimal("6.00"),
        refund_total=Decimal("40.00"),
        **common,
    )
    give_back(first, (d, 5, "defective"), confirmed={0: "wrong-item"}, **common)
    give_back(first, (c, 4, "changed-mind"), **common)
    give_back(first, (c, 10, "changed-mind"), status=ReturnStatus.REJECTED)
    for product, condition in ((a, "opened"), (b, "damaged"), (d, "damaged")):
        ReturnLine.objects.filter(order_line__product=product).update(
            condition=condition
        )
    ReturnLine.objects.filter(
        order_line__product=c, request__status=ReturnStatus.INSPECTED
    ).update(condition="as_new")

    bo = CustomerFactory(email="bo@example.com")
    second = order(
        bo,
        (a, 20, Decimal("50.00")),
        placed=at("2026-05-10"),
        delivered=at("2026-05-12"),
    )
    give_back(second, (a, 1, "size-fit"), comment="Still small", **common)
    return Shop(a=a, b=b, c=c, d=d, centre=rotterdam)


def plant_customers():
    """Sam (serial returner), Kim (loyal keeper), Noor (new); insights computed."""
    now = timezone.now()
    bags = CategoryFactory(name="Bags")
    tote = ProductFactory(sku="BAG-1", name="Tote", category=bags, price=Decimal("30"))
    sam = CustomerFactory(email="sam@example.com")
    for days, back in ((70, 2), (60, 1), (50, 1)):
        made = order(
            sam, (tote, 2, Decimal("30.00")), delivered=now - timedelta(days=days)
        )
        give_back(made, (tote, back, "changed-mind"))
    kim = CustomerFactory(email="kim@example.com")
    for number, days in enumerate((90, 80, 70)):
        made = order(
            kim, (tote, 1, Decimal("30.00")), delivered=now - timedelta(days=days)
        )
        if number == 0:
            give_back(made, (tote, 1, "changed-mind"))
    noor = CustomerFactory(email="noor@example.com")
    services.compute_insights(now=now)
    return sam, kim, noor
