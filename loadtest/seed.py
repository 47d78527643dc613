"""The load test's own rows, on top of the demo data: customers who sign in with a
password, each with delivered one-line orders to review and to return, and the
settings the load depends on.

    DJANGO_SETTINGS_MODULE=... python -m loadtest.seed CUSTOMERS ORDERS_EACH [--light]

With --light, instead of `seed_demo`'s full data (run before), only the demo's pages
(home, return policies) and fulfilment centres are created: minutes less set-up on a
busy machine, product pages without earlier reviews. Then it prints the accounts as JSON: `{"customers": [{"email", "password", "lines",
"orders"}], "products": [{"sku", "name"}]}` (line and order ids, one of each per
review or return the load will file).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from decimal import Decimal

PASSWORD = "loadtest-Pa55word"  # noqa: S105  (throwaway accounts in a throwaway database)
# Clothing: the demo's 30-day policy with refunds, so every order is returnable.
SKUS = [f"CLO-{number:03d}" for number in range(1, 11)]


def seed_light() -> None:
    """The demo's pages and fulfilment centres, without its customers and orders."""
    from cms.demo import seed_demo as seed_pages
    from returns.demo import seed_centres

    seed_pages()
    seed_centres()


def seed(*, customers: int, orders_each: int) -> dict:
    """Create the accounts and orders; return what the locustfile needs."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from reviews.models import ReviewSettings
    from shop.models import Category, Customer, Order, OrderLine, Product

    # The load's few customers write far more reviews an hour than a real one: the
    # per-customer limit (a cache counter, still counted) would refuse them.
    rules = ReviewSettings.load()
    rules.auto_approve_clean = True
    rules.submissions_per_hour = 0
    rules.save()

    clothing = Category.objects.get_or_create(name="Clothing")[0]
    products = {
        sku: Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": f"Load test shirt {sku}",
                "category": clothing,
                "price": Decimal("39.95"),
                "currency": "EUR",
            },
        )[0]
        for sku in SKUS
    }
    now = timezone.now()
    delivered = now - timedelta(days=3)
    password = make_password(PASSWORD)  # hashed once: PBKDF2 is slow on purpose
    User = get_user_model()
    accounts = []
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(
                username=f"loadtest{n}",
                email=f"loadtest{n}@example.com",
                password=password,
            )
            for n in range(customers)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=user, email=user.email, verified=True, primary=True)
            for user in users
        )
        people = Customer.objects.bulk_create(
            Customer(email=user.email, user=user, first_name="Load", last_name="Test")
            for user in users
        )
        for n, person in enumerate(people):
            orders = Order.objects.bulk_create(
                Order(
                    external_id=f"loadtest-{n}-{k}",
                    number=f"LT{n}-{k}",
                    customer=person,
                    placed_at=delivered - timedelta(days=2),
                    shipped_at=delivered - timedelta(days=1),
                    delivered_at=delivered,
                    currency="EUR",
                    total=Decimal("39.95"),
                )
                for k in range(orders_each)
            )
            lines = OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    external_id="1",
                    product=products[SKUS[k % len(SKUS)]],
                    quantity=1,
                    unit_price=Decimal("39.95"),
                )
                for k, order in enumerate(orders)
            )
            accounts.append(
                {
                    "email": person.email,
                    "password": PASSWORD,
                    "lines": [line.pk for line in lines],
                    "orders": [order.pk for order in orders],
                }
            )
    return {
        "customers": accounts,
        "products": [
            {"sku": sku, "name": product.name} for sku, product in products.items()
        ],
    }


def main() -> None:
    import django

    django.setup()
    customers, orders_each = int(sys.argv[1]), int(sys.argv[2])
    if "--light" in sys.argv[3:]:
        seed_light()
    print(json.dumps(seed(customers=customers, orders_each=orders_each)))  # noqa: T201


if __name__ == "__main__":
    main()
