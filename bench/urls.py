"""The site's URLs plus /bench/constant/, a view that does nothing: the baseline of
bench.pages (the full middleware stack, no template, no query)."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def constant(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/constant/", constant), *site_urlpatterns]
