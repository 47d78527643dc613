"""export_customer / erase_customer include the customer's reviews."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from loyalty.models import PointsAccount
from reviews import services
from reviews.models import HelpfulVote, Review, ReviewPhoto
from tests.reviews.core_helpers import (
    buyer,
    delivered_line,
    isolated,  # noqa: F401
    jpeg_upload,
    submit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated")]


def test_export_holds_the_reviews():
    _user, customer = buyer()
    line = delivered_line(customer)
    review = submit(line, rating=3, photos=[jpeg_upload()])
    services.approve(review=review, by=None)
    out = StringIO()

    call_command("export_customer", customer.email, stdout=out)

    [exported] = json.loads(out.getvalue())["reviews"]
    assert exported["order"] == line.order.number
    assert (exported["rating"], exported["title"], exported["status"]) == (
        3,
        "Lovely jumper",
        "approved",
    )
    assert exported["points_awarded"] == 75
    assert len(exported["photos"]) == 1


def test_erase_removes_words_photos_and_votes_but_keeps_the_ledger():
    user, customer = buyer()
    _other_user, other = buyer("bert@example.com", "bert")
    review = services.approve(
        review=submit(delivered_line(customer), photos=[jpeg_upload()]), by=None
    )
    others = services.approve(review=submit(delivered_line(other)), by=None)
    services.vote_helpful(review=others, voter=f"user:{user.pk}")

    call_command("erase_customer", customer.email, stdout=StringIO())

    review.refresh_from_db()
    assert (review.status, review.title, review.body, review.photo_count) == (
        "withdrawn",
        "",
        "",
        0,
    )
    assert ReviewPhoto.objects.filter(review=review).count() == 0
    assert HelpfulVote.objects.count() == 0
    assert PointsAccount.objects.get(pk=customer.points_account.pk).balance == 75
    assert Review.objects.get(pk=others.pk).title == "Lovely jumper"
