"""Signed review links: one line, no login, refused when tampered, expired or spent."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing

from reviews.links import (
    ReviewLinkExpired,
    ReviewLinkInvalid,
    ReviewLinkSpent,
    order_line_for_review_token,
    review_link_path,
    review_link_token,
)
from reviews.models import Review
from tests.factories import CustomerFactory
from tests.reviews.core_helpers import (
    delivered_line,
    isolated,  # noqa: F401
    jpeg_upload,
    submit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated")]


def form_data(**overrides):
    return {
        "rating": "2",
        "title": "Too small",
        "body": "Runs two sizes small, sadly. The colour is nice though.",
        "language": "nl",
        "may_quote": "",
    } | overrides


def test_the_link_opens_the_form_for_its_line_without_login(client):
    line = delivered_line(CustomerFactory())

    response = client.get(review_link_path(line, "nl"))

    assert response.status_code == 200
    assert line.product.name in response.content.decode()
    assert review_link_path(line, "nl").startswith("/nl/reviews/link/")
    assert review_link_path(line, "en").startswith("/reviews/link/")


def test_posting_through_the_link_writes_the_review_for_the_buyer(client):
    customer = CustomerFactory()
    line = delivered_line(customer)

    response = client.post(
        review_link_path(line, "en"), form_data(photos=[jpeg_upload()])
    )

    assert response.status_code == 200
    review = Review.objects.get()
    assert (review.customer, review.order_line, review.rating, review.status) == (
        customer,
        line,
        2,
        "pending",
    )
    assert (review.language, review.may_quote, review.photo_count) == ("nl", False, 1)


def test_a_spent_link_is_refused():
    line = delivered_line(CustomerFactory())
    token = review_link_token(line)
    submit(line)

    with pytest.raises(ReviewLinkSpent):
        order_line_for_review_token(token)


def test_a_spent_link_changes_nothing_when_posted(client):
    line = delivered_line(CustomerFactory())
    path = review_link_path(line, "en")
    submit(line)

    response = client.post(path, form_data(title="Second"))

    assert response.status_code == 410
    assert list(Review.objects.values_list("title", flat=True)) == ["Lovely jumper"]


def test_a_tampered_link_is_refused(client):
    line = delivered_line(CustomerFactory())
    other = delivered_line(CustomerFactory())
    token = review_link_token(line)
    value, rest = token.split(":", 1)
    forged = f"{other.pk}:{rest}"

    with pytest.raises(ReviewLinkInvalid):
        order_line_for_review_token(forged)
    with pytest.raises(ReviewLinkInvalid):
        order_line_for_review_token(token[:-2] + "xx")
    with pytest.raises(ReviewLinkInvalid):
        order_line_for_review_token("nonsense")

    response = client.post(f"/reviews/link/{forged}/", form_data())
    assert response.status_code == 404
    assert Review.objects.count() == 0


def test_a_link_signed_for_something_else_is_refused():
    line = delivered_line(CustomerFactory())
    other_purpose = signing.TimestampSigner(salt="something.else").sign(str(line.pk))

    with pytest.raises(ReviewLinkInvalid):
        order_line_for_review_token(other_purpose)


def test_an_expired_link_is_refused(client, settings):
    settings.REVIEW_LINK_MAX_AGE_DAYS = 30
    line = delivered_line(CustomerFactory())
    token = review_link_token(line)
    later = signing.time.time() + timedelta(days=31).total_seconds()

    with mock.patch("django.core.signing.time.time", return_value=later):
        with pytest.raises(ReviewLinkExpired):
            order_line_for_review_token(token)
        response = client.post(f"/reviews/link/{token}/", form_data())

    assert response.status_code == 410
    assert Review.objects.count() == 0


def test_a_link_still_valid_before_expiry(settings):
    settings.REVIEW_LINK_MAX_AGE_DAYS = 30
    line = delivered_line(CustomerFactory())
    token = review_link_token(line)
    later = signing.time.time() + timedelta(days=29).total_seconds()

    with mock.patch("django.core.signing.time.time", return_value=later):
        assert order_line_for_review_token(token) == line
