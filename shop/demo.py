"""Deterministic demo data for the shop: catalogue, customers, a year of orders, and the
demo accounts (admin, one staff user per team, one customer who can sign in).

Everything comes from one `random.Random(SEED)`, so every run plans the same rows. Rows
are keyed by what the shop would key them by (SKU, e-mail, source + external id, username)
and only missing ones are written, so a second run changes nothing. Products go through
`services.upsert_product`; customers and orders are bulk-inserted (2,000 orders one
`upsert_order` at a time take most of a minute on PostgreSQL). Order dates are
relative to an anchor day: the day of the first run, read back from the first demo order
afterwards, so a rerun on a later day finds the same dates.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from shop import services
from shop.models import ConsentSource, Customer, Order, OrderLine, OrderSource, Product

SEED = 20240601
CURRENCY = "EUR"
ORDER_COUNT = 2000
CUSTOMER_COUNT = 300
DAYS_OF_HISTORY = 365
EXTERNAL_ID_PREFIX = "demo-"

DEMO_CUSTOMER_EMAIL = "customer@example.com"
DEMO_CUSTOMER_PASSWORD = "customer"  # noqa: S105  (a documented demo login)
# Every DEMO_CUSTOMER_EVERY-th order is the demo customer's, so "My orders" has a year.
DEMO_CUSTOMER_EVERY = 200

# username -> group; the password is the username.
STAFF = {
    "editor": "Editors",
    "moderator": "Moderators",
    "returns": "Returns team",
    "marketing": "Marketing",
}

CATALOGUE = {
    ("CLO", "Clothing"): [
        ("Organic Cotton T-Shirt", "19.95"),
        ("Slim Fit Chinos", "59.95"),
        ("Merino Wool Sweater", "89.95"),
        ("Denim Jacket", "99.95"),
        ("Linen Shirt", "49.95"),
        ("Hooded Sweatshirt", "54.95"),
        ("Waterproof Rain Parka", "149.00"),
        ("Pleated Midi Skirt", "64.95"),
        ("Jersey Wrap Dress", "79.95"),
        ("Relaxed Fit Jeans", "69.95"),
    ],
    ("SHO", "Shoes"): [
        ("Leather Chelsea Boots", "149.95"),
        ("Canvas Sneakers", "59.95"),
        ("Trail Running Shoes", "129.95"),
        ("Suede Loafers", "109.95"),
        ("Heeled Ankle Boots", "119.95"),
        ("Leather Sandals", "69.95"),
        ("Court Trainers", "89.95"),
        ("Wool Slippers", "39.95"),
        ("Waterproof Hiking Boots", "159.95"),
        ("Ballet Flats", "54.95"),
    ],
    ("ELE", "Electronics"): [
        ("Noise-Cancelling Headphones", "249.00"),
        ("Portable Bluetooth Speaker", "79.99"),
        ("USB-C Charger 65 W", "39.99"),
        ("Smartwatch", "199.00"),
        ("E-Reader", "139.99"),
        ("Wireless Earbuds", "129.00"),
        ("Power Bank 20,000 mAh", "34.99"),
        ("Mechanical Keyboard", "109.00"),
        ("Full HD Webcam", "69.99"),
        ("Smart Plug (2-pack)", "29.99"),
    ],
    ("HOM", "Home"): [
        ("Linen Duvet Cover", "89.95"),
        ("Stoneware Dinner Plates (set of 4)", "44.95"),
        ("Cast Iron Casserole", "119.00"),
        ("Wool Throw Blanket", "69.95"),
        ("Scented Soy Candle", "19.95"),
        ("Brass Table Lamp", "59.95"),
        ("Cotton Bath Towel Set", "49.95"),
        ("Chef's Knife 20 cm", "79.00"),
        ("Glass Carafe", "24.95"),
        ("Velvet Cushion Cover", "22.95"),
    ],
    ("BEA", "Beauty"): [
        ("Hydrating Face Cream", "29.95"),
        ("Vitamin C Serum", "34.95"),
        ("Mineral Sunscreen SPF 50", "19.95"),
        ("Argan Hair Oil", "24.95"),
        ("Eau de Parfum 50 ml", "69.00"),
        ("Volumising Mascara", "17.95"),
        ("Gentle Cleansing Gel", "14.95"),
        ("Lip Balm Trio", "12.95"),
        ("Clay Face Mask", "21.95"),
        ("Ionic Hair Dryer", "89.00"),
    ],
    ("SPO", "Sports"): [
        ("Yoga Mat", "39.95"),
        ("Running Tights", "49.95"),
        ("Cycling Jersey", "64.95"),
        ("Adjustable Dumbbells", "149.00"),
        ("Insulated Water Bottle", "24.95"),
        ("Resistance Bands Set", "19.95"),
        ("Tennis Racket", "119.00"),
        ("Padel Balls (3-pack)", "9.95"),
        ("Fitness Tracker", "79.00"),
        ("Sports Bra", "34.95"),
    ],
}

NAMES = {
    "nl": (
        [
            "Daan", "Sem", "Lucas", "Finn", "Bram", "Jesse", "Thijs", "Ruben", "Milan",
            "Lars", "Emma", "Julia", "Tess", "Sophie", "Lotte", "Sanne", "Anouk",
            "Fleur", "Iris", "Noor",
        ],
        [
            "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker",
            "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
            "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
        ],
    ),
    "en": (
        [
            "Oliver", "George", "Harry", "Jack", "Noah", "Leo", "Oscar", "Charlie",
            "James", "Thomas", "Olivia", "Amelia", "Isla", "Ava", "Grace", "Freya",
            "Lily", "Emily", "Ella", "Rosie",
        ],
        [
            "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson",
            "Davies", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White",
            "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
        ],
    ),
}  # fmt: skip
MAIL_DOMAINS = ["example.com", "example.org", "example.net"]


@dataclass(frozen=True)
class PlannedOrder:
    external_id: str
    number: str
    customer: services.CustomerData
    lines: tuple[services.LineData, ...]
    age: timedelta  # placed this long before the anchor
    ship_after: timedelta
    deliver_after: timedelta


@dataclass(frozen=True)
class DemoPlan:
    products: list[dict]
    customers: list[services.CustomerData]
    orders: list[PlannedOrder]


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def plan_demo(
    *, orders: int = ORDER_COUNT, customers: int = CUSTOMER_COUNT, seed: int = SEED
) -> DemoPlan:
    """The demo rows, without dates: the same every time for the same arguments."""
    rng = random.Random(seed)  # noqa: S311  (reproducible demo data, not secrets)
    products = [
        {
            "sku": f"{prefix}-{number:03d}",
            "name": name,
            "price": Decimal(price),
            "currency": CURRENCY,
            "category": category,
            "product_url": f"https://shop.example.com/products/{prefix.lower()}-{number:03d}",
        }
        for (prefix, category), items in CATALOGUE.items()
        for number, (name, price) in enumerate(items, start=1)
    ]

    people = [
        services.CustomerData(
            email=DEMO_CUSTOMER_EMAIL,
            first_name="Sanne",
            last_name="de Vries",
            language="nl",
            marketing_consent=True,
        )
    ]
    for number in range(1, customers):
        language = "nl" if rng.random() < 0.55 else "en"
        first_names, last_names = NAMES[language]
        first, last = rng.choice(first_names), rng.choice(last_names)
        domain = rng.choice(MAIL_DOMAINS)
        people.append(
            services.CustomerData(
                email=f"{_ascii_slug(first)}.{_ascii_slug(last)}{number}@{domain}",
                first_name=first,
                last_name=last,
                language=language,
                marketing_consent=rng.random() < 0.4,
            )
        )
    # A few customers buy (and, later, return) far more than the rest.
    weights = [rng.paretovariate(2.5) for _ in people]
    weights[0] = 0  # the demo customer gets every DEMO_CUSTOMER_EVERY-th order

    # Oldest first, so order numbers rise with the date as in a real shop.
    ages = sorted(
        (
            timedelta(
                days=rng.randrange(DAYS_OF_HISTORY),
                seconds=rng.randrange(7 * 3600, 23 * 3600),
            )
            for _ in range(orders)
        ),
        reverse=True,
    )
    planned = []
    for number, age in enumerate(ages, start=1):
        if number % DEMO_CUSTOMER_EVERY == 1:
            buyer = people[0]
        else:
            buyer = rng.choices(people, weights=weights)[0]
        picked = rng.sample(products, k=rng.choices([1, 2, 3, 4], [55, 28, 12, 5])[0])
        lines = tuple(
            services.LineData(
                external_id=f"{EXTERNAL_ID_PREFIX}{number:05d}-{index}",
                sku=product["sku"],
                quantity=rng.choices([1, 2, 3], [85, 12, 3])[0],
                unit_price=product["price"],
            )
            for index, product in enumerate(picked, start=1)
        )
        planned.append(
            PlannedOrder(
                external_id=f"{EXTERNAL_ID_PREFIX}{number:05d}",
                number=f"RW{100000 + number}",
                customer=buyer,
                lines=lines,
                age=age,
                # One in ten waits for stock for up to a week before it ships.
                ship_after=timedelta(
                    hours=rng.randrange(4, 48)
                    if rng.random() < 0.9
                    else rng.randrange(48, 8 * 24)
                ),
                deliver_after=timedelta(hours=rng.randrange(16, 120)),
            )
        )
    return DemoPlan(products=products, customers=people, orders=planned)


def _anchor(plan: DemoPlan) -> datetime:
    """Midnight UTC of the first run's day; later runs read it back from the data."""
    first = plan.orders[0]
    placed_at = (
        Order.objects.filter(source=OrderSource.SHOP, external_id=first.external_id)
        .values_list("placed_at", flat=True)
        .first()
    )
    if placed_at is not None:
        return placed_at + first.age
    return (
        timezone.now()
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )


def _order_data(planned: PlannedOrder, anchor: datetime) -> services.OrderData:
    """Dates from the anchor: delivered if that is past the anchor, else shipped or
    just placed, so the newest orders are still on their way."""
    placed_at = anchor - planned.age
    shipped_at = placed_at + planned.ship_after
    delivered_at = shipped_at + planned.deliver_after
    return services.OrderData(
        external_id=planned.external_id,
        number=planned.number,
        currency=CURRENCY,
        customer=planned.customer,
        lines=planned.lines,
        placed_at=placed_at,
        shipped_at=shipped_at if shipped_at <= anchor else None,
        delivered_at=delivered_at if delivered_at <= anchor else None,
    )


def _ensure_user(*, username: str, email: str, password: str, **flags):
    """The user with this username, created with the password if missing; an existing
    one is left alone (resetting the password would change its hash every run)."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model(username=username, email=email, **flags)
        user.set_password(password)
        user.save()
    return user


def _ensure_group(name: str) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    if created:
        # Created here before its data migration ran: at least let it into the admin.
        group.permissions.add(
            Permission.objects.get(
                content_type__app_label="wagtailadmin", codename="access_admin"
            )
        )
    return group


def seed_accounts() -> dict[str, int]:
    """admin/admin, one staff user per team, and the demo customer's verified login."""
    user_model = get_user_model()
    before = user_model.objects.count()
    _ensure_user(
        username="admin",
        email="admin@example.com",
        password="admin",  # noqa: S106  (the documented demo login)
        is_staff=True,
        is_superuser=True,
    )
    for username, group_name in STAFF.items():
        user = _ensure_user(
            username=username,
            email=f"{username}@example.com",
            password=username,
            is_staff=True,
        )
        user.groups.add(_ensure_group(group_name))

    customer_user = _ensure_user(
        username="customer",
        email=DEMO_CUSTOMER_EMAIL,
        password=DEMO_CUSTOMER_PASSWORD,
        first_name="Sanne",
        last_name="de Vries",
    )
    EmailAddress.objects.get_or_create(
        user=customer_user,
        email=DEMO_CUSTOMER_EMAIL,
        defaults={"verified": True, "primary": True},
    )
    return {"users": user_model.objects.count() - before}


def seed_catalogue(plan: DemoPlan) -> dict[str, int]:
    existing = set(
        Product.objects.filter(sku__in=[p["sku"] for p in plan.products]).values_list(
            "sku", flat=True
        )
    )
    missing = [p for p in plan.products if p["sku"] not in existing]
    for product in missing:
        services.upsert_product(**product)
    return {"products": len(missing)}


def seed_customers(plan: DemoPlan, *, anchor: datetime) -> dict[str, int]:
    existing = set(
        Customer.objects.filter(
            email__in=[c.email for c in plan.customers]
        ).values_list("email", flat=True)
    )
    users = {
        address.email: address.user_id
        for address in EmailAddress.objects.filter(
            email__in=[c.email for c in plan.customers], verified=True
        )
    }
    missing = [
        Customer(
            email=services.normalise_email(data.email),
            first_name=data.first_name,
            last_name=data.last_name,
            language=data.language,
            marketing_consent=data.marketing_consent,
            # Given at checkout, before the year of orders began.
            marketing_consent_at=(
                anchor - timedelta(days=DAYS_OF_HISTORY)
                if data.marketing_consent
                else None
            ),
            marketing_consent_source=(
                ConsentSource.CHECKOUT if data.marketing_consent else ""
            ),
            user_id=users.get(data.email),
        )
        for data in plan.customers
        if data.email not in existing
    ]
    Customer.objects.bulk_create(missing)
    return {"customers": len(missing)}


def seed_orders(plan: DemoPlan, *, anchor: datetime) -> dict[str, int]:
    """The orders that are missing, with their lines, in two bulk inserts: what
    `services.upsert_order` would write for each, at a fraction of the queries."""
    existing = set(
        Order.objects.filter(
            source=OrderSource.SHOP, external_id__startswith=EXTERNAL_ID_PREFIX
        ).values_list("external_id", flat=True)
    )
    missing = [
        _order_data(planned, anchor)
        for planned in plan.orders
        if planned.external_id not in existing
    ]
    if not missing:
        return {"orders": 0}
    customers = dict(
        Customer.objects.filter(
            email__in={data.customer.email for data in missing}
        ).values_list("email", "pk")
    )
    products = dict(Product.objects.values_list("sku", "pk"))
    Order.objects.bulk_create(
        Order(
            source=OrderSource.SHOP,
            external_id=data.external_id,
            number=data.number,
            customer_id=customers[data.customer.email],
            placed_at=data.placed_at,
            shipped_at=data.shipped_at,
            delivered_at=data.delivered_at,
            currency=data.currency,
            total=sum(
                (line.unit_price * line.quantity for line in data.lines),
                Decimal("0.00"),
            ),
        )
        for data in missing
    )
    order_ids = dict(
        Order.objects.filter(
            source=OrderSource.SHOP,
            external_id__in=[data.external_id for data in missing],
        ).values_list("external_id", "pk")
    )
    OrderLine.objects.bulk_create(
        (
            OrderLine(
                order_id=order_ids[data.external_id],
                external_id=line.external_id,
                product_id=products[line.sku],
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for data in missing
            for line in data.lines
        ),
        batch_size=1000,
    )
    return {"orders": len(missing)}


@transaction.atomic
def seed_demo(
    *, orders: int = ORDER_COUNT, customers: int = CUSTOMER_COUNT
) -> dict[str, int]:
    """Write whatever of the shop's demo data is missing; returns how many of each kind
    were created (all zero on a second run)."""
    plan = plan_demo(orders=orders, customers=customers)
    anchor = _anchor(plan)
    return {
        **seed_accounts(),
        **seed_catalogue(plan),
        **seed_customers(plan, anchor=anchor),
        **seed_orders(plan, anchor=anchor),
    }
