"""What the public sees of a product's reviews: the aggregate and the approved reviews,
sorted and filtered. Used by the product page, the embed, the JSON API, JSON-LD, the
feed and the feedback wall.

Compliance by construction: the only status shown is "approved"; the rating is never a
condition for being shown (the shopper's own star filter aside), and every review
carries `rewarded` so each surface can label incentivised reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Count, Prefetch, Q, QuerySet

from reviews.models import Review, ReviewPhoto, ReviewStatus
from shop.models import Product

SORTS = ("newest", "helpful", "rating_high", "rating_low")
DEFAULT_SORT = "newest"
STARS = (5, 4, 3, 2, 1)
_ORDER = {
    "newest": ("-approved_at", "-pk"),
    "helpful": ("-helpful_count", "-approved_at", "-pk"),
    "rating_high": ("-rating", "-approved_at", "-pk"),
    "rating_low": ("rating", "-approved_at", "-pk"),
}


@dataclass(frozen=True)
class StarCount:
    stars: int
    count: int
    percent: int  # of all approved reviews, rounded (for the bar)


@dataclass(frozen=True)
class ReviewSummary:
    average: Decimal | None  # one decimal, None without reviews
    count: int
    distribution: dict[int, int]  # {5: n, 4: n, ... 1: n}
    rewarded_count: int

    @property
    def bars(self) -> list[StarCount]:
        """5 stars first, as the page shows them."""
        return [
            StarCount(
                stars=stars,
                count=self.distribution[stars],
                percent=round(100 * self.distribution[stars] / self.count)
                if self.count
                else 0,
            )
            for stars in STARS
        ]


def approved() -> QuerySet[Review]:
    return Review.objects.filter(status=ReviewStatus.APPROVED)


def summary(product: Product | int) -> ReviewSummary:
    """Average, count and star distribution of the product's approved reviews, in
    one query."""
    product_id = product if isinstance(product, int) else product.pk
    counts = {f"stars_{n}": Count("pk", filter=Q(rating=n)) for n in STARS}
    row = (
        approved()
        .filter(product_id=product_id)
        .aggregate(
            average=Avg("rating"),
            count=Count("pk"),
            rewarded=Count("pk", filter=Q(rewarded=True)),
            **counts,
        )
    )
    average = row["average"]
    if average is not None:
        average = Decimal(str(average)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return ReviewSummary(
        average=average,
        count=row["count"],
        distribution={n: row[f"stars_{n}"] for n in STARS},
        rewarded_count=row["rewarded"],
    )


def photos_prefetch() -> Prefetch:
    return Prefetch("photos", queryset=ReviewPhoto.objects.order_by("position", "pk"))


def clean_sort(value: str | None) -> str:
    return value if value in SORTS else DEFAULT_SORT


def clean_stars(value) -> int | None:
    try:
        stars = int(value)
    except (TypeError, ValueError):
        return None
    return stars if stars in STARS else None


def approved_reviews(
    product: Product | int,
    *,
    sort: str = DEFAULT_SORT,
    stars: int | None = None,
    with_photos: bool = False,
) -> QuerySet[Review]:
    """The product's approved reviews for display, with the customer (for the
    reviewer's name) and photos prefetched: one query for a page of reviews plus one
    for their photos, whatever the number of reviews."""
    product_id = product if isinstance(product, int) else product.pk
    reviews = approved().filter(product_id=product_id)
    if stars is not None:
        reviews = reviews.filter(rating=stars)
    if with_photos:
        reviews = reviews.filter(photo_count__gt=0)
    return (
        reviews.select_related("customer")
        .prefetch_related(photos_prefetch())
        .order_by(*_ORDER[clean_sort(sort)])
    )


def recent_reviews() -> QuerySet[Review]:
    """Approved reviews across the shop, newest first (the feedback wall)."""
    return (
        approved()
        .select_related("customer", "product")
        .prefetch_related(photos_prefetch())
        .order_by("-approved_at", "-pk")
    )


def reviewer_name(review: Review) -> str:
    """First name and the initial of the last name ("Anna J."): enough to be a person,
    not enough to find one."""
    customer = review.customer
    first = (customer.first_name or "").strip()
    initial = (customer.last_name or "").strip()[:1]
    name = f"{first} {initial}." if first and initial else first
    return name


def with_reviewer_names(reviews) -> list[Review]:
    """The reviews as a list, each with `display_name` for the templates."""
    listed = list(reviews)
    for review in listed:
        review.display_name = reviewer_name(review)
    return listed
