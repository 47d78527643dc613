"""cms URLs without a language prefix: the shop-facing policy endpoints."""

from django.urls import path

from cms import api, views

app_name = "cms-api"

urlpatterns = [
    path(
        "api/v1/policies/for-product/<str:sku>",
        api.PolicyForProductView.as_view(),
        name="policy-for-product",
    ),
    path("embed/policy/<str:sku>/", views.policy_embed, name="policy-embed"),
    path(
        "orders/<str:external_id>/return-insert.pdf",
        api.ReturnInsertView.as_view(),
        name="return-insert",
    ),
]
