"""The pre-purchase policy: JSON for the shop's product pages and an HTML fragment,
cacheable and CORS-allowed for the shop's origins."""

import json
import re
from decimal import Decimal

import jsonschema
import pytest

from shop.models import Product
from tests.cms.conftest import republish, translate
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


@pytest.fixture(autouse=True)
def shop_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [SHOP]
    settings.POLICY_EMBED_ALLOWED_ORIGINS = [SHOP]


@pytest.fixture
def electronics(make_policy, dutch):
    category = CategoryFactory(name="Electronics")
    policy = make_policy(
        title="Electronics",
        categories=[category],
        summary="Return electronics within 14 days.",
        window_days=14,
        offers_repair=True,
        remorse_shipping_cost=Decimal("6.95"),
        restocking_fee_percent=Decimal("10"),
        condition_required="Complete, in the original packaging",
    )
    translate(
        policy,
        dutch,
        title="Elektronica",
        summary="Retourneer elektronica binnen 14 dagen.",
    )
    ProductFactory(sku="ELE-001", category=category, name="Headphones")
    return policy


def openapi_validator(client, name: str):
    """A JSON Schema validator for a component of our own OpenAPI document (3.0's
    `nullable` written as JSON Schema's null type)."""
    document = client.get("/api/v1/schema/?format=json").json()

    def nullable(node):
        if isinstance(node, dict):
            node = {key: nullable(value) for key, value in node.items()}
            if node.pop("nullable", False) and "type" in node:
                node["type"] = [node["type"], "null"]
            return node
        if isinstance(node, list):
            return [nullable(item) for item in node]
        return node

    components = nullable(document["components"])
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": components}
    )


def test_the_json_summary_of_a_product_policy(client, electronics):
    response = client.get("/api/v1/policies/for-product/ELE-001?lang=en")

    assert response.status_code == 200
    body = response.json()
    openapi_validator(client, "PolicyOut").validate(body)
    assert {key: body[key] for key in body if key not in ("valid_from", "json_ld")} == {
        "sku": "ELE-001",
        "lang": "en",
        "title": "Electronics",
        "headline": "14-day returns",
        "summary": "Return electronics within 14 days.",
        "url": "http://127.0.0.1:8000/returns/electronics/",
        "window_days": 14,
        "resolutions": ["refund", "exchange", "repair"],
        "store_credit_bonus_percent": "0.00",
        "shipping": {
            "change_of_mind": {
                "paid_by": "customer",
                "cost": "6.95",
                "currency": "EUR",
            },
            "shop_at_fault": {"paid_by": "shop", "cost": "0.00", "currency": "EUR"},
        },
        "restocking_fee_percent": "10.00",
        "condition_required": "Complete, in the original packaging",
        "not_returnable": False,
        "not_returnable_reason": "",
        "returnless": {"max_item_value": None, "min_cost_ratio_percent": None},
    }
    assert body["json_ld"] == {
        "@context": "https://schema.org",
        "@type": "MerchantReturnPolicy",
        "name": "Electronics",
        "inLanguage": "en",
        "applicableCountry": ["NL", "BE"],
        "merchantReturnLink": "http://127.0.0.1:8000/returns/electronics/",
        "returnPolicyCategory": "https://schema.org/MerchantReturnFiniteReturnWindow",
        "merchantReturnDays": 14,
        "returnMethod": ["https://schema.org/ReturnByMail"],
        "customerRemorseReturnFees": "https://schema.org/ReturnShippingFees",
        "customerRemorseReturnShippingFeesAmount": {
            "@type": "MonetaryAmount",
            "value": "6.95",
            "currency": "EUR",
        },
        "itemDefectReturnFees": "https://schema.org/FreeReturn",
        "restockingFee": 10.0,
        "refundType": [
            "https://schema.org/FullRefund",
            "https://schema.org/ExchangeRefund",
        ],
    }


def test_lang_picks_the_translation(client, electronics):
    body = client.get("/api/v1/policies/for-product/ELE-001?lang=nl").json()

    assert body["lang"] == "nl"
    assert body["title"] == "Elektronica"
    assert body["url"] == "http://127.0.0.1:8000/nl/returns/electronics/"


def test_without_a_translation_the_default_language_answers(client, electronics):
    other = CategoryFactory(name="Toys")
    ProductFactory(sku="TOY-1", category=other)
    electronics.applies_to_categories.add(other)  # not in the Dutch translation
    electronics.save_revision().publish()

    body = client.get("/api/v1/policies/for-product/TOY-1?lang=nl").json()

    assert body["title"] == "Electronics"


@pytest.mark.parametrize(
    ("url", "status", "path"),
    [
        ("/api/v1/policies/for-product/NOPE", 404, "sku"),
        ("/api/v1/policies/for-product/ELE-001?lang=de", 400, "lang"),
    ],
)
def test_unknown_sku_or_language(client, electronics, url, status, path):
    response = client.get(url)

    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["path"] == path


def test_a_product_no_policy_covers_is_404(client, index):
    ProductFactory(sku="LONELY")

    response = client.get("/api/v1/policies/for-product/LONELY")

    assert response.status_code == 404
    assert response.json() == {
        "errors": [
            {"path": "sku", "message": "No return policy applies to this product."}
        ]
    }


@pytest.mark.parametrize(
    "url", ["/api/v1/policies/for-product/ELE-001", "/embed/policy/ELE-001/"]
)
def test_cacheable_with_an_etag_and_304(client, electronics, url):
    first = client.get(url)

    assert first["Cache-Control"] == "public, max-age=60"
    etag = first["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    # a publish changes the ETag: the next check within a minute gets the new text
    republish(electronics, summary="Now 10 days.", window_days=10)
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert "10" in changed.content.decode()


@pytest.mark.parametrize(
    "url", ["/api/v1/policies/for-product/ELE-001", "/embed/policy/ELE-001/"]
)
def test_cors_allows_the_shop_origin_only(client, electronics, url):
    allowed = client.get(url, HTTP_ORIGIN=SHOP)
    other = client.get(url, HTTP_ORIGIN="https://evil.example.net")
    preflight = client.options(
        url, HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )

    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "ETag" in allowed["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in other
    assert preflight["Access-Control-Allow-Origin"] == SHOP


def test_cors_is_not_opened_on_the_rest_of_the_api(client, electronics):
    response = client.put("/api/v1/products/X", HTTP_ORIGIN=SHOP)

    assert "Access-Control-Allow-Origin" not in response


def test_the_embed_is_a_self_contained_fragment(client, electronics):
    response = client.get("/embed/policy/ELE-001/?lang=nl", HTTP_ORIGIN=SHOP)

    assert response.status_code == 200
    assert response["Content-Language"] == "nl"
    assert response["Content-Security-Policy"] == f"frame-ancestors 'self' {SHOP}"
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert html.startswith('<div class="rw-policy" lang="nl">')
    assert "<html" not in html
    # no external assets: no stylesheet links, scripts from elsewhere or images
    assert not re.search(r"<link|<script src|<img|@import|url\(", html)
    # every rule in the inline CSS is scoped to the fragment
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert all(
        rule.strip().startswith(".rw-policy") for rule in css.split("}") if rule.strip()
    )
    assert (
        "Elektronica" not in html.split("<style>")[0]
    )  # the title is not the headline
    assert "Retourneer elektronica binnen 14 dagen." in html
    assert 'href="http://127.0.0.1:8000/nl/returns/electronics/"' in html
    data = json.loads(
        re.search(
            r'<script type="application/ld\+json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["@type"] == "MerchantReturnPolicy"
    assert data["merchantReturnDays"] == 14


def test_the_embed_of_an_unknown_sku_is_an_empty_404(client, index):
    response = client.get("/embed/policy/NOPE/")

    assert response.status_code == 404
    assert "hidden" in response.content.decode()


def test_a_not_returnable_policy_in_json_ld(client, make_policy):
    product = ProductFactory(sku="BEA-006")
    make_policy(
        title="Hygiene items",
        products=[product],
        not_returnable=True,
        not_returnable_reason="For hygiene reasons",
        window_days=0,
    )

    body = client.get("/api/v1/policies/for-product/BEA-006").json()

    assert body["not_returnable"] is True
    assert body["headline"] == "Not returnable"
    assert body["json_ld"]["returnPolicyCategory"] == (
        "https://schema.org/MerchantReturnNotPermitted"
    )
    assert "merchantReturnDays" not in body["json_ld"]


def test_the_endpoint_is_in_the_openapi_schema_without_auth(client):
    document = client.get("/api/v1/schema/?format=json").json()

    operation = document["paths"]["/api/v1/policies/for-product/{sku}"]["get"]
    assert operation["operationId"] == "policies_for_product"
    assert operation.get("security") in (None, [], [{}])


@pytest.mark.parametrize(
    "url", ["/api/v1/policies/for-product/ELE-001", "/embed/policy/ELE-001/"]
)
def test_a_repeated_answer_comes_from_the_cache(
    client, electronics, django_assert_num_queries, url
):
    first = client.get(url)

    with django_assert_num_queries(0):
        second = client.get(url)

    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


def test_moving_a_product_to_another_category_changes_its_answer(
    client, electronics, make_policy
):
    shoes = CategoryFactory(name="Shoes")
    make_policy(title="Shoes", categories=[shoes], window_days=30)
    assert client.get("/api/v1/policies/for-product/ELE-001").json()["title"] == (
        "Electronics"
    )

    product = Product.objects.get(sku="ELE-001")
    product.category = shoes
    product.save()

    assert client.get("/api/v1/policies/for-product/ELE-001").json()["title"] == "Shoes"
