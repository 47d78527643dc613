"""Reads of reviews used in more than one place: the customer's pages, the moderation
queue and the reviews e-mails quote (featured_reviews)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Least, Length
from django.utils import timezone

from reviews.models import Review, ReviewPhoto, ReviewStatus
from shop.models import OrderLine, Product

# featured_reviews scores substance; each part is capped so no one part decides.
LENGTH_STEP = 100  # one point per 100 characters of text ...
LENGTH_CAP = 8  # ... up to 800
PHOTO_POINTS = 2  # per photo ...
PHOTO_CAP = 3  # ... up to three photos
HELPFUL_CAP = 10  # one point per helpful vote, up to ten
RECENT_DAYS, RECENT_POINTS = 30, 6
FAIRLY_RECENT_DAYS, FAIRLY_RECENT_POINTS = 180, 3


@dataclass(frozen=True)
class FeaturedReviews:
    reviews: list[Review]
    average: Decimal | None  # the product's real average over all approved reviews
    count: int  # ... and their number, low stars included


def _photos() -> Prefetch:
    return Prefetch("photos", queryset=ReviewPhoto.objects.order_by("position", "pk"))


def substance_score(now: datetime):
    """The ranking expression of featured_reviews (higher is better)."""
    return (
        Least(Length("body") / LENGTH_STEP, Value(LENGTH_CAP))
        + Least("photo_count", Value(PHOTO_CAP)) * PHOTO_POINTS
        + Least("helpful_count", Value(HELPFUL_CAP))
        + Case(
            When(
                approved_at__gte=now - timedelta(days=RECENT_DAYS),
                then=Value(RECENT_POINTS),
            ),
            When(
                approved_at__gte=now - timedelta(days=FAIRLY_RECENT_DAYS),
                then=Value(FAIRLY_RECENT_POINTS),
            ),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def featured_reviews(
    product: Product, language: str, limit: int = 3, *, now: datetime | None = None
) -> FeaturedReviews:
    """Approved 4–5 star reviews whose authors agreed to be quoted, with substance,
    in `language` first; beside them the product's real average and count over all
    its approved reviews, so a quote always travels with the honest aggregate. Each
    review carries `.rewarded` (say "received points for this review")."""
    now = now or timezone.now()
    approved = Review.objects.filter(product=product, status=ReviewStatus.APPROVED)
    aggregate = approved.aggregate(average=Avg("rating"), count=Count("pk"))
    average = aggregate["average"]
    if average is not None:
        average = Decimal(str(average)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    reviews = list(
        approved.filter(rating__gte=4, may_quote=True)
        .annotate(
            same_language=Case(
                When(language=language, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            substance=substance_score(now),
        )
        .order_by("-same_language", "-substance", "-approved_at", "-pk")
        .prefetch_related(_photos())[:limit]
    )
    return FeaturedReviews(reviews=reviews, average=average, count=aggregate["count"])


def lines_to_review(user) -> QuerySet[OrderLine]:
    """Delivered lines of the account's orders without a review (a withdrawn one may
    be written again), newest delivery first, with order and product."""
    if not user.is_authenticated:
        return OrderLine.objects.none()
    reviewed = Review.objects.filter(order_line=OuterRef("pk")).exclude(
        status=ReviewStatus.WITHDRAWN
    )
    return (
        OrderLine.objects.filter(
            order__customer__user=user, order__delivered_at__isnull=False
        )
        .exclude(Exists(reviewed))
        .select_related("order__customer", "product")
        .order_by("-order__delivered_at", "-order_id", "pk")
    )


def reviewable_line(user, line_id: int) -> OrderLine | None:
    return lines_to_review(user).filter(pk=line_id).first()


def reviews_of_user(user) -> QuerySet[Review]:
    """The account's reviews (not the withdrawn ones), newest first."""
    if not user.is_authenticated:
        return Review.objects.none()
    return (
        Review.objects.filter(customer__user=user)
        .exclude(status=ReviewStatus.WITHDRAWN)
        .select_related("product", "order_line__order")
        .prefetch_related(_photos())
        .order_by("-submitted_at", "-pk")
    )


def moderation_queue() -> QuerySet[Review]:
    return Review.objects.select_related("product", "customer").prefetch_related(
        _photos()
    )


def flagged(code: str) -> Q:
    """Reviews carrying the automatic flag `code` (a JSON list of strings). A text
    match on the quoted code, which SQLite (the demo's database) can do too."""
    return Q(flags__icontains=f'"{code}"')
