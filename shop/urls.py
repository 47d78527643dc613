from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("orders/", views.my_orders, name="my_orders"),
    path("account/time-zone/", views.report_time_zone, name="report_time_zone"),
]
