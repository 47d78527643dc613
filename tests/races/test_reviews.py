"""Two moderators approve the same review at the same moment: it is published once
and its points are given once."""

import pytest

from loyalty.models import PointsAccount, PointsEntry
from reviews import services
from reviews.models import Review, ReviewEvent, ReviewSettings, ReviewStatus
from tests.factories import UserFactory
from tests.races.interleave import competitor_at
from tests.reviews.core_helpers import buyer, delivered_line, submit

pytestmark = [
    pytest.mark.races,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def pending_review():
    rules = ReviewSettings.load()
    rules.auto_approve_clean = False
    rules.save()
    _user, customer = buyer()
    review = submit(delivered_line(customer))
    assert review.status == ReviewStatus.PENDING
    return review


def test_a_second_approval_arriving_before_the_first_writes_gives_points_once():
    review = pending_review()
    first, second = (UserFactory(username=n, is_staff=True) for n in ("m1", "m2"))

    # Moderator 2 clicks "approve" after moderator 1's approve read the review and
    # before it wrote anything.
    with competitor_at(
        services,
        "_move",
        lambda: services.approve(review=Review.objects.get(pk=review.pk), by=second),
    ) as competitor:
        services.approve(review=Review.objects.get(pk=review.pk), by=first)

    assert competitor.outcome == "blocked"  # it waited for the review's row lock
    assert competitor.join().status == ReviewStatus.APPROVED
    review.refresh_from_db()
    assert review.status == ReviewStatus.APPROVED
    assert review.moderated_by == first
    assert (
        ReviewEvent.objects.filter(
            review=review, to_status=ReviewStatus.APPROVED
        ).count()
        == 1
    )
    assert PointsEntry.objects.filter(key=f"review:{review.pk}").count() == 1
    points = PointsEntry.objects.get(key=f"review:{review.pk}").amount
    assert PointsAccount.objects.get(customer=review.customer).balance == points
    assert review.points_awarded == points > 0


def test_a_rejection_arriving_while_the_approval_writes_changes_nothing():
    review = pending_review()
    first, second = (UserFactory(username=n, is_staff=True) for n in ("m1", "m2"))

    with competitor_at(
        services,
        "_move",
        lambda: services.reject(
            review=Review.objects.get(pk=review.pk), by=second, reason="Off-topic"
        ),
    ) as competitor:
        services.approve(review=Review.objects.get(pk=review.pk), by=first)

    assert competitor.outcome == "blocked"
    with pytest.raises(services.IllegalTransition):
        competitor.join()
    review.refresh_from_db()
    assert review.status == ReviewStatus.APPROVED
    assert review.rejection_reason == ""
    assert (
        list(
            ReviewEvent.objects.filter(review=review)
            .order_by("pk")
            .values_list("to_status", flat=True)
        )[-1]
        == ReviewStatus.APPROVED
    )
    assert PointsEntry.objects.filter(key=f"review:{review.pk}").count() == 1
