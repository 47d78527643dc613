"""Shopify and WooCommerce order payloads, mapped onto the body our API takes.

Each mapper turns a platform's order (as its webhooks send it) into the dict that
`shop.serializers.OrderInSerializer` validates, so a webhook and an API push go through
the same validation and the same `upsert_order`. Mapping never raises on odd values:
it passes them on and lets the serializer name the bad field; `platform_path` turns
that name back into the platform's own (`lines[1].unit_price` -> `line_items[1].price`).

Choices worth knowing:

- Marketing consent is an opt-in only at checkout: a "yes" is taken from the
  create topic alone (`buyer_accepts_marketing` or the customer's e-mail consent
  `subscribed`). An explicit `unsubscribed` is honoured on every topic. Anything else
  says nothing, so an order update can never re-subscribe someone who unsubscribed
  with us after buying.
- Shopify: shipped when the order has a fulfilment that did not fail or was cancelled
  (earliest `created_at`), or on `orders/fulfilled`; delivered when every such
  fulfilment has `shipment_status` "delivered" (latest `updated_at`).
- WooCommerce: "completed" means the shop fulfilled the order, so
  `date_completed_gmt` is when it shipped; WooCommerce has no delivery date.
  Its `*_gmt` dates carry no offset and are read as UTC; a line's `price` is a
  number (the line total over the quantity), rounded here to cents.
- A line without a SKU gets a stable one from the platform's ids
  (`shopify-variant-<id>`, `woocommerce-product-<id>`, ...), so it still maps onto
  one product.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from shop.models import Order

EXTERNAL_ID_MAX_LENGTH = Order._meta.get_field("external_id").max_length
CENT = Decimal("0.01")

_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_LINE_PATH = re.compile(r"^lines\[(\d+)\](?:\.(\w+))?$")


class PayloadError(ValueError):
    """The body is not an order at all (not an object, or no usable id)."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class PlatformOrder:
    external_id: str
    body: dict[str, Any]  # shaped for OrderInSerializer


# Shared helpers -------------------------------------------------------------


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """Strings as they are; null and missing become ""."""
    return value.strip() if isinstance(value, str) else ""


def _id_text(value: Any) -> str | None:
    """A platform id (a JSON integer, or a non-empty string) as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _order_id(payload: dict[str, Any]) -> str:
    external_id = _id_text(payload.get("id"))
    if external_id is None:
        raise PayloadError([{"path": "id", "message": str(_("Missing order id."))}])
    if len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        message = _("Ensure this field has no more than %(max)d characters.") % {
            "max": EXTERNAL_ID_MAX_LENGTH
        }
        raise PayloadError([{"path": "id", "message": str(message)}])
    return external_id


def _as_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise PayloadError(
            [{"path": "$", "message": str(_("Expected an order object."))}]
        )
    return payload


def _language(locale: Any) -> str:
    """`nl`, `nl-NL`, `en_US` -> our two languages; anything else says nothing."""
    prefix = _text(locale).lower()[:2]
    return prefix if prefix in {"nl", "en"} else ""


def _utc(value: Any) -> Any:
    """A WooCommerce `*_gmt` date has no offset: mark it as UTC."""
    if isinstance(value, str) and value.strip() and not _HAS_OFFSET.search(value):
        return f"{value.strip()}Z"
    return value


def _cents(value: Any) -> Any:
    """A price given as a JSON number (or numeric text) rounded to cents; anything
    else is passed on for the serializer to refuse."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        return value


def _fallback_sku(
    platform: str, line: dict[str, Any], ids: tuple[tuple[str, str], ...]
) -> str:
    """`<platform>-<kind>-<id>` from the first id the line has (0 means none)."""
    for kind, key in ids:
        value = _id_text(line.get(key))
        if value and value != "0":
            return f"{platform}-{kind}-{value}"
    return ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _when(value: Any) -> datetime | None:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _consent(*, opted_in: bool, unsubscribed: bool, at_checkout: bool) -> bool | None:
    if unsubscribed:
        return False
    if opted_in and at_checkout:
        return True
    return None


# Shopify --------------------------------------------------------------------

SHOPIFY_TOPICS = frozenset({"orders/create", "orders/updated", "orders/fulfilled"})
_SHOPIFY_FAILED_FULFILMENT = frozenset({"cancelled", "error", "failure"})


def shopify_order(payload: Any, *, topic: str) -> PlatformOrder:
    """Map a Shopify order (REST shape, as its `orders/*` webhooks send it)."""
    payload = _as_object(payload)
    external_id = _order_id(payload)
    customer = _object(payload.get("customer"))
    billing = _object(payload.get("billing_address"))
    consent_state = _text(_object(customer.get("email_marketing_consent")).get("state"))
    shipped_at, delivered_at = _shopify_fulfilment_times(payload, topic=topic)
    body = {
        "number": payload.get("name"),
        "placed_at": payload.get("created_at"),
        "currency": payload.get("currency"),
        "customer": {
            "email": (
                _text(payload.get("email"))
                or _text(payload.get("contact_email"))
                or _text(customer.get("email"))
            ),
            "first_name": _text(customer.get("first_name"))
            or _text(billing.get("first_name")),
            "last_name": _text(customer.get("last_name"))
            or _text(billing.get("last_name")),
            "language": _language(payload.get("customer_locale")),
            "marketing_consent": _consent(
                opted_in=payload.get("buyer_accepts_marketing") is True
                or consent_state == "subscribed",
                unsubscribed=consent_state == "unsubscribed",
                at_checkout=topic == "orders/create",
            ),
        },
        "lines": [_shopify_line(line) for line in _list(payload.get("line_items"))],
        "shipped_at": shipped_at,
        "delivered_at": delivered_at,
    }
    return PlatformOrder(external_id=external_id, body=body)


def _shopify_line(line: Any) -> dict[str, Any]:
    line = _object(line)
    return {
        "external_id": _id_text(line.get("id")),
        "sku": _text(line.get("sku"))
        or _fallback_sku(
            "shopify",
            line,
            (("variant", "variant_id"), ("product", "product_id"), ("line", "id")),
        ),
        "name": _text(line.get("title")) or _text(line.get("name")),
        "category": _text(line.get("product_type")),
        "quantity": line.get("quantity"),
        "unit_price": line.get("price"),
    }


def _shopify_fulfilment_times(
    payload: dict[str, Any], *, topic: str
) -> tuple[Any, Any]:
    fulfilments = [
        fulfilment
        for fulfilment in map(_object, _list(payload.get("fulfillments")))
        if _text(fulfilment.get("status")) not in _SHOPIFY_FAILED_FULFILMENT
    ]
    created = [_when(f.get("created_at")) for f in fulfilments]
    created = [when for when in created if when is not None]
    shipped_at: Any = min(created).isoformat() if created else None
    if shipped_at is None and (
        topic == "orders/fulfilled" or payload.get("fulfillment_status") == "fulfilled"
    ):
        shipped_at = payload.get("updated_at")
    delivered = [
        _when(f.get("updated_at"))
        for f in fulfilments
        if f.get("shipment_status") == "delivered"
    ]
    delivered_at = None
    if fulfilments and len(delivered) == len(fulfilments) and all(delivered):
        delivered_at = max(delivered).isoformat()
    return shipped_at, delivered_at


# WooCommerce ----------------------------------------------------------------

WOOCOMMERCE_TOPICS = frozenset({"order.created", "order.updated"})


def woocommerce_order(payload: Any, *, topic: str) -> PlatformOrder:
    """Map a WooCommerce order (REST API v3 shape, as its `order.*` webhooks send it)."""
    payload = _as_object(payload)
    external_id = _order_id(payload)
    billing = _object(payload.get("billing"))
    body = {
        "number": _id_text(payload.get("number")) or external_id,
        "placed_at": _utc(payload.get("date_created_gmt")),
        "currency": payload.get("currency"),
        "customer": {
            "email": _text(billing.get("email")),
            "first_name": _text(billing.get("first_name")),
            "last_name": _text(billing.get("last_name")),
            # WooCommerce core has neither a language nor a marketing opt-in.
            "language": "",
            "marketing_consent": None,
        },
        "lines": [_woocommerce_line(line) for line in _list(payload.get("line_items"))],
        "shipped_at": _utc(payload.get("date_completed_gmt")),
        "delivered_at": None,
    }
    return PlatformOrder(external_id=external_id, body=body)


def _woocommerce_line(line: Any) -> dict[str, Any]:
    line = _object(line)
    return {
        "external_id": _id_text(line.get("id")),
        "sku": _text(line.get("sku"))
        or _fallback_sku(
            "woocommerce",
            line,
            (("variation", "variation_id"), ("product", "product_id"), ("line", "id")),
        ),
        # Names come HTML-escaped ("Hoodie &ndash; Blue").
        "name": html.unescape(_text(line.get("name"))),
        "category": "",
        "quantity": line.get("quantity"),
        "unit_price": _cents(line.get("price")),
    }


# Error paths ----------------------------------------------------------------

_PATHS = {
    "shopify": {
        "number": "name",
        "placed_at": "created_at",
        "currency": "currency",
        "customer": "customer",
        "customer.email": "email",
        "customer.first_name": "customer.first_name",
        "customer.last_name": "customer.last_name",
        "customer.language": "customer_locale",
        "customer.marketing_consent": "buyer_accepts_marketing",
        "lines": "line_items",
        "shipped_at": "fulfillments",
        "delivered_at": "fulfillments",
    },
    "woocommerce": {
        "number": "number",
        "placed_at": "date_created_gmt",
        "currency": "currency",
        "customer": "billing",
        "customer.email": "billing.email",
        "customer.first_name": "billing.first_name",
        "customer.last_name": "billing.last_name",
        "lines": "line_items",
        "shipped_at": "date_completed_gmt",
    },
}
_LINE_FIELDS = {
    "shopify": {
        "external_id": "id",
        "sku": "sku",
        "name": "title",
        "category": "product_type",
        "quantity": "quantity",
        "unit_price": "price",
    },
    "woocommerce": {
        "external_id": "id",
        "sku": "sku",
        "name": "name",
        "quantity": "quantity",
        "unit_price": "price",
    },
}


def platform_path(platform: str, path: str) -> str:
    """Our API's JSON path of a field -> where it is in the platform's payload."""
    match = _LINE_PATH.match(path)
    if match:
        index, name = match.groups()
        field = _LINE_FIELDS[platform].get(name or "", name)
        return f"line_items[{index}]" + (f".{field}" if field else "")
    return _PATHS[platform].get(path, path)
