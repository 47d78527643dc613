"""Writes to the shop's data. Every edge (API, webhooks, CSV) validates its input into
the dataclasses below and calls these functions; pushing the same order twice updates it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.models import (
    ApiScope,
    ApiToken,
    Category,
    ConsentSource,
    Customer,
    Order,
    OrderLine,
    OrderSource,
    Product,
    WebhookDelivery,
    all_api_scopes,
)


@dataclass(frozen=True)
class CustomerData:
    email: str
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    # None: the push says nothing about consent, so keep what we have.
    marketing_consent: bool | None = None


@dataclass(frozen=True)
class LineData:
    external_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    category: str = ""


@dataclass(frozen=True)
class OrderData:
    external_id: str
    number: str
    placed_at: datetime
    currency: str
    customer: CustomerData
    lines: tuple[LineData, ...] = field(default_factory=tuple)
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class UpsertResult:
    order: Order
    created: bool


def normalise_email(email: str) -> str:
    return email.strip().lower()


@transaction.atomic
def upsert_category(*, name: str) -> Category | None:
    name = name.strip()
    if not name:
        return None
    category = Category.objects.filter(name__iexact=name).first()
    if category is None:
        category, _ = Category.objects.get_or_create(name=name)
    return category


@transaction.atomic
def upsert_product(
    *,
    sku: str,
    name: str,
    price: Decimal,
    currency: str,
    category: str = "",
    product_url: str = "",
    image_url: str = "",
) -> tuple[Product, bool]:
    """Create or update the product with this SKU; the category is created if new."""
    values = {
        "name": name,
        "price": price,
        "currency": currency.upper(),
        "category": upsert_category(name=category),
        "product_url": product_url,
        "image_url": image_url,
    }
    return Product.objects.update_or_create(sku=sku, defaults=values)


def verified_user_for(email: str):
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .select_related("user")
        .first()
    )
    return address.user if address else None


@transaction.atomic
def upsert_customer(
    *, data: CustomerData, consent_source: str = ConsentSource.CHECKOUT
) -> Customer:
    """Create or update the customer with this address (case-insensitive). Names and
    language are updated when given; consent only when the push states it and it
    differs, stamped with when and how it changed.
    """
    email = normalise_email(data.email)
    consent = {}
    if data.marketing_consent is not None:
        consent = {
            "marketing_consent": data.marketing_consent,
            "marketing_consent_at": timezone.now(),
            "marketing_consent_source": consent_source,
        }
    customer, created = Customer.objects.select_for_update().get_or_create(
        email=email,
        defaults={
            "first_name": data.first_name,
            "last_name": data.last_name,
            "language": data.language or "en",
            # Callables in defaults run only when the row is created.
            "user": lambda: verified_user_for(email),
            **consent,
        },
    )
    if created:
        return customer
    changed = set()
    for name in ("first_name", "last_name", "language"):
        value = getattr(data, name)
        if value and getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.add(name)
    if consent and customer.marketing_consent != data.marketing_consent:
        for name, value in consent.items():
            setattr(customer, name, value)
        changed |= consent.keys()
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer


def _products_for(lines: tuple[LineData, ...], currency: str) -> dict[str, Product]:
    """Products by SKU; an unknown SKU becomes a product from the line's own data.

    Unknown SKUs are inserted in SKU order so that two pushes creating the same new
    products lock them in the same order and cannot deadlock.
    """
    skus = {line.sku for line in lines}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    unknown = {line.sku: line for line in lines if line.sku not in products}
    if unknown:
        categories = {
            name: upsert_category(name=name)
            for name in sorted({line.category for line in unknown.values()})
        }
        Product.objects.bulk_create(
            [
                Product(
                    sku=sku,
                    name=line.name or sku,
                    price=line.unit_price,
                    currency=currency,
                    category=categories[line.category],
                )
                for sku, line in sorted(unknown.items())
            ],
            ignore_conflicts=True,
        )
        products.update(
            (p.sku, p) for p in Product.objects.filter(sku__in=unknown.keys())
        )
    return products


class LinesInUse(Exception):
    """An update leaves out order lines that a return refers to: refused whole."""

    def __init__(self, external_ids: list[str]):
        super().__init__(", ".join(external_ids))
        self.external_ids = external_ids

    @property
    def message(self) -> str:
        return _(
            "Lines {ids} cannot be removed: a return refers to them. "
            "Send them again with the order."
        ).format(ids=", ".join(self.external_ids))


@transaction.atomic
def upsert_order(
    *,
    data: OrderData,
    source: str = OrderSource.SHOP,
    consent_source: str = ConsentSource.CHECKOUT,
) -> UpsertResult:
    """Create the order, or bring it in line with `data` if it exists (by source and
    external id). Lines are matched on their external id; lines no longer in the push
    are removed; shipped/delivered times not in the push are kept. Safe to run concurrently for the same order: the second waits on the
    unique index, then updates the row the first created.
    """
    customer = upsert_customer(data=data.customer, consent_source=consent_source)
    currency = data.currency.upper()
    products = _products_for(data.lines, currency)
    values = {
        "number": data.number,
        "customer": customer,
        "placed_at": data.placed_at,
        "currency": currency,
        "total": sum(
            (line.unit_price * line.quantity for line in data.lines), Decimal("0.00")
        ),
    }
    # A push that says nothing about shipping or delivery keeps the times we have
    # (a 3PL may have reported them through record_delivery).
    values |= {
        name: getattr(data, name)
        for name in ("shipped_at", "delivered_at")
        if getattr(data, name) is not None
    }
    order, created = Order.objects.select_for_update().get_or_create(
        source=source, external_id=data.external_id, defaults=values
    )
    if not created:
        for name, value in values.items():
            setattr(order, name, value)
        order.save()

    existing = (
        {line.external_id: line for line in order.lines.all()} if not created else {}
    )
    new_lines, changed_lines = [], []
    for line in data.lines:
        product = products[line.sku]
        current = existing.pop(line.external_id, None)
        if current is None:
            new_lines.append(
                OrderLine(
                    order=order,
                    external_id=line.external_id,
                    product=product,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
            )
        elif (current.product_id, current.quantity, current.unit_price) != (
            product.pk,
            line.quantity,
            line.unit_price,
        ):
            current.product = product
            current.quantity = line.quantity
            current.unit_price = line.unit_price
            changed_lines.append(current)
    if existing:
        try:
            OrderLine.objects.filter(
                pk__in=[line.pk for line in existing.values()]
            ).delete()
        except ProtectedError as exc:
            # A return (or another app's row) refers to a line the push leaves out.
            held = {obj.order_line_id for obj in exc.protected_objects}
            raise LinesInUse(
                sorted(
                    line.external_id for line in existing.values() if line.pk in held
                )
            ) from exc
    OrderLine.objects.bulk_create(new_lines)
    OrderLine.objects.bulk_update(changed_lines, ["product", "quantity", "unit_price"])
    return UpsertResult(order=order, created=created)


@transaction.atomic
def upsert_order_from_webhook(
    *, platform: str, delivery_id: str, topic: str, data: OrderData
) -> UpsertResult | None:
    """Upsert an order pushed by Shopify or WooCommerce, once per delivery.

    The delivery row is inserted first, in the same transaction as the order: a
    delivery seen before (or being processed right now by another request, which
    the unique index makes this one wait for) returns None and changes nothing.
    """
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                platform=platform, delivery_id=delivery_id, topic=topic
            )
    except IntegrityError:
        return None
    result = upsert_order(
        data=data, source=platform, consent_source=ConsentSource.WEBHOOK
    )
    delivery.order = result.order
    delivery.save(update_fields=["order"])
    return result


@transaction.atomic
def record_delivery(
    *,
    order: Order,
    shipped_at: datetime | None = None,
    delivered_at: datetime | None = None,
) -> Order:
    """Record when the order shipped and/or arrived; a time not given is kept."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if shipped_at is not None:
        order.shipped_at = shipped_at
    if delivered_at is not None:
        order.delivered_at = delivered_at
    order.save(update_fields=["shipped_at", "delivered_at", "updated_at"])
    return order


@transaction.atomic
def link_customers_to_user(*, user, email: str) -> int:
    """Give the account the customer record (and so the orders) of a verified address."""
    return Customer.objects.filter(email=normalise_email(email)).update(
        user=user, updated_at=timezone.now()
    )


@transaction.atomic
def purge_webhook_deliveries(*, older_than: datetime) -> int:
    """Forget delivery ids received before `older_than` (past the platforms' retries)."""
    deleted, _ = WebhookDelivery.objects.filter(received_at__lt=older_than).delete()
    return deleted


class ApiTokenNameTaken(ValueError):
    """A token with this name exists already; names identify the caller in logs."""


def create_api_token(
    *, name: str, scopes: Iterable[str] | None = None
) -> tuple[ApiToken, str]:
    """Issue a token allowed `scopes` (ApiScope values; every scope when None); the
    key is returned once and only its SHA-256 is stored."""
    chosen = all_api_scopes() if scopes is None else list(dict.fromkeys(scopes))
    unknown = sorted(set(chosen) - set(ApiScope.values))
    if unknown or not chosen:
        raise ValueError(
            f"Unknown or no scopes: {unknown}; choose from {ApiScope.values}"
        )
    key = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                name=name,
                key_hash=ApiToken.hash_key(key),
                prefix=key[:8],
                scopes=[s for s in ApiScope.values if s in chosen],
            )
    except IntegrityError as exc:
        raise ApiTokenNameTaken(name) from exc
    return token, key
