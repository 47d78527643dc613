"""What reviews holds on a customer, for shop/privacy.py's export and erase."""

from __future__ import annotations

from reviews import services
from reviews.models import Review
from shop.models import Customer


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def export_customer_reviews(*, customer: Customer) -> list[dict]:
    reviews = (
        Review.objects.filter(customer=customer)
        .select_related("product", "order_line__order")
        .prefetch_related("photos")
        .order_by("pk")
    )
    return [
        {
            "order": review.order_line.order.number,
            "product_sku": review.product.sku,
            "rating": review.rating,
            "title": review.title,
            "body": review.body,
            "language": review.language,
            "status": review.status,
            "may_quote": review.may_quote,
            "points_awarded": review.points_awarded,
            "rejection_reason": review.rejection_reason,
            "reply": review.reply_body,
            "submitted_at": _iso(review.submitted_at),
            "approved_at": _iso(review.approved_at),
            "photos": [photo.image.name for photo in review.photos.all()],
        }
        for review in reviews
    ]


def erase_customer_reviews(*, customer: Customer) -> dict:
    return {"reviews_erased": services.erase_reviews(customer=customer)}
