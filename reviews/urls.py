"""reviews URLs without a language prefix: API, embeds, feeds, webhooks."""

from django.urls import path  # noqa: F401

app_name = "reviews-api"

urlpatterns = []
