"""Reads of the loyalty data used in more than one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth
from django.utils.translation import gettext_lazy as _

from loyalty.models import (
    Coupon,
    CouponKind,
    EntryKind,
    LoyaltySettings,
    PointsAccount,
    PointsEntry,
    StoreCreditAccount,
)
from shop.models import Customer


def customer_for_user(user) -> Customer | None:
    """The customer record whose points an account sees: the one with the account's
    own address, else the oldest verified one."""
    if not user.is_authenticated:
        return None
    return (
        Customer.objects.filter(user=user)
        .order_by(
            Case(
                When(email=(user.email or "").lower(), then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "pk",
        )
        .first()
    )


@dataclass(frozen=True)
class Tier:
    name: str
    multiplier: Decimal


def points_earned_since(account: PointsAccount, since: datetime) -> int:
    return account.entries.filter(kind=EntryKind.EARN, created_at__gte=since).aggregate(
        total=Coalesce(Sum("amount"), 0)
    )["total"]


def tier_for(account: PointsAccount | None, *, now: datetime) -> Tier | None:
    """Silver or gold by points earned in the last 12 months; None when tiers are off
    or the customer has not reached one."""
    rules = LoyaltySettings.load()
    if account is None or not (rules.silver_threshold or rules.gold_threshold):
        return None
    earned = points_earned_since(account, now - relativedelta(months=12))
    if rules.gold_threshold and earned >= rules.gold_threshold:
        return Tier(str(_("Gold")), rules.gold_multiplier)
    if rules.silver_threshold and earned >= rules.silver_threshold:
        return Tier(str(_("Silver")), rules.silver_multiplier)
    return None


def earning_multiplier(account: PointsAccount | None, *, now: datetime) -> Decimal:
    tier = tier_for(account, now=now)
    return tier.multiplier if tier else Decimal(1)


def ledger_mismatches() -> list[tuple[str, int, object, object]]:
    """Accounts whose cached balance differs from the sum of their entries:
    (ledger, account id, cached, sum)."""
    points = (
        PointsAccount.objects.annotate(total=Coalesce(Sum("entries__amount"), 0))
        .exclude(balance=F("total"))
        .values_list("pk", "balance", "total")
    )
    credit = (
        StoreCreditAccount.objects.annotate(
            total=Coalesce(Sum("entries__amount"), Decimal("0.00"))
        )
        .exclude(balance=F("total"))
        .values_list("pk", "balance", "total")
    )
    return [("points", *row) for row in points] + [
        ("store_credit", *row) for row in credit
    ]


@dataclass(frozen=True)
class CouponStatus:
    valid: bool
    reason: str | None  # "expired", "already_used", "used_up"; None when valid
    remaining: Decimal | None


def coupon_status(coupon: Coupon, *, now: datetime) -> CouponStatus:
    if coupon.kind == CouponKind.STORE_CREDIT:
        remaining = coupon.store_credit_account.balance
        if remaining <= 0:
            return CouponStatus(False, "used_up", remaining)
        return CouponStatus(True, None, remaining)
    used = coupon.redemptions.filter(released_at__isnull=True).exists()
    remaining = None
    if coupon.kind == CouponKind.FIXED_AMOUNT:
        remaining = Decimal("0.00") if used else coupon.value
    if coupon.expires_at and coupon.expires_at <= now:
        return CouponStatus(False, "expired", remaining)
    if used:
        return CouponStatus(False, "already_used", remaining)
    return CouponStatus(True, None, remaining)


def coupons_for_customer(customer: Customer | None) -> QuerySet[Coupon]:
    if customer is None:
        return Coupon.objects.none()
    return (
        Coupon.objects.filter(customer=customer)
        .select_related("reward", "store_credit_account")
        .annotate(
            in_use=Count("redemptions", filter=Q(redemptions__released_at__isnull=True))
        )
        .order_by("-created_at", "-pk")
    )


def displayed_status(coupon: Coupon, *, now: datetime) -> str:
    """active / used / expired / used_up, from a coupon of coupons_for_customer()
    (no extra query)."""
    if coupon.kind == CouponKind.STORE_CREDIT:
        return "active" if coupon.store_credit_account.balance > 0 else "used_up"
    if coupon.in_use:
        return "used"
    if coupon.expires_at and coupon.expires_at <= now:
        return "expired"
    return "active"


@dataclass(frozen=True)
class MonthTotals:
    month: datetime
    issued: int
    redeemed: int
    expired: int


def points_per_month(*, since: datetime) -> list[MonthTotals]:
    """Points issued (earned, positive adjustments), redeemed and expired per month;
    reversals and negative adjustments count as negative issues."""
    rows = (
        PointsEntry.objects.filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(
            issued=Coalesce(
                Sum(
                    "amount",
                    filter=Q(kind__in=[EntryKind.EARN, EntryKind.ADJUST, "reversal"]),
                ),
                0,
            ),
            redeemed=Coalesce(Sum("amount", filter=Q(kind=EntryKind.REDEEM)), 0),
            expired=Coalesce(Sum("amount", filter=Q(kind=EntryKind.EXPIRE)), 0),
        )
        .order_by("month")
    )
    return [
        MonthTotals(row["month"], row["issued"], -row["redeemed"], -row["expired"])
        for row in rows
    ]


def outstanding_points() -> int:
    return PointsAccount.objects.aggregate(total=Coalesce(Sum("balance"), 0))["total"]


def outstanding_store_credit() -> dict[str, Decimal]:
    return dict(
        StoreCreditAccount.objects.values("currency")
        .annotate(total=Sum("balance"))
        .order_by("currency")
        .values_list("currency", "total")
    )
