"""GET /api/v1/insights/serial-returners and /api/v1/insights/products: the shop's
token, pagination, filters and the error shape."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from insights.services import compute_insights, set_override
from shop.services import create_api_token
from tests.factories import CategoryFactory, ProductFactory
from tests.insights.planted import customer, give_back, order

pytestmark = pytest.mark.django_db

SERIALS = reverse("insights-api:serial-returners")
PRODUCTS = reverse("insights-api:products")


@pytest.fixture
def api(client):
    _, key = create_api_token(name="webshop")
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


def _serial(email, *, units=2, back=1):
    now = timezone.now()
    shirt = ProductFactory(price=Decimal("20.00"))
    who = customer(email=email)
    for d in (40, 41, 42):
        made = order(who, (shirt, units), delivered=now - timedelta(days=d))
        if back:
            give_back(made, (shirt, back))
    return who


def test_serial_returners_are_listed_with_their_figures(api):
    most = _serial("most@example.com", back=2)
    _serial("half@example.com")
    fine = _serial("fine@example.com", back=0)
    compute_insights()
    set_override(customer=fine, override="always", reason="known", by=None)
    set_override(customer=most, override="never", reason="VIP", by=None)

    response = api.get(SERIALS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["email"] for row in body["results"]] == [
        "half@example.com",
        "fine@example.com",
    ]
    half = body["results"][0]
    assert half == {
        "email": "half@example.com",
        "orders": 3,
        "units": 6,
        "returned_units": 3,
        "return_rate": "0.5000",
        "delivered_value": "120.00",
        "returned_value": "60.00",
        "value_return_rate": "0.5000",
        "flagged_since": half["flagged_since"],
        "override": "",
    }
    assert half["flagged_since"] is not None
    assert body["results"][1]["override"] == "always"


def test_serial_returners_are_paginated(api, django_assert_max_num_queries):
    for n in range(3):
        _serial(f"s{n}@example.com")
    compute_insights()

    with django_assert_max_num_queries(4):
        response = api.get(SERIALS, {"page_size": 2, "page": 2})

    assert response.json()["count"] == 3
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("page_size", ["abc", "0", "201", "-1", ""])
def test_a_bad_page_size_is_refused_naming_it(api, page_size):
    response = api.get(SERIALS, {"page_size": page_size})

    assert response.status_code == 400
    assert "page_size" in response.content.decode()


def test_a_page_past_the_last_is_404(api):
    assert api.get(SERIALS, {"page": 5}).status_code == 404


def test_products_to_fix(api):
    shoes = CategoryFactory(name="Shoes")
    bad = ProductFactory(sku="BAD", name="Boot", category=shoes)
    now = timezone.now()
    buyer = customer()
    for n in range(40):
        made = order(buyer, (bad, 1), delivered=now - timedelta(days=20))
        if n < 16:
            give_back(made, (bad, 1, "size-fit"))
    fine = ProductFactory(category=shoes)
    for n in range(100):
        made = order(buyer, (fine, 1), delivered=now - timedelta(days=20))
        if n < 2:
            give_back(made, (fine, 1, "size-fit"))

    response = api.get(PRODUCTS, {"min_units": 30})

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["sku"] == "BAD"
    assert row["name"] == "Boot"
    assert row["category"] == "Shoes"
    assert (row["units"], row["returned_units"]) == (40, 16)
    assert row["return_rate"] == "0.4000"
    assert row["controllable_return_rate"] == "0.4000"
    assert row["category_return_rate"] == "0.1286"  # 18 / 140
    assert row["fix_area"] == "description"
    assert row["top_reasons"][0]["code"] == "size-fit"
    assert api.get(PRODUCTS, {"min_units": 41}).json()["count"] == 0
    future = (now + timedelta(days=1)).date().isoformat()
    assert api.get(PRODUCTS, {"since": future}).json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "path"),
    [({"since": "yesterday"}, "since"), ({"min_units": "0"}, "min_units")],
)
def test_bad_filters_answer_400_in_the_error_shape(api, params, path):
    response = api.get(PRODUCTS, params)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == path


@pytest.mark.parametrize("url", [SERIALS, PRODUCTS])
def test_without_a_token_the_api_answers_401(client, url):
    response = client.get(url)

    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {"path": "$", "message": "Authentication credentials were not provided."}
        ]
    }


def test_the_schema_documents_both_endpoints(client):
    paths = client.get(reverse("api-schema"), {"format": "json"}).json()["paths"]

    assert "/api/v1/insights/serial-returners" in paths
    assert "/api/v1/insights/products" in paths
