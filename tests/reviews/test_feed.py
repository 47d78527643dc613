"""`/feeds/product-reviews.xml`: Google's Product Ratings feed (schema 2.4)."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 (parsing our own output)

import pytest

from tests.factories import ProductFactory
from tests.reviews.public_helpers import (
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
)

pytestmark = pytest.mark.django_db

REVIEW_ORDER = [
    "review_id",
    "reviewer",
    "is_verified_purchase",
    "is_incentivized_review",
    "review_timestamp",
    "title",
    "content",
    "review_language",
    "review_url",
    "reviewer_images",
    "ratings",
    "products",
]


def feed(client):
    response = client.get("/feeds/product-reviews.xml")
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content)
    return response, body, ET.fromstring(body)  # noqa: S314


def test_the_feed_parses_and_lists_every_approved_review_low_stars_too(client):
    product = ProductFactory(sku="FEED-1", name="Linen shirt")
    one_star = make_review(
        product=product, rating=1, title="Tore", body="Tore at once.", rewarded=True
    )
    five = make_review(product=product, rating=5, title="Great", photos=1)
    make_review(product=product, rating=3, title="Waiting", status="pending")
    make_review(product=product, rating=2, title="Gone", status="removed")

    response, _body, root = feed(client)

    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert root.tag == "feed"
    assert [child.tag for child in root] == ["version", "publisher", "reviews"]
    assert root.findtext("version") == "2.4"
    assert root.findtext("publisher/name") == "Returnwise"
    reviews = {int(r.findtext("review_id")): r for r in root.iter("review")}
    assert set(reviews) == {one_star.pk, five.pk}

    low = reviews[one_star.pk]
    assert low.findtext("ratings/overall") == "1"
    assert low.find("ratings/overall").attrib == {"min": "1", "max": "5"}
    assert low.findtext("is_incentivized_review") == "true"
    assert low.findtext("is_verified_purchase") == "true"
    assert low.findtext("content") == (
        "Tore at once.\n\n(The reviewer received points for this review.)"
    )
    assert low.findtext("title") == "Tore"
    assert low.findtext("review_language") == "en"
    assert low.findtext("review_url") == (
        f"http://127.0.0.1:8000/products/FEED-1/reviews/#review-{one_star.pk}"
    )
    assert low.find("review_url").attrib == {"type": "group"}
    assert low.findtext("products/product/product_ids/skus/sku") == "FEED-1"
    assert low.findtext("products/product/product_name") == "Linen shirt"
    assert low.findtext("review_timestamp").endswith("Z")
    assert [child.tag for child in low] == [
        t for t in REVIEW_ORDER if t != "reviewer_images"
    ]

    high = reviews[five.pk]
    assert high.findtext("is_incentivized_review") == "false"
    assert [child.tag for child in high] == REVIEW_ORDER
    assert high.findtext("reviewer_images/reviewer_image/url") == (
        f"http://127.0.0.1:8000/media/reviews/test/{five.pk}-0.jpg"
    )


def test_reviewer_names_and_anonymous_reviewers(client):
    product = ProductFactory()
    named = make_review(product=product)
    named.customer.first_name, named.customer.last_name = "Anna", "Jansen"
    named.customer.save()
    nameless = make_review(product=product)
    nameless.customer.first_name = nameless.customer.last_name = ""
    nameless.customer.save()

    _response, _body, root = feed(client)

    names = {
        int(r.findtext("review_id")): r.find("reviewer/name")
        for r in root.iter("review")
    }
    assert names[named.pk].text == "Anna J."
    assert names[named.pk].attrib == {"is_anonymous": "false"}
    assert names[nameless.pk].text == "Anonymous"
    assert names[nameless.pk].attrib == {"is_anonymous": "true"}


def test_markup_and_control_characters_are_escaped(client):
    product = ProductFactory(name="<b>Shirt</b> & co")
    title = "</title><script>alert(1)</script>"
    make_review(product=product, title=title, body="a\x01b\x0bc <![CDATA[ ]]> &amp;")

    _response, body, root = feed(client)

    assert b"<script>" not in body
    review = next(root.iter("review"))
    assert review.findtext("title") == title
    assert review.findtext("content") == "abc <![CDATA[ ]]> &amp;"
    assert review.findtext("products/product/product_name") == "<b>Shirt</b> & co"


def test_an_empty_feed_is_still_valid(client):
    _response, _body, root = feed(client)

    assert root.find("reviews") is not None
    assert list(root.iter("review")) == []


def test_queries_do_not_grow_with_the_reviews(client, django_assert_max_num_queries):
    product = ProductFactory()
    for n in range(30):
        make_review(product=product, title=f"r{n}", photos=n % 2)

    with django_assert_max_num_queries(3):
        _response, _body, root = feed(client)

    assert len(list(root.iter("review"))) == 30
