"""reviews URLs under the language prefix (/nl/…): the customer's pages."""

from django.urls import path  # noqa: F401

app_name = "reviews"

urlpatterns = []
