"""featured_reviews: what e-mails may quote, ranked by substance, with the honest
aggregate beside it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reviews.models import Review, ReviewStatus
from reviews.queries import featured_reviews
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def review(
    product,
    *,
    title,
    rating=5,
    body="x" * 100,
    language="en",
    may_quote=True,
    photos=0,
    helpful=0,
    days_ago=100,
    status=ReviewStatus.APPROVED,
    rewarded=False,
):
    line = OrderLineFactory(
        product=product, order=OrderFactory(customer=CustomerFactory())
    )
    return Review.objects.create(
        order_line=line,
        customer=line.order.customer,
        product=product,
        rating=rating,
        title=title,
        body=body,
        language=language,
        may_quote=may_quote,
        photo_count=photos,
        helpful_count=helpful,
        status=status,
        rewarded=rewarded,
        approved_at=NOW - timedelta(days=days_ago)
        if status == ReviewStatus.APPROVED
        else None,
    )


def titles(result) -> list[str]:
    return [r.title for r in result.reviews]


def test_only_approved_quotable_four_and_five_star_reviews():
    product = ProductFactory()
    review(product, title="good")
    review(product, title="three", rating=3)
    review(product, title="not quotable", may_quote=False)
    review(product, title="pending", status=ReviewStatus.PENDING)
    review(product, title="removed", status=ReviewStatus.REMOVED)
    review(ProductFactory(), title="other product")

    result = featured_reviews(product, "en", now=NOW)

    assert titles(result) == ["good"]


def test_the_aggregate_is_the_real_one_low_stars_included():
    product = ProductFactory()
    for rating in (5, 4, 1, 1):
        review(product, title=f"r{rating}", rating=rating)
    review(product, title="pending", rating=5, status=ReviewStatus.PENDING)

    result = featured_reviews(product, "en", now=NOW)

    assert (result.average, result.count) == (Decimal("2.8"), 4)


def test_no_reviews():
    result = featured_reviews(ProductFactory(), "nl", now=NOW)

    assert (result.reviews, result.average, result.count) == ([], None, 0)


def test_ranking_by_substance():
    product = ProductFactory()
    # length: 1 point per 100 characters up to 8; photos 2 each up to 3; helpful 1
    # each up to 10; approved within 30 days +6, within 180 days +3 (all other
    # things equal: 100 characters, 100 days ago = 1 + 3 = 4)
    review(product, title="plain")  # 4
    review(product, title="long", body="y" * 2000)  # 8 + 3 = 11
    review(product, title="photos", photos=5)  # 1 + 6 + 3 = 10
    review(product, title="helpful", helpful=50)  # 1 + 10 + 3 = 14
    review(product, title="fresh", days_ago=2)  # 1 + 6 = 7
    review(product, title="old", days_ago=400)  # 1

    result = featured_reviews(product, "en", limit=6, now=NOW)

    assert titles(result) == ["helpful", "long", "photos", "fresh", "plain", "old"]


def test_the_customers_language_first():
    product = ProductFactory()
    review(product, title="en great", body="z" * 900, helpful=10)
    review(product, title="nl short", language="nl")
    review(product, title="nl long", language="nl", body="q" * 500)

    assert titles(featured_reviews(product, "nl", now=NOW)) == [
        "nl long",
        "nl short",
        "en great",
    ]
    assert titles(featured_reviews(product, "en", limit=2, now=NOW)) == [
        "en great",
        "nl long",
    ]


def test_ties_go_to_the_most_recent_and_the_incentive_flag_travels():
    product = ProductFactory()
    review(product, title="older", days_ago=60, rewarded=True)
    review(product, title="newer", days_ago=50)

    result = featured_reviews(product, "en", now=NOW)

    assert titles(result) == ["newer", "older"]
    assert [r.rewarded for r in result.reviews] == [False, True]


def test_constant_queries(django_assert_num_queries):
    product = ProductFactory()
    for n in range(5):
        review(product, title=f"r{n}", photos=1)

    with django_assert_num_queries(3):  # aggregate, reviews, photos
        featured_reviews(product, "en", now=NOW)
