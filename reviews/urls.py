"""reviews URLs without a language prefix: API, embeds, feeds, webhooks."""

from django.urls import path

from reviews import api, public_views

app_name = "reviews-api"

urlpatterns = [
    path(
        "api/v1/products/<str:sku>/reviews",
        api.ProductReviewsView.as_view(),
        name="product-reviews",
    ),
    path("embed/reviews/<str:sku>/", public_views.reviews_embed, name="embed"),
    path(
        "feeds/product-reviews.xml",
        public_views.product_reviews_feed,
        name="product-reviews-feed",
    ),
]
