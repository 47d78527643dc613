"""Export and erase everything held on one customer (GDPR access and erasure).

The shop exports and anonymises its own data and asks every other app through the
signals in shop/signals.py. Orders stay (the shop's books need them), as do the other
apps' ledgers: only what identifies the person is replaced.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from shop.models import Customer
from shop.signals import customer_erase_requested, customer_export_requested


def erased_email(customer: Customer) -> str:
    return f"erased-{customer.pk}@invalid"


def _shop_data(customer: Customer) -> dict:
    return {
        "customer": {
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "language": customer.language,
            "marketing_consent": customer.marketing_consent,
            "marketing_consent_at": _iso(customer.marketing_consent_at),
            "marketing_consent_source": customer.marketing_consent_source,
            "has_account": customer.user_id is not None,
            "created_at": _iso(customer.created_at),
        },
        "orders": [
            {
                "number": order.number,
                "external_id": order.external_id,
                "source": order.source,
                "placed_at": _iso(order.placed_at),
                "shipped_at": _iso(order.shipped_at),
                "delivered_at": _iso(order.delivered_at),
                "currency": order.currency,
                "total": str(order.total),
                "lines": [
                    {
                        "sku": line.product.sku,
                        "name": line.product.name,
                        "quantity": line.quantity,
                        "unit_price": str(line.unit_price),
                    }
                    for line in order.lines.all()
                ],
            }
            for order in customer.orders.prefetch_related("lines__product").order_by(
                "placed_at", "pk"
            )
        ],
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def export_customer(*, customer: Customer) -> dict:
    """Everything every app holds on the customer, as JSON-ready data."""
    data = {"exported_at": timezone.now().isoformat(), "shop": _shop_data(customer)}
    for _receiver, (section, contribution) in customer_export_requested.send(
        sender=Customer, customer=customer
    ):
        data[section] = contribution
    return data


@transaction.atomic
def erase_customer(*, customer: Customer) -> dict:
    """Anonymise the customer in every app; returns each app's summary. The other
    apps go first, while they can still see who the customer was."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    summary = {}
    for _receiver, (section, contribution) in customer_erase_requested.send(
        sender=Customer, customer=customer
    ):
        summary[section] = contribution
    customer.email = erased_email(customer)
    customer.first_name = ""
    customer.last_name = ""
    customer.marketing_consent = False
    customer.marketing_consent_at = timezone.now()
    customer.marketing_consent_source = ""
    customer.user = None
    customer.save()
    summary["shop"] = {
        "customer": customer.email,
        "orders_kept": customer.orders.count(),
    }
    return summary
