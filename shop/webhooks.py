"""Order webhooks from Shopify and WooCommerce.

Each request is checked in this order, and refused with nothing stored:

1. the shared secret is configured (else 401 and a warning: an unconfigured receiver
   must not accept unsigned data);
2. the base64 HMAC-SHA256 of the raw body matches the signature header, compared in
   constant time, before anything is parsed (else 401);
3. the topic is one we handle; any other topic answers 200 "ignored", because it is
   a subscription we do not use, not an error the platform should retry (Shopify
   retries every non-2xx, and WooCommerce disables a webhook after a run of them);
4. the delivery id header is present (else 400);
5. the body is JSON and maps onto a valid order (else 400 with
   `{"errors": [{"path", "message"}]}`, paths named as in the platform's payload).

Then one transaction stores the delivery id and upserts the order; a delivery seen
before answers 200 "duplicate". Every success answers `{"status": ...}` with
"created", "updated", "duplicate" or "ignored".

Deduplication keys:

- Shopify: `X-Shopify-Webhook-Id`, which Shopify documents as unique per delivery
  and kept across retries. Not `X-Shopify-Event-Id`: that one is shared by every
  delivery one merchant action produces (`orders/updated` and `orders/fulfilled` of
  one fulfilment), so keying on it would drop the second topic.
- WooCommerce: `X-WC-Webhook-Delivery-ID` is `wp_hash(webhook id . current second)`,
  so two different orders sent by one webhook in the same second share it. The key is
  that id plus a digest of the body: a repeat of the same body is still a duplicate,
  a different order or a newer state of the same order is not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop import platforms
from shop.models import OrderSource, WebhookDelivery
from shop.serializers import (
    UNSTORABLE_TEXT,
    OrderInSerializer,
    error_paths,
    unstorable_text_path,
)
from shop.services import LinesInUse, upsert_order_from_webhook

logger = logging.getLogger(__name__)

DELIVERY_ID_MAX_LENGTH = WebhookDelivery._meta.get_field("delivery_id").max_length
# WooCommerce's ping when a webhook is created: `webhook_id=<id>`, form-encoded,
# without topic or signature headers; it must answer 200 or the webhook is not saved.
WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d+")


@dataclass(frozen=True)
class Platform:
    source: str
    signing_key_setting: str
    signature_header: str
    topic_header: str
    delivery_header: str
    topics: frozenset[str]
    to_order: Callable[..., platforms.PlatformOrder]


SHOPIFY = Platform(
    source=OrderSource.SHOPIFY,
    signing_key_setting="SHOPIFY_WEBHOOK_SECRET",
    signature_header="X-Shopify-Hmac-Sha256",
    topic_header="X-Shopify-Topic",
    delivery_header="X-Shopify-Webhook-Id",
    topics=platforms.SHOPIFY_TOPICS,
    to_order=platforms.shopify_order,
)
WOOCOMMERCE = Platform(
    source=OrderSource.WOOCOMMERCE,
    signing_key_setting="WOOCOMMERCE_WEBHOOK_SECRET",
    signature_header="X-WC-Webhook-Signature",
    topic_header="X-WC-Webhook-Topic",
    delivery_header="X-WC-Webhook-Delivery-ID",
    topics=platforms.WOOCOMMERCE_TOPICS,
    to_order=platforms.woocommerce_order,
)


@csrf_exempt
@require_POST
def shopify(request: HttpRequest) -> JsonResponse:
    if _too_large(request):
        return _errors(413, "$", _("The request body is too large."))
    return _receive(request, SHOPIFY)


@csrf_exempt
@require_POST
def woocommerce(request: HttpRequest) -> JsonResponse:
    if _too_large(request):
        return _errors(413, "$", _("The request body is too large."))
    if _is_woocommerce_ping(request) and settings.WOOCOMMERCE_WEBHOOK_SECRET:
        logger.info("WooCommerce webhook ping answered")
        return _status("ignored")
    return _receive(request, WOOCOMMERCE)


def _receive(request: HttpRequest, platform: Platform) -> JsonResponse:
    secret = getattr(settings, platform.signing_key_setting)
    if not secret:
        logger.warning(
            "%s webhook refused: %s is not set",
            platform.source,
            platform.signing_key_setting,
        )
        return _errors(
            401, platform.signature_header, _("This webhook is not configured.")
        )
    body = request.body
    if not _signed(body, request.headers.get(platform.signature_header, ""), secret):
        logger.warning("%s webhook refused: bad or missing signature", platform.source)
        return _errors(
            401, platform.signature_header, _("Missing or invalid signature.")
        )

    topic = request.headers.get(platform.topic_header, "").strip()
    if topic not in platform.topics:
        logger.info("%s webhook topic %r ignored", platform.source, topic)
        return _status("ignored")
    delivery_id = _delivery_id(request, platform, body)
    if delivery_id is None:
        return _errors(
            400, platform.delivery_header, _("Missing or too long delivery id.")
        )

    try:
        payload = json.loads(body)
    except ValueError:
        return _errors(400, "$", _("The body is not valid JSON."))
    bad_text = unstorable_text_path(payload)
    if bad_text is not None:
        return _errors(400, bad_text, str(UNSTORABLE_TEXT))
    try:
        order = platform.to_order(payload, topic=topic)
    except platforms.PayloadError as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    serializer = OrderInSerializer(data=order.body)
    if not serializer.is_valid():
        return _invalid(platform, order, error_paths(serializer.errors))
    try:
        result = upsert_order_from_webhook(
            platform=platform.source,
            delivery_id=delivery_id,
            topic=topic,
            data=serializer.to_order_data(order.external_id),
        )
    except DataError:
        return _errors(
            400, "$", _("A value is too large to store (check quantities and prices).")
        )
    except LinesInUse as exc:
        logger.warning(
            "%s webhook for order %s refused: lines %s have returns",
            platform.source,
            order.external_id,
            exc,
        )
        return _errors(409, "line_items", exc.message)

    if result is None:
        status = "duplicate"
    else:
        status = "created" if result.created else "updated"
    logger.info(
        "%s webhook %s (%s) for order %s: %s",
        platform.source,
        delivery_id,
        topic,
        order.external_id,
        status,
    )
    return _status(status)


def _too_large(request: HttpRequest) -> bool:
    """Above DATA_UPLOAD_MAX_MEMORY_SIZE: answered 413 in JSON, the body unread."""
    try:
        request.body  # noqa: B018 (reading it is the check)
    except RequestDataTooBig:
        return True
    return False


def _signed(body: bytes, signature: str, secret: str) -> bool:
    expected = base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()
    )
    return hmac.compare_digest(expected, signature.strip().encode())


def _delivery_id(request: HttpRequest, platform: Platform, body: bytes) -> str | None:
    delivery_id = request.headers.get(platform.delivery_header, "").strip()
    if platform is WOOCOMMERCE and delivery_id:
        # One id per webhook and second (see the module docstring): add the body.
        delivery_id = f"{delivery_id}:{hashlib.sha256(body).hexdigest()[:32]}"
    if not delivery_id or len(delivery_id) > DELIVERY_ID_MAX_LENGTH:
        return None
    return delivery_id


def _is_woocommerce_ping(request: HttpRequest) -> bool:
    return (
        WOOCOMMERCE.topic_header not in request.headers
        and WOOCOMMERCE.signature_header not in request.headers
        and WOOCOMMERCE_PING.fullmatch(request.body.strip()) is not None
    )


def _invalid(
    platform: Platform, order: platforms.PlatformOrder, errors: list[dict[str, Any]]
) -> JsonResponse:
    errors = [
        {
            "path": platforms.platform_path(platform.source, error["path"]),
            "message": error["message"],
        }
        for error in errors
    ]
    logger.warning(
        "%s webhook for order %s refused: %s",
        platform.source,
        order.external_id,
        ", ".join(error["path"] for error in errors),
    )
    return JsonResponse({"errors": errors}, status=400)


def _errors(status: int, path: str, message: str) -> JsonResponse:
    return JsonResponse({"errors": [{"path": path, "message": message}]}, status=status)


def _status(status: str) -> JsonResponse:
    return JsonResponse({"status": status})
