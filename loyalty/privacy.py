"""What loyalty holds on a customer, for shop/privacy.py's export and erase."""

from __future__ import annotations

from loyalty.models import Coupon, ExpiryReminder, PointsAccount, StoreCreditAccount
from shop.models import Customer


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def export_customer_loyalty(*, customer: Customer) -> dict:
    account = PointsAccount.objects.filter(customer=customer).first()
    points = None
    if account is not None:
        points = {
            "balance": account.balance,
            "expires_at": _iso(account.expires_at),
            "entries": [
                {
                    "amount": entry.amount,
                    "kind": entry.kind,
                    "reason": entry.reason,
                    "key": entry.key,
                    "created_at": _iso(entry.created_at),
                }
                for entry in account.entries.order_by("created_at", "pk")
            ],
        }
    return {
        "points": points,
        "store_credit": [
            {
                "currency": credit.currency,
                "balance": str(credit.balance),
                "entries": [
                    {
                        "amount": str(entry.amount),
                        "kind": entry.kind,
                        "reason": entry.reason,
                        "created_at": _iso(entry.created_at),
                    }
                    for entry in credit.entries.order_by("created_at", "pk")
                ],
            }
            for credit in StoreCreditAccount.objects.filter(customer=customer)
        ],
        "coupons": [
            {
                "code": coupon.code,
                "kind": coupon.kind,
                "value": str(coupon.value),
                "currency": coupon.currency,
                "expires_at": _iso(coupon.expires_at),
                "redemptions": [
                    {
                        "order_external_id": r.order_external_id,
                        "amount": str(r.amount),
                        "redeemed_at": _iso(r.redeemed_at),
                        "released_at": _iso(r.released_at),
                    }
                    for r in coupon.redemptions.all()
                ],
            }
            for coupon in Coupon.objects.filter(customer=customer).prefetch_related(
                "redemptions"
            )
        ],
    }


def erase_customer_loyalty(*, customer: Customer) -> dict:
    """Ledgers, coupons and reminders hold no name or address: they stay, tied to the
    anonymised customer, so every balance still adds up. Unsent expiry reminders
    are dropped (there is nobody left to write to)."""
    account = PointsAccount.objects.filter(customer=customer).first()
    dropped, _ = ExpiryReminder.objects.filter(
        account__customer=customer, sent_at__isnull=True
    ).delete()
    return {
        "points_entries_kept": account.entries.count() if account else 0,
        "coupons_kept": Coupon.objects.filter(customer=customer).count(),
        "reminders_dropped": dropped,
    }
