"""What returns holds on a customer, for shop/privacy.py's export and erase."""

from __future__ import annotations

from returns.models import (
    Actor,
    ReturnEvent,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
    ShopWebhook,
)
from shop.models import Customer


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def export_customer_returns(*, customer: Customer) -> list[dict]:
    requests = (
        ReturnRequest.objects.filter(customer=customer)
        .select_related("order")
        .prefetch_related(
            "lines__order_line__product", "lines__reason", "lines__photos", "events"
        )
        .order_by("created_at", "pk")
    )
    return [
        {
            "rma": request.rma,
            "order_number": request.order.number,
            "status": request.status,
            "channel": request.channel,
            "created_at": _iso(request.created_at),
            "resolved_at": _iso(request.resolved_at),
            "rejection_reason": request.rejection_reason,
            "currency": request.currency,
            "refund_total": str(request.refund_total),
            "store_credit_total": str(request.store_credit_total),
            "restocking_fee_total": str(request.restocking_fee_total),
            "satisfaction_score": request.satisfaction_score,
            "lines": [
                {
                    "sku": line.order_line.product.sku,
                    "product": line.order_line.product.name,
                    "quantity": line.quantity,
                    "reason": line.reason.code,
                    "comment": line.comment,
                    "prevention": line.prevention,
                    "requested_resolution": line.requested_resolution,
                    "resolution": line.resolution,
                    "returnless": line.returnless,
                    "refund_amount": str(line.refund_amount),
                    "store_credit_amount": str(line.store_credit_amount),
                    "photos": [photo.image.name for photo in line.photos.all()],
                }
                for line in request.lines.all()
            ],
            "events": [
                {
                    "kind": event.kind,
                    "to_status": event.to_status,
                    "occurred_at": _iso(event.occurred_at),
                    "note": event.note if event.actor == Actor.CUSTOMER else "",
                }
                for event in request.events.all()
            ],
        }
        for request in requests
    ]


def erase_customer_returns(*, customer: Customer, erased_email: str) -> dict:
    """Returns stay (their costs and reasons feed the insights), tied to the
    anonymised customer; what the customer wrote and photographed goes, and the
    e-mail address leaves the shop webhooks' stored bodies."""
    lines = ReturnLine.objects.filter(request__customer=customer)
    # Locked: clean_return_photos may be swapping a file of these rows right now
    # (it locks the row too, and re-reads its name once it has the lock).
    photos = list(
        ReturnPhoto.objects.select_for_update().filter(line__request__customer=customer)
    )
    for photo in photos:
        photo.image.delete(save=False)
        photo.delete()
    cleared = lines.exclude(comment="", prevention="").update(comment="", prevention="")
    ReturnEvent.objects.filter(
        request__customer=customer, actor=Actor.CUSTOMER
    ).exclude(note="").update(note="")
    webhooks = list(ShopWebhook.objects.filter(request__customer=customer))
    for webhook in webhooks:
        if webhook.payload.get("customer_email"):
            webhook.payload["customer_email"] = erased_email
            webhook.save(update_fields=["payload"])
    return {
        "returns_kept": ReturnRequest.objects.filter(customer=customer).count(),
        "feedback_cleared": cleared,
        "photos_deleted": len(photos),
    }
