"""schema.org JSON-LD on the product reviews page and the embed: it parses, carries
the real aggregate, discloses incentives in the review text, and cannot be broken
out of by a review's text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from reviews.jsonld import product_data, script_body
from reviews.public import summary
from tests.factories import ProductFactory
from tests.reviews.public_helpers import (
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
)

pytestmark = pytest.mark.django_db

NOTE = "The reviewer received points for this review."


class Scripts(HTMLParser):
    """Collects the text of every <script type="application/ld+json"> as a browser
    would split it (a script ends at the first </script>)."""

    def __init__(self):
        super().__init__()
        self.blocks: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if tag == "script" and dict(attrs).get("type") == "application/ld+json":
            self._in = True
            self.blocks.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.blocks[-1] += data


def json_ld(html: str) -> list[dict]:
    parser = Scripts()
    parser.feed(html)
    return [json.loads(block) for block in parser.blocks]


def test_the_page_carries_product_aggregate_and_reviews(client):
    product = ProductFactory(name="Linen shirt", sku="LIN-1")
    make_review(product=product, rating=5, title="Great", body="Soft.", rewarded=True)
    make_review(product=product, rating=2, title="Meh", body="Thin.", rewarded=False)
    make_review(product=product, rating=1, title="Hidden", status="pending")

    html = client.get(reverse("reviews:product", args=["LIN-1"])).text

    (data,) = json_ld(html)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "Product"
    assert (data["name"], data["sku"]) == ("Linen shirt", "LIN-1")
    assert data["url"] == "http://testserver/products/LIN-1/reviews/"
    assert data["aggregateRating"] == {
        "@type": "AggregateRating",
        "ratingValue": "3.5",
        "reviewCount": 2,
        "ratingCount": 2,
        "bestRating": 5,
        "worstRating": 1,
    }
    bodies = {review["name"]: review["reviewBody"] for review in data["review"]}
    assert bodies == {"Great": f"Soft.\n\n({NOTE})", "Meh": "Thin."}
    ratings = {review["name"]: review["reviewRating"] for review in data["review"]}
    assert ratings["Meh"] == {
        "@type": "Rating",
        "ratingValue": 2,
        "bestRating": 5,
        "worstRating": 1,
    }
    assert all(review["author"]["@type"] == "Person" for review in data["review"])


def test_the_incentive_note_follows_the_page_language(client):
    product = ProductFactory(sku="LIN-2")
    make_review(product=product, body="Zacht.", rewarded=True, language="nl")

    html = client.get("/nl" + reverse("reviews:product", args=["LIN-2"])).text

    (data,) = json_ld(html)
    body = data["review"][0]["reviewBody"]
    assert body.startswith("Zacht.\n\n(")
    assert body.endswith(")")


def test_a_product_without_reviews_has_no_aggregate(client):
    ProductFactory(sku="EMPTY-1")

    (data,) = json_ld(client.get(reverse("reviews:product", args=["EMPTY-1"])).text)

    assert "aggregateRating" not in data
    assert "review" not in data


def test_a_script_end_tag_in_a_title_cannot_break_out(client):
    product = ProductFactory(name="</script><script>alert('name')</script>", sku="X-1")
    title = "</script><script>alert(1)</script>"
    body = "<!-- </SCRIPT > & <b>bold</b>"
    make_review(product=product, title=title, body=body)

    html = client.get(reverse("reviews:product", args=["X-1"])).text

    (data,) = json_ld(html)  # one block, whole, still valid JSON
    assert data["name"] == "</script><script>alert('name')</script>"
    assert data["review"][0]["name"] == title
    assert data["review"][0]["reviewBody"] == body
    assert "<script>alert" not in html
    assert "</SCRIPT" not in html


def test_script_body_escapes_angle_brackets_and_ampersands():
    text = script_body({"a": "</script>&<!--"})

    assert text == '{"a":"\\u003C/script\\u003E\\u0026\\u003C!--"}'
    assert json.loads(text) == {"a": "</script>&<!--"}


def test_product_data_lists_only_what_it_is_given():
    product = ProductFactory()
    review = make_review(product=product, rating=4, rewarded=True, body="Ok")

    data = product_data(product=product, summary=summary(product), reviews=[review])

    assert data["aggregateRating"]["ratingValue"] == "4.0"
    assert data["review"][0]["reviewBody"] == f"Ok\n\n({NOTE})"
    assert data["review"][0]["datePublished"] == review.approved_at.date().isoformat()
    assert "url" not in data


def test_no_raw_markup_leaks_anywhere_in_the_page(client):
    product = ProductFactory(sku="X-2")
    make_review(product=product, title="<svg onload=alert(1)>", body="<svg/onload=1>")

    html = client.get(reverse("reviews:product", args=["X-2"])).text

    assert not re.search(r"<svg", html, re.IGNORECASE)
