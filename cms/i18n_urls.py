"""cms URLs under the language prefix (/nl/…)."""

from django.urls import path

from cms import views

app_name = "cms"

urlpatterns = [
    # Reserved for the returns portal, which takes it over.
    path("returns/start/<str:token>/", views.returns_start, name="returns-start"),
]
