"""`GET /api/v1/products/{sku}/reviews`: public, paginated, with the aggregate and the
incentive flag of every review."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.factories import ProductFactory
from tests.reviews.public_helpers import (
    bulk_reviews,
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
    policy_page,
)

pytestmark = pytest.mark.django_db

NOTE = "The reviewer received points for this review."


def get(client, sku, query="", **headers):
    return client.get(f"/api/v1/products/{sku}/reviews{query}", **headers)


def test_reviews_with_the_aggregate_and_incentive_flags_without_a_token(client):
    product = ProductFactory(sku="API-1", name="Linen shirt")
    rewarded = make_review(
        product=product,
        rating=5,
        title="Great",
        body="Soft.",
        rewarded=True,
        photos=1,
        reply_body="Thanks!",
    )
    plain = make_review(product=product, rating=1, title="Bad", body="Tore.")
    make_review(product=product, rating=4, status="pending")
    rewarded.customer.first_name, rewarded.customer.last_name = "Anna", "Jansen"
    rewarded.customer.save()
    policy_page(slug="how-we-check")

    response = get(client, "API-1")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["sku"] == "API-1"
    assert data["name"] == "Linen shirt"
    assert data["lang"] == "en"
    assert data["url"] == "http://127.0.0.1:8000/products/API-1/reviews/"
    assert data["how_we_check_url"] == "http://127.0.0.1:8000/how-we-check/"
    assert data["aggregate"] == {
        "average": "3.0",
        "count": 2,
        "distribution": {"5": 1, "4": 0, "3": 0, "2": 0, "1": 1},
        "incentivized_count": 1,
    }
    assert (data["count"], data["page"], data["page_size"]) == (2, 1, 20)
    assert (data["next"], data["previous"]) == (None, None)
    by_id = {review["id"]: review for review in data["results"]}
    first = by_id[rewarded.pk]
    assert first["incentivized"] is True
    assert first["incentive_note"] == NOTE
    assert first["author"] == "Anna J."
    assert first["verified_purchase"] is True
    assert first["reply"]["body"] == "Thanks!"
    assert first["photos"] == [
        {
            "url": f"http://127.0.0.1:8000/media/reviews/test/{rewarded.pk}-0.jpg",
            "thumbnail_url": (
                f"http://127.0.0.1:8000/media/reviews/test/thumbs/{rewarded.pk}-0.jpg"
            ),
            "width": 1200,
            "height": 900,
        }
    ]
    assert first["url"] == (
        f"http://127.0.0.1:8000/products/API-1/reviews/#review-{rewarded.pk}"
    )
    second = by_id[plain.pk]
    assert (second["incentivized"], second["incentive_note"]) == (False, "")
    assert second["reply"] is None
    assert second["rating"] == 1


def test_pagination_sort_and_filters(client):
    product = ProductFactory(sku="API-2")
    bulk_reviews(product=product, count=45)

    data = get(client, "API-2", "?page=2&page_size=20&sort=rating_low").json()

    assert data["count"] == 45
    assert data["page"] == 2
    assert len(data["results"]) == 20
    assert data["next"] == (
        "http://127.0.0.1:8000/api/v1/products/API-2/reviews"
        "?lang=en&sort=rating_low&page=3&page_size=20"
    )
    assert data["previous"].endswith("?lang=en&sort=rating_low&page=1&page_size=20")
    assert [r["rating"] for r in data["results"]] == sorted(
        r["rating"] for r in data["results"]
    )
    stars = get(client, "API-2", "?stars=3&page_size=100").json()
    assert stars["count"] == 9
    assert {r["rating"] for r in stars["results"]} == {3}
    assert get(client, "API-2", "?with_photos=true").json()["count"] == 0


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("?lang=fr", "lang"),
        ("?sort=best", "sort"),
        ("?stars=6", "stars"),
        ("?page=0", "page"),
        ("?page_size=101", "page_size"),
        ("?page=x", "page"),
    ],
)
def test_bad_parameters_get_the_error_shape(client, query, path):
    ProductFactory(sku="API-3")

    response = get(client, "API-3", query)

    assert response.status_code == 400
    assert [error["path"] for error in response.json()["errors"]] == [path]


def test_unknown_sku(client):
    response = get(client, "NOPE")

    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"path": "sku", "message": "No product has this SKU."}]
    }


def test_a_page_past_the_end_gives_the_last_page(client):
    product = ProductFactory(sku="API-4")
    make_review(product=product)

    data = get(client, "API-4", "?page=9").json()

    assert data["page"] == 1
    assert len(data["results"]) == 1


def test_cached_with_etag_and_no_query(client, django_assert_num_queries):
    product = ProductFactory(sku="API-5")
    make_review(product=product)
    first = get(client, "API-5")

    with django_assert_num_queries(0):
        again = get(client, "API-5", HTTP_IF_NONE_MATCH=first["ETag"])
        plain = get(client, "API-5")

    assert again.status_code == 304
    assert plain.content == first.content
    assert first["Cache-Control"] == "public, max-age=60"


@override_settings(CORS_ALLOWED_ORIGINS=["https://shop.example"])
def test_cors_for_the_shop(client):
    ProductFactory(sku="API-6")

    response = get(client, "API-6", HTTP_ORIGIN="https://shop.example")

    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_xss_travels_as_data_and_cannot_close_a_script_tag(client):
    product = ProductFactory(sku="API-7", name="<b>x</b>")
    title = "</script><script>alert(1)</script>"
    make_review(product=product, title=title, body="<img src=x onerror=alert(2)>&")

    response = get(client, "API-7")

    raw = response.content
    assert b"<" not in raw and b">" not in raw and b"&" not in raw
    assert b"\\u003c/script\\u003e" in raw
    data = json.loads(raw)
    assert data["results"][0]["title"] == title
    assert data["results"][0]["body"] == "<img src=x onerror=alert(2)>&"
    assert data["name"] == "<b>x</b>"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_endpoint_is_in_the_openapi_schema(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/api/v1/products/{sku}/reviews"]["get"]
    assert operation["operationId"] == "products_reviews"
    assert operation.get("security") in (None, [], [{}])
    properties = schema["components"]["schemas"]["ReviewOut"]["properties"]
    assert "incentivized" in properties and "incentive_note" in properties
