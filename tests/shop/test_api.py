"""The shop-facing REST API under /api/v1/: upserts, batch, deliveries and errors."""

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from shop.models import ApiToken, Category, Customer, Order, OrderLine, Product
from shop.services import create_api_token
from tests.factories import CategoryFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

ORDER = {
    "number": "#1001",
    "placed_at": "2025-03-01T10:00:00Z",
    "currency": "eur",
    "customer": {
        "email": "Anna@Example.com",
        "first_name": "Anna",
        "last_name": "Jansen",
        "language": "nl",
        "marketing_consent": True,
    },
    "lines": [
        {
            "external_id": "l1",
            "sku": "TEE-M",
            "name": "T-shirt M",
            "category": "Shirts",
            "quantity": 2,
            "unit_price": "19.95",
        },
        {
            "external_id": "l2",
            "sku": "JEANS-32",
            "name": "Jeans 32",
            "category": "Trousers",
            "quantity": 1,
            "unit_price": "79.00",
        },
        {
            "external_id": "l3",
            "sku": "SOCKS",
            "name": "Socks",
            "category": "Shirts",
            "quantity": 3,
            "unit_price": "4.50",
        },
    ],
}


def order_body(**changes):
    body = copy.deepcopy(ORDER)
    body.update(changes)
    return body


@pytest.fixture
def token_key():
    _, key = create_api_token(name="webshop")
    return key


@pytest.fixture
def api(client, token_key):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token_key}"
    return client


def put(client, url, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.put(url, data, content_type="application/json")


def post(client, url, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type="application/json")


def order_url(external_id="A-1"):
    return reverse("api:order", args=[external_id])


def snapshot():
    """Everything the API can write, to prove a refusal changed nothing."""
    return {
        "customers": list(Customer.objects.values().order_by("pk")),
        "categories": list(Category.objects.values().order_by("pk")),
        "products": list(Product.objects.values().order_by("pk")),
        "orders": list(Order.objects.values().order_by("pk")),
        "lines": list(OrderLine.objects.values().order_by("pk")),
    }


# PUT /orders/{external_id} -----------------------------------------------------------


def test_put_order_creates_the_order_with_customer_products_and_lines(api):
    # given an empty shop
    # when the shop pushes a new order
    response = put(api, order_url("A-1"), ORDER)

    # then it is created and returned
    assert response.status_code == 201
    assert response.json() == {
        "external_id": "A-1",
        "number": "#1001",
        "source": "shop",
        "placed_at": "2025-03-01T10:00:00Z",
        "shipped_at": None,
        "delivered_at": None,
        "currency": "EUR",
        "total": "132.40",
        "customer": {
            "email": "anna@example.com",
            "first_name": "Anna",
            "last_name": "Jansen",
            "language": "nl",
            "marketing_consent": True,
        },
        "lines": [
            {
                "external_id": "l1",
                "sku": "TEE-M",
                "name": "T-shirt M",
                "quantity": 2,
                "unit_price": "19.95",
                "line_total": "39.90",
            },
            {
                "external_id": "l2",
                "sku": "JEANS-32",
                "name": "Jeans 32",
                "quantity": 1,
                "unit_price": "79.00",
                "line_total": "79.00",
            },
            {
                "external_id": "l3",
                "sku": "SOCKS",
                "name": "Socks",
                "quantity": 3,
                "unit_price": "4.50",
                "line_total": "13.50",
            },
        ],
    }
    customer = Customer.objects.get()
    assert (customer.email, customer.marketing_consent_source) == (
        "anna@example.com",
        "checkout",
    )
    assert Order.objects.get().total == Decimal("132.40")


def test_put_order_twice_updates_the_one_order(api):
    # given an order pushed once with three lines
    put(api, order_url("A-1"), ORDER)
    first_pk = Order.objects.get().pk
    kept_line_pk = OrderLine.objects.get(external_id="l1").pk

    # when it is pushed again with a new number, a changed line and a line removed
    changed = order_body(number="#1001-B", shipped_at="2025-03-02T08:00:00Z")
    changed["lines"][0]["quantity"] = 1
    del changed["lines"][2]
    response = put(api, order_url("A-1"), changed)

    # then the same order is updated, and the removed line is gone
    assert response.status_code == 200
    order = Order.objects.get()
    assert order.pk == first_pk
    assert (order.number, order.total, order.shipped_at) == (
        "#1001-B",
        Decimal("98.95"),
        datetime(2025, 3, 2, 8, 0, tzinfo=UTC),
    )
    assert list(order.lines.values_list("external_id", "product__sku", "quantity")) == [
        ("l1", "TEE-M", 1),
        ("l2", "JEANS-32", 1),
    ]
    assert OrderLine.objects.get(external_id="l1").pk == kept_line_pk
    assert [line["external_id"] for line in response.json()["lines"]] == ["l1", "l2"]


def test_put_order_with_an_unknown_sku_creates_the_product_from_the_line(api):
    # given a catalogue without SKU "SOCKS" and an existing "Shirts" category
    CategoryFactory(name="Shirts")

    # when an order with that SKU is pushed
    put(api, order_url("A-1"), ORDER)

    # then the product is made from the line's name, category and price
    socks = Product.objects.select_related("category").get(sku="SOCKS")
    assert (socks.name, socks.category.name, socks.price, socks.currency) == (
        "Socks",
        "Shirts",
        Decimal("4.50"),
        "EUR",
    )
    assert sorted(Category.objects.values_list("name", flat=True)) == [
        "Shirts",
        "Trousers",
    ]


def test_put_order_keeps_an_existing_product_as_it_is(api):
    # given the catalogue already has SKU "TEE-M"
    ProductFactory(sku="TEE-M", name="Organic tee", price=Decimal("25.00"))

    # when an order sells it at another price under another name
    put(api, order_url("A-1"), ORDER)

    # then the catalogue entry is not overwritten by the order line
    tee = Product.objects.get(sku="TEE-M")
    assert (tee.name, tee.price) == ("Organic tee", Decimal("25.00"))
    assert OrderLine.objects.get(external_id="l1").product == tee


def _set(path, value):
    def change(body):
        target = body
        *parents, last = path
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return body

    return change


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            _set(("lines", 0, "unit_price"), "-1.00"),
            "lines[0].unit_price",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            _set(("lines", 1, "quantity"), 0),
            "lines[1].quantity",
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            _set(("lines", 2, "sku"), KeyError),
            "lines[2].sku",
            "This field is required.",
        ),
        (
            _set(("lines", 1, "external_id"), "l1"),
            "lines[1].external_id",
            "Appears twice in this order.",
        ),
        (
            _set(("customer", "email"), "not-an-address"),
            "customer.email",
            "Enter a valid email address.",
        ),
        (
            _set(("customer", "language"), "de"),
            "customer.language",
            '"de" is not a valid choice.',
        ),
        (_set(("currency",), "EURO"), "currency", "Use a three-letter ISO 4217 code."),
        (_set(("placed_at",), KeyError), "placed_at", "This field is required."),
        (_set(("lines",), []), "lines", "This list may not be empty."),
        (
            _set(("delivered_at",), "2025-02-01T00:00:00Z"),
            "delivered_at",
            "Cannot be before placed_at.",
        ),
    ],
)
def test_put_order_names_the_bad_field_and_writes_nothing(api, change, path, message):
    # given a shop with one order already
    put(api, order_url("A-1"), ORDER)
    before = snapshot()

    # when a new order with one bad field is pushed
    response = put(api, order_url("A-2"), change(order_body()))

    # then the field is named and nothing is written
    assert response.status_code == 400
    assert response.json() == {"errors": [{"path": path, "message": message}]}
    assert snapshot() == before


def test_put_order_reports_every_bad_field(api):
    # given an order with two bad lines
    body = order_body()
    body["lines"][0]["unit_price"] = "abc"
    body["lines"][1]["quantity"] = -1

    # when it is pushed
    response = put(api, order_url("A-1"), body)

    # then both fields are named
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"path": "lines[0].unit_price", "message": "A valid number is required."},
            {
                "path": "lines[1].quantity",
                "message": "Ensure this value is greater than or equal to 1.",
            },
        ]
    }
    assert Order.objects.count() == 0


def test_a_refused_update_leaves_the_order_as_it_was(api):
    # given an order pushed once
    put(api, order_url("A-1"), ORDER)
    before = snapshot()

    # when an update with a bad line is pushed
    bad = order_body(number="#changed")
    bad["lines"][1]["quantity"] = 0
    response = put(api, order_url("A-1"), bad)

    # then nothing changed
    assert response.status_code == 400
    assert snapshot() == before


def test_a_database_failure_half_way_writes_nothing(api, needs_postgres):
    # given an order whose total overflows the column, found only when the order row
    # is written (after the customer and the new products)
    body = order_body()
    body["lines"][0]["quantity"] = 100_000
    body["lines"][0]["unit_price"] = "9999999999.99"

    # when it is pushed
    response = put(api, order_url("A-1"), body)

    # then the whole upsert is rolled back
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "path": "$",
                "message": "A value is too large to store "
                "(check quantities and prices).",
            }
        ]
    }
    assert snapshot() == {
        "customers": [],
        "categories": [],
        "products": [],
        "orders": [],
        "lines": [],
    }


def test_put_order_refuses_an_external_id_longer_than_the_column(api):
    # when an order is pushed with a 65-character external id
    response = put(api, order_url("x" * 65), ORDER)

    # then the path parameter is named
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"path": "external_id", "message": "At most 64 characters."}]
    }
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "{bad json",
            "JSON parse error - Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        ("[1, 2]", "Invalid data. Expected a dictionary, but got list."),
    ],
)
def test_a_body_that_is_not_an_order_object_is_refused_at_the_root(api, body, message):
    # when the body is malformed JSON or not an object
    response = put(api, order_url("A-1"), body)

    # then the error is at path "$"
    assert response.status_code == 400
    assert response.json() == {"errors": [{"path": "$", "message": message}]}
    assert Order.objects.count() == 0


def test_put_order_stays_within_a_fixed_number_of_queries(
    api, django_assert_max_num_queries
):
    # given a known customer, catalogue and order with three lines
    put(api, order_url("A-1"), ORDER)
    changed = order_body(number="#1001-B")
    changed["lines"][0]["quantity"] = 5

    # when the order is pushed again: token, customer, products, order, lines and the
    # read-back each take a fixed number of queries, whatever the number of lines
    with django_assert_max_num_queries(16):
        response = put(api, order_url("A-1"), changed)

    # then
    assert response.status_code == 200


# Authentication, size limit ----------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Token not-a-real-key", "Token", "Basic dXNlcjpwYXNz", "revoked"],
    ids=["missing", "unknown", "malformed", "other-scheme", "revoked"],
)
def test_without_a_valid_token_the_api_answers_401_and_writes_nothing(
    client, token_key, header
):
    # given a revoked token, or a request without a usable one
    if header == "revoked":
        ApiToken.objects.update(revoked_at=timezone.now())
        header = f"Token {token_key}"
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    # when an order is pushed
    response = client.put(
        order_url("A-1"), json.dumps(ORDER), content_type="application/json", **extra
    )

    # then the API refuses it
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    [error] = response.json()["errors"]
    assert error["path"] == "$"
    assert Order.objects.count() == 0


def test_a_valid_token_records_when_it_was_last_used(api):
    # when the token is used
    put(api, order_url("A-1"), ORDER)

    # then its last use is recorded
    assert ApiToken.objects.get().last_used_at is not None


def test_a_body_above_the_limit_is_refused_with_413(api, settings):
    # given a small limit on the body size
    settings.API_MAX_BODY_BYTES = 200
    body = json.dumps(ORDER)
    assert len(body) > 200

    # when a larger body is pushed
    response = put(api, order_url("A-1"), body)

    # then it is refused unread
    assert response.status_code == 413
    assert response.json() == {
        "errors": [{"path": "$", "message": "The request body is too large."}]
    }
    assert Order.objects.count() == 0


# PUT /products/{sku} -----------------------------------------------------------------

PRODUCT = {
    "name": "T-shirt M",
    "category": "Shirts",
    "price": "19.95",
    "currency": "eur",
    "product_url": "https://shop.example.com/tee",
}


def test_put_product_creates_then_updates(api):
    # when a product is pushed, then pushed again with a new price
    created = put(api, reverse("api:product", args=["TEE-M"]), PRODUCT)
    updated = put(
        api, reverse("api:product", args=["TEE-M"]), {**PRODUCT, "price": "17.50"}
    )

    # then it is created once and updated once
    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json() == {
        "sku": "TEE-M",
        "name": "T-shirt M",
        "category": "Shirts",
        "price": "17.50",
        "currency": "EUR",
        "product_url": "https://shop.example.com/tee",
        "image_url": "",
    }
    assert list(Product.objects.values_list("sku", "price")) == [
        ("TEE-M", Decimal("17.50"))
    ]


def test_put_product_without_a_category(api):
    # when a product is pushed without a category
    response = put(
        api, reverse("api:product", args=["GIFT"]), {**PRODUCT, "category": ""}
    )

    # then it has none
    assert response.status_code == 201
    assert response.json()["category"] == ""
    assert Product.objects.get().category is None


def test_put_product_names_the_bad_field_and_writes_nothing(api):
    # given an existing product
    put(api, reverse("api:product", args=["TEE-M"]), PRODUCT)
    before = snapshot()

    # when it is pushed with a negative price
    response = put(
        api, reverse("api:product", args=["TEE-M"]), {**PRODUCT, "price": "-1"}
    )

    # then
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "path": "price",
                "message": "Ensure this value is greater than or equal to 0.",
            }
        ]
    }
    assert snapshot() == before


# POST /orders/batch ------------------------------------------------------------------


def batch_order(external_id, **changes):
    return {"external_id": external_id, **order_body(**changes)}


def test_batch_answers_each_order_and_writes_only_the_valid_ones(api):
    # given an existing order B-2
    put(api, order_url("B-2"), order_body(number="#old"))
    bad = batch_order("B-3")
    bad["lines"][1]["quantity"] = 0
    bad["customer"]["email"] = "bad-one@example.com"
    orders = [
        batch_order("B-1", number="#1"),
        batch_order("B-2", number="#2"),
        bad,
        batch_order("B-1", number="#1-again"),
        {"number": "#no-id"},
        "not an object",
    ]

    # when the shop pushes a batch mixing new, existing, invalid and repeated orders
    response = post(api, reverse("api:order-batch"), {"orders": orders})

    # then each order gets its own answer
    assert response.status_code == 200
    required = "This field is required."
    assert response.json() == {
        "results": [
            {"external_id": "B-1", "status": "created", "errors": []},
            {"external_id": "B-2", "status": "updated", "errors": []},
            {
                "external_id": "B-3",
                "status": "rejected",
                "errors": [
                    {
                        "path": "lines[1].quantity",
                        "message": "Ensure this value is greater than or equal to 1.",
                    }
                ],
            },
            {
                "external_id": "B-1",
                "status": "rejected",
                "errors": [
                    {"path": "external_id", "message": "Appears earlier in this batch."}
                ],
            },
            {
                "external_id": None,
                "status": "rejected",
                "errors": [
                    {"path": "placed_at", "message": required},
                    {"path": "currency", "message": required},
                    {"path": "customer", "message": required},
                    {"path": "lines", "message": required},
                    {"path": "external_id", "message": required},
                ],
            },
            {
                "external_id": None,
                "status": "rejected",
                "errors": [
                    {
                        "path": "$",
                        "message": "Invalid data. Expected a dictionary, but got str.",
                    }
                ],
            },
        ],
        "created": 1,
        "updated": 1,
        "rejected": 4,
    }
    # and only the valid orders are written
    assert dict(Order.objects.values_list("external_id", "number")) == {
        "B-1": "#1",
        "B-2": "#2",
    }
    assert not Customer.objects.filter(email="bad-one@example.com").exists()


def test_batch_of_more_than_the_maximum_is_refused_whole(api):
    # given 1,001 orders
    orders = [batch_order(f"B-{n}") for n in range(1001)]

    # when they are pushed in one batch
    response = post(api, reverse("api:order-batch"), {"orders": orders})

    # then the batch is refused, naming the field, and nothing is written
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"path": "orders", "message": "At most 1000 orders per batch; got 1001."}
        ]
    }
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({}, "orders", "This field is required."),
        ({"orders": []}, "orders", "This list may not be empty."),
        (
            {"orders": {"B-1": {}}},
            "orders",
            'Expected a list of items but got type "dict".',
        ),
    ],
)
def test_batch_without_a_list_of_orders_is_refused(api, body, path, message):
    # when the batch body has no list of orders
    response = post(api, reverse("api:order-batch"), body)

    # then
    assert response.status_code == 400
    assert response.json() == {"errors": [{"path": path, "message": message}]}


# POST /orders/{external_id}/delivery ------------------------------------------------


def delivery_url(external_id):
    return reverse("api:order-delivery", args=[external_id])


@pytest.fixture
def placed_order():
    return OrderFactory(
        external_id="D-1",
        placed_at=datetime(2025, 3, 1, 10, tzinfo=UTC),
        shipped_at=None,
        delivered_at=None,
    )


def test_delivery_records_shipping_then_arrival(api, placed_order):
    # when the 3PL reports the shipment, then the delivery
    shipped = post(
        api, delivery_url("D-1"), {"shipped_at": "2025-03-02T09:00:00+01:00"}
    )
    delivered = post(api, delivery_url("D-1"), {"delivered_at": "2025-03-04T12:00:00Z"})

    # then both times are kept
    assert (shipped.status_code, delivered.status_code) == (200, 200)
    assert (delivered.json()["shipped_at"], delivered.json()["delivered_at"]) == (
        "2025-03-02T08:00:00Z",
        "2025-03-04T12:00:00Z",
    )
    placed_order.refresh_from_db()
    assert (placed_order.shipped_at, placed_order.delivered_at) == (
        datetime(2025, 3, 2, 8, tzinfo=UTC),
        datetime(2025, 3, 4, 12, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({}, "$", "Give shipped_at, delivered_at or both."),
        ({"shipped_at": None}, "$", "Give shipped_at, delivered_at or both."),
        (
            {
                "shipped_at": "2025-03-05T00:00:00Z",
                "delivered_at": "2025-03-04T00:00:00Z",
            },
            "delivered_at",
            "Cannot be before shipped_at.",
        ),
        (
            {"delivered_at": "2025-02-28T00:00:00Z"},
            "delivered_at",
            "Cannot be before the order was placed.",
        ),
        (
            {"shipped_at": "yesterday"},
            "shipped_at",
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ),
    ],
)
def test_delivery_refuses_bad_times_and_changes_nothing(
    api, placed_order, body, path, message
):
    # when a delivery with missing or impossible times is reported
    response = post(api, delivery_url("D-1"), body)

    # then
    assert response.status_code == 400
    assert response.json() == {"errors": [{"path": path, "message": message}]}
    placed_order.refresh_from_db()
    assert (placed_order.shipped_at, placed_order.delivered_at) == (None, None)


def test_delivery_before_the_recorded_shipment_is_refused(api, placed_order):
    # given the order shipped on 5 March
    post(api, delivery_url("D-1"), {"shipped_at": "2025-03-05T00:00:00Z"})

    # when a delivery on 4 March is reported
    response = post(api, delivery_url("D-1"), {"delivered_at": "2025-03-04T00:00:00Z"})

    # then
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"path": "delivered_at", "message": "Cannot be before shipped_at."}]
    }
    placed_order.refresh_from_db()
    assert placed_order.delivered_at is None


def test_delivery_for_an_unknown_order_is_404(api, placed_order):
    # when a delivery is reported for an order we do not know
    response = post(api, delivery_url("NOPE"), {"delivered_at": "2025-03-04T00:00:00Z"})

    # then
    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"path": "$", "message": "No Order matches the given query."}]
    }


# Schema and docs ---------------------------------------------------------------------


def test_schema_documents_the_api(client):
    # when the schema is fetched without a token
    response = client.get(reverse("api-schema"), {"format": "json"})

    # then it lists the shop's four operations, and nothing outside /api/v1/
    # (other apps add their own endpoints there, e.g. loyalty's coupons)
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/orders/batch",
        "/api/v1/orders/{external_id}",
        "/api/v1/orders/{external_id}/delivery",
        "/api/v1/products/{sku}",
    } <= set(paths)
    assert all(path.startswith("/api/v1/") for path in paths)
    assert response.json()["components"]["securitySchemes"] == {
        "tokenAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }
    }


def test_docs_page_renders(client):
    # when the Swagger page is fetched
    response = client.get(reverse("api-docs"))

    # then it is served from the sidecar package, not a CDN
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn." not in response.content
