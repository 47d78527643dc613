"""What the database itself refuses: a second review of a line, ratings outside 1–5,
a second helpful vote by the same voter."""

import pytest
from django.db import IntegrityError, transaction

from reviews.models import HelpfulVote, Review
from tests.reviews.core_helpers import buyer, delivered_line

pytestmark = pytest.mark.django_db


def review_row(line, **values):
    return Review.objects.create(
        order_line=line,
        customer=line.order.customer,
        product=line.product,
        rating=values.pop("rating", 5),
        title="t",
        body="b",
        **values,
    )


def test_one_review_per_order_line():
    line = delivered_line(buyer()[1])
    review_row(line)

    with pytest.raises(IntegrityError), transaction.atomic():
        review_row(line)

    assert Review.objects.count() == 1


@pytest.mark.parametrize("rating", [0, 6])
def test_rating_is_one_to_five(rating):
    line = delivered_line(buyer()[1])

    with pytest.raises(IntegrityError), transaction.atomic():
        review_row(line, rating=rating)

    assert Review.objects.count() == 0


def test_unknown_status_is_refused():
    line = delivered_line(buyer()[1])

    with pytest.raises(IntegrityError), transaction.atomic():
        review_row(line, status="published")


def test_one_helpful_vote_per_voter_and_review():
    review = review_row(delivered_line(buyer()[1]))
    HelpfulVote.objects.create(review=review, voter="anon:1")

    with pytest.raises(IntegrityError), transaction.atomic():
        HelpfulVote.objects.create(review=review, voter="anon:1")

    assert HelpfulVote.objects.count() == 1
