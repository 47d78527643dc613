"""The policy endpoints the shop uses: the public JSON summary of the policy that
applies to a product, and the printable return insert (token auth).

Errors have the API's one shape: `{"errors": [{"path": "sku", "message": ...}]}`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cms import policy_text
from cms.embed import PolicyNotFound, cache_headers, etag_matches, policy_answer
from cms.insert import render_return_insert
from cms.return_links import return_start_path
from shop.api import ERROR_RESPONSES, ErrorsSerializer, ShopApiView
from shop.models import ApiScope, Order, OrderSource

# Response bodies ---------------------------------------------------------------


class ShippingSerializer(serializers.Serializer):
    paid_by = serializers.ChoiceField(choices=["customer", "shop"])
    cost = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text=_("What the customer pays.")
    )
    currency = serializers.CharField()


class PolicyShippingSerializer(serializers.Serializer):
    change_of_mind = ShippingSerializer()
    shop_at_fault = ShippingSerializer()


class ReturnlessSerializer(serializers.Serializer):
    max_item_value = serializers.DecimalField(
        max_digits=8, decimal_places=2, allow_null=True
    )
    min_cost_ratio_percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True
    )


class PolicyOutSerializer(serializers.Serializer):
    sku = serializers.CharField()
    lang = serializers.CharField()
    title = serializers.CharField()
    headline = serializers.CharField(help_text=_("For example “30-day free returns”."))
    summary = serializers.CharField()
    url = serializers.CharField(help_text=_("The policy page."))
    window_days = serializers.IntegerField(help_text=_("Counted from delivery."))
    resolutions = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["refund", "exchange", "store_credit", "repair"]
        )
    )
    store_credit_bonus_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2
    )
    shipping = PolicyShippingSerializer()
    restocking_fee_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        help_text=_("On a change of mind only; never when the shop is at fault."),
    )
    condition_required = serializers.CharField(allow_blank=True)
    not_returnable = serializers.BooleanField()
    not_returnable_reason = serializers.CharField(allow_blank=True)
    returnless = ReturnlessSerializer()
    valid_from = serializers.DateTimeField(
        help_text=_("When this version was published.")
    )
    json_ld = serializers.DictField(help_text=_("schema.org MerchantReturnPolicy."))


def policy_json(*, sku: str, lang: str, rules) -> dict:
    def shipping(shop_at_fault: bool) -> dict:
        return {
            "paid_by": rules.shipping_payer(shop_at_fault=shop_at_fault),
            "cost": rules.shipping_cost(shop_at_fault=shop_at_fault),
            "currency": rules.currency,
        }

    return PolicyOutSerializer(
        {
            "sku": sku,
            "lang": lang,
            "title": rules.title,
            "headline": policy_text.headline(rules),
            "summary": rules.summary,
            "url": rules.url,
            "window_days": rules.window_days,
            "resolutions": list(rules.resolutions),
            "store_credit_bonus_percent": rules.store_credit_bonus_percent,
            "shipping": {
                "change_of_mind": shipping(False),
                "shop_at_fault": shipping(True),
            },
            "restocking_fee_percent": rules.restocking_fee_percent,
            "condition_required": rules.condition_required,
            "not_returnable": rules.not_returnable,
            "not_returnable_reason": rules.not_returnable_reason,
            "returnless": {
                "max_item_value": rules.returnless_max_item_value,
                "min_cost_ratio_percent": rules.returnless_min_cost_ratio,
            },
            "valid_from": rules.valid_from,
            "json_ld": policy_text.merchant_return_policy(rules),
        }
    ).data


def _error(path: str, message, status: int) -> Response:
    return Response(
        {"errors": [{"path": path, "message": str(message)}]}, status=status
    )


# Views -------------------------------------------------------------------------


class PolicyForProductView(ShopApiView):
    """Public: the shop's product pages read it from the visitor's browser (CORS)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="policies_for_product",
        summary=_("The return policy that applies to a product"),
        description=_(
            "Public and cacheable (Cache-Control max-age 60, ETag; send If-None-Match "
            "for a 304). A publish shows within a minute."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "lang",
                OpenApiTypes.STR,
                enum=["en", "nl"],
                description=_("Language of the texts; default en."),
            )
        ],
        responses={
            200: PolicyOutSerializer,
            304: OpenApiResponse(description=_("Not modified (If-None-Match).")),
            400: OpenApiResponse(ErrorsSerializer, description=_("Unknown language.")),
            404: OpenApiResponse(
                ErrorsSerializer, description=_("Unknown SKU or no policy applies.")
            ),
        },
    )
    def get(self, request, sku: str):
        try:
            answer = policy_answer(
                kind="json",
                sku=sku,
                lang=request.query_params.get("lang"),
                render=_render_json,
            )
        except PolicyNotFound as exc:
            return _error(exc.path, exc.message, exc.status)
        if etag_matches(request, answer.etag):
            return cache_headers(HttpResponse(status=304), answer.etag)
        response = HttpResponse(answer.body, content_type="application/json")
        return cache_headers(response, answer.etag)


def _render_json(found) -> bytes:
    with translation.override(found.lang):
        body = policy_json(sku=found.product.sku, lang=found.lang, rules=found.rules)
    return JSONRenderer().render(body)


class PdfApiView(ShopApiView):
    def perform_content_negotiation(self, request, force=False):
        # A PDF client sends Accept: application/pdf; errors are still JSON.
        return super().perform_content_negotiation(request, force=True)


class ReturnInsertView(PdfApiView):
    # Printed when an order is packed: the shop's order back end asks for it.
    required_scope = ApiScope.ORDERS

    @extend_schema(
        operation_id="orders_return_insert",
        summary=_("The printable return insert of an order (A4 PDF)"),
        description=_(
            "The policies of the products in the parcel, in the customer's language, "
            "and a QR code that opens the returns portal for the order."
        ),
        parameters=[
            OpenApiParameter(
                "source",
                OpenApiTypes.STR,
                enum=[choice for choice, _ in OrderSource.choices],
                description=_("Where the order came from; default shop."),
            )
        ],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: OpenApiResponse(ErrorsSerializer, description=_("Unknown order.")),
        }
        | ERROR_RESPONSES,
    )
    def get(self, request, external_id: str):
        source = request.query_params.get("source") or OrderSource.SHOP
        if source not in OrderSource.values:
            raise exceptions.ValidationError({"source": [_("Unknown order source.")]})
        order = (
            Order.objects.select_related("customer")
            .filter(source=source, external_id=external_id)
            .first()
        )
        if order is None:
            return _error("external_id", _("Unknown order."), 404)
        path = return_start_path(order, language=order.customer.language or "en")
        # The site's public address: the packing station may call us on another host.
        url = settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path
        pdf = render_return_insert(order=order, return_url=url)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="return-insert-{order.number}.pdf"'
        )
        response["Cache-Control"] = "private, no-store"
        return response
