"""`PolicyRules`: a return policy's rules as a value, read from a live page or from a
`PolicySnapshot`, with the arithmetic the returns portal needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cms.models import ReturnPolicyPage

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
DECIMAL_FIELDS = (
    "store_credit_bonus_percent",
    "fault_shipping_cost",
    "remorse_shipping_cost",
    "restocking_fee_percent",
    "returnless_max_item_value",
    "returnless_min_cost_ratio",
)


@dataclass(frozen=True)
class PolicyRules:
    title: str
    summary: str
    url: str
    locale: str
    window_days: int
    resolutions: tuple[str, ...]
    store_credit_bonus_percent: Decimal
    condition_required: str
    return_method: str
    currency: str
    fault_shipping_payer: str
    fault_shipping_cost: Decimal
    remorse_shipping_payer: str
    remorse_shipping_cost: Decimal
    restocking_fee_percent: Decimal
    not_returnable: bool
    not_returnable_reason: str
    returnless_max_item_value: Decimal | None
    returnless_min_cost_ratio: Decimal | None  # percent of the item's value
    is_default: bool = False
    page_id: int | None = None
    snapshot_id: int | None = None
    valid_from: datetime | None = None

    # What the customer pays -------------------------------------------------------

    def shipping_payer(self, *, shop_at_fault: bool) -> str:
        return (
            self.fault_shipping_payer if shop_at_fault else self.remorse_shipping_payer
        )

    def return_label_cost(self, *, shop_at_fault: bool) -> Decimal:
        """What the return label costs, whoever pays it."""
        return self.fault_shipping_cost if shop_at_fault else self.remorse_shipping_cost

    def shipping_cost(self, *, shop_at_fault: bool) -> Decimal:
        """What the customer pays for return shipping (0 when the shop pays)."""
        if self.shipping_payer(shop_at_fault=shop_at_fault) == "shop":
            return Decimal("0.00")
        return self.return_label_cost(shop_at_fault=shop_at_fault)

    def restocking_fee(self, amount: Decimal, *, shop_at_fault: bool) -> Decimal:
        """The fee on `amount` refunded; never charged when the shop is at fault."""
        if shop_at_fault or not self.restocking_fee_percent:
            return Decimal("0.00")
        return (amount * self.restocking_fee_percent / HUNDRED).quantize(
            CENT, rounding=ROUND_HALF_UP
        )

    def store_credit_amount(self, amount: Decimal) -> Decimal:
        bonus = amount * self.store_credit_bonus_percent / HUNDRED
        return (amount + bonus).quantize(CENT, rounding=ROUND_HALF_UP)

    # When and whether ---------------------------------------------------------------

    @property
    def is_returnable(self) -> bool:
        return not self.not_returnable

    @property
    def is_free_for_change_of_mind(self) -> bool:
        return (
            self.shipping_cost(shop_at_fault=False) == 0
            and not self.restocking_fee_percent
        )

    def return_deadline(self, delivered_at: datetime) -> datetime:
        return delivered_at + timedelta(days=self.window_days)

    def is_within_window(self, delivered_at: datetime | None, at: datetime) -> bool:
        """Whether a change-of-mind return asked for at `at` is in time. An order not
        delivered yet is in time: the window starts at delivery."""
        if self.not_returnable:
            return False
        if delivered_at is None:
            return True
        return at <= self.return_deadline(delivered_at)

    def returnless_applies(self, item_value: Decimal, return_cost: Decimal) -> bool:
        """Whether the customer keeps the item and still gets the resolution: it is
        worth at most the threshold, or returning it costs at least the set share of
        its value."""
        if (
            self.returnless_max_item_value is not None
            and item_value <= self.returnless_max_item_value
        ):
            return True
        if self.returnless_min_cost_ratio is not None and item_value > 0:
            return return_cost * HUNDRED / item_value >= self.returnless_min_cost_ratio
        return False

    # Storage ------------------------------------------------------------------------

    def to_json(self) -> dict:
        data = asdict(self)
        for name in ("page_id", "snapshot_id", "valid_from"):
            data.pop(name)
        data["resolutions"] = list(self.resolutions)
        for name in DECIMAL_FIELDS:
            if data[name] is not None:
                data[name] = str(data[name])
        return data

    @classmethod
    def from_json(cls, data: dict, **extra) -> PolicyRules:
        values = dict(data)
        values["resolutions"] = tuple(values["resolutions"])
        for name in DECIMAL_FIELDS:
            if values.get(name) is not None:
                values[name] = Decimal(values[name])
        return cls(**values, **extra)

    @classmethod
    def from_page(cls, page: ReturnPolicyPage, *, url: str = "") -> PolicyRules:
        return cls(
            title=page.title,
            summary=page.summary,
            url=url,
            locale=page.locale.language_code,
            window_days=page.window_days,
            resolutions=page.resolutions,
            store_credit_bonus_percent=Decimal(page.store_credit_bonus_percent),
            condition_required=page.condition_required,
            return_method=page.return_method,
            currency=page.currency,
            fault_shipping_payer=page.fault_shipping_payer,
            fault_shipping_cost=Decimal(page.fault_shipping_cost),
            remorse_shipping_payer=page.remorse_shipping_payer,
            remorse_shipping_cost=Decimal(page.remorse_shipping_cost),
            restocking_fee_percent=Decimal(page.restocking_fee_percent),
            not_returnable=page.not_returnable,
            not_returnable_reason=page.not_returnable_reason,
            returnless_max_item_value=page.returnless_max_item_value,
            returnless_min_cost_ratio=page.returnless_min_cost_ratio,
            is_default=page.is_default,
            page_id=page.pk,
        )
