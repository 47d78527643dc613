"""The shop-facing REST API: the shop and 3PLs push products, orders and deliveries.

Views parse, validate with `shop.serializers`, call one service and answer. Every
error has one shape: `{"errors": [{"path": "lines[0].unit_price", "message": ...}]}`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DataError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from shop.api_auth import TokenScopes
from shop.models import (
    ApiScope,
    ConsentSource,
    Order,
    OrderLine,
    OrderSource,
    Product,
)
from shop.serializers import (
    UNSTORABLE_TEXT,
    OrderInSerializer,
    ProductInSerializer,
    error_paths,
    unstorable_text_path,
)
from shop.services import LinesInUse, record_delivery, upsert_order, upsert_product

EXTERNAL_ID_MAX_LENGTH = Order._meta.get_field("external_id").max_length
SKU_MAX_LENGTH = Product._meta.get_field("sku").max_length


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


def api_exception_handler(exc, context):
    """DRF's handler, with every error body reshaped to `{"errors": [...]}`."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = error_paths(exc.detail)
    else:
        detail = getattr(exc, "detail", response.data.get("detail", ""))
        errors = [{"path": "$", "message": str(detail)}]
    response.data = {"errors": errors}
    return response


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Token <key>` in the schema and Swagger's Authorize."""

    target_class = "shop.api_auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Token",  # noqa: S106 (the scheme name, not a secret)
        )


def public_endpoints_only(endpoints, **kwargs):
    """drf-spectacular hook: the schema covers /api/v1/, not Wagtail's admin API."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


def _too_large_to_store() -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {"$": [_("A value is too large to store (check quantities and prices).")]}
    )


# Response bodies ------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text=_("JSON path of the bad field; $ = body."))
    message = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)


class ProductOutSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", default="")

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "category",
            "price",
            "currency",
            "product_url",
            "image_url",
        ]


class OrderCustomerOutSerializer(serializers.Serializer):
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    language = serializers.CharField()
    marketing_consent = serializers.BooleanField()


class OrderLineOutSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = OrderLine
        fields = ["external_id", "sku", "name", "quantity", "unit_price", "line_total"]


class OrderOutSerializer(serializers.ModelSerializer):
    customer = OrderCustomerOutSerializer()
    lines = OrderLineOutSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "external_id",
            "number",
            "source",
            "placed_at",
            "shipped_at",
            "delivered_at",
            "currency",
            "total",
            "customer",
            "lines",
        ]


def _order_out(order: Order) -> dict:
    """The order as JSON, read back in three queries whatever the number of lines."""
    order = (
        Order.objects.select_related("customer")
        .prefetch_related("lines__product")
        .get(pk=order.pk)
    )
    return OrderOutSerializer(order).data


# Request bodies that only the API has ----------------------------------------


class BatchOrderInSerializer(OrderInSerializer):
    """One order of a batch: the order body plus its external id."""

    external_id = serializers.CharField(max_length=EXTERNAL_ID_MAX_LENGTH)


class BatchInSerializer(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        help_text=_("Each item is an order with its external_id."),
    )

    def validate_orders(self, orders):
        limit = settings.API_BATCH_MAX_ORDERS
        if len(orders) > limit:
            raise serializers.ValidationError(
                _("At most %(limit)d orders per batch; got %(count)d.")
                % {"limit": limit, "count": len(orders)}
            )
        return orders


class BatchInDocSerializer(serializers.Serializer):
    """The batch body as documented; items are validated one by one in the view."""

    orders = BatchOrderInSerializer(
        many=True, allow_empty=False, max_length=settings.API_BATCH_MAX_ORDERS
    )


class BatchResultSerializer(serializers.Serializer):
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "rejected"])
    errors = ErrorSerializer(many=True)


class BatchOutSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = serializers.IntegerField()


class DeliveryInSerializer(serializers.Serializer):
    """When the order shipped and/or arrived; a time left out keeps what we have."""

    shipped_at = serializers.DateTimeField(required=False, allow_null=True)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        order = self.context["order"]
        given_shipped, given_delivered = (
            attrs.get("shipped_at"),
            attrs.get("delivered_at"),
        )
        if given_shipped is None and given_delivered is None:
            raise serializers.ValidationError(
                _("Give shipped_at, delivered_at or both.")
            )
        shipped = given_shipped or order.shipped_at
        delivered = given_delivered or order.delivered_at
        for name, value in (("shipped_at", shipped), ("delivered_at", delivered)):
            if attrs.get(name) and value < order.placed_at:
                raise serializers.ValidationError(
                    {name: [_("Cannot be before the order was placed.")]}
                )
        if shipped and delivered and delivered < shipped:
            if given_delivered:
                raise serializers.ValidationError(
                    {"delivered_at": [_("Cannot be before shipped_at.")]}
                )
            raise serializers.ValidationError(
                {"shipped_at": [_("Cannot be after delivered_at.")]}
            )
        return attrs


# Views -------------------------------------------------------------------------

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorsSerializer, description=_("Invalid body.")),
    401: OpenApiResponse(ErrorsSerializer, description=_("Missing or bad token.")),
    403: OpenApiResponse(
        ErrorsSerializer, description=_("The token's scopes do not cover this.")
    ),
    413: OpenApiResponse(ErrorsSerializer, description=_("Body too large.")),
}


class StorableJSONParser(parsers.JSONParser):
    """JSON whose every string the database can store: a NUL or a lone surrogate
    is refused here, naming its path, rather than failing the write later."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        path = unstorable_text_path(data)
        if path is not None:
            raise exceptions.ValidationError({path: [UNSTORABLE_TEXT]})
        return data


class ShopApiView(APIView):
    """Token-authenticated, for tokens whose scopes include `required_scope`;
    refuses a body above API_MAX_BODY_BYTES unread."""

    parser_classes = [StorableJSONParser]
    permission_classes = [IsAuthenticated, TokenScopes]
    required_scope: str | None = None

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge()


def _check_length(name: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise exceptions.ValidationError(
            {name: [_("At most %(max)d characters.") % {"max": max_length}]}
        )


class ProductView(ShopApiView):
    required_scope = ApiScope.ORDERS

    @extend_schema(
        operation_id="products_upsert",
        summary=_("Create or update a product by SKU"),
        description=_("A new category name creates the category."),
        request=ProductInSerializer,
        responses={200: ProductOutSerializer, 201: ProductOutSerializer}
        | ERROR_RESPONSES,
    )
    def put(self, request, sku: str):
        _check_length("sku", sku, SKU_MAX_LENGTH)
        serializer = ProductInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product, created = upsert_product(sku=sku, **serializer.validated_data)
        return Response(
            ProductOutSerializer(product).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class OrderView(ShopApiView):
    required_scope = ApiScope.ORDERS

    @extend_schema(
        operation_id="orders_upsert",
        summary=_("Create or update an order, its customer and lines"),
        description=_(
            "Lines are matched on their external_id; lines left out are removed. "
            "An unknown SKU becomes a product from the line's name and category."
        ),
        request=OrderInSerializer,
        responses={
            200: OrderOutSerializer,
            201: OrderOutSerializer,
            409: OpenApiResponse(
                ErrorsSerializer,
                description=_("The update leaves out lines that a return refers to."),
            ),
        }
        | ERROR_RESPONSES,
    )
    def put(self, request, external_id: str):
        _check_length("external_id", external_id, EXTERNAL_ID_MAX_LENGTH)
        serializer = OrderInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = upsert_order(
                data=serializer.to_order_data(external_id),
                source=OrderSource.SHOP,
                consent_source=ConsentSource.CHECKOUT,
            )
        except DataError as exc:
            raise _too_large_to_store() from exc
        except LinesInUse as exc:
            return Response(
                {"errors": [{"path": "lines", "message": exc.message}]},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            _order_out(result.order),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class OrderBatchView(ShopApiView):
    required_scope = ApiScope.ORDERS

    @extend_schema(
        operation_id="orders_batch_upsert",
        summary=_("Create or update up to API_BATCH_MAX_ORDERS orders"),
        description=_(
            "Each order is written in its own transaction and answered on its own: "
            "a rejected order writes nothing and does not hold up the others. A "
            "second order with the same external_id in one batch is rejected."
        ),
        request=BatchInDocSerializer,
        responses={200: BatchOutSerializer} | ERROR_RESPONSES,
    )
    def post(self, request):
        serializer = BatchInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results, seen = [], set()
        for item in serializer.validated_data["orders"]:
            results.append(self._upsert_one(item, seen))
        counts = {
            key: sum(1 for r in results if r["status"] == key)
            for key in ("created", "updated", "rejected")
        }
        return Response({"results": results, **counts})

    @staticmethod
    def _upsert_one(item, seen: set[str]) -> dict:
        """Validate and upsert one order of the batch; its own transaction."""
        raw_id = item.get("external_id") if isinstance(item, dict) else None
        order_in = BatchOrderInSerializer(data=item)
        if not order_in.is_valid():
            return _batch_result(
                raw_id if isinstance(raw_id, str) else None,
                "rejected",
                error_paths(order_in.errors),
            )
        external_id = order_in.validated_data["external_id"]
        if external_id in seen:
            return _batch_result(
                external_id,
                "rejected",
                [
                    {
                        "path": "external_id",
                        "message": _("Appears earlier in this batch."),
                    }
                ],
            )
        seen.add(external_id)
        try:
            result = upsert_order(
                data=order_in.to_order_data(external_id),
                source=OrderSource.SHOP,
                consent_source=ConsentSource.CHECKOUT,
            )
        except DataError:
            return _batch_result(
                external_id, "rejected", error_paths(_too_large_to_store().detail)
            )
        except LinesInUse as exc:
            return _batch_result(
                external_id, "rejected", [{"path": "lines", "message": exc.message}]
            )
        return _batch_result(external_id, "created" if result.created else "updated")


def _batch_result(external_id: str | None, outcome: str, errors=()) -> dict:
    return {
        "external_id": external_id,
        "status": outcome,
        "errors": [
            {"path": error["path"], "message": str(error["message"])}
            for error in errors
        ],
    }


class OrderDeliveryView(ShopApiView):
    required_scope = ApiScope.ORDERS

    @extend_schema(
        operation_id="orders_delivery",
        summary=_("Record when an order shipped and/or was delivered"),
        description=_(
            "Give shipped_at, delivered_at or both; a time left out keeps the one "
            "already recorded. delivered_at cannot be before shipped_at."
        ),
        request=DeliveryInSerializer,
        responses={
            200: OrderOutSerializer,
            404: OpenApiResponse(ErrorsSerializer, description=_("Unknown order.")),
        }
        | ERROR_RESPONSES,
    )
    def post(self, request, external_id: str):
        order = get_object_or_404(
            Order, source=OrderSource.SHOP, external_id=external_id
        )
        serializer = DeliveryInSerializer(data=request.data, context={"order": order})
        serializer.is_valid(raise_exception=True)
        order = record_delivery(
            order=order,
            shipped_at=serializer.validated_data.get("shipped_at"),
            delivered_at=serializer.validated_data.get("delivered_at"),
        )
        return Response(_order_out(order))
