"""`GET /embed/reviews/{sku}/`: the HTML fragment for the shop's product page."""

from __future__ import annotations

import pytest
from django.test import override_settings

from reviews import services
from tests.factories import ProductFactory, UserFactory
from tests.reviews.public_helpers import (
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
    policy_page,
)

pytestmark = pytest.mark.django_db

LABEL = (
    '<p class="rw-review__incentive">The reviewer received points for this review.</p>'
)
SHOP = "https://shop.example"


def embed(client, sku, **headers):
    return client.get(f"/embed/reviews/{sku}/", **headers)


def test_the_fragment_has_the_aggregate_reviews_labels_and_links(client):
    product = ProductFactory(sku="EMB-1")
    make_review(product=product, rating=5, title="Love it", rewarded=True, photos=1)
    make_review(product=product, rating=1, title="Broke", rewarded=True)
    make_review(product=product, rating=3, title="Waiting", status="pending")
    policy_page(slug="how-we-check")

    response = embed(client, "EMB-1")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.startswith('<div class="rw-reviews-embed" lang="en">')
    assert '<strong class="rw-summary__value">3.0</strong>' in html
    assert "Love it" in html and "Broke" in html and "Waiting" not in html
    assert html.count(LABEL) == 2
    assert 'href="http://127.0.0.1:8000/products/EMB-1/reviews/"' in html
    assert "Read all 2 reviews" in html
    assert 'href="http://127.0.0.1:8000/how-we-check/"' in html
    assert 'src="http://127.0.0.1:8000/media/reviews/test/thumbs/' in html
    assert 'type="application/ld+json"' in html
    assert "<form" not in html and "csrfmiddlewaretoken" not in html


def test_the_fragment_shows_at_most_five_reviews(client):
    product = ProductFactory(sku="EMB-2")
    for n in range(7):
        make_review(product=product, title=f"r{n}")

    html = embed(client, "EMB-2").text

    assert html.count('<article class="rw-review"') == 5
    assert "Read all 7 reviews" in html


def test_dutch_on_request(client):
    ProductFactory(sku="EMB-3")

    response = client.get("/embed/reviews/EMB-3/?lang=nl")

    assert response.status_code == 200
    assert response["Content-Language"] == "nl"
    assert 'lang="nl"' in response.text


def test_unknown_language_and_sku_are_refused(client):
    ProductFactory(sku="EMB-4")

    assert client.get("/embed/reviews/EMB-4/?lang=fr").status_code == 400
    missing = embed(client, "NOPE")
    assert missing.status_code == 404
    assert "No product has this SKU." in missing.text


def test_etag_and_cache_headers(client):
    product = ProductFactory(sku="EMB-5")
    make_review(product=product)

    first = embed(client, "EMB-5")
    again = embed(client, "EMB-5", HTTP_IF_NONE_MATCH=first["ETag"])

    assert first["Cache-Control"] == "public, max-age=60"
    assert first["ETag"].startswith('"') and len(first["ETag"]) == 26
    assert again.status_code == 304
    assert again.content == b""


def test_a_cached_fragment_costs_no_query(client, django_assert_num_queries):
    product = ProductFactory(sku="EMB-6")
    make_review(product=product)
    first = embed(client, "EMB-6")

    with django_assert_num_queries(0):
        second = embed(client, "EMB-6")

    assert second.content == first.content


def test_approval_and_removal_purge_the_fragment(
    client, django_capture_on_commit_callbacks
):
    product = ProductFactory(sku="EMB-7")
    waiting = make_review(product=product, title="Fresh", status="pending")
    before = embed(client, "EMB-7")
    assert "Fresh" not in before.text
    staff = UserFactory(is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve(review=waiting, by=staff)
    after = embed(client, "EMB-7", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert "Fresh" in after.text
    with django_capture_on_commit_callbacks(execute=True):
        services.remove(review=waiting, by=staff, reason="Spam")
    assert "Fresh" not in embed(client, "EMB-7").text


@override_settings(CORS_ALLOWED_ORIGINS=[SHOP], REVIEWS_EMBED_ALLOWED_ORIGINS=[SHOP])
def test_the_shops_origin_may_fetch_and_frame_it(client):
    ProductFactory(sku="EMB-8")

    response = embed(client, "EMB-8", HTTP_ORIGIN=SHOP)
    other = embed(client, "EMB-8", HTTP_ORIGIN="https://evil.example")

    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in other
    assert response["Content-Security-Policy"] == f"frame-ancestors 'self' {SHOP}"
    assert "X-Frame-Options" not in response


def test_xss_in_a_review_is_escaped(client):
    product = ProductFactory(sku="EMB-9")
    make_review(
        product=product,
        title="<script>alert(1)</script>",
        body='"><img src=x onerror=alert(2)>',
        reply_body="<a href=javascript:alert(3)>x</a>",
    )

    html = embed(client, "EMB-9").text

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<a href=javascript" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
