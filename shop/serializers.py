"""Validation of order and product bodies from outside (API and webhooks).

A valid body becomes the services' dataclasses; an invalid one becomes a list of
errors, each naming the JSON path of the bad field (`lines[2].unit_price`).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from shop.models import Language
from shop.services import CustomerData, LineData, OrderData

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0")}


class CurrencyField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(
            r"^[A-Za-z]{3}$",
            error_messages={"invalid": _("Use a three-letter ISO 4217 code.")},
            **kwargs,
        )

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class CustomerInSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )
    last_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )
    language = serializers.ChoiceField(
        choices=Language.choices, required=False, allow_blank=True, default=""
    )
    marketing_consent = serializers.BooleanField(
        required=False, allow_null=True, default=None
    )


class LineInSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64)
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default=""
    )
    category = serializers.CharField(
        max_length=120, required=False, allow_blank=True, default=""
    )
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = serializers.DecimalField(**MONEY)


class OrderInSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64)
    placed_at = serializers.DateTimeField()
    currency = CurrencyField()
    customer = CustomerInSerializer()
    lines = LineInSerializer(many=True, allow_empty=False, max_length=1000)
    shipped_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None
    )
    delivered_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None
    )

    def validate_lines(self, lines):
        seen = set()
        for index, line in enumerate(lines):
            if line["external_id"] in seen:
                raise serializers.ValidationError(
                    {index: {"external_id": [_("Appears twice in this order.")]}}
                )
            seen.add(line["external_id"])
        return lines

    def validate(self, attrs):
        placed, shipped, delivered = (
            attrs["placed_at"],
            attrs.get("shipped_at"),
            attrs.get("delivered_at"),
        )
        if shipped and shipped < placed:
            raise serializers.ValidationError(
                {"shipped_at": [_("Cannot be before placed_at.")]}
            )
        if delivered and delivered < placed:
            raise serializers.ValidationError(
                {"delivered_at": [_("Cannot be before placed_at.")]}
            )
        return attrs

    def to_order_data(self, external_id: str) -> OrderData:
        v = self.validated_data
        return OrderData(
            external_id=external_id,
            number=v["number"],
            placed_at=v["placed_at"],
            currency=v["currency"],
            customer=CustomerData(**v["customer"]),
            lines=tuple(LineData(**line) for line in v["lines"]),
            shipped_at=v.get("shipped_at"),
            delivered_at=v.get("delivered_at"),
        )


class ProductInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    category = serializers.CharField(
        max_length=120, required=False, allow_blank=True, default=""
    )
    price = serializers.DecimalField(**MONEY)
    currency = CurrencyField()
    product_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    image_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, default=""
    )


def unstorable_text_path(data, prefix: str = "") -> str | None:
    """The JSON path of the first string in `data` that the database cannot store:
    one with a NUL character or a lone surrogate (valid JSON, `"\\ud800"`, but not
    UTF-8). A bad object key is reported at its object. None when all is well."""
    if isinstance(data, str):
        return None if _storable(data) else prefix or "$"
    if isinstance(data, dict):
        for key, value in data.items():
            if not _storable(key):
                return prefix or "$"
            found = unstorable_text_path(value, f"{prefix}.{key}" if prefix else key)
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = unstorable_text_path(value, f"{prefix}[{index}]")
            if found is not None:
                return found
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


UNSTORABLE_TEXT = _(
    "Contains a character that cannot be stored (a NUL or a lone UTF-16 surrogate)."
)


def error_paths(errors, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested errors into [{"path": "lines[0].sku", "message": ...}]."""
    flat: list[dict[str, str]] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int) or str(key).isdigit():
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            flat.extend(error_paths(value, path))
    elif isinstance(errors, list):
        if all(isinstance(item, str) for item in errors):
            flat.extend({"path": prefix or "$", "message": str(m)} for m in errors)
        else:
            for index, item in enumerate(errors):
                if item:
                    flat.extend(error_paths(item, f"{prefix}[{index}]"))
    else:
        flat.append({"path": prefix or "$", "message": str(errors)})
    return flat
