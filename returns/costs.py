"""What a return costs and who pays: the arithmetic behind a quote and a resolution.

Fees follow fault. A line whose reason the shop caused (`ReturnReason.controllable`)
never pays a restocking fee, and a parcel holding such a line travels at the shop's
expense. At filing the customer's stated reason decides; once an inspector records a
confirmed reason, that one decides (a "defective" item that works pays the fee).

The estimated cost of bringing a line back is the return shipping (the centre's tariff
when it has one, else the policy's label cost) plus the handling time at the hourly
rate (ReturnsSettings). When the policy's returnless rule says that is not worth it,
the customer keeps the item and still gets the resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cms.rules import PolicyRules
from returns.models import (
    Disposition,
    FulfilmentCentre,
    Resolution,
    ReturnsSettings,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")

# Resolutions for which the customer may keep the item (nothing to repair or swap).
RETURNLESS_RESOLUTIONS = frozenset({Resolution.REFUND, Resolution.STORE_CREDIT})
# Resolutions that pay money back, and so may carry a restocking fee.
MONEY_RESOLUTIONS = frozenset({Resolution.REFUND, Resolution.STORE_CREDIT})


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def return_shipping_cost(
    policy: PolicyRules, centre: FulfilmentCentre | None, *, shop_at_fault: bool
) -> Decimal:
    """What one return parcel costs, whoever pays it."""
    if centre is not None and centre.return_shipping_cost is not None:
        return cents(centre.return_shipping_cost)
    return cents(policy.return_label_cost(shop_at_fault=shop_at_fault))


def estimated_return_cost(
    policy: PolicyRules,
    centre: FulfilmentCentre | None,
    settings: ReturnsSettings,
    *,
    shop_at_fault: bool,
) -> Decimal:
    return return_shipping_cost(policy, centre, shop_at_fault=shop_at_fault) + cents(
        settings.handling_cost
    )


@dataclass(frozen=True)
class LineMoney:
    value: Decimal  # unit price × quantity
    restocking_fee: Decimal
    refund_amount: Decimal
    store_credit_amount: Decimal


def line_money(
    policy: PolicyRules, *, value: Decimal, resolution: str, shop_at_fault: bool
) -> LineMoney:
    """Refund = price × quantity − restocking fee (no fee when the shop is at fault);
    store credit adds the policy's bonus on top of what a refund would pay."""
    value = cents(value)
    fee = ZERO
    refund = credit = ZERO
    if resolution in MONEY_RESOLUTIONS:
        fee = cents(policy.restocking_fee(value, shop_at_fault=shop_at_fault))
        if resolution == Resolution.REFUND:
            refund = value - fee
        else:
            credit = cents(policy.store_credit_amount(value - fee))
    return LineMoney(
        value=value,
        restocking_fee=fee,
        refund_amount=refund,
        store_credit_amount=credit,
    )


def value_recovered(
    *, disposition: str, value: Decimal, settings: ReturnsSettings
) -> Decimal:
    """What the item is worth to the shop after its disposition: restock recovers the
    restock share (100 % by default), refurbish its share, the rest nothing."""
    if disposition == Disposition.RESTOCK:
        share = settings.restock_recovery_percent
    elif disposition == Disposition.REFURBISH:
        share = settings.refurbish_recovery_percent
    else:
        return ZERO
    return cents(value * Decimal(share) / HUNDRED)


def parcel_shipping(
    policies: list[PolicyRules], *, shop_at_fault: bool
) -> tuple[str, Decimal]:
    """Who pays the return parcel of these lines' policies, and what the customer is
    charged: the customer only when every policy has the customer pay (then the
    highest of their charges), else the shop (nothing charged)."""
    payers = {p.shipping_payer(shop_at_fault=shop_at_fault) for p in policies}
    if payers == {"customer"}:
        return "customer", max(
            cents(p.shipping_cost(shop_at_fault=shop_at_fault)) for p in policies
        )
    return "shop", ZERO
