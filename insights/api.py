"""The insights API for the shop (its API token, shop/api_auth.py):

- `GET /api/v1/insights/serial-returners`: customers treated as serial returners
  (the rule or an override), highest return rate first, paginated — so campaigns can
  leave them out.
- `GET /api/v1/insights/products?since=&min_units=`: products to fix, highest
  priority first, paginated (see insights.queries.products_to_fix).

Errors have the shop API's shape: `{"errors": [{"path", "message"}]}`.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination

from insights import queries
from insights.models import CustomerInsight, Override
from shop.api import ERROR_RESPONSES, ErrorsSerializer, ShopApiView
from shop.models import ApiScope

RATE = {"max_digits": 7, "decimal_places": 4}
MONEY = {"max_digits": 14, "decimal_places": 2}


PAST_THE_END = {
    404: OpenApiResponse(ErrorsSerializer, description=_("A page past the last one."))
}


class InsightsPage(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        """A page size that is given must be a whole number from 1 to 200; DRF would
        quietly take the default instead."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        _("Give a whole number from 1 to %(max)d.")
                        % {"max": self.max_page_size}
                    ]
                }
            )
        return int(raw)


# Bodies ---------------------------------------------------------------------------------


class SerialReturnerSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="customer.email")
    units = serializers.IntegerField(
        source="delivered_units", help_text=_("Units delivered in the window.")
    )
    return_rate = serializers.DecimalField(
        **RATE, help_text=_("Returned units / delivered units, from 0 to 1.")
    )
    value_return_rate = serializers.DecimalField(**RATE)
    override = serializers.ChoiceField(
        choices=Override.choices,
        help_text=_("always / never: set by staff; empty: as computed."),
    )

    class Meta:
        model = CustomerInsight
        fields = [
            "email",
            "orders",
            "units",
            "returned_units",
            "return_rate",
            "delivered_value",
            "returned_value",
            "value_return_rate",
            "flagged_since",
            "override",
        ]


class SerialReturnerPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SerialReturnerSerializer(many=True)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    controllable = serializers.BooleanField()
    units = serializers.IntegerField()
    share = serializers.DecimalField(
        **RATE, help_text=_("Share of the product's returned units.")
    )


class ProductSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    units = serializers.IntegerField(help_text=_("Units delivered."))
    returned_units = serializers.IntegerField()
    return_rate = serializers.DecimalField(**RATE)
    controllable_return_rate = serializers.DecimalField(**RATE)
    category_return_rate = serializers.DecimalField(**RATE)
    category_controllable_rate = serializers.DecimalField(**RATE)
    wilson_lower = serializers.DecimalField(
        **RATE,
        help_text=_("Lower bound of the controllable rate's Wilson interval."),
    )
    money_lost = serializers.DecimalField(**MONEY)
    priority = serializers.DecimalField(
        **MONEY, help_text=_("What a fix would save: excess rate × units × loss.")
    )
    fix_area = serializers.CharField()
    top_reasons = ReasonSerializer(many=True)


class ProductPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ProductSerializer(many=True)


# Views ----------------------------------------------------------------------------------


class SerialReturnersView(ShopApiView):
    required_scope = ApiScope.INSIGHTS

    @extend_schema(
        operation_id="insights_serial_returners",
        summary=_("List serial returners"),
        description=_(
            "Customers who return most of what they buy (the rule in the insights "
            "settings, or a staff override), highest return rate first. Figures "
            "cover the settings' window and are recomputed nightly and when a "
            "return is filed or resolved."
        ),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: SerialReturnerPageSerializer} | PAST_THE_END | ERROR_RESPONSES,
    )
    def get(self, request):
        paginator = InsightsPage()
        page = paginator.paginate_queryset(
            queries.serial_returners(), request, view=self
        )
        return paginator.get_paginated_response(
            SerialReturnerSerializer(page, many=True).data
        )


class ProductsView(ShopApiView):
    required_scope = ApiScope.INSIGHTS

    @extend_schema(
        operation_id="insights_products",
        summary=_("List products to fix"),
        description=_(
            "Products whose controllable return rate is clearly above their "
            "category's (the lower bound of its Wilson interval is above the "
            "category's rate), with enough units; highest priority first."
        ),
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.DATE,
                description=_("Orders placed on or after this day (default: all)."),
            ),
            OpenApiParameter(
                "min_units",
                int,
                description=_("At least this many units (default: the settings')."),
            ),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: ProductPageSerializer} | PAST_THE_END | ERROR_RESPONSES,
    )
    def get(self, request):
        since = _since(request.query_params.get("since", "").strip())
        min_units = _min_units(request.query_params.get("min_units", "").strip())
        rows = queries.products_to_fix(start=since, end=None, min_units=min_units)
        paginator = InsightsPage()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ProductSerializer(page, many=True).data)


def _since(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise exceptions.ValidationError(
            {"since": [_("A date as YYYY-MM-DD.")]}
        ) from None


def _min_units(value: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 10**9:
        raise exceptions.ValidationError(
            {"min_units": [_("A whole number of at least 1.")]}
        )
    return int(value)
