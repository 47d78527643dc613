"""The review state machine through its services: who may review, moderation, points."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.models import LoyaltySettings, PointsAccount, PointsEntry
from reviews import services
from reviews.models import (
    HelpfulVote,
    Review,
    ReviewEvent,
    ReviewPhoto,
    ReviewSettings,
)
from tests.factories import CustomerFactory, UserFactory
from tests.reviews.core_helpers import (
    buyer,
    delivered_line,
    isolated,  # noqa: F401
    jpeg_upload,
    submit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated")]


@pytest.fixture
def moderator(db):
    return UserFactory(username="mod", is_staff=True)


def balance(customer) -> int:
    account = PointsAccount.objects.filter(customer=customer).first()
    return account.balance if account else 0


def events(review) -> list[tuple[str, str]]:
    return list(
        ReviewEvent.objects.filter(review=review).values_list(
            "from_status", "to_status"
        )
    )


# Who may review ---------------------------------------------------------------------


def test_the_buyer_of_a_delivered_line_submits_a_pending_review():
    _user, customer = buyer()
    line = delivered_line(customer)

    review = submit(line, rating=1, title="Fell apart", body="Fell apart in a week.")

    assert (review.status, review.customer, review.product) == (
        "pending",
        customer,
        line.product,
    )
    assert (review.rating, review.may_quote, review.rewarded) == (1, True, False)
    assert events(review) == [("", "pending")]
    assert balance(customer) == 0


def test_someone_else_cannot_review_the_line():
    _user, customer = buyer()
    line = delivered_line(customer)

    with pytest.raises(services.NotReviewable):
        submit(line, customer=CustomerFactory())

    assert Review.objects.count() == 0


def test_an_undelivered_line_cannot_be_reviewed():
    _user, customer = buyer()
    line = delivered_line(customer, delivered=False)

    with pytest.raises(services.NotReviewable):
        submit(line)

    assert Review.objects.count() == 0


def test_a_line_is_reviewed_once():
    _user, customer = buyer()
    line = delivered_line(customer)
    first = submit(line)

    with pytest.raises(services.AlreadyReviewed):
        submit(line, title="Again")

    assert list(Review.objects.values_list("pk", "title")) == [
        (first.pk, "Lovely jumper")
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("rating", 0), ("rating", 6), ("title", "  "), ("body", ""), ("language", "de")],
)
def test_invalid_input_is_refused(field, value):
    _user, customer = buyer()
    line = delivered_line(customer)

    with pytest.raises(services.InvalidReview):
        submit(line, **{field: value})

    assert Review.objects.count() == 0


def test_photos_are_stored_cleaned_and_counted():
    _user, customer = buyer()
    line = delivered_line(customer)

    review = submit(line, photos=[jpeg_upload(), jpeg_upload(size=(30, 20))])

    photos = list(review.photos.all())
    assert review.photo_count == 2
    assert [(p.position, p.width, p.height) for p in photos] == [
        (0, 64, 48),
        (1, 30, 20),
    ]
    assert all(p.image.name.startswith("reviews/") for p in photos)


def test_a_file_that_is_not_an_image_is_refused_with_a_message():
    _user, customer = buyer()
    line = delivered_line(customer)
    from django.core.files.uploadedfile import SimpleUploadedFile

    bogus = SimpleUploadedFile("cat.jpg", b"not an image at all", "image/jpeg")

    with pytest.raises(services.InvalidPhoto) as error:
        submit(line, photos=[bogus])

    assert str(error.value)
    assert Review.objects.count() == 0
    assert ReviewPhoto.objects.count() == 0


def test_more_photos_than_allowed_are_refused():
    _user, customer = buyer()
    line = delivered_line(customer)

    with pytest.raises(services.InvalidReview):
        submit(line, photos=[jpeg_upload() for _ in range(6)])

    assert Review.objects.count() == 0


def test_submissions_are_rate_limited_per_customer():
    ReviewSettings.objects.create(submissions_per_hour=2)
    _user, customer = buyer()
    lines = [delivered_line(customer) for _ in range(3)]
    submit(lines[0])
    submit(lines[1])

    with pytest.raises(services.RateLimited):
        submit(lines[2])

    assert Review.objects.count() == 2


# Moderation and points ---------------------------------------------------------------


def test_approval_awards_points_whatever_the_rating(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer), rating=1, photos=[jpeg_upload()])

    review = services.approve(review=review, by=moderator)

    assert (review.status, review.rewarded, review.points_awarded) == (
        "approved",
        True,
        75,
    )
    assert review.moderated_by == moderator and review.approved_at is not None
    assert sorted(PointsEntry.objects.values_list("key", "amount")) == [
        (f"review-photo:{review.pk}", 25),
        (f"review:{review.pk}", 50),
    ]
    assert balance(customer) == 75
    assert events(review) == [("", "pending"), ("pending", "approved")]


def test_approving_twice_gives_points_once(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer))

    services.approve(review=review, by=moderator)
    services.approve(review=review, by=moderator)

    assert PointsEntry.objects.count() == 1
    assert balance(customer) == 50
    assert events(review) == [("", "pending"), ("pending", "approved")]


def test_reject_needs_a_reason_the_customer_sees(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer))

    with pytest.raises(services.ReasonRequired):
        services.reject(review=review, by=moderator, reason=" ")
    review.refresh_from_db()
    assert review.status == "pending"

    review = services.reject(review=review, by=moderator, reason="Not about the item")

    assert (review.status, review.rejection_reason) == (
        "rejected",
        "Not about the item",
    )
    assert balance(customer) == 0


def test_removal_reverses_the_points_with_new_entries(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer), photos=[jpeg_upload()])
    services.approve(review=review, by=moderator)

    review = services.remove(review=review, by=moderator, reason="Spam")
    again = services.remove(review=review, by=moderator, reason="Spam")

    assert (review.status, again.status, review.points_awarded) == (
        "removed",
        "removed",
        0,
    )
    assert sorted(PointsEntry.objects.values_list("key", "amount")) == [
        (f"reversal:review-photo:{review.pk}", -25),
        (f"reversal:review:{review.pk}", -50),
        (f"review-photo:{review.pk}", 25),
        (f"review:{review.pk}", 50),
    ]
    assert balance(customer) == 0
    assert events(review)[-1] == ("approved", "removed")


def test_a_review_never_published_cannot_be_removed(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer))

    with pytest.raises(services.IllegalTransition):
        services.remove(review=review, by=moderator, reason="Spam")

    review.refresh_from_db()
    assert review.status == "pending"


@pytest.mark.parametrize("status", ["rejected", "removed", "withdrawn"])
def test_illegal_moves_are_refused(moderator, status):
    _user, customer = buyer()
    review = submit(delivered_line(customer))
    Review.objects.filter(pk=review.pk).update(status=status)

    with pytest.raises(services.IllegalTransition):
        services.approve(review=review, by=moderator)

    review.refresh_from_db()
    assert review.status == status
    assert PointsEntry.objects.count() == 0


def test_clean_reviews_are_auto_approved_when_the_setting_is_on():
    ReviewSettings.objects.create(auto_approve_clean=True)
    _user, customer = buyer()

    clean = submit(delivered_line(customer), rating=1)
    flagged = submit(delivered_line(customer), body="Call me on 06 12345678 now!!")

    assert (clean.status, clean.flags, clean.rewarded) == ("approved", [], True)
    assert flagged.status == "pending" and "phone" in flagged.flags
    assert balance(customer) == 50


def test_points_follow_the_settings_never_the_rating():
    LoyaltySettings.objects.create(points_per_review=10, photo_bonus=0)
    _user, customer = buyer()
    low = submit(delivered_line(customer), rating=1, photos=[jpeg_upload()])
    high = submit(delivered_line(customer), rating=5)

    services.approve(review=low, by=None)
    services.approve(review=high, by=None)

    assert [r.points_awarded for r in Review.objects.order_by("pk")] == [10, 10]


# The author's changes ----------------------------------------------------------------


def test_an_edit_goes_back_to_moderation_and_never_pays_twice(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer))
    services.approve(review=review, by=moderator)

    review = services.edit_review(
        review=review,
        customer=customer,
        rating=2,
        title="Changed my mind",
        body="After a few washes it lost its shape completely.",
        language="en",
        may_quote=False,
        photos=[jpeg_upload()],
    )
    assert (review.status, review.rating, review.may_quote) == ("pending", 2, False)
    services.approve(review=review, by=moderator)

    # the base points once, and the photo bonus for the photo added by the edit
    assert sorted(PointsEntry.objects.values_list("key", "amount")) == [
        (f"review-photo:{review.pk}", 25),
        (f"review:{review.pk}", 50),
    ]
    assert events(review) == [
        ("", "pending"),
        ("pending", "approved"),
        ("approved", "pending"),
        ("pending", "approved"),
    ]


def test_only_the_author_edits_or_withdraws():
    _user, customer = buyer()
    review = submit(delivered_line(customer))
    stranger = CustomerFactory()

    with pytest.raises(services.NotYourReview):
        services.withdraw_review(review=review, customer=stranger)

    review.refresh_from_db()
    assert review.status == "pending"


def test_withdrawn_line_can_be_written_again_and_earns_once(moderator):
    _user, customer = buyer()
    line = delivered_line(customer)
    review = submit(line, photos=[jpeg_upload()])
    services.approve(review=review, by=moderator)

    services.withdraw_review(review=review, customer=customer)
    assert ReviewPhoto.objects.count() == 0
    again = submit(line, title="Second go")
    services.approve(review=again, by=moderator)

    assert again.pk == review.pk
    assert Review.objects.get().title == "Second go"
    assert balance(customer) == 75
    assert PointsEntry.objects.count() == 2


def test_reply_is_public_and_recorded(moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer))

    review = services.reply(review=review, by=moderator, body="Thank you, Anna!")

    assert (review.reply_body, review.reply_by) == ("Thank you, Anna!", moderator)
    assert review.reply_at is not None


# Helpful votes ------------------------------------------------------------------------


def test_one_helpful_vote_per_voter(moderator):
    _user, customer = buyer()
    review = services.approve(review=submit(delivered_line(customer)), by=moderator)

    assert services.vote_helpful(review=review, voter="anon:abc") is True
    assert services.vote_helpful(review=review, voter="anon:abc") is False
    assert services.vote_helpful(review=review, voter="user:999") is True

    review.refresh_from_db()
    assert review.helpful_count == 2
    assert HelpfulVote.objects.count() == 2


def test_no_votes_on_pending_or_own_reviews(moderator):
    user, customer = buyer()
    review = submit(delivered_line(customer))

    with pytest.raises(services.IllegalTransition):
        services.vote_helpful(review=review, voter="anon:abc")
    services.approve(review=review, by=moderator)
    with pytest.raises(services.ReviewError):
        services.vote_helpful(review=review, voter=f"user:{user.pk}")

    assert HelpfulVote.objects.count() == 0


def test_votes_are_rate_limited_per_voter(moderator):
    ReviewSettings.objects.create(votes_per_hour=2)
    _user, customer = buyer()
    reviews = [
        services.approve(review=submit(delivered_line(customer)), by=moderator)
        for _ in range(3)
    ]
    now = timezone.now()
    services.vote_helpful(review=reviews[0], voter="anon:x", now=now)
    services.vote_helpful(review=reviews[1], voter="anon:x", now=now)

    with pytest.raises(services.RateLimited):
        services.vote_helpful(review=reviews[2], voter="anon:x", now=now)
    assert services.vote_helpful(
        review=reviews[2], voter="anon:x", now=now + timedelta(hours=1)
    )

    assert HelpfulVote.objects.count() == 3


# Concurrency (PostgreSQL) -------------------------------------------------------------


def run_in_threads(action, count: int) -> list:
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as exc:  # noqa: BLE001  (collected and asserted on)
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_approvals_award_points_once(needs_postgres, moderator):
    _user, customer = buyer()
    review = submit(delivered_line(customer), photos=[jpeg_upload()])

    results = run_in_threads(
        lambda: services.approve(review=review, by=moderator).status, count=8
    )

    assert results == ["approved"] * 8
    assert sorted(PointsEntry.objects.values_list("key", "amount")) == [
        (f"review-photo:{review.pk}", 25),
        (f"review:{review.pk}", 50),
    ]
    assert balance(customer) == 75
    assert events(review) == [("", "pending"), ("pending", "approved")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_submissions_for_one_line_write_one_review(needs_postgres):
    _user, customer = buyer()
    line = delivered_line(customer)

    results = run_in_threads(lambda: submit(line).pk, count=6)

    [review] = Review.objects.all()
    assert sorted(map(type, results), key=str) == sorted(
        [int] + [services.AlreadyReviewed] * 5, key=str
    )
    assert review.pk in results
    assert events(review) == [("", "pending")]
