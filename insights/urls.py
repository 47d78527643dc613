"""insights URLs without a language prefix: the insights API."""

from django.urls import path  # noqa: F401

app_name = "insights-api"

urlpatterns = []
