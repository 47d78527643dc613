"""Building reviews for the public-page tests (reviews-public): through the ORM, since
these tests are about reading what is already there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from reviews.models import Review, ReviewPhoto, ReviewStatus
from shop.models import OrderLine
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory


def make_review(
    *,
    product,
    rating: int = 5,
    title: str = "Good",
    body: str = "It does what it says and arrived quickly.",
    status: str = ReviewStatus.APPROVED,
    rewarded: bool = False,
    points: int = 0,
    language: str = "en",
    helpful_count: int = 0,
    customer=None,
    approved_at=None,
    reply_body: str = "",
    photos: int = 0,
) -> Review:
    line = OrderLineFactory(
        product=product,
        order=OrderFactory(customer=customer or CustomerFactory()),
    )
    now = timezone.now()
    review = Review.objects.create(
        order_line=line,
        customer=line.order.customer,
        product=product,
        rating=rating,
        title=title,
        body=body,
        language=language,
        status=status,
        rewarded=rewarded,
        points_awarded=points,
        helpful_count=helpful_count,
        photo_count=photos,
        submitted_at=now - timedelta(days=2),
        approved_at=(approved_at or now - timedelta(days=1))
        if status == ReviewStatus.APPROVED
        else None,
        reply_body=reply_body,
        reply_at=now if reply_body else None,
    )
    for position in range(photos):
        ReviewPhoto.objects.create(
            review=review,
            image=f"reviews/test/{review.pk}-{position}.jpg",
            thumbnail=f"reviews/test/thumbs/{review.pk}-{position}.jpg",
            width=1200,
            height=900,
            position=position,
        )
    return review


def bulk_reviews(*, product, count: int, rating_of=lambda n: 1 + n % 5) -> None:
    """`count` approved reviews of one product in a few queries (for the query-count
    and benchmark cases): one order, one line and one review each."""
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            external_id=f"bulk-{n}",
            product=product,
            quantity=1,
            unit_price="10.00",
        )
        for n in range(count)
    )
    now = timezone.now()
    Review.objects.bulk_create(
        Review(
            order_line=line,
            customer=customer,
            product=product,
            rating=rating_of(n),
            title=f"Review {n}",
            body=f"Review number {n} of this product, with enough words to read.",
            status=ReviewStatus.APPROVED,
            rewarded=n % 2 == 0,
            points_awarded=50 if n % 2 == 0 else 0,
            helpful_count=n % 7,
            submitted_at=now - timedelta(minutes=n + 10),
            approved_at=now - timedelta(minutes=n),
        )
        for n, line in enumerate(lines)
    )


@pytest.fixture(autouse=True)
def fresh_cache():
    """Cached answers and versions live in the (locmem) cache: start empty."""
    cache.clear()
    yield
    cache.clear()


def policy_page(*, title="How we check reviews", slug="how-we-check"):
    """A live "How we check reviews" page under the site's root page."""
    from wagtail.models import Site

    from reviews.pages import ReviewPolicyPage, forget_review_policy_urls

    root = Site.objects.get(is_default_site=True).root_page
    page = root.add_child(instance=ReviewPolicyPage(title=title, slug=slug))
    forget_review_policy_urls()
    return page
