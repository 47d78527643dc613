"""Moderation in the Wagtail admin: the queue, one-by-one actions, bulk, permissions."""

import pytest
from django.contrib.auth.models import Group, Permission

from loyalty.models import PointsAccount, PointsEntry
from reviews import services
from reviews.models import Review
from tests.factories import ProductFactory, UserFactory
from tests.reviews.core_helpers import (
    buyer,
    delivered_line,
    isolated,  # noqa: F401
    jpeg_upload,
    submit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated")]

QUEUE = "/admin/reviews/queue/"


@pytest.fixture
def moderator(client):
    user = UserFactory(username="mod", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    client.force_login(user)
    return user


@pytest.fixture
def editor(client):
    """In the admin, but not a moderator."""
    user = UserFactory(username="ed", is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    client.force_login(user)
    return user


@pytest.fixture
def customer():
    return buyer()[1]


def balance(customer) -> int:
    account = PointsAccount.objects.filter(customer=customer).first()
    return account.balance if account else 0


def test_the_moderators_group_has_the_reviews_permissions():
    codenames = set(
        Group.objects.get(name="Moderators")
        .permissions.filter(content_type__app_label="reviews")
        .values_list("codename", flat=True)
    )

    assert codenames == {
        "view_review",
        "change_review",
        "moderate_review",
        "change_reviewsettings",
    }


def test_the_queue_lists_and_filters(client, moderator, customer):
    product = ProductFactory(name="Wool jumper")
    flagged = submit(
        delivered_line(customer, product=product), body="Visit www.example.com now"
    )
    low = submit(delivered_line(customer), rating=1, body="Broke on day two, sadly.")

    listing = client.get(QUEUE)
    by_flag = client.get(QUEUE, {"flag": "link"})
    by_rating = client.get(QUEUE, {"rating": "1"})
    by_product = client.get(QUEUE, {"product": product.pk, "status": "pending"})

    assert listing.status_code == 200
    assert {r.pk for r in listing.context["object_list"]} == {flagged.pk, low.pk}
    assert [r.pk for r in by_flag.context["object_list"]] == [flagged.pk]
    assert [r.pk for r in by_rating.context["object_list"]] == [low.pk]
    assert [r.pk for r in by_product.context["object_list"]] == [flagged.pk]


def test_the_detail_shows_photos_flags_and_actions(client, moderator, customer):
    review = submit(
        delivered_line(customer),
        title="<b>bold</b> title",
        body="Mail me at anna@example.org please",
        photos=[jpeg_upload()],
    )

    response = client.get(f"{QUEUE}inspect/{review.pk}/")

    text = response.content.decode()
    assert response.status_code == 200
    assert "Contains an e-mail address" in text
    assert review.photos.get().thumbnail.url in text
    assert 'data-testid="approve"' in text
    assert "&lt;b&gt;bold&lt;/b&gt; title" in text


def test_approve_from_the_admin_awards_points_once(client, moderator, customer):
    review = submit(delivered_line(customer))

    first = client.post(f"{QUEUE}{review.pk}/approve/")
    client.post(f"{QUEUE}{review.pk}/approve/")

    assert first.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.moderated_by) == ("approved", moderator)
    assert balance(customer) == 50
    assert PointsEntry.objects.count() == 1


def test_reject_needs_a_reason(client, moderator, customer):
    review = submit(delivered_line(customer))

    client.post(f"{QUEUE}{review.pk}/reject/", {"reason": ""})
    review.refresh_from_db()
    assert review.status == "pending"

    client.post(f"{QUEUE}{review.pk}/reject/", {"reason": "Off topic"})
    review.refresh_from_db()
    assert (review.status, review.rejection_reason) == ("rejected", "Off topic")


def test_remove_reverses_points(client, moderator, customer):
    review = services.approve(review=submit(delivered_line(customer)), by=moderator)

    client.post(f"{QUEUE}{review.pk}/remove/", {"reason": "Fake"})

    review.refresh_from_db()
    assert (review.status, review.rejection_reason) == ("removed", "Fake")
    assert balance(customer) == 0


def test_reply_as_the_shop(client, moderator, customer):
    review = services.approve(review=submit(delivered_line(customer)), by=moderator)

    client.post(f"{QUEUE}{review.pk}/reply/", {"body": "Thanks for the tip!"})

    review.refresh_from_db()
    assert (review.reply_body, review.reply_by) == ("Thanks for the tip!", moderator)


def test_a_user_without_the_permission_cannot_moderate(client, editor, customer):
    review = submit(delivered_line(customer))

    for action, data in [
        ("approve", {}),
        ("reject", {"reason": "x"}),
        ("reply", {"body": "hi"}),
    ]:
        response = client.post(f"{QUEUE}{review.pk}/{action}/", data)
        assert (response.status_code, response["Location"]) == (302, "/admin/")

    assert client.get(QUEUE).status_code in (302, 403)
    review.refresh_from_db()
    assert (review.status, review.reply_body) == ("pending", "")
    assert PointsEntry.objects.count() == 0


def test_viewing_without_moderating_shows_no_actions(client, customer):
    user = UserFactory(username="viewer", is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    user.user_permissions.add(Permission.objects.get(codename="view_review"))
    client.force_login(user)
    review = submit(delivered_line(customer))

    response = client.get(f"{QUEUE}inspect/{review.pk}/")
    refused = client.post(f"{QUEUE}{review.pk}/approve/")

    assert response.status_code == 200
    assert 'data-testid="approve"' not in response.content.decode()
    # Wagtail turns PermissionDenied into a redirect to the dashboard with a message
    assert (refused.status_code, refused["Location"]) == (302, "/admin/")
    review.refresh_from_db()
    assert review.status == "pending"


def test_bulk_approve(client, moderator, customer):
    reviews = [submit(delivered_line(customer)) for _ in range(3)]
    ids = "&".join(f"id={r.pk}" for r in reviews[:2])
    url = f"/admin/bulk/reviews/review/approve/?{ids}&next={QUEUE}"

    confirm = client.get(url)
    response = client.post(url)

    assert confirm.status_code == 200
    assert response.status_code == 302
    statuses = dict(Review.objects.values_list("pk", "status"))
    assert statuses == {
        reviews[0].pk: "approved",
        reviews[1].pk: "approved",
        reviews[2].pk: "pending",
    }
    assert balance(customer) == 100


def test_bulk_reject_with_a_reason(client, moderator, customer):
    reviews = [submit(delivered_line(customer)) for _ in range(2)]
    ids = "&".join(f"id={r.pk}" for r in reviews)
    url = f"/admin/bulk/reviews/review/reject/?{ids}&next={QUEUE}"

    client.post(url, {"reason": ""})
    assert set(Review.objects.values_list("status", flat=True)) == {"pending"}

    client.post(url, {"reason": "Not about the product"})
    assert set(Review.objects.values_list("status", "rejection_reason")) == {
        ("rejected", "Not about the product")
    }


def test_bulk_approve_without_the_permission_changes_nothing(client, customer):
    user = UserFactory(username="viewer", is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    user.user_permissions.add(Permission.objects.get(codename="view_review"))
    client.force_login(user)
    review = submit(delivered_line(customer))

    client.post(f"/admin/bulk/reviews/review/approve/?id={review.pk}&next={QUEUE}")

    review.refresh_from_db()
    assert review.status == "pending"
    assert PointsEntry.objects.count() == 0
