"""/api/v1/coupons/: the shop checks, redeems and releases coupons (loyalty/api.py)."""

from django.urls import path

from loyalty import api

app_name = "loyalty-api"

urlpatterns = [
    path("coupons/<str:code>", api.CouponView.as_view(), name="coupon"),
    path(
        "coupons/<str:code>/redeem",
        api.CouponRedeemView.as_view(),
        name="coupon-redeem",
    ),
    path(
        "coupons/<str:code>/release",
        api.CouponReleaseView.as_view(),
        name="coupon-release",
    ),
]
