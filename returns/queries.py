"""Reads of the returns app used in more than one place."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q

from returns.models import VOID_STATUSES, Resolution, ReturnLine
from shop.models import Order

MONEY_BACK = (Resolution.REFUND, Resolution.STORE_CREDIT)


def returned_value(order: Order) -> Decimal:
    """What the customer gets back for the order's returns that still stand (not
    rejected or cancelled): price × quantity − restocking fee of every line resolved,
    or asked to be resolved, with a refund or store credit. Exchanged and repaired
    items are kept. One query."""
    lines = (
        ReturnLine.objects.filter(request__order=order)
        .exclude(request__status__in=VOID_STATUSES)
        .filter(
            Q(resolution__in=MONEY_BACK)
            | Q(resolution="", requested_resolution__in=MONEY_BACK)
        )
        .values_list("unit_value", "quantity", "restocking_fee")
    )
    return sum(
        (unit * quantity - fee for unit, quantity, fee in lines), Decimal("0.00")
    )
