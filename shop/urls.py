from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("orders/", views.my_orders, name="my_orders"),
]
