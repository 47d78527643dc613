"""seed_demo's reviews: realistic, through the services (real points), idempotent."""

from collections import Counter

import pytest

from loyalty import demo as loyalty_demo
from loyalty.models import PointsAccount, PointsEntry
from loyalty.queries import ledger_mismatches
from reviews import demo
from reviews.models import Review, ReviewPhoto
from shop import demo as shop_demo
from shop.models import OrderLine, Product
from tests.reviews.core_helpers import isolated  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated")]


@pytest.fixture
def seeded():
    shop_demo.seed_demo(orders=400, customers=60)
    loyalty_demo.seed_demo()
    return demo.seed_demo()


def test_demo_reviews_are_realistic(seeded):
    reviews = Review.objects.all()
    ratings = Counter(reviews.values_list("rating", flat=True))
    statuses = Counter(reviews.values_list("status", flat=True))
    languages = set(reviews.values_list("language", flat=True))
    reviewed_products = reviews.values("product").distinct().count()

    assert seeded["reviews"] == reviews.count() > 100
    assert ratings[5] > ratings[4] > ratings[2] and ratings[1] > 0
    assert statuses["approved"] > statuses["pending"] > 0
    assert languages == {"en", "nl"}
    assert reviewed_products > Product.objects.count() / 2
    assert 0 < seeded["photos"] == ReviewPhoto.objects.count()
    assert reviews.filter(reply_body__gt="").exists()

    # the points are real ledger entries
    approved = Review.objects.filter(status="approved")
    keys = set(PointsEntry.objects.values_list("key", flat=True))

    assert all(f"review:{review.pk}" in keys for review in approved)
    assert not any(key.startswith("demo:review:") for key in keys)
    assert all(review.rewarded for review in approved)
    assert not Review.objects.filter(status="pending", rewarded=True).exists()
    assert ledger_mismatches() == []
    account = PointsAccount.objects.get(customer__email="customer@example.com")
    assert account.balance > 300  # the welcome bonus left after free shipping, and more

    # the demo customer has reviews and still has purchases to review
    lines = OrderLine.objects.filter(
        order__customer__email="customer@example.com",
        order__delivered_at__isnull=False,
    )

    assert lines.filter(review__isnull=False).exists()
    assert lines.filter(review__isnull=True).exists()


def test_seeding_twice_changes_nothing(seeded):
    before = (Review.objects.count(), PointsEntry.objects.count())

    again = demo.seed_demo()

    assert again == {"reviews": 0, "approved reviews": 0, "photos": 0}
    assert (Review.objects.count(), PointsEntry.objects.count()) == before
