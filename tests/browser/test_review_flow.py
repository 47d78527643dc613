"""A customer writes a review with a photo, a moderator approves it in the Wagtail
admin, and the customer's points and the product's reviews page show it."""

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from PIL import Image
from playwright.sync_api import expect

from reviews.models import Review
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ALLOWED_HOSTS = ["*"]
    cache.clear()


def moderators() -> Group:
    """The "Moderators" group with what reviews migration 0002 gives it. (An earlier
    transactional test may have flushed the migrations' data.)"""
    group, _ = Group.objects.get_or_create(name="Moderators")
    group.permissions.add(
        *Permission.objects.filter(
            codename__in=["access_admin", "view_review", "moderate_review"]
        )
    )
    return group


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_a_review_with_a_photo_is_approved_and_earns_points(
    browser, live_server, media, tmp_path
):
    # given: Anna received a Merino Wool Sweater; Max moderates reviews
    user = UserFactory(username="anna", email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="anna@example.com", verified=True, primary=True
    )
    customer = CustomerFactory(email="anna@example.com", user=user)
    product = ProductFactory(sku="CLO-003", name="Merino Wool Sweater")
    OrderLineFactory(order=OrderFactory(customer=customer), product=product)
    moderator = UserFactory(username="max", is_staff=True)
    moderator.groups.add(moderators())
    photo = tmp_path / "sweater.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 60, 40)).save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())

    anna = browser.new_context(base_url=live_server.url, locale="en-GB").new_page()
    anna.set_default_timeout(15_000)

    # when: she opens "Review your purchases" and writes a review with a photo
    sign_in(anna, "anna@example.com")
    anna.goto("/reviews/")
    expect(anna.get_by_test_id("review-offer")).to_contain_text(
        "A review earns 50 points once it is approved, whatever its rating."
    )
    anna.get_by_role("link", name="Review Merino Wool Sweater").click()
    anna.get_by_label("4 stars: good").check()
    anna.get_by_label("Title").fill("Warm and soft")
    anna.get_by_label("Your review", exact=True).fill(
        "Keeps me warm on the bike and does not itch at all."
    )
    anna.get_by_label("Photos").set_input_files(str(photo))
    anna.get_by_label("The shop may quote my review in e-mails").check()
    anna.get_by_role("button", name="Send review").click()

    # then: My reviews shows it waiting for moderation
    expect(anna).to_have_url(re.compile(r"/reviews/mine/$"))
    expect(anna.get_by_test_id("review-status")).to_have_text("Waiting for moderation")
    review = Review.objects.get()
    assert (review.rating, review.photo_count, review.may_quote) == (4, 1, True)

    # when: the moderator finds it in the queue and approves it
    max_page = browser.new_context(base_url=live_server.url, locale="en-GB").new_page()
    max_page.set_default_timeout(15_000)
    max_page.goto("/admin/login/")
    max_page.locator("input[name=username]").fill("max")
    max_page.locator("input[name=password]").fill(PASSWORD)
    max_page.get_by_role("button", name="Sign in").click()
    expect(max_page).to_have_url(re.compile(r"/admin/$"))
    max_page.goto("/admin/reviews/queue/?status=pending")
    max_page.get_by_role("link", name="Warm and soft").first.click()
    expect(max_page.get_by_test_id("review-title")).to_have_text("Warm and soft")
    expect(max_page.get_by_role("img", name="Photo 1")).to_be_visible()
    max_page.get_by_test_id("approve").click()
    expect(max_page.get_by_text("Review approved.")).to_be_visible()

    # then: Anna has her points (50 + 25 for the photo) ...
    anna.get_by_role("link", name="My points").click()
    expect(anna.get_by_test_id("points-balance")).to_have_text("75")
    review.refresh_from_db()
    assert (review.status, review.rewarded, review.points_awarded) == (
        "approved",
        True,
        75,
    )

    # ... and the product's reviews page shows the review, labelled as rewarded
    anna.goto("/products/CLO-003/reviews/")
    expect(anna.get_by_role("heading", name="Warm and soft")).to_be_visible()
    expect(
        anna.get_by_text(re.compile("points for this review", re.I)).first
    ).to_be_visible()
