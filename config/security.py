"""Response headers a browser enforces, and a guard on Wagtail's admin login.

SecurityHeadersMiddleware adds Content-Security-Policy and Permissions-Policy to every
answer (Django's SecurityMiddleware adds HSTS, Referrer-Policy, X-Content-Type-Options
and Cross-Origin-Opener-Policy). The public site allows scripts from our own origin and
inline scripts only with this request's nonce (`<script nonce="{{ request.csp_nonce }}">`);
Wagtail's admin gets SECURITY_CSP_ADMIN, which allows inline scripts, because Wagtail's
own templates and its extensions still contain some. A view that sets its own policy
keeps it untouched (the review and policy embeds set frame-ancestors for the shop's
origins; they contain no script). A page the anonymous page cache serves must not
carry an inline script: its nonce would be stale (put the script in static/).

AdminLoginGuardMiddleware rate-limits failed logins on Wagtail's /admin/login/ (allauth's
limits cover only its own views) per client IP and per IP + username, in the shared
cache, and sends staff who turned on two-factor authentication through allauth's login,
which asks for the second factor, instead of letting the password alone in.
"""

import hashlib
import secrets
from urllib.parse import urlencode

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

CSP_HEADER = "Content-Security-Policy"
CSP_REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"


class CspNonce:
    """Made on first use: a page that renders no nonce gets none in its header."""

    def __init__(self):
        self.value = ""

    def __str__(self):
        if not self.value:
            self.value = secrets.token_urlsafe(18)
        return self.value

    @property
    def used(self) -> bool:
        return bool(self.value)


def build_policy(directives: dict[str, list[str]], *, nonce: str = "") -> str:
    parts = []
    for name, sources in directives.items():
        if name == "script-src" and nonce:
            sources = [*sources, f"'nonce-{nonce}'"]
        parts.append(" ".join([name, *sources]))
    return "; ".join(parts)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        nonce = CspNonce()
        request.csp_nonce = nonce
        response = self.get_response(request)
        admin = request.path.startswith(settings.SECURITY_CSP_ADMIN_PATH)
        directives = settings.SECURITY_CSP_ADMIN if admin else settings.SECURITY_CSP
        policy = build_policy(directives, nonce=nonce.value)
        header = CSP_REPORT_ONLY_HEADER if settings.CSP_REPORT_ONLY else CSP_HEADER
        if CSP_HEADER not in response:
            response[header] = policy
        if settings.SECURITY_PERMISSIONS_POLICY:
            response.setdefault(
                "Permissions-Policy", settings.SECURITY_PERMISSIONS_POLICY
            )
        return response


# The admin login ----------------------------------------------------------------------


def client_ip(request) -> str:
    """The client's address as allauth sees it (ALLAUTH_TRUSTED_PROXY_COUNT)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except ImproperlyConfigured:
        # Fewer X-Forwarded-For entries than trusted proxies: the request did not
        # come through them; the socket's address is the only one to trust.
        return request.META.get("REMOTE_ADDR", "")


def _counter_key(scope: str, value: str) -> str:
    """A counter that lives `seconds` from the first failure (cache.add sets it)."""
    return f"adminlogin:{scope}:{hashlib.sha256(value.encode()).hexdigest()}"


def _scopes(request) -> dict[str, str]:
    ip = client_ip(request)
    username = request.POST.get("username", "").strip().lower()[:150]
    return {"ip": ip, "ip_user": f"{ip}|{username}"}


class AdminLoginGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._login_path = None

    @property
    def login_path(self) -> str:
        if self._login_path is None:
            self._login_path = reverse("wagtailadmin_login")
        return self._login_path

    def __call__(self, request):
        if request.method != "POST" or request.path != self.login_path:
            return self.get_response(request)
        if request.user.is_authenticated:  # already in: nothing to count or check
            return self.get_response(request)
        limits = settings.ADMIN_LOGIN_FAILURE_LIMITS
        scopes = _scopes(request) if limits else {}
        keys = {
            scope: _counter_key(scope, value)
            for scope, value in scopes.items()
            if scope in limits
        }
        if keys:
            counts = cache.get_many(list(keys.values()))
            if any(
                counts.get(key, 0) >= limits[scope][0] for scope, key in keys.items()
            ):
                return HttpResponse(
                    _("Too many failed sign-in attempts. Try again in a few minutes."),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
        response = self.get_response(request)
        if request.user.is_authenticated:
            return self._second_factor(request, response)
        if response.status_code == 200:  # the form again: the password was wrong
            for scope, key in keys.items():
                cache.add(key, 0, timeout=limits[scope][1])
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr: a new window
                    cache.add(key, 1, timeout=limits[scope][1])
        return response

    def _second_factor(self, request, response):
        from allauth.mfa.models import Authenticator

        user = request.user
        if not Authenticator.objects.filter(user=user).exists():
            return response
        logout(request)
        next_url = request.POST.get("next") or reverse("wagtailadmin_home")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}
        ):
            next_url = reverse("wagtailadmin_home")
        messages.info(
            request,
            _("Your account uses two-factor authentication: sign in here."),
        )
        query = urlencode({"next": next_url})
        return HttpResponseRedirect(f"{reverse('account_login')}?{query}")
