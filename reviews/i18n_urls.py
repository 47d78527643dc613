"""reviews URLs under the language prefix (/nl/…): the customer's pages."""

from django.urls import path

from reviews import public_views, views

app_name = "reviews"

urlpatterns = [
    path("reviews/", views.to_review, name="to_review"),
    path("reviews/write/<int:line_id>/", views.write, name="write"),
    path("reviews/link/<str:token>/", views.write_by_link, name="write_by_link"),
    path("reviews/mine/", views.mine, name="mine"),
    path("reviews/<int:review_id>/edit/", views.edit, name="edit"),
    path("reviews/<int:review_id>/delete/", views.withdraw, name="withdraw"),
    path("products/<str:sku>/reviews/", public_views.product_reviews, name="product"),
]
