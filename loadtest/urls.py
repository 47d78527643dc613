"""The site's URLs plus /loadtest/bare/, a view that does nothing: the baseline of the
load test (the whole middleware stack, no template, no query)."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def bare(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("loadtest/bare/", bare, name="loadtest-bare"), *site_urlpatterns]
