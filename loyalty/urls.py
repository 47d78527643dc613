from django.urls import path

from loyalty import views

app_name = "loyalty"

urlpatterns = [
    path("points/", views.my_points, name="my_points"),
    path("points/redeem/<int:reward_id>/", views.redeem_reward, name="redeem"),
    path("coupons/", views.my_coupons, name="my_coupons"),
]
