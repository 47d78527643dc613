"""CSRF: every route the site serves refuses a POST without a CSRF token (403, and
nothing changes), except the CSRF-exempt ones listed here with their reason. The
routes come from the URL resolver, so a new form is covered as soon as it exists and
a new exemption fails the test until it is justified here.

The customer's own forms are also posted with valid data by the signed-in owner:
refused without the token, accepted with it (so the refusal is the CSRF check)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from loyalty import services as loyalty
from loyalty.models import Coupon, PointsEntry
from returns import services as returns
from returns.links import status_token
from returns.models import ReturnRequest, ReturnStatus
from reviews.models import Review, ReviewSettings
from shop.models import Customer
from tests.factories import CustomerFactory, UserFactory
from tests.loyalty.conftest import RewardFactory
from tests.returns.portal_setup import centre, default_policy, delivered_order
from tests.reviews.core_helpers import submit as submit_review

pytestmark = pytest.mark.django_db

# CSRF-exempt on purpose, and why. Anything else exempt fails the test.
EXEMPT = {
    "emails:unsubscribe": "RFC 8058 one-click POST from mail clients; signed token",
    "webhook-shopify": "server to server, HMAC-signed body",
    "webhook-woocommerce": "server to server, HMAC-signed body",
    "webhook-sendgrid-events": "server to server, signed by SendGrid",
    "cms-api:return-insert": "the shop's token API (a PDF), no session",
}
# DRF's APIView is CSRF-exempt; ours authenticate with tokens only (no session), so a
# browser's cookies give a forged request nothing (tests/security/test_idor.py).
API_PREFIX = "api/v1/"
# Wagtail's admin: its own views, all behind CsrfViewMiddleware; thousands of routes.
# Our admin screens' posts are attacked one by one in test_admin_mass_assignment.py.
SKIPPED_PREFIXES = ("admin/",)


def _routes() -> list[tuple[str, str, object]]:
    """(name, pattern, callback) of every named route."""
    found = []

    def walk(resolver, prefix: str, namespace: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = (
                        f"{namespace}:{entry.namespace}"
                        if namespace
                        else entry.namespace
                    )
                walk(entry, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append((name, prefix + str(entry.pattern), entry.callback))

    walk(get_resolver(), "", "")
    return [r for r in found if not r[1].startswith(SKIPPED_PREFIXES)]


def _sample_path(name: str, pattern: str) -> str:
    """A URL of the route with made-up arguments of the right shape."""
    names = re.findall(r"<(?:(\w+):)?(\w+)>", pattern)
    kwargs = {arg: "1" if kind == "int" else "x" for kind, arg in names}
    kwargs |= dict.fromkeys(re.findall(r"\(\?P<(\w+)>", pattern), "abc1")
    # Unnamed regex groups (Wagtail's page and document routes) take positional args.
    for call in ({"kwargs": kwargs or None}, {"args": [""]}, {"args": ["1", "x"]}):
        try:
            return reverse(name, **call)
        except NoReverseMatch:
            continue
    raise AssertionError(f"cannot build a URL for {name} ({pattern})")


def test_every_csrf_exemption_is_known():
    exempt = {
        name
        for name, pattern, callback in _routes()
        if getattr(callback, "csrf_exempt", False)
        and not pattern.startswith(API_PREFIX)
    }

    assert exempt == set(EXEMPT)


def _protected():
    return [
        (name, pattern)
        for name, pattern, callback in _routes()
        if not getattr(callback, "csrf_exempt", False)
    ]


@pytest.mark.parametrize(("name", "pattern"), _protected(), ids=lambda v: str(v))
def test_a_post_without_a_csrf_token_is_refused(name, pattern):
    client = Client(enforce_csrf_checks=True)
    user = UserFactory(username="csrf", email="csrf@example.com")
    client.force_login(user)

    response = client.post(_sample_path(name, pattern), {"x": "1"})

    assert response.status_code == 403, (name, response.status_code)


# The customer's own forms, with valid data ----------------------------------------------


@pytest.fixture
def anna(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    default_policy()
    centre()
    rules = ReviewSettings.load()
    rules.auto_approve_clean = False
    rules.save()
    user = UserFactory(username="anna", email="anna@example.com")
    customer = CustomerFactory(email="anna@example.com", user=user)
    order = delivered_order(customer, lines=3, number="RW-ANNA-1")
    first, second, _third = order.lines.order_by("pk")
    review = submit_review(second, title="Nice shirt")
    returned = returns.submit_return(
        order=order,
        choices=[returns.LineChoice(first.pk, 1, "changed-mind", "refund")],
        channel="account",
        idempotency_key="anna-1",
        by_user=user,
    )
    loyalty.award_points(customer=customer, points=500, key="k", reason="r")
    return {
        "user": user,
        "customer": customer,
        "order": order,
        "review": review,
        "returned": returned,
        "reward": RewardFactory(points_cost=100),
    }


def _state() -> dict:
    return {
        "reviews": list(
            Review.objects.order_by("pk").values_list("pk", "status", "title")
        ),
        "returns": list(
            ReturnRequest.objects.order_by("pk").values_list(
                "pk", "status", "satisfaction_score"
            )
        ),
        "points": PointsEntry.objects.count(),
        "coupons": Coupon.objects.count(),
        "consent": list(Customer.objects.values_list("pk", "marketing_consent")),
    }


CSRF_SECRET = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tAB"  # 32 characters, as Django makes
REVIEW = {
    "rating": "5",
    "title": "Great fit",
    "body": "Soft fabric, true to size, and it survived the first wash well.",
    "language": "en",
}


def _forms(w) -> dict:
    order, review, returned = w["order"], w["review"], w["returned"]
    third = order.lines.order_by("pk")[2]
    token = status_token(returned)
    return {
        "review write": (reverse("reviews:write", args=[third.pk]), REVIEW),
        "review edit": (reverse("reviews:edit", args=[review.pk]), REVIEW),
        "review delete": (reverse("reviews:withdraw", args=[review.pk]), {}),
        "redeem points": (
            reverse("loyalty:redeem", args=[w["reward"].pk]),
            {"key": str(uuid.uuid4())},
        ),
        "return choose": (
            reverse("returns:choose", args=[order.pk]),
            {
                f"line-{third.pk}-quantity": "1",
                f"line-{third.pk}-reason": "size-fit",
                f"line-{third.pk}-resolution": "refund",
            },
        ),
        "return cancel": (
            reverse("returns:cancel", args=[token]),
            {"confirm": "on"},
        ),
        "guest lookup": (
            reverse("returns:portal"),
            {"order_number": order.number, "email": "anna@example.com"},
        ),
    }


FORMS = [
    "review write",
    "review edit",
    "review delete",
    "redeem points",
    "return choose",
    "return cancel",
    "guest lookup",
]


@pytest.mark.parametrize("form", FORMS)
def test_the_customers_forms_need_the_token_and_work_with_it(form, anna):
    path, data = _forms(anna)[form]
    client = Client(enforce_csrf_checks=True)
    client.force_login(anna["user"])
    before = _state()

    refused = client.post(path, data)

    assert refused.status_code == 403
    assert _state() == before

    # The same POST with a token that matches the CSRF cookie goes through.
    client.cookies["csrftoken"] = CSRF_SECRET
    accepted = client.post(path, data | {"csrfmiddlewaretoken": CSRF_SECRET})

    assert accepted.status_code in (200, 302), accepted.status_code
    if form not in ("return choose", "guest lookup"):  # these only start a draft
        assert _state() != before


def test_the_return_confirmation_needs_the_token(anna):
    returned = anna["returned"]
    assert returned.status == ReturnStatus.APPROVED
    client = Client(enforce_csrf_checks=True)
    client.force_login(anna["user"])
    before = _state()

    response = client.post(
        reverse("returns:confirm", args=[anna["order"].pk]), {"key": "new-key"}
    )

    assert response.status_code == 403
    assert _state() == before
