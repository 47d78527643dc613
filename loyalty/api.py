"""The shop checks and spends coupons: /api/v1/coupons/{code}[/redeem|/release].

Refusals name their reason in `code`: unknown (404), expired, already_used,
insufficient_value, not_redeemed (409), wrong_currency, amount_required (422).
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from loyalty import services
from loyalty.models import Coupon, CouponKind, CouponRedemption
from loyalty.queries import coupon_status
from shop.api import ERROR_RESPONSES, ShopApiView
from shop.models import ApiScope

STATUS_FOR = {
    services.UnknownCoupon: status.HTTP_404_NOT_FOUND,
    services.NotRedeemed: status.HTTP_404_NOT_FOUND,
    services.WrongCurrency: status.HTTP_422_UNPROCESSABLE_ENTITY,
    services.AmountRequired: status.HTTP_422_UNPROCESSABLE_ENTITY,
}
PATH_FOR = {
    services.WrongCurrency: "currency",
    services.AmountRequired: "amount",
    services.InsufficientCredit: "amount",
    services.NotRedeemed: "order_external_id",
}


class CouponErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text=_("The field at fault; $ = the coupon."))
    message = serializers.CharField()
    code = serializers.ChoiceField(
        choices=[
            "unknown",
            "expired",
            "already_used",
            "wrong_currency",
            "insufficient_value",
            "amount_required",
            "not_redeemed",
        ]
    )


class CouponErrorsSerializer(serializers.Serializer):
    errors = CouponErrorSerializer(many=True)


class CouponOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    valid = serializers.BooleanField()
    reason = serializers.CharField(
        allow_null=True,
        help_text=_("Why it is not valid: expired, already_used or used_up."),
    )
    kind = serializers.ChoiceField(choices=CouponKind.choices)
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text=_("Amount off, or percentage off; 0 for free shipping."),
    )
    currency = serializers.CharField(help_text=_("Empty when any currency will do."))
    expires_at = serializers.DateTimeField(allow_null=True)
    remaining = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text=_("Money left on the coupon; null for percentage/free shipping."),
    )


class RedeemInSerializer(serializers.Serializer):
    order_external_id = serializers.CharField(max_length=64)
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", error_messages={"invalid": _("A three-letter ISO code.")}
    )
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_(
            "Store credit: the amount to spend (required). A fixed-amount coupon: "
            "the discount given, at most its value (default: its value)."
        ),
    )


class ReleaseInSerializer(serializers.Serializer):
    order_external_id = serializers.CharField(max_length=64)


class RedemptionOutSerializer(serializers.Serializer):
    order_external_id = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    redeemed_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True)
    coupon = CouponOutSerializer()


def coupon_out(coupon: Coupon) -> dict:
    coupon = Coupon.objects.select_related("store_credit_account").get(pk=coupon.pk)
    state = coupon_status(coupon, now=timezone.now())
    return CouponOutSerializer(
        {
            "code": coupon.code,
            "valid": state.valid,
            "reason": state.reason,
            "kind": coupon.kind,
            "value": coupon.value,
            "currency": coupon.currency,
            "expires_at": coupon.expires_at,
            "remaining": state.remaining,
        }
    ).data


def refusal(exc: services.LoyaltyError) -> Response:
    return Response(
        {
            "errors": [
                {
                    "path": PATH_FOR.get(type(exc), "$"),
                    "message": str(exc),
                    "code": exc.code,
                }
            ]
        },
        status=STATUS_FOR.get(type(exc), status.HTTP_409_CONFLICT),
    )


COUPON_ERRORS = {
    404: OpenApiResponse(CouponErrorsSerializer, description=_("Unknown coupon.")),
    409: OpenApiResponse(
        CouponErrorsSerializer,
        description=_("Expired, already used or not enough value left."),
    ),
    422: OpenApiResponse(
        CouponErrorsSerializer, description=_("Wrong currency or amount missing.")
    ),
}


class CouponView(ShopApiView):
    required_scope = ApiScope.COUPONS

    @extend_schema(
        operation_id="coupons_retrieve",
        summary=_("Is this coupon valid, and for what?"),
        responses={200: CouponOutSerializer} | ERROR_RESPONSES | COUPON_ERRORS,
    )
    def get(self, request, code: str):
        coupon = Coupon.objects.filter(code=services.normalise_code(code)).first()
        if coupon is None:
            return refusal(services.UnknownCoupon())
        return Response(coupon_out(coupon))


class CouponRedeemView(ShopApiView):
    required_scope = ApiScope.COUPONS

    @extend_schema(
        operation_id="coupons_redeem",
        summary=_("Use the coupon on an order"),
        description=_(
            "Idempotent per order: asking again for the same order_external_id "
            "returns the first redemption and spends nothing more."
        ),
        request=RedeemInSerializer,
        responses={200: RedemptionOutSerializer} | ERROR_RESPONSES | COUPON_ERRORS,
    )
    def post(self, request, code: str):
        serializer = RedeemInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            redemption = services.redeem_coupon(
                code=code,
                order_external_id=data["order_external_id"],
                currency=data["currency"],
                amount=data.get("amount"),
            )
        except services.LoyaltyError as exc:
            return refusal(exc)
        return Response(_redemption(redemption))


class CouponReleaseView(ShopApiView):
    required_scope = ApiScope.COUPONS

    @extend_schema(
        operation_id="coupons_release",
        summary=_("The order was cancelled: make the coupon usable again"),
        description=_("Store credit spent on the order is paid back. Idempotent."),
        request=ReleaseInSerializer,
        responses={200: RedemptionOutSerializer} | ERROR_RESPONSES | COUPON_ERRORS,
    )
    def post(self, request, code: str):
        serializer = ReleaseInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            redemption = services.release_coupon(
                code=code,
                order_external_id=serializer.validated_data["order_external_id"],
            )
        except services.LoyaltyError as exc:
            return refusal(exc)
        return Response(_redemption(redemption))


def _redemption(redemption: CouponRedemption) -> dict:
    return {
        "order_external_id": redemption.order_external_id,
        "amount": f"{redemption.amount:.2f}",
        "currency": redemption.currency,
        "redeemed_at": serializers.DateTimeField().to_representation(
            redemption.redeemed_at
        ),
        "released_at": (
            serializers.DateTimeField().to_representation(redemption.released_at)
            if redemption.released_at
            else None
        ),
        "coupon": coupon_out(redemption.coupon),
    }
