"""insights URLs without a language prefix: the insights API (insights/api.py)."""

from django.urls import path

from insights import api

app_name = "insights-api"

urlpatterns = [
    path(
        "api/v1/insights/serial-returners",
        api.SerialReturnersView.as_view(),
        name="serial-returners",
    ),
    path("api/v1/insights/products", api.ProductsView.as_view(), name="products"),
]
