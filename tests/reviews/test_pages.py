"""The Wagtail pages of reviews: the feedback wall and "How we collect and check
reviews", the link to the latter, and the demo pages."""

from __future__ import annotations

import re

import pytest
from wagtail.models import Page, Site

from reviews.pages import (
    FeedbackWallPage,
    ReviewPolicyPage,
    ensure_demo_pages,
    review_policy_url,
)
from tests.factories import ProductFactory
from tests.reviews.public_helpers import (
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
    policy_page,
)

pytestmark = pytest.mark.django_db

LABEL = (
    '<p class="rw-review__incentive">The reviewer received points for this review.</p>'
)


def wall(**values) -> FeedbackWallPage:
    root = Site.objects.get(is_default_site=True).root_page
    return root.add_child(
        instance=FeedbackWallPage(title="What customers say", slug="feedback", **values)
    )


def test_the_policy_page_explains_checks_and_points_by_default(client):
    page = policy_page(slug="how-we-check")

    response = client.get(page.url)

    assert response.status_code == 200
    html = response.text
    assert "Only a customer who bought the product from us" in html
    assert "A moderator reads every review before it is published." in html
    assert "The number of stars never decides whether a review is published" in html
    # LoyaltySettings' defaults: 50 points per review, 25 for a photo.
    assert re.search(r"earns the reviewer \d+ points, plus \d+ for a photo", html)
    assert "whatever the rating" in html


def test_an_editor_can_replace_the_text(client):
    page = policy_page(slug="how-we-check")
    page.body = "<p>Our own words.</p>"
    page.save_revision().publish()

    html = client.get(page.url).text

    assert "Our own words." in html
    assert "Only a customer who bought" not in html


def test_the_wall_lists_recent_approved_reviews_with_labels_and_the_policy_link(client):
    policy_page(slug="how-we-check")
    page = wall()
    first = ProductFactory(name="Linen shirt")
    make_review(product=first, title="Lovely", rating=5, rewarded=True)
    make_review(product=ProductFactory(), title="Awful", rating=1, rewarded=True)
    make_review(product=first, title="Waiting", status="pending")

    html = client.get(page.url).text

    assert "Lovely" in html and "Awful" in html and "Waiting" not in html
    assert html.count(LABEL) == 2
    assert f'href="/products/{first.sku}/reviews/">Linen shirt</a>' in html
    assert '<a href="/how-we-check/">How we collect and check reviews</a>' in html


def test_the_wall_is_paginated(client):
    page = wall(page_size=2)
    product = ProductFactory()
    for n in range(5):
        make_review(product=product, title=f"r{n}")

    first = client.get(page.url).text
    last = client.get(page.url + "?page=3").text
    past = client.get(page.url + "?page=99").text

    assert first.count('<article class="rw-review"') == 2
    assert "Page 1 of 3" in first
    assert last.count('<article class="rw-review"') == 1
    assert "Page 3 of 3" in past


def test_the_wall_without_a_policy_page_hides_the_link(client):
    page = wall()

    html = client.get(page.url).text

    assert "How we collect and check reviews" not in html
    assert "No reviews yet." in html


def test_review_policy_url_prefers_the_language_and_hides_drafts():
    assert review_policy_url() is None
    page = policy_page(slug="how-we-check")
    assert review_policy_url() == "/how-we-check/"
    assert review_policy_url(language="nl") == "/how-we-check/"  # fallback

    page.unpublish()
    from reviews.pages import forget_review_policy_urls

    forget_review_policy_urls()
    assert review_policy_url() is None


def test_the_pages_may_only_live_under_the_home_page():
    assert ReviewPolicyPage.parent_page_types == ["cms.HomePage"]
    assert FeedbackWallPage.parent_page_types == ["cms.HomePage"]
    assert ReviewPolicyPage.subpage_types == FeedbackWallPage.subpage_types == []


def test_ensure_demo_pages_creates_both_pages_in_both_languages_once(client):
    from cms.demo import seed_demo

    seed_demo()

    assert ensure_demo_pages() == 4
    assert ensure_demo_pages() == 0

    assert ReviewPolicyPage.objects.live().count() == 2
    assert FeedbackWallPage.objects.live().count() == 2
    slugs = set(
        Page.objects.type(ReviewPolicyPage, FeedbackWallPage).values_list(
            "slug", flat=True
        )
    )
    assert slugs == {
        "how-we-check-reviews",
        "zo-controleren-we-reviews",
        "feedback",
        "ervaringen",
    }
    assert client.get("/how-we-check-reviews/").status_code == 200
    assert client.get("/nl/zo-controleren-we-reviews/").status_code == 200
    assert client.get("/feedback/").status_code == 200
    assert client.get("/nl/ervaringen/").status_code == 200
    assert review_policy_url(language="nl") == "/nl/zo-controleren-we-reviews/"


def test_ensure_demo_pages_without_a_home_page_does_nothing():
    assert ensure_demo_pages() == 0
    assert not ReviewPolicyPage.objects.exists()


def test_xss_on_the_wall_is_escaped(client):
    page = wall()
    make_review(
        product=ProductFactory(name="<i>x</i>"),
        title="<script>alert(1)</script>",
        body="<img src=x onerror=alert(2)>",
    )

    html = client.get(page.url).text

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<i>x</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
