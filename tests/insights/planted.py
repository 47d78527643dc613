"""Plant orders and returns with known answers for the insights tests (plain helpers,
shared by E1's and E2's test modules). Returns are written as rows (not through the
returns services): the insights only read them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from returns.models import ReturnLine, ReturnReason, ReturnRequest, ReturnStatus
from shop.models import Customer, Order, OrderLine, Product
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.get_fixed_timezone(0))
_seq = itertools.count(1)


def order(
    customer: Customer,
    *lines: tuple[Product, int] | tuple[Product, int, Decimal],
    delivered: datetime | None = None,
    placed: datetime | None = None,
    undelivered: bool = False,
) -> Order:
    """An order delivered at `delivered` (default 10 days before NOW) with lines of
    (product, quantity[, unit price])."""
    delivered = delivered or NOW - timedelta(days=10)
    placed = placed or delivered - timedelta(days=3)
    made = OrderFactory(
        customer=customer,
        placed_at=placed,
        shipped_at=placed + timedelta(days=1),
        delivered_at=None if undelivered else delivered,
    )
    for spec in lines:
        product, quantity = spec[0], spec[1]
        price = spec[2] if len(spec) > 2 else product.price
        OrderLineFactory(
            order=made, product=product, quantity=quantity, unit_price=price
        )
    return made


def line_of(made: Order, product: Product) -> OrderLine:
    return made.lines.get(product=product)


def give_back(
    made: Order,
    *lines: tuple[OrderLine | Product, int] | tuple[OrderLine | Product, int, str],
    status: str = ReturnStatus.APPROVED,
    at: datetime | None = None,
    confirmed: dict | None = None,
    comment: str = "",
    prevention: str = "",
    **request_fields,
) -> ReturnRequest:
    """A return of (order line or product, quantity[, reason code]) in `status`.
    `confirmed` maps a line index to the inspector's reason code."""
    n = next(_seq)
    request = ReturnRequest.objects.create(
        rma=f"T{n:07d}",
        order=made,
        customer=made.customer,
        status=status,
        channel="account",
        idempotency_key=f"planted-{n}",
        currency="EUR",
        created_at=at or made.delivered_at or NOW,
        **request_fields,
    )
    for index, spec in enumerate(lines):
        target, quantity = spec[0], spec[1]
        code = spec[2] if len(spec) > 2 else "changed-mind"
        order_line = target if isinstance(target, OrderLine) else line_of(made, target)
        confirmed_code = (confirmed or {}).get(index)
        ReturnLine.objects.create(
            request=request,
            order_line=order_line,
            quantity=quantity,
            reason=ReturnReason.objects.get(code=code),
            confirmed_reason=ReturnReason.objects.get(code=confirmed_code)
            if confirmed_code
            else None,
            comment=comment,
            prevention=prevention,
            requested_resolution="refund",
            unit_value=order_line.unit_price,
        )
    return request


def customer(**kwargs) -> Customer:
    return CustomerFactory(**kwargs)
