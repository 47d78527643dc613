"""The customer's pages: Review your purchases, write, My reviews, edit, delete."""

import pytest
from django.urls import reverse

from loyalty.models import LoyaltySettings
from reviews import services
from reviews.models import Review
from tests.factories import CustomerFactory, UserFactory
from tests.reviews.core_helpers import (
    buyer,
    delivered_line,
    isolated,  # noqa: F401
    jpeg_upload,
    submit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated")]


def form_data(**overrides):
    return {
        "rating": "5",
        "title": "Perfect fit",
        "body": "Fits well and the fabric feels expensive. Would buy again.",
        "language": "en",
        "may_quote": "on",
    } | overrides


@pytest.fixture
def anna(client):
    user, customer = buyer()
    client.force_login(user)
    return customer


def test_pages_need_login(client):
    for name in ("reviews:to_review", "reviews:mine"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_review_your_purchases_lists_delivered_unreviewed_lines_with_points(
    client, anna
):
    LoyaltySettings.objects.create(points_per_review=40, photo_bonus=10)
    waiting = delivered_line(anna)
    submit(delivered_line(anna))  # reviewed already
    delivered_line(anna, delivered=False)
    delivered_line(CustomerFactory())  # someone else's

    response = client.get("/reviews/")

    assert response.status_code == 200
    assert [line.pk for line in response.context["lines"]] == [waiting.pk]
    text = response.content.decode()
    assert "A review earns 40 points once it is approved, whatever its rating." in text
    assert "With a photo: 10 points more." in text


def test_review_your_purchases_in_dutch(client, anna):
    delivered_line(anna)

    response = client.get("/nl/reviews/")

    assert response.status_code == 200


def test_constant_queries_whatever_the_number_of_lines(
    client, anna, django_assert_max_num_queries
):
    for _ in range(2):
        delivered_line(anna)
    with django_assert_max_num_queries(12) as few:
        client.get("/reviews/")
    for _ in range(20):
        delivered_line(anna)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/reviews/")

    assert len(response.context["lines"]) == 22


def test_my_reviews_constant_queries(client, anna, django_assert_max_num_queries):
    submit(delivered_line(anna), photos=[jpeg_upload()])
    with django_assert_max_num_queries(12) as few:
        client.get("/reviews/mine/")
    for _ in range(10):
        submit(delivered_line(anna), photos=[jpeg_upload()])

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/reviews/mine/")

    assert len(response.context["reviews"]) == 11


def test_the_buyer_writes_a_review_with_a_photo(client, anna):
    line = delivered_line(anna)

    response = client.post(
        f"/reviews/write/{line.pk}/", form_data(photos=[jpeg_upload()])
    )

    assert response.status_code == 302
    assert response["Location"] == "/reviews/mine/"
    review = Review.objects.get()
    assert (review.customer, review.rating, review.title, review.may_quote) == (
        anna,
        5,
        "Perfect fit",
        True,
    )
    assert (review.status, review.photo_count) == ("pending", 1)


def test_someone_else_cannot_open_or_post_the_form(client, anna):
    line = delivered_line(CustomerFactory())

    assert client.get(f"/reviews/write/{line.pk}/").status_code == 404
    assert client.post(f"/reviews/write/{line.pk}/", form_data()).status_code == 404

    assert Review.objects.count() == 0


def test_a_reviewed_line_cannot_be_posted_again(client, anna):
    line = delivered_line(anna)
    submit(line)

    response = client.post(f"/reviews/write/{line.pk}/", form_data(title="Again"))

    assert response.status_code == 404
    assert list(Review.objects.values_list("title", flat=True)) == ["Lovely jumper"]


def test_a_bad_upload_shows_the_reason_and_changes_nothing(client, anna):
    from django.core.files.uploadedfile import SimpleUploadedFile

    line = delivered_line(anna)
    bogus = SimpleUploadedFile("x.png", b"GIF89a not really", "image/png")

    response = client.post(f"/reviews/write/{line.pk}/", form_data(photos=[bogus]))

    assert response.status_code == 200
    assert response.context["form"].errors["photos"]
    assert Review.objects.count() == 0


def test_six_photos_are_refused_by_the_form(client, anna):
    line = delivered_line(anna)

    response = client.post(
        f"/reviews/write/{line.pk}/",
        form_data(photos=[jpeg_upload() for _ in range(6)]),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["photos"] == ["Add at most 5 photos."]
    assert Review.objects.count() == 0


def test_my_reviews_shows_status_and_rejection_reason(client, anna):
    review = submit(delivered_line(anna))
    services.reject(
        review=review, by=UserFactory(username="mod"), reason="Please no addresses"
    )

    response = client.get("/reviews/mine/")

    text = response.content.decode()
    assert "Rejected" in text
    assert "Please no addresses" in text


def test_edit_sends_the_review_back_to_moderation(client, anna):
    review = services.approve(review=submit(delivered_line(anna)), by=None)

    response = client.post(
        f"/reviews/{review.pk}/edit/", form_data(rating="3", title="Update")
    )

    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.rating, review.title) == ("pending", 3, "Update")


def test_delete_withdraws_the_review(client, anna):
    review = submit(delivered_line(anna))

    response = client.post(f"/reviews/{review.pk}/delete/")

    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == "withdrawn"
    assert client.get("/reviews/mine/").context["reviews"] == []
    # and the line can be reviewed again
    assert [line.pk for line in client.get("/reviews/").context["lines"]] == [
        review.order_line_id
    ]


def test_others_cannot_edit_or_delete(client, anna):
    other_user, other = buyer("bert@example.com", "bert")
    review = submit(delivered_line(other))

    assert client.get(f"/reviews/{review.pk}/edit/").status_code == 404
    assert client.post(f"/reviews/{review.pk}/delete/").status_code == 404

    review.refresh_from_db()
    assert review.status == "pending"


def test_title_and_body_are_escaped(client, anna):
    submit(
        delivered_line(anna),
        title='<script>alert("t")</script>',
        body='<img src=x onerror="alert(1)"> nice and warm jumper',
    )

    text = client.get("/reviews/mine/").content.decode()

    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in text
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
