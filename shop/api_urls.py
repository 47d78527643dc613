"""/api/v1/: the shop-facing REST API (views in shop/api.py)."""

from django.urls import path

from shop import api

app_name = "api"

urlpatterns = [
    path("products/<str:sku>", api.ProductView.as_view(), name="product"),
    # Before orders/<external_id> so that "batch" is never taken for an order id.
    path("orders/batch", api.OrderBatchView.as_view(), name="order-batch"),
    path("orders/<str:external_id>", api.OrderView.as_view(), name="order"),
    path(
        "orders/<str:external_id>/delivery",
        api.OrderDeliveryView.as_view(),
        name="order-delivery",
    ),
]
