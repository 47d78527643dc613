"""Every insights admin page runs a fixed number of queries whatever the data size:
the same bound holds with 5 and with 200 products, customers, returns and fixes (all
of them shown: each product is flagged, each customer listed)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from insights.models import CustomerInsight, Override, Persona, ProductFix
from returns.models import (
    FulfilmentCentre,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from shop.models import Category, Customer, Order, OrderLine, OrderSource, Product
from tests.insights.admin_setup import PERIOD, at, member_of

pytestmark = pytest.mark.django_db

# Page: the most queries it may run (session, user, permissions, Wagtail's menu and
# the page's own reads), measured with 5 rows and held with 200.
BOUNDS = {
    "dashboard": 14,
    "products": 20,
    "export": 14,
    "mark_fixed": 10,
    "centres": 9,
    "serial": 10,
    "override": 9,
    "personas": 9,
}


def plant(size: int, user):
    """`size` products, each sold once (30 units) to its own customer; the even ones
    come back a lot (flagged), the odd ones hardly; every product has a fix and every
    customer a computed insight (half of them overridden)."""
    category = Category.objects.create(name="Bulk")
    centre = FulfilmentCentre.objects.create(
        name="Bulk centre", code="bulk", address="x", is_default=True
    )
    placed = at("2026-03-10")
    products = Product.objects.bulk_create(
        Product(
            sku=f"B-{i}",
            name=f"Bulk {i}",
            category=category,
            price=Decimal("10.00"),
            currency="EUR",
        )
        for i in range(size)
    )
    customers = Customer.objects.bulk_create(
        Customer(email=f"bulk{i}@example.com") for i in range(size)
    )
    orders = Order.objects.bulk_create(
        Order(
            source=OrderSource.SHOP,
            external_id=f"bulk-{i}",
            number=f"B{i}",
            customer=customers[i],
            placed_at=placed,
            shipped_at=placed + timedelta(days=1),
            delivered_at=placed + timedelta(days=3),
            currency="EUR",
            total=Decimal("300.00"),
        )
        for i in range(size)
    )
    lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=orders[i],
            external_id=f"bulk-line-{i}",
            product=products[i],
            quantity=30,
            unit_price=Decimal("10.00"),
        )
        for i in range(size)
    )
    requests = ReturnRequest.objects.bulk_create(
        ReturnRequest(
            rma=f"B{i:07d}",
            order=orders[i],
            customer=customers[i],
            centre=centre,
            status=ReturnStatus.INSPECTED,
            channel="account",
            idempotency_key=f"bulk-{i}",
            currency="EUR",
            created_at=placed + timedelta(days=5),
            shipping_cost=Decimal("4.95"),
        )
        for i in range(size)
    )
    size_fit = ReturnReason.objects.get(code="size-fit")
    wrong = ReturnReason.objects.get(code="wrong-item")
    ReturnLine.objects.bulk_create(
        ReturnLine(
            request=requests[i],
            order_line=lines[i],
            quantity=25 if i % 2 == 0 else 1,
            reason=size_fit,
            confirmed_reason=wrong if i % 3 == 0 else size_fit,
            comment=f"Comment {i}",
            prevention=f"Prevention {i}",
            requested_resolution="refund",
            unit_value=Decimal("10.00"),
            condition="damaged" if i % 2 else "opened",
        )
        for i in range(size)
    )
    ProductFix.objects.bulk_create(
        ProductFix(
            product=product,
            fixed_on=at("2026-03-01").date(),
            area="description",
            note="Size chart",
            by=user,
        )
        for product in products
    )
    now = timezone.now()
    CustomerInsight.objects.bulk_create(
        CustomerInsight(
            customer=customer,
            orders=3,
            delivered_units=30,
            returned_units=25,
            delivered_value=Decimal("300.00"),
            returned_value=Decimal("250.00"),
            return_rate=Decimal("0.8333"),
            value_return_rate=Decimal("0.8333"),
            computed_serial=True,
            flagged_since=now,
            override=Override.ALWAYS if i % 2 else Override.NONE,
            override_reason="Checked" if i % 2 else "",
            override_by=user if i % 2 else None,
            override_at=now if i % 2 else None,
            persona=Persona.SERIAL_RETURNER,
            computed_at=now,
        )
        for i, customer in enumerate(customers)
    )
    return products, customers


def url_of(page: str, products, customers) -> tuple[str, dict]:
    return {
        "dashboard": (reverse("insights_dashboard:index"), PERIOD),
        "products": (reverse("insights_products:index"), PERIOD),
        "export": (reverse("insights_products:export"), PERIOD),
        "mark_fixed": (
            reverse("insights_products:mark_fixed", args=[products[0].pk]),
            {},
        ),
        "centres": (reverse("insights_centres:index"), PERIOD),
        "serial": (reverse("insights_serial:index"), {}),
        "override": (reverse("insights_serial:override", args=[customers[1].pk]), {}),
        "personas": (reverse("insights_personas:index"), {}),
    }[page]


@pytest.mark.parametrize("size", [5, 200])
@pytest.mark.parametrize("page", list(BOUNDS))
def test_pages_run_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, page, size
):
    user = member_of(client, "Returns team")
    products, customers = plant(size, user)
    url, params = url_of(page, products, customers)

    with django_assert_max_num_queries(BOUNDS[page]):
        response = client.get(url, params)

    assert response.status_code == 200
    body = response.content.decode()
    if page == "products":
        assert body.count('data-sku="B-') == (size + 1) // 2
    if page == "export":
        assert len(body.strip().splitlines()) == 1 + (size + 1) // 2
    if page == "serial":
        assert body.count('data-customer="bulk') == min(size, 50)
