"""PolicyRules: what a return costs and whether it is allowed, as the returns portal
will ask."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cms.rules import PolicyRules

RULES = PolicyRules(
    title="Electronics",
    summary="14 days.",
    url="https://example.com/returns/electronics/",
    locale="en",
    window_days=14,
    resolutions=("refund", "exchange", "store_credit"),
    store_credit_bonus_percent=Decimal("10"),
    condition_required="Complete",
    return_method="by_mail",
    currency="EUR",
    fault_shipping_payer="shop",
    fault_shipping_cost=Decimal("6.95"),
    remorse_shipping_payer="customer",
    remorse_shipping_cost=Decimal("6.95"),
    restocking_fee_percent=Decimal("10"),
    not_returnable=False,
    not_returnable_reason="",
    returnless_max_item_value=Decimal("10.00"),
    returnless_min_cost_ratio=Decimal("50"),
)
DELIVERED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("shop_at_fault", "payer", "cost"),
    [(True, "shop", Decimal("0.00")), (False, "customer", Decimal("6.95"))],
)
def test_shipping_is_paid_per_fault(shop_at_fault, payer, cost):
    assert RULES.shipping_payer(shop_at_fault=shop_at_fault) == payer
    assert RULES.shipping_cost(shop_at_fault=shop_at_fault) == cost
    assert RULES.return_label_cost(shop_at_fault=shop_at_fault) == Decimal("6.95")


def test_the_restocking_fee_is_charged_on_a_change_of_mind_only():
    assert RULES.restocking_fee(Decimal("249.00"), shop_at_fault=False) == Decimal(
        "24.90"
    )
    assert RULES.restocking_fee(Decimal("249.00"), shop_at_fault=True) == Decimal(
        "0.00"
    )
    assert RULES.restocking_fee(Decimal("0.05"), shop_at_fault=False) == Decimal("0.01")


def test_store_credit_adds_the_bonus():
    assert RULES.store_credit_amount(Decimal("59.95")) == Decimal("65.95")


@pytest.mark.parametrize(
    ("asked", "in_time"),
    [
        (DELIVERED + timedelta(days=14), True),
        (DELIVERED + timedelta(days=14, seconds=1), False),
        (DELIVERED - timedelta(days=1), True),
    ],
)
def test_the_window_counts_from_delivery(asked, in_time):
    assert RULES.is_within_window(DELIVERED, asked) is in_time
    assert RULES.return_deadline(DELIVERED) == datetime(2025, 3, 15, 12, tzinfo=UTC)


def test_an_undelivered_order_is_in_time_and_a_not_returnable_product_never():
    assert RULES.is_within_window(None, DELIVERED) is True
    closed = replace(RULES, not_returnable=True)
    assert closed.is_within_window(DELIVERED, DELIVERED) is False


@pytest.mark.parametrize(
    ("value", "cost", "keeps"),
    [
        (Decimal("10.00"), Decimal("6.95"), True),  # cheap enough
        (Decimal("12.00"), Decimal("6.95"), True),  # 58% of its value to return
        (Decimal("14.00"), Decimal("6.95"), False),  # 49.6%
        (Decimal("249.00"), Decimal("6.95"), False),
    ],
)
def test_returnless_refund_by_value_or_cost_ratio(value, cost, keeps):
    assert RULES.returnless_applies(value, cost) is keeps


def test_without_thresholds_the_item_always_comes_back():
    rules = replace(
        RULES, returnless_max_item_value=None, returnless_min_cost_ratio=None
    )
    assert rules.returnless_applies(Decimal("0.50"), Decimal("6.95")) is False


def test_rules_survive_the_trip_through_json():
    data = RULES.to_json()

    assert data["restocking_fee_percent"] == "10"
    assert PolicyRules.from_json(data) == RULES
