"""Shopify and WooCommerce order webhooks: signatures, deduplication, mapping."""

import base64
import copy
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from shop.models import (
    ConsentSource,
    Customer,
    Order,
    OrderSource,
    Product,
    WebhookDelivery,
)
from tests.factories import CustomerFactory, ProductFactory

PAYLOADS = Path(__file__).parent / "payloads"
SHOPIFY_SECRET = "shopify-test-secret"
WOOCOMMERCE_SECRET = "woocommerce-test-secret"

pytestmark = pytest.mark.django_db


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def shopify_order():
    return load("shopify_orders_create.json")


@pytest.fixture
def woo_order():
    return load("woocommerce_order_created.json")


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


def post_shopify(
    client,
    payload,
    *,
    topic="orders/create",
    webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    signature=None,
    headers=None,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, SHOPIFY_SECRET).decode()
        if signature is None
        else signature,
        "X-Shopify-Shop-Domain": "kleding-atelier.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2025-03-14T09:15:44.123Z",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    }
    sent.update(headers or {})
    sent = {name: value for name, value in sent.items() if value is not None}
    return client.post(
        reverse("webhook-shopify"),
        data=body,
        content_type="application/json",
        headers=sent,
    )


def post_woo(
    client,
    payload,
    *,
    topic="order.created",
    delivery_id="b0e4a1c5f3c2d9e8a7b6c5d4e3f2a1b0",
    signature=None,
    headers=None,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {
        "X-WC-Webhook-Source": "https://winkel.example.nl/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0] if topic else None,
        "X-WC-Webhook-Event": topic.split(".")[-1] if topic else None,
        "X-WC-Webhook-Signature": sign(body, WOOCOMMERCE_SECRET).decode()
        if signature is None
        else signature,
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
    sent.update(headers or {})
    sent = {name: value for name, value in sent.items() if value is not None}
    return client.post(
        reverse("webhook-woocommerce"),
        data=body,
        content_type="application/json",
        headers=sent,
    )


def assert_nothing_stored():
    assert Order.objects.count() == 0
    assert Customer.objects.count() == 0
    assert Product.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


# Shopify ---------------------------------------------------------------------


def test_shopify_orders_create_stores_the_order(client, shopify_order):
    response = post_shopify(client, shopify_order)

    assert response.status_code == 200
    assert response.json() == {"status": "created"}
    order = Order.objects.get()
    assert order.source == OrderSource.SHOPIFY
    assert order.external_id == "5912345678901"
    assert order.number == "#1042"
    assert order.placed_at == datetime(2025, 3, 14, 9, 15, 42, tzinfo=UTC)
    assert order.shipped_at is None
    assert order.delivered_at is None
    assert order.currency == "EUR"
    assert order.total == Decimal("164.85")
    customer = order.customer
    assert customer.email == "anna.devries@example.com"
    assert (customer.first_name, customer.last_name) == ("Anna", "de Vries")
    assert customer.language == "nl"
    assert customer.marketing_consent is True
    assert customer.marketing_consent_source == ConsentSource.WEBHOOK
    lines = [
        (line.external_id, line.product.sku, line.product.name, line.quantity)
        for line in order.lines.select_related("product")
    ]
    assert lines == [
        ("14321098765401", "SHIRT-LIN-WH-M", "Linnen overhemd", 2),
        # No SKU in Shopify: a stable one from the variant id.
        ("14321098765402", "shopify-variant-45012345678902", "Chino broek", 1),
    ]
    assert [line.unit_price for line in order.lines.all()] == [
        Decimal("49.95"),
        Decimal("64.95"),
    ]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.platform, delivery.delivery_id, delivery.topic) == (
        OrderSource.SHOPIFY,
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "orders/create",
    )
    assert delivery.order == order


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("bm90IHRoZSBzaWduYXR1cmU=", id="wrong"),
        pytest.param("ünïcode", id="not-ascii"),
    ],
)
def test_shopify_refuses_a_bad_or_missing_signature(client, shopify_order, signature):
    headers = {"X-Shopify-Hmac-Sha256": signature}
    body = json.dumps(shopify_order).encode()
    response = post_shopify(client, body, signature=signature or "", headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["path"] == "X-Shopify-Hmac-Sha256"
    assert_nothing_stored()


def test_shopify_refuses_a_body_changed_after_signing(client, shopify_order):
    body = json.dumps(shopify_order).encode()
    signature = sign(body, SHOPIFY_SECRET).decode()
    tampered = body.replace(b'"quantity": 2', b'"quantity": 20')

    response = post_shopify(client, tampered, signature=signature)

    assert response.status_code == 401
    assert_nothing_stored()


def test_shopify_refuses_everything_without_a_secret(
    client, settings, shopify_order, caplog
):
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    # Signed with an empty key, which is what an unconfigured secret would accept.
    body = json.dumps(shopify_order).encode()

    with caplog.at_level(logging.WARNING, logger="shop.webhooks"):
        response = post_shopify(client, body, signature=sign(body, "").decode())

    assert response.status_code == 401
    assert "SHOPIFY_WEBHOOK_SECRET is not set" in caplog.text
    assert_nothing_stored()


def test_shopify_answers_only_post(client):
    assert client.get(reverse("webhook-shopify")).status_code == 405


def test_shopify_same_order_twice_is_updated_not_duplicated(client, shopify_order):
    first = post_shopify(client, shopify_order, webhook_id="delivery-1")
    second = post_shopify(
        client, shopify_order, topic="orders/updated", webhook_id="delivery-2"
    )

    assert first.json() == {"status": "created"}
    assert second.json() == {"status": "updated"}
    assert Order.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Order.objects.get().lines.count() == 2
    assert WebhookDelivery.objects.count() == 2


def test_shopify_same_delivery_twice_is_a_duplicate_and_changes_nothing(
    client, shopify_order
):
    post_shopify(client, shopify_order, webhook_id="delivery-1")
    order = Order.objects.get()
    changed = copy.deepcopy(shopify_order)
    changed["line_items"][0]["quantity"] = 5

    response = post_shopify(client, changed, webhook_id="delivery-1")

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate"}
    order_after = Order.objects.get()
    assert order_after.updated_at == order.updated_at
    assert order_after.total == Decimal("164.85")
    assert [line.quantity for line in order_after.lines.all()] == [2, 1]
    assert WebhookDelivery.objects.count() == 1


def test_shopify_orders_updated_brings_the_lines_in_line(client, shopify_order):
    post_shopify(client, shopify_order, webhook_id="delivery-1")
    updated = copy.deepcopy(shopify_order)
    updated["line_items"][0]["quantity"] = 1
    del updated["line_items"][1]
    updated["line_items"].append(
        {
            "id": 14321098765409,
            "name": "Riem - Cognac",
            "price": "34.95",
            "product_id": 8123456789019,
            "quantity": 1,
            "sku": "BELT-COG-95",
            "title": "Leren riem",
            "variant_id": 45012345678909,
            "variant_title": "Cognac",
        }
    )

    response = post_shopify(
        client, updated, topic="orders/updated", webhook_id="delivery-2"
    )

    assert response.json() == {"status": "updated"}
    order = Order.objects.get()
    assert [
        (line.external_id, line.product.sku, line.quantity)
        for line in order.lines.select_related("product")
    ] == [
        ("14321098765401", "SHIRT-LIN-WH-M", 1),
        ("14321098765409", "BELT-COG-95", 1),
    ]
    assert order.total == Decimal("84.90")


def test_shopify_orders_fulfilled_sets_shipped_at(client, shopify_order):
    post_shopify(client, shopify_order, webhook_id="delivery-1")
    fulfilled = copy.deepcopy(shopify_order)
    fulfilled["fulfillment_status"] = "fulfilled"
    fulfilled["fulfillments"] = [
        {
            "id": 5123456789012,
            "admin_graphql_api_id": "gid://shopify/Fulfillment/5123456789012",
            "created_at": "2025-03-15T16:02:11+01:00",
            "location_id": 71234567890,
            "name": "#1042.1",
            "order_id": 5912345678901,
            "service": "manual",
            "shipment_status": None,
            "status": "success",
            "tracking_company": "PostNL",
            "tracking_number": "3SKAAA0123456",
            "tracking_numbers": ["3SKAAA0123456"],
            "updated_at": "2025-03-15T16:02:12+01:00",
            "line_items": [],
        }
    ]

    response = post_shopify(
        client, fulfilled, topic="orders/fulfilled", webhook_id="delivery-2"
    )

    assert response.json() == {"status": "updated"}
    order = Order.objects.get()
    assert order.shipped_at == datetime(2025, 3, 15, 15, 2, 11, tzinfo=UTC)
    assert order.delivered_at is None


def test_shopify_delivered_fulfilment_sets_delivered_at(client, shopify_order):
    payload = copy.deepcopy(shopify_order)
    payload["fulfillments"] = [
        {
            "id": 5123456789012,
            "created_at": "2025-03-15T16:02:11+01:00",
            "shipment_status": "delivered",
            "status": "success",
            "updated_at": "2025-03-17T11:40:00+01:00",
        },
        {
            "id": 5123456789013,
            "created_at": "2025-03-15T09:00:00+01:00",
            "shipment_status": None,
            "status": "cancelled",
            "updated_at": "2025-03-15T09:30:00+01:00",
        },
    ]

    post_shopify(client, payload, topic="orders/updated")

    order = Order.objects.get()
    assert order.shipped_at == datetime(2025, 3, 15, 15, 2, 11, tzinfo=UTC)
    assert order.delivered_at == datetime(2025, 3, 17, 10, 40, tzinfo=UTC)


def test_shopify_orders_fulfilled_without_fulfilments_uses_updated_at(
    client, shopify_order
):
    response = post_shopify(client, shopify_order, topic="orders/fulfilled")

    assert response.json() == {"status": "created"}
    assert Order.objects.get().shipped_at == datetime(
        2025, 3, 14, 9, 15, 44, tzinfo=UTC
    )


def test_shopify_consent_is_only_given_at_checkout(client, shopify_order):
    customer = CustomerFactory(
        email="anna.devries@example.com",
        marketing_consent=False,
        marketing_consent_source=ConsentSource.ACCOUNT,
    )

    post_shopify(client, shopify_order, topic="orders/updated")

    customer.refresh_from_db()
    assert customer.marketing_consent is False
    assert customer.marketing_consent_source == ConsentSource.ACCOUNT


def test_shopify_unsubscribed_customer_withdraws_consent(client, shopify_order):
    CustomerFactory(email="anna.devries@example.com", marketing_consent=True)
    payload = copy.deepcopy(shopify_order)
    payload["buyer_accepts_marketing"] = False
    payload["customer"]["email_marketing_consent"]["state"] = "unsubscribed"

    post_shopify(client, payload, topic="orders/updated")

    customer = Customer.objects.get()
    assert customer.marketing_consent is False
    assert customer.marketing_consent_source == ConsentSource.WEBHOOK


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda p: p["line_items"][1].update(quantity=0), "line_items[1].quantity"),
        (lambda p: p["line_items"][0].update(price="-1.00"), "line_items[0].price"),
        (lambda p: p.update(email="not-an-address", contact_email=None), "email"),
        (lambda p: p.update(created_at="yesterday"), "created_at"),
        (lambda p: p.update(currency="EURO"), "currency"),
        (lambda p: p.update(line_items=[]), "line_items"),
        (lambda p: p.pop("id"), "id"),
    ],
    ids=["quantity", "price", "email", "created_at", "currency", "no-lines", "no-id"],
)
def test_shopify_invalid_order_is_refused_naming_the_field(
    client, shopify_order, change, path
):
    change(shopify_order)

    response = post_shopify(client, shopify_order)

    assert response.status_code == 400
    assert path in [error["path"] for error in response.json()["errors"]]
    assert_nothing_stored()


def test_shopify_body_that_is_not_json_is_refused(client):
    response = post_shopify(client, b"{not json")

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"path": "$", "message": "The body is not valid JSON."}]
    }
    assert_nothing_stored()


def test_shopify_missing_delivery_id_is_refused(client, shopify_order):
    response = post_shopify(client, shopify_order, webhook_id=None)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "X-Shopify-Webhook-Id"
    assert_nothing_stored()


@pytest.mark.parametrize("topic", ["orders/cancelled", "products/update", ""])
def test_shopify_other_topics_are_ignored(client, shopify_order, topic):
    response = post_shopify(client, shopify_order, topic=topic)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert_nothing_stored()


def test_shopify_known_product_is_not_overwritten(client, shopify_order):
    ProductFactory(sku="SHIRT-LIN-WH-M", name="Linen shirt white M")

    post_shopify(client, shopify_order)

    assert Product.objects.get(sku="SHIRT-LIN-WH-M").name == "Linen shirt white M"


# WooCommerce ------------------------------------------------------------------


def test_woocommerce_order_created_stores_the_order(client, woo_order):
    response = post_woo(client, woo_order)

    assert response.status_code == 200
    assert response.json() == {"status": "created"}
    order = Order.objects.get()
    assert order.source == OrderSource.WOOCOMMERCE
    assert (order.external_id, order.number) == ("727", "727")
    # date_created_gmt has no offset: it is UTC.
    assert order.placed_at == datetime(2025, 3, 14, 10, 28, 2, tzinfo=UTC)
    assert order.shipped_at is None
    assert order.currency == "EUR"
    customer = order.customer
    assert customer.email == "joost.bakker@example.nl"
    assert (customer.first_name, customer.last_name) == ("Joost", "Bakker")
    assert customer.marketing_consent is False
    assert customer.marketing_consent_at is None
    assert [
        (line.external_id, line.product.sku, line.product.name, line.quantity)
        for line in order.lines.select_related("product")
    ] == [
        ("315", "HAT-WOOL-GREY", "Wollen muts", 2),
        ("316", "woocommerce-variation-23", "Sjaal – Kleur: Oker", 1),
    ]
    # price is a JSON number (line total / quantity), rounded to cents.
    assert [line.unit_price for line in order.lines.all()] == [
        Decimal("8.27"),
        Decimal("24.79"),
    ]
    delivery = WebhookDelivery.objects.get()
    assert delivery.platform == OrderSource.WOOCOMMERCE
    assert delivery.delivery_id.startswith("b0e4a1c5f3c2d9e8a7b6c5d4e3f2a1b0:")
    assert delivery.order == order


def test_woocommerce_completed_order_is_shipped(client, woo_order):
    post_woo(client, woo_order)
    woo_order.update(
        status="completed",
        date_completed="2025-03-15T09:12:40",
        date_completed_gmt="2025-03-15T08:12:40",
    )

    response = post_woo(client, woo_order, topic="order.updated")

    assert response.json() == {"status": "updated"}
    order = Order.objects.get()
    assert order.shipped_at == datetime(2025, 3, 15, 8, 12, 40, tzinfo=UTC)
    assert order.delivered_at is None


@pytest.mark.parametrize(
    ("signature", "headers"),
    [
        pytest.param("", {"X-WC-Webhook-Signature": None}, id="missing"),
        pytest.param("d3Jvbmc=", {}, id="wrong"),
        pytest.param(
            base64.b64encode(b"x" * 32).decode(), {}, id="right-length-wrong-value"
        ),
    ],
)
def test_woocommerce_refuses_a_bad_or_missing_signature(
    client, woo_order, signature, headers
):
    response = post_woo(client, woo_order, signature=signature, headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["path"] == "X-WC-Webhook-Signature"
    assert_nothing_stored()


def test_woocommerce_refuses_everything_without_a_secret(
    client, settings, woo_order, caplog
):
    settings.WOOCOMMERCE_WEBHOOK_SECRET = ""

    with caplog.at_level(logging.WARNING, logger="shop.webhooks"):
        response = post_woo(client, woo_order)
        ping = client.post(
            reverse("webhook-woocommerce"),
            data="webhook_id=12",
            content_type="application/x-www-form-urlencoded",
        )

    assert response.status_code == 401
    assert ping.status_code == 401
    assert "WOOCOMMERCE_WEBHOOK_SECRET is not set" in caplog.text
    assert_nothing_stored()


def test_woocommerce_ping_is_answered_and_stores_nothing(client):
    # What WC_Webhook::deliver_ping() sends when a webhook is saved: no topic, no
    # signature, a form-encoded body. Anything but 200 and WooCommerce refuses to
    # save the webhook.
    response = client.post(
        reverse("webhook-woocommerce"),
        data="webhook_id=12",
        content_type="application/x-www-form-urlencoded",
        headers={"User-Agent": "WooCommerce/9.7.1 Hookshot (WordPress/6.7.2)"},
    )

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert_nothing_stored()


def test_woocommerce_unsigned_body_that_is_not_a_ping_is_refused(client, woo_order):
    response = client.post(
        reverse("webhook-woocommerce"),
        data=json.dumps(woo_order),
        content_type="application/json",
    )

    assert response.status_code == 401
    assert_nothing_stored()


def test_woocommerce_same_delivery_twice_is_a_duplicate(client, woo_order):
    post_woo(client, woo_order)

    response = post_woo(client, woo_order)

    assert response.json() == {"status": "duplicate"}
    assert Order.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_woocommerce_orders_sharing_a_delivery_id_are_both_stored(client, woo_order):
    # WooCommerce's delivery id is a hash of the webhook id and the current second:
    # two orders sent by one webhook within a second carry the same one.
    other = copy.deepcopy(woo_order)
    other.update(id=728, number="728")
    other["billing"]["email"] = "lotte@example.nl"

    first = post_woo(client, woo_order, delivery_id="same-second")
    second = post_woo(client, other, delivery_id="same-second")

    assert (first.json(), second.json()) == (
        {"status": "created"},
        {"status": "created"},
    )
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [
        "727",
        "728",
    ]


def test_woocommerce_same_order_with_new_delivery_is_updated(client, woo_order):
    post_woo(client, woo_order, delivery_id="first")
    woo_order["line_items"][0]["quantity"] = 3

    response = post_woo(client, woo_order, topic="order.updated", delivery_id="second")

    assert response.json() == {"status": "updated"}
    assert Order.objects.count() == 1
    assert [line.quantity for line in Order.objects.get().lines.all()] == [3, 1]


def test_woocommerce_invalid_order_is_refused_naming_the_field(client, woo_order):
    woo_order["billing"]["email"] = ""
    woo_order["line_items"][1]["price"] = "gratis"

    response = post_woo(client, woo_order)

    assert response.status_code == 400
    assert sorted(error["path"] for error in response.json()["errors"]) == [
        "billing.email",
        "line_items[1].price",
    ]
    assert_nothing_stored()


def test_woocommerce_missing_delivery_id_is_refused(client, woo_order):
    response = post_woo(client, woo_order, delivery_id=None)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "X-WC-Webhook-Delivery-ID"
    assert_nothing_stored()


@pytest.mark.parametrize("topic", ["order.deleted", "product.updated"])
def test_woocommerce_other_topics_are_ignored(client, woo_order, topic):
    response = post_woo(client, woo_order, topic=topic)

    assert response.json() == {"status": "ignored"}
    assert_nothing_stored()


def test_shopify_order_too_large_to_store_is_refused(
    needs_postgres, client, shopify_order
):
    shopify_order["line_items"][0].update(quantity=100_000, price="9999999999.99")

    response = post_shopify(client, shopify_order)

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "$"
    assert_nothing_stored()
