"""The returns API for fulfilment centres (3PLs) and the shop.

- `POST /api/v1/returns/{rma}/events`: a centre reports received / inspected /
  disposition for a return routed to it. Idempotent by the centre's `event_id`: a
  replay gets the same answer and changes nothing.
- `GET /api/v1/returns?status=&centre=`: returns, paginated. A centre's token sees
  only its own returns; the shop's token sees all and may filter by centre code.
- `GET /api/v1/returns/export.csv?centre=`: one row per line of the returns a centre
  should expect (approved or on their way, with something to send back).

Errors have the shop API's shape: `{"errors": [{"path", "message"}]}`.
"""

from __future__ import annotations

import csv
import io

from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from returns import services
from returns.api_auth import CentreTokenAuthentication
from returns.models import (
    Condition,
    Disposition,
    FulfilmentCentre,
    ReturnEvent,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
)
from shop.api import ERROR_RESPONSES, ErrorsSerializer, ShopApiView
from shop.api_auth import ApiTokenAuthentication
from shop.models import ApiScope

STATUS_FOR = {
    services.UnknownReturn: status.HTTP_404_NOT_FOUND,
    services.NotYourReturn: status.HTTP_404_NOT_FOUND,
    services.IllegalTransition: status.HTTP_409_CONFLICT,
    services.EventConflict: status.HTTP_409_CONFLICT,
}
NOT_FOUND = {404: OpenApiResponse(ErrorsSerializer, description=_("Unknown return."))}


def _refusal(exc: services.ReturnsError) -> Response:
    return Response(
        {"errors": [{"path": exc.field or "$", "message": exc.message}]},
        status=STATUS_FOR.get(type(exc), status.HTTP_422_UNPROCESSABLE_ENTITY),
    )


# Bodies ---------------------------------------------------------------------------------


class EventLineInSerializer(serializers.Serializer):
    line_id = serializers.IntegerField(help_text=_("The return line's id."))
    condition = serializers.ChoiceField(
        choices=Condition.choices, required=False, allow_blank=True
    )
    confirmed_reason = serializers.SlugField(
        required=False, allow_blank=True, help_text=_("A return reason code.")
    )
    disposition = serializers.ChoiceField(
        choices=Disposition.choices, required=False, allow_blank=True
    )


class EventInSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        max_length=100, help_text=_("Your id for this event; a replay is ignored.")
    )
    kind = serializers.ChoiceField(choices=list(services.CENTRE_KINDS))
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    lines = EventLineInSerializer(many=True, required=False)


class EventOutSerializer(serializers.Serializer):
    event_id = serializers.CharField(source="external_id")
    kind = serializers.CharField()
    rma = serializers.CharField(source="request.rma")
    status = serializers.CharField(
        source="to_status", help_text=_("The return's status after this event.")
    )
    occurred_at = serializers.DateTimeField()


class ReturnLineOutSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="order_line.product.sku")
    name = serializers.CharField(source="order_line.product.name")
    order_line_external_id = serializers.CharField(source="order_line.external_id")
    reason = serializers.CharField(source="reason.code")
    confirmed_reason = serializers.CharField(
        source="confirmed_reason.code", default=None, allow_null=True
    )
    requested_resolution = serializers.CharField(
        help_text=_("refund, exchange, store_credit or repair.")
    )
    resolution = serializers.CharField(
        help_text=_("The final resolution; empty until resolved.")
    )

    class Meta:
        model = ReturnLine
        fields = [
            "id",
            "order_line_external_id",
            "sku",
            "name",
            "quantity",
            "reason",
            "confirmed_reason",
            "requested_resolution",
            "resolution",
            "returnless",
            "unit_value",
            "refund_amount",
            "restocking_fee",
            "store_credit_amount",
            "condition",
            "disposition",
            "value_recovered",
        ]


class ReturnOutSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")
    order_external_id = serializers.CharField(source="order.external_id")
    centre = serializers.CharField(source="centre.code", default=None, allow_null=True)
    lines = ReturnLineOutSerializer(many=True)

    class Meta:
        model = ReturnRequest
        fields = [
            "rma",
            "status",
            "order_number",
            "order_external_id",
            "centre",
            "channel",
            "needs_approval",
            "currency",
            "shipping_cost",
            "shipping_paid_by",
            "shipping_charge",
            "handling_cost",
            "refund_total",
            "restocking_fee_total",
            "store_credit_total",
            "value_recovered",
            "created_at",
            "updated_at",
            "resolved_at",
            "lines",
        ]


class ReturnPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReturnOutSerializer(many=True)


class ReturnsPage(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# Views ----------------------------------------------------------------------------------


class ReturnsApiView(ShopApiView):
    authentication_classes = [CentreTokenAuthentication, ApiTokenAuthentication]
    required_scope = ApiScope.RETURNS  # a shop token's; a centre's key is its own
    other_credentials_checked = True  # each view limits a centre to its returns

    @property
    def centre(self) -> FulfilmentCentre | None:
        auth = self.request.auth
        return auth if isinstance(auth, FulfilmentCentre) else None

    def requested_centre(self) -> FulfilmentCentre | None:
        """The caller's own centre, or the shop's `?centre=` choice."""
        if self.centre is not None:
            return self.centre
        code = self.request.query_params.get("centre", "").strip()
        if not code:
            return None
        centre = FulfilmentCentre.objects.filter(code=code).first()
        if centre is None:
            raise exceptions.ValidationError({"centre": [_("Unknown centre code.")]})
        return centre


def _returns_queryset():
    return (
        ReturnRequest.objects.select_related("order", "centre")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReturnLine.objects.select_related(
                    "order_line__product", "reason", "confirmed_reason"
                ),
            )
        )
        .order_by("-created_at", "-pk")
    )


class ReturnEventsView(ReturnsApiView):
    @extend_schema(
        operation_id="returns_events_create",
        summary=_("Report what happened to a return at your centre"),
        description=_(
            "received (with each line's condition), inspected (confirmed reason, "
            "condition, disposition) or disposition. Only for returns routed to your "
            "centre. Replaying an event_id returns the first answer and changes "
            "nothing."
        ),
        request=EventInSerializer,
        responses={
            200: EventOutSerializer,
            403: OpenApiResponse(
                ErrorsSerializer, description=_("Not a fulfilment centre's token.")
            ),
            409: OpenApiResponse(
                ErrorsSerializer,
                description=_("The return cannot take this step now."),
            ),
            422: OpenApiResponse(ErrorsSerializer, description=_("Bad line data.")),
        }
        | NOT_FOUND
        | ERROR_RESPONSES,
    )
    def post(self, request, rma: str):
        if self.centre is None:
            raise exceptions.PermissionDenied(
                _("Only a fulfilment centre's token can report return events.")
            )
        serializer = EventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            event, _created = services.centre_event(
                centre=self.centre,
                rma=rma,
                event_id=data["event_id"],
                kind=data["kind"],
                lines=data.get("lines", []),
                note=data.get("note", ""),
            )
        except services.ReturnsError as exc:
            return _refusal(exc)
        return Response(EventOutSerializer(event).data, status=status.HTTP_200_OK)


class ReturnListView(ReturnsApiView):
    @extend_schema(
        operation_id="returns_list",
        summary=_("List returns"),
        description=_(
            "Newest first. A centre's token lists only that centre's returns."
        ),
        parameters=[
            OpenApiParameter(
                "status", str, enum=ReturnStatus.values, description=_("Filter.")
            ),
            OpenApiParameter(
                "centre", str, description=_("A centre code (shop tokens only).")
            ),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={
            200: ReturnPageSerializer,
            404: OpenApiResponse(
                ErrorsSerializer, description=_("A page past the last one.")
            ),
        }
        | ERROR_RESPONSES,
    )
    def get(self, request):
        returns = _returns_queryset()
        centre = self.requested_centre()
        if centre is not None:
            returns = returns.filter(centre=centre)
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted.strip() not in ReturnStatus.values:
                raise exceptions.ValidationError({"status": [_("Unknown status.")]})
            returns = returns.filter(status=wanted.strip())
        paginator = ReturnsPage()
        page = paginator.paginate_queryset(returns, request, view=self)
        return paginator.get_paginated_response(
            ReturnOutSerializer(page, many=True).data
        )


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


EXPECTED_STATUSES = (ReturnStatus.APPROVED, ReturnStatus.IN_TRANSIT)
CSV_COLUMNS = [
    "rma",
    "status",
    "approved_at",
    "order_number",
    "customer_name",
    "line_id",
    "sku",
    "product",
    "quantity",
    "reason",
    "requested_resolution",
]


class ReturnExportView(ReturnsApiView):
    @extend_schema(
        operation_id="returns_export_csv",
        summary=_("Returns a centre should expect, as CSV"),
        description=_(
            "One row per line to send back, of returns approved or on their way. "
            "A shop token must name the centre."
        ),
        parameters=[OpenApiParameter("centre", str, description=_("A centre code."))],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description=_("CSV with a header row.")
            )
        }
        | ERROR_RESPONSES,
    )
    def get(self, request):
        centre = self.requested_centre()
        if centre is None:
            raise exceptions.ValidationError({"centre": [_("Name a centre.")]})
        approved_at = {
            event.request_id: event.occurred_at
            for event in ReturnEvent.objects.filter(
                request__centre=centre,
                request__status__in=EXPECTED_STATUSES,
                to_status=ReturnStatus.APPROVED,
            )
        }
        lines = (
            ReturnLine.objects.filter(
                request__centre=centre,
                request__status__in=EXPECTED_STATUSES,
                returnless=False,
            )
            .select_related(
                "request__order", "request__customer", "order_line__product", "reason"
            )
            .order_by("request__created_at", "request_id", "pk")
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for line in lines:
            request_ = line.request
            when = approved_at.get(request_.pk)
            writer.writerow(
                _cell(value)
                for value in [
                    request_.rma,
                    request_.status,
                    when.isoformat() if when else "",
                    request_.order.number,
                    request_.customer.full_name,
                    line.pk,
                    line.order_line.product.sku,
                    line.order_line.product.name,
                    line.quantity,
                    line.reason.code,
                    line.requested_resolution,
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="returns-{centre.code}.csv"'
        )
        return response
