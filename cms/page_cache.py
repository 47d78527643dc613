"""Anonymous page cache for the site's Wagtail pages, on Django's cache.

A page type opts in with `AnonymousCachedPage`. Its rendered response is stored when an
anonymous visitor (no session or messages cookie) GETs it without a query string, and
served to the next such visitor by `AnonymousPageCacheMiddleware` before Wagtail
routes the request. Never cached: signed-in users, private or password-protected pages
(Wagtail answers those without calling `serve`), other page types (forms).

Every page carries the layout's language switch, a POST form with a CSRF token: the
token is cut out before storing and each visitor gets their own on the way out
(ietf-tools/www#49), and cookies are never stored.

Purging: one version number in the cache, bumped whenever a page, image, snippet or
site changes (publish, unpublish, save, move, delete), makes every stored page stale.
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language

VERSION_KEY = "cms:page-cache:version"
ANSWERS_VERSION_KEY = "cms:policy-answers:version"
CSRF_FIELD = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
CSRF_PLACEHOLDER = b"\x00csrf\x00"
BYPASS_COOKIES = (settings.SESSION_COOKIE_NAME, "messages")
STORED_HEADERS = ("Content-Type", "Content-Language")


class AnonymousCachedPage:
    """Mixin for Page models whose rendered page may be shared by anonymous visitors."""

    def serve(self, request, *args, **kwargs):
        response = super().serve(request, *args, **kwargs)
        if is_cacheable_request(request) and not request.user.is_authenticated:
            response.cms_page_cache = True
        return response


def is_cacheable_request(request) -> bool:
    return (
        settings.PAGE_CACHE_SECONDS > 0
        and request.method == "GET"
        and not request.META.get("QUERY_STRING")
        and not any(name in request.COOKIES for name in BYPASS_COOKIES)
    )


def is_wagtail_page_path(request) -> bool:
    """Only Wagtail's page-serving view can answer from this cache (not the API,
    health checks or the admin)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.url_name == "wagtail_serve"


def cache_version(key: str = VERSION_KEY) -> int:
    version = cache.get(key)
    if version is None:
        cache.add(key, 1, timeout=None)
        version = cache.get(key) or 1
    return version


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, 2, timeout=None)


def purge_page_cache() -> None:
    """Make every cached page and policy answer stale (a new version; old entries
    expire unread)."""
    _bump(VERSION_KEY)
    _bump(ANSWERS_VERSION_KEY)


def purge_policy_answers() -> None:
    """Products or categories changed: which policy applies may have changed."""
    _bump(ANSWERS_VERSION_KEY)


def _key(request) -> str:
    where = f"{request.get_host()}|{get_language()}|{request.path}"
    digest = hashlib.sha256(where.encode()).hexdigest()
    return f"cms:page:{cache_version()}:{digest}"


class AnonymousPageCacheMiddleware:
    """Place last in MIDDLEWARE: after sessions, locale, CSRF and authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not (is_cacheable_request(request) and is_wagtail_page_path(request)):
            return self.get_response(request)
        key = _key(request)
        stored = cache.get(key)
        if stored is not None:
            return _rebuild(request, stored)
        response = self.get_response(request)
        if (
            getattr(response, "cms_page_cache", False)
            and response.status_code == 200
            and not response.streaming
            and not response.cookies
            and not request.user.is_authenticated
        ):
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            cache.set(key, _stored(response), settings.PAGE_CACHE_SECONDS)
        return response


def _stored(response) -> dict:
    return {
        "content": CSRF_FIELD.sub(rb"\1" + CSRF_PLACEHOLDER + rb"\2", response.content),
        "headers": {
            name: response[name] for name in STORED_HEADERS if name in response
        },
    }


def _rebuild(request, stored: dict) -> HttpResponse:
    content = stored["content"]
    if CSRF_PLACEHOLDER in content:
        # This visitor's own token; CsrfViewMiddleware sets the cookie it needs.
        content = content.replace(CSRF_PLACEHOLDER, get_token(request).encode())
    response = HttpResponse(content)
    for name, value in stored["headers"].items():
        response[name] = value
    response["X-Page-Cache"] = "hit"
    patch_cache_control(response, private=True)
    return response
