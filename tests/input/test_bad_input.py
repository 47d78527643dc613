"""Bad input from customers, the shop and the outside world: every refusal names the
field (or row) at fault and changes nothing.

- upload bombs and broken files as review photos and as return photos, through the
  pages a customer uses;
- bodies above the size limits to the API and the webhooks;
- malformed JSON (truncated, wrong types, arrays for objects, nulls, huge numbers,
  odd unicode) to every POST/PUT API route and webhook;
- forged and replayed webhooks.

Unit tests of config/photos.py, the CSV imports and each webhook's happy path live
with their apps; this module drives the edges end to end.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from returns.models import ReturnPhoto, ReturnRequest
from reviews.models import Review, ReviewPhoto
from tests.factories import CustomerFactory, UserFactory
from tests.returns.portal_setup import (
    centre,
    default_policy,
    delivered_order,
    line_post,
)
from tests.reviews.core_helpers import buyer, delivered_line

pytestmark = pytest.mark.django_db


# Files -------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width × height pixels: kilobytes on disk, width × height
    bytes once decoded."""
    row = b"\x00" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row) for _ in range(height))
    compressed += packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", compressed)
        + _png_chunk(b"IEND", b"")
    )


def image_bytes(fmt: str, size=(400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG")
    return data[: len(data) // 2]


BAD_FILES = {
    # 30,000 × 30,000 = 900 megapixels in about 110 kB: above Pillow's own guard.
    "decompression bomb": lambda: ("cat.png", png_bomb(30_000, 30_000), "image/png"),
    # 8,000 × 6,000 = 48 megapixels: under Pillow's guard, over ours.
    "huge dimensions": lambda: ("big.png", png_bomb(8_000, 6_000), "image/png"),
    "a GIF sent as a JPEG": lambda: ("x.jpg", image_bytes("GIF"), "image/jpeg"),
    "truncated JPEG": lambda: ("half.jpg", truncated_jpeg(), "image/jpeg"),
    "text named .jpg": lambda: ("notes.jpg", b"just some text\n" * 50, "image/jpeg"),
    "empty file": lambda: ("empty.jpg", b"", "image/jpeg"),
}


def bad_file(kind: str) -> SimpleUploadedFile:
    name, data, content_type = BAD_FILES[kind]()
    return SimpleUploadedFile(name, data, content_type=content_type)


# Review photos ------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


REVIEW = {
    "rating": "4",
    "title": "Nice",
    "body": "Fits well and the fabric feels expensive. Would buy again.",
    "language": "en",
    "may_quote": "on",
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_review_photo_is_refused_on_the_photos_field(client, media, kind):
    # given a customer writing a review of a delivered purchase
    user, customer = buyer()
    client.force_login(user)
    line = delivered_line(customer)

    # when the review comes with a bad photo
    response = client.post(
        f"/reviews/write/{line.pk}/", REVIEW | {"photos": [bad_file(kind)]}
    )

    # then the form is shown again with the reason on the photos field
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["photos"]
    assert errors["photos"][0]
    if kind in ("decompression bomb", "huge dimensions"):
        assert "too many pixels" in errors["photos"][0]
    # and nothing was stored: no review, no photo row, no file
    assert (Review.objects.count(), ReviewPhoto.objects.count()) == (0, 0)
    assert _stored_files(media) == []


# Return photos ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_return_photo_is_refused_on_the_lines_photo_field(client, media, kind):
    # given a customer starting a return of a delivered order
    default_policy()
    centre()
    user = UserFactory(username="sanne", email="sanne@example.com")
    order = delivered_order(CustomerFactory(email="sanne@example.com", user=user))
    client.force_login(user)
    line = order.lines.get()

    # when the damaged item comes with a bad photo
    response = client.post(
        f"/my-returns/orders/{order.pk}/",
        line_post(line, reason="damaged-in-transit", photo=bad_file(kind)),
    )

    # then the form is shown again with the reason on that line's photo field
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [f"line-{line.pk}-photo"]
    if kind in ("decompression bomb", "huge dimensions"):
        [message] = errors[f"line-{line.pk}-photo"]
        assert message.startswith("This photo has too many pixels")
        assert message.endswith("the limit is 40 megapixels.")
    # and nothing was stored
    assert (ReturnRequest.objects.count(), ReturnPhoto.objects.count()) == (0, 0)
    assert _stored_files(media) == []


# The API and the webhooks: a world to send bodies to ---------------------------------

SHOPIFY_SECRET = "shopify-test-secret"  # config/settings/test.py
WOOCOMMERCE_SECRET = "woocommerce-test-secret"

ORDER = {
    "number": "#1001",
    "placed_at": "2025-03-01T10:00:00Z",
    "currency": "EUR",
    "customer": {"email": "anna@example.com", "first_name": "Anna"},
    "lines": [
        {
            "external_id": "l1",
            "sku": "TEE-M",
            "name": "T-shirt M",
            "quantity": 2,
            "unit_price": "19.95",
        }
    ],
}
SHOPIFY_ORDER = {
    "id": 820982911946154508,
    "name": "#9999",
    "email": "jon@example.com",
    "created_at": "2025-03-01T10:00:00-05:00",
    "currency": "USD",
    "customer": {"first_name": "Jon", "last_name": "Snow"},
    "line_items": [
        {"id": 1, "sku": "IPOD", "name": "IPod", "quantity": 1, "price": "199.00"}
    ],
}
WOO_ORDER = {
    "id": 727,
    "number": "727",
    "date_created_gmt": "2025-03-01T10:00:00",
    "currency": "EUR",
    "billing": {"email": "jan@example.com", "first_name": "Jan"},
    "line_items": [
        {"id": 315, "sku": "WOO-1", "name": "Woo", "quantity": 1, "price": 12.5}
    ],
}


def _snapshot() -> dict:
    """Every row the API and the webhooks can write."""
    from emails.models import ProviderEvent
    from loyalty.models import Coupon, CouponRedemption
    from returns.models import ReturnEvent, ReturnLine
    from shop.models import (
        Category,
        Customer,
        Order,
        OrderLine,
        Product,
        WebhookDelivery,
    )

    models = [
        Customer,
        Category,
        Product,
        Order,
        OrderLine,
        WebhookDelivery,
        ProviderEvent,
        Coupon,
        CouponRedemption,
        ReturnRequest,
        ReturnLine,
        ReturnEvent,
    ]
    return {
        model.__name__: list(model.objects.values().order_by("pk")) for model in models
    }


@pytest.fixture
def world(settings, media, route):
    """The caller's token and, only where the route needs one, an order, a coupon
    or a return routed to a centre (publishing a return policy is slow)."""
    from decimal import Decimal

    from loyalty import services as loyalty
    from returns import services as returns
    from shop.services import create_api_token
    from tests.factories import OrderFactory
    from tests.loyalty.conftest import RewardFactory
    from tests.returns import core_setup

    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    settings.WOOCOMMERCE_WEBHOOK_SECRET = WOOCOMMERCE_SECRET
    _token, shop_key = create_api_token(name="shop")
    world = {"shop": f"Token {shop_key}"}
    if route == "POST delivery":
        world["order"] = OrderFactory().external_id
    if route in ("POST redeem", "POST release"):
        customer = CustomerFactory()
        loyalty.award_points(customer=customer, points=500, key="k", reason="r")
        reward = RewardFactory(value=Decimal(5))
        world["coupon"] = loyalty.redeem(customer=customer, reward=reward).code
    if route == "POST return event":
        core_setup.policy()
        the_centre = core_setup.centre()
        world["rma"] = core_setup.submit(core_setup.order()).rma
        _centre, centre_key = returns.create_centre_token(centre=the_centre)
        world["centre"] = f"Token {centre_key}"
    return world


def _sign(body: bytes, secret: str) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _send(client, world, route: str, body: bytes):
    """POST/PUT `body` to one route, authenticated or signed as its caller would."""
    api = {"content_type": "application/json"}
    if route == "PUT product":
        return client.put(
            "/api/v1/products/TEE", body, HTTP_AUTHORIZATION=world["shop"], **api
        )
    if route == "PUT order":
        return client.put(
            "/api/v1/orders/A-1", body, HTTP_AUTHORIZATION=world["shop"], **api
        )
    if route == "POST batch":
        return client.post(
            "/api/v1/orders/batch", body, HTTP_AUTHORIZATION=world["shop"], **api
        )
    if route == "POST delivery":
        return client.post(
            f"/api/v1/orders/{world['order']}/delivery",
            body,
            HTTP_AUTHORIZATION=world["shop"],
            **api,
        )
    if route in ("POST redeem", "POST release"):
        action = route.split()[1]
        return client.post(
            f"/api/v1/coupons/{world['coupon']}/{action}",
            body,
            HTTP_AUTHORIZATION=world["shop"],
            **api,
        )
    if route == "POST return event":
        return client.post(
            f"/api/v1/returns/{world['rma']}/events",
            body,
            HTTP_AUTHORIZATION=world["centre"],
            **api,
        )
    if route == "Shopify webhook":
        return client.post(
            "/webhooks/shopify/",
            body,
            content_type="application/json",
            headers={
                "X-Shopify-Hmac-Sha256": _sign(body, SHOPIFY_SECRET),
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Webhook-Id": "delivery-1",
            },
        )
    if route == "WooCommerce webhook":
        return client.post(
            "/webhooks/woocommerce/",
            body,
            content_type="application/json",
            headers={
                "X-WC-Webhook-Signature": _sign(body, WOOCOMMERCE_SECRET),
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Delivery-ID": "delivery-1",
            },
        )
    raise AssertionError(route)


VALID = {
    "PUT product": {"name": "T-shirt", "price": "19.95", "currency": "EUR"},
    "PUT order": ORDER,
    "POST batch": {"orders": [ORDER | {"external_id": "B-1"}]},
    "POST delivery": {"shipped_at": "2099-01-01T00:00:00Z"},
    "POST redeem": {"order_external_id": "S-1", "currency": "EUR", "amount": "5.00"},
    "POST release": {"order_external_id": "S-1"},
    "POST return event": {
        "event_id": "wms-1",
        "kind": "received",
        "lines": [{"line_id": 1, "condition": "opened"}],
    },
    "Shopify webhook": SHOPIFY_ORDER,
    "WooCommerce webhook": WOO_ORDER,
}


def _every_value(body, value):
    """The body with every leaf (and every list) replaced by `value`."""
    if isinstance(body, dict):
        return {key: _every_value(item, value) for key, item in body.items()}
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return [_every_value(item, value) for item in body]
    return value


def _strings(body, text: str):
    if isinstance(body, dict):
        return {key: _strings(item, text) for key, item in body.items()}
    if isinstance(body, list):
        return [_strings(item, text) for item in body]
    return text if isinstance(body, str) else body


def _numbers(body, number):
    if isinstance(body, dict):
        return {key: _numbers(item, number) for key, item in body.items()}
    if isinstance(body, list):
        return [_numbers(item, number) for item in body]
    if isinstance(body, bool):
        return body
    if isinstance(body, int | float):
        return number
    if isinstance(body, str) and body.replace(".", "").isdigit():
        return number
    return body


def _json(value) -> bytes:
    import json

    return json.dumps(value).encode()


def _malformed(route: str) -> dict[str, bytes]:
    valid = VALID[route]
    return {
        "truncated": _json(valid)[:25],
        "not UTF-8": b'{"name": "\xff\xfe"}',
        "empty": b"",
        "an array": _json([valid]),
        "null": b"null",
        "a string": b'"order"',
        "a number": b"42",
        "every value null": _json(_every_value(valid, None)),
        "every value a list": _json(_every_value(valid, [])),
        "every value an object": _json(_every_value(valid, {"a": 1})),
        "huge numbers": _json(_numbers(valid, 10**40)),
        "numbers past float": _json(_numbers(valid, 10**40)).replace(
            b"1" + b"0" * 40, b"1e999"
        ),
        "NUL characters": _json(_strings(valid, "a\u0000b")),
        "lone surrogates": _json(_strings(valid, "\ud800x")),
        "10,000 characters": _json(_strings(valid, "x" * 10_000)),
    }


CASES = [
    (route, kind)
    for route in VALID
    for kind, body in _malformed(route).items()
    if body != _json(VALID[route])  # no number to make huge
]


@pytest.mark.parametrize(("route", "kind"), CASES)
def test_malformed_json_is_refused_naming_the_field_and_changes_nothing(
    client, world, route, kind
):
    # given everything the API and webhooks can write
    body = _malformed(route)[kind]
    before = _snapshot()

    # when a malformed body arrives with valid credentials
    response = _send(client, world, route, body)

    # then it is refused with a JSON error naming the field ($ = the body) ...
    if route == "POST batch" and response.status_code == 200:
        # ... a batch answers each order on its own: every one rejected
        results = response.json()["results"]
        assert [result["status"] for result in results] == ["rejected"] * len(results)
        assert all(result["errors"][0]["path"] for result in results)
    else:
        assert response.status_code in (400, 413, 422), response.content[:300]
        errors = response.json()["errors"]
        assert errors and all(error["path"] and error["message"] for error in errors)
    # and nothing changed
    assert _snapshot() == before


# Oversize bodies ----------------------------------------------------------------------

TWENTY_MB = 20 * 1024 * 1024


def _big_order_body() -> bytes:
    """A 20 MB order: one line with a 20 MB name."""
    import json

    line = ORDER["lines"][0] | {"name": "x" * TWENTY_MB}
    return json.dumps(ORDER | {"lines": [line]}).encode()


@pytest.mark.parametrize(
    "route", ["PUT order", "POST batch", "Shopify webhook", "WooCommerce webhook"]
)
def test_a_20_mb_body_is_refused_and_nothing_is_saved(client, world, route):
    # given everything that can be written
    before = _snapshot()

    # when a 20 MB body arrives, signed or with a valid token
    response = _send(client, world, route, _big_order_body())

    # then it is refused with 413 and the API's error shape, and nothing is saved
    assert response.status_code == 413
    assert response.json() == {
        "errors": [{"path": "$", "message": "The request body is too large."}]
    }
    assert _snapshot() == before


# SendGrid events ----------------------------------------------------------------------


@pytest.fixture
def signer(settings):
    from tests.emails.conftest import EventSigner

    the_signer = EventSigner()
    settings.SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = the_signer.public_key
    return the_signer


def _post_events(client, signer, body: bytes):
    return client.generic(
        "POST",
        "/webhooks/sendgrid/events",
        body,
        content_type="application/json",
        **signer.headers(body),
    )


@pytest.mark.parametrize(
    "body",
    [
        b'[{"sg_event_id": "ev-1", "event": "bounce"',
        b'{"sg_event_id": "ev-1"}',
        b"null",
        b'"events"',
    ],
    ids=["truncated", "an object", "null", "a string"],
)
def test_a_signed_body_that_is_not_a_list_of_events_is_refused(client, signer, body):
    from emails.models import ProviderEvent

    response = _post_events(client, signer, body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
    assert ProviderEvent.objects.count() == 0


@pytest.mark.parametrize(
    "events",
    [
        [1, None, "bounce", [], {"event": "bounce"}, {"sg_event_id": None}],
        [{"sg_event_id": "ev-1", "event": "bounce", "reason": "550 \u0000 no user"}],
        [{"sg_event_id": "ev-1", "event": "bounce", "email": "\ud800@example.com"}],
        [{"sg_event_id": "ev-\u0000", "event": "open"}],
        [{"sg_event_id": "ev-1", "event": "open", "\ud800": 1}],
    ],
    ids=["junk items", "NUL", "lone surrogate", "NUL in the id", "surrogate key"],
)
def test_signed_events_that_cannot_be_stored_are_skipped_not_a_500(
    client, signer, events
):
    import json

    from emails.models import ProviderEvent

    # when SendGrid (or someone with its key) sends events the database cannot hold
    response = _post_events(client, signer, json.dumps(events).encode())

    # then the delivery is answered, so SendGrid does not retry it for days, and
    # nothing is stored
    assert response.status_code == 200
    assert response.json() == {"received": len(events), "new": 0}
    assert ProviderEvent.objects.count() == 0


# Malformed CSV ------------------------------------------------------------------------
# tests/shop/test_import_orders.py and tests/insights/test_import_returns.py cover bad
# values by row and column, wrong headers and short rows; here: the file itself.


def _orders_csv() -> str:
    from tests.shop.test_import_orders import ROW

    return ",".join(ROW) + "\n" + ",".join(ROW.values()) + "\n"


def _returns_csv() -> str:
    from tests.insights.test_import_returns import ROW

    return ",".join(ROW) + "\n" + ",".join(ROW.values()) + "\n"


def _import_rows_count() -> tuple[int, int]:
    from shop.models import Order

    return Order.objects.count(), ReturnRequest.objects.count()


BAD_CSV = {
    "Latin-1": lambda text: (
        text.replace("Anna", "Ännä")
        .replace("Too small", "Trop élevé")
        .encode("latin-1")
    ),
    "UTF-16": lambda text: text.encode("utf-16"),
    "NUL bytes": lambda text: text.replace(",", ",\x00", 3).encode(),
    "binary": lambda text: bytes(range(256)) * 4,
    "empty": lambda text: b"",
    "a row longer than the header": lambda text: (
        text.rstrip("\n") + ",x,y\n"
    ).encode(),
}


@pytest.mark.parametrize("command", ["import_orders", "import_returns"])
@pytest.mark.parametrize("kind", list(BAD_CSV))
def test_a_malformed_file_is_refused_with_a_message_and_imports_nothing(
    tmp_path, command, kind
):
    from django.core.management import CommandError, call_command

    # given a file that is not a well-formed UTF-8 CSV
    text = _orders_csv() if command == "import_orders" else _returns_csv()
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD_CSV[kind](text))

    # when it is imported
    with pytest.raises(CommandError) as refused:
        call_command(command, str(path), stdout=io.StringIO(), stderr=io.StringIO())

    # then the command says what is wrong, naming the row where there is one, and
    # nothing is imported
    message = str(refused.value)
    assert message and "Traceback" not in message
    if kind == "a row longer than the header":
        assert "row 2" in message
    assert _import_rows_count() == (0, 0)


@pytest.mark.parametrize("command", ["import_orders", "import_returns"])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path, command):
    from django.core.management import CommandError, call_command

    # given a CSV saved by Excel ("CSV UTF-8"): a byte order mark before the header
    text = _orders_csv() if command == "import_orders" else _returns_csv()
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + text.encode())

    # when it is imported (the returns refer to orders that do not exist)
    try:
        call_command(command, str(path), stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as refused:
        message = str(refused)
    else:
        message = ""

    # then the header is recognised: no complaint about the first column's name
    assert "header" not in message, message
    assert "\ufeff" not in message


# An update that would delete what a return refers to ----------------------------------


def test_an_order_update_leaving_out_a_returned_line_is_refused_and_changes_nothing(
    client, settings, media
):
    import json

    from shop.services import create_api_token
    from tests.returns import core_setup

    # given an order pushed by the shop, with a return of one of its lines
    core_setup.policy()
    core_setup.centre()
    order = core_setup.order()
    core_setup.submit(order)
    returned = order.lines.get()
    _token, key = create_api_token(name="shop")
    before = _snapshot()

    # when the shop pushes the order again without that line
    body = ORDER | {"number": order.number}
    response = client.put(
        f"/api/v1/orders/{order.external_id}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )

    # then it is refused naming the lines, not a 500, and nothing changed
    assert response.status_code == 409
    assert response.json() == {
        "errors": [
            {
                "path": "lines",
                "message": f"Lines {returned.external_id} cannot be removed: a "
                "return refers to them. Send them again with the order.",
            }
        ]
    }
    assert _snapshot() == before
