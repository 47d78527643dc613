"""The IDOR matrix: every customer-facing URL and API route, tried by another customer
(Bob, signed in), by an anonymous visitor and, on the API, by the wrong kind of token,
against Anna's orders, returns, reviews in progress, points and coupons. Each gets
403/404 (or the login page), sees none of Anna's data, and changes nothing.

The routes come from the URL resolver: a new route without an entry in MATRIX (or a
reason in NOT_CUSTOMER_DATA) fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core import signing
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from cms.return_links import return_start_token
from emails.rendering import unsubscribe_token
from loyalty import services as loyalty
from loyalty.models import Coupon, CouponRedemption, PointsEntry
from returns import services as returns
from returns.links import satisfaction_token, status_token
from returns.models import ReturnEvent, ReturnPhoto, ReturnRequest, ReturnStatus
from reviews.links import review_link_token
from reviews.models import Review, ReviewSettings, ReviewStatus
from shop.models import Customer, Order
from shop.services import create_api_token
from tests.factories import CustomerFactory, UserFactory
from tests.loyalty.conftest import RewardFactory
from tests.returns.portal_setup import (
    centre,
    confirm_key,
    default_policy,
    delivered_order,
    line_post,
)
from tests.reviews.core_helpers import submit as submit_review

pytestmark = pytest.mark.django_db

SECRET = "Secret draft by Anna"  # her review in progress (no HTML-escaped chars)


@dataclass
class World:
    anna: object
    anna_customer: Customer
    order: Order
    review: Review
    returned: ReturnRequest
    coupon: Coupon
    bob: object
    bob_customer: Customer
    bob_order: Order
    shop_key: str
    other_centre_key: str
    hidden: tuple[str, ...] = field(default=())


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()  # rate limits, and SKU → product ids remembered by other tests
    default_policy()
    main = centre()
    other = centre(name="Other 3PL", code="other", is_default=False)
    _other, other_key = returns.create_centre_token(centre=other)
    rules = ReviewSettings.load()
    rules.auto_approve_clean = False
    rules.save()

    anna = UserFactory(username="anna", email="anna@example.com")
    anna_customer = CustomerFactory(
        email="anna@example.com", user=anna, marketing_consent=True
    )
    order = delivered_order(anna_customer, lines=2, number="RW-ANNA-1")
    line, second = order.lines.order_by("pk")
    review = submit_review(second, title=SECRET)
    assert review.status == ReviewStatus.PENDING
    returned = returns.submit_return(
        order=order,
        choices=[returns.LineChoice(line.pk, 1, "changed-mind", "refund")],
        channel="account",
        idempotency_key="anna-1",
        by_user=anna,
    )
    assert returned.status == ReturnStatus.APPROVED
    assert returned.centre == main
    loyalty.award_points(customer=anna_customer, points=500, key="k", reason="r")
    coupon = loyalty.redeem(
        customer=anna_customer, reward=RewardFactory(points_cost=100)
    )

    bob = UserFactory(username="bob", email="bob@example.com")
    bob_customer = CustomerFactory(
        email="bob@example.com", user=bob, marketing_consent=True
    )
    bob_order = delivered_order(bob_customer, number="RW-BOB-1", sku="BOB")
    _token, shop_key = create_api_token(name="shop")
    return World(
        anna=anna,
        anna_customer=anna_customer,
        order=order,
        review=review,
        returned=returned,
        coupon=coupon,
        bob=bob,
        bob_customer=bob_customer,
        bob_order=bob_order,
        shop_key=shop_key,
        other_centre_key=other_key,
        hidden=(SECRET, order.number, returned.rma, coupon.code),
    )


def anna_state(w: World) -> dict:
    """Everything of Anna's that a request could change."""
    w.anna_customer.refresh_from_db()
    return {
        "consent": w.anna_customer.marketing_consent,
        "orders": list(
            Order.objects.filter(customer=w.anna_customer).values_list(
                "pk", "delivered_at", "total"
            )
        ),
        "reviews": list(
            Review.objects.order_by("pk").values_list(
                "pk", "customer_id", "status", "title", "body", "rating"
            )
        ),
        "returns": list(
            ReturnRequest.objects.order_by("pk").values_list(
                "pk", "customer_id", "status", "satisfaction_score"
            )
        ),
        "return_events": ReturnEvent.objects.count(),
        "points": list(PointsEntry.objects.order_by("pk").values_list("pk", "amount")),
        "coupons": list(Coupon.objects.order_by("pk").values_list("pk", "code")),
        "redemptions": CouponRedemption.objects.count(),
    }


# The probes ----------------------------------------------------------------------------

OWNED = "owned"  # Anna's object by id or signed link: 404/403 for Bob and anonymous
LISTING = "listing"  # "my …" pages: Bob sees his own, never Anna's
PUBLIC = "public"  # public pages: nobody sees Anna's review in progress
LINK = "link"  # signed link: the holder may use it, but not signed in as Bob
API = "api"  # token API: no session, no wrong token


@dataclass
class Probe:
    method: str
    path: str
    data: dict | None = None


def _forged(payload, salt: str, **kwargs) -> str:
    """Anna's link payload signed with a key that is not the site's."""
    return signing.dumps(payload, key="not-the-secret-key", salt=salt, **kwargs)


def _review_form(**extra) -> dict:
    return {
        "rating": "1",
        "title": "Hacked",
        "body": "Written by someone else entirely, which must never be stored.",
        "language": "en",
    } | extra


def _probes_reviews_write(w):
    path = reverse("reviews:write", args=[w.order.lines.order_by("pk")[0].pk])
    return [Probe("get", path), Probe("post", path, _review_form())]


def _probes_reviews_edit(w):
    path = reverse("reviews:edit", args=[w.review.pk])
    return [Probe("get", path), Probe("post", path, _review_form())]


def _probes_reviews_withdraw(w):
    return [Probe("post", reverse("reviews:withdraw", args=[w.review.pk]))]


def _probes_write_by_link(w):
    line = w.order.lines.order_by("pk")[0]
    path = reverse("reviews:write_by_link", args=[review_link_token(line)])
    return [Probe("get", path), Probe("post", path, _review_form())]


def _probes_choose(w):
    path = reverse("returns:choose", args=[w.order.pk])
    line = w.order.lines.order_by("pk")[1]
    data = {f"line-{line.pk}-quantity": 1, f"line-{line.pk}-reason": "size-fit"}
    return [Probe("get", path), Probe("post", path, data)]


def _probes_confirm(w):
    path = reverse("returns:confirm", args=[w.order.pk])
    return [Probe("get", path), Probe("post", path, {"key": "anna-1"})]


def _status_probes(name, method="get", data=None):
    def probes(w):
        return [
            Probe(
                method,
                reverse(f"returns:{name}", args=[status_token(w.returned)]),
                data,
            )
        ]

    return probes


def _probes_start_from_link(w):
    return [
        Probe(
            "get",
            reverse("returns:start-from-link", args=[return_start_token(w.order)]),
        )
    ]


def _probes_satisfaction(w):
    path = reverse(
        "returns-api:satisfaction", args=[satisfaction_token(w.returned, score=1)]
    )
    return [Probe("get", path), Probe("post", path, {"score": "1"})]


def _probes_unsubscribe(w):
    path = reverse("emails:unsubscribe", args=[unsubscribe_token(w.anna_customer.pk)])
    return [Probe("post", path)]


def _probes_preferences(w):
    path = reverse("emails:preferences", args=[unsubscribe_token(w.anna_customer.pk)])
    return [Probe("post", path, {})]


def _probes_redeem(w):
    reward = w.coupon.reward
    return [
        Probe(
            "post",
            reverse("loyalty:redeem", args=[reward.pk]),
            {"key": "6f1c1f4e-1111-4a4a-9b9b-000000000001"},
        )
    ]


def _get(name, *args):
    return lambda w: [Probe("get", reverse(name, args=[a(w) for a in args]))]


def _api(name, *args, post=True):
    def probes(w):
        path = reverse(name, args=[a(w) for a in args])
        found = [Probe("get", path)]
        if post:
            found.append(Probe("post", path, {}))
        return found

    return probes


def _sku(w):
    return w.review.product.sku


def _external_id(w):
    return w.order.external_id


def _code(w):
    return w.coupon.code


def _rma(w):
    return w.returned.rma


MATRIX = {
    # Anna's objects by id: Bob and anonymous get 404 (or the login page).
    "reviews:write": (OWNED, _probes_reviews_write),
    "reviews:edit": (OWNED, _probes_reviews_edit),
    "reviews:withdraw": (OWNED, _probes_reviews_withdraw),
    "returns:choose": (OWNED, _probes_choose),
    "returns:confirm": (OWNED, _probes_confirm),
    # Signed links sent to Anna: refused when someone else is signed in.
    "reviews:write_by_link": (LINK, _probes_write_by_link),
    "returns:status": (LINK, _status_probes("status")),
    "returns:done": (LINK, _status_probes("done")),
    "returns:slip": (LINK, _status_probes("slip")),
    "returns:cancel": (LINK, _status_probes("cancel", "post", {"confirm": "on"})),
    "returns:start-from-link": (LINK, _probes_start_from_link),
    "returns-api:satisfaction": (LINK, _probes_satisfaction),
    # The signed token is the proof (RFC 8058 one-click, no login): only forged
    # tokens are refused.
    "emails:unsubscribe": ("token", _probes_unsubscribe),
    "emails:preferences": ("token", _probes_preferences),
    # The signed-in customer's own lists.
    "shop:my_orders": (LISTING, _get("shop:my_orders")),
    "loyalty:my_points": (LISTING, _get("loyalty:my_points")),
    "loyalty:my_coupons": (LISTING, _get("loyalty:my_coupons")),
    "loyalty:redeem": (LISTING, _probes_redeem),
    "reviews:to_review": (LISTING, _get("reviews:to_review")),
    "reviews:mine": (LISTING, _get("reviews:mine")),
    "returns:portal": (LISTING, _get("returns:portal")),
    # Public pages about a product: never a review in progress.
    "reviews:product": (PUBLIC, _get("reviews:product", _sku)),
    "reviews-api:product-reviews": (PUBLIC, _get("reviews-api:product-reviews", _sku)),
    "reviews-api:embed": (PUBLIC, _get("reviews-api:embed", _sku)),
    "reviews-api:product-reviews-feed": (
        PUBLIC,
        _get("reviews-api:product-reviews-feed"),
    ),
    # The shop's token API: a customer's session, no token or a centre's token on a
    # shop route get 401/403.
    "api:product": (API, _api("api:product", _sku)),
    "api:order-batch": (API, _api("api:order-batch")),
    "api:order": (API, _api("api:order", _external_id)),
    "api:order-delivery": (API, _api("api:order-delivery", _external_id)),
    "loyalty-api:coupon": (API, _api("loyalty-api:coupon", _code)),
    "loyalty-api:coupon-redeem": (API, _api("loyalty-api:coupon-redeem", _code)),
    "loyalty-api:coupon-release": (API, _api("loyalty-api:coupon-release", _code)),
    "cms-api:return-insert": (API, _api("cms-api:return-insert", _external_id)),
    "insights-api:serial-returners": (API, _api("insights-api:serial-returners")),
    "insights-api:products": (API, _api("insights-api:products")),
    "returns-api:list": ("centre", _api("returns-api:list", post=False)),
    "returns-api:export": ("centre", _api("returns-api:export", post=False)),
    "returns-api:events": ("centre", _api("returns-api:events", _rma)),
}

# Routes that hold no customer's data, or are someone else's subject, and why.
NOT_CUSTOMER_DATA = {
    "healthz": "liveness probe",
    "shop:report_time_zone": "takes no id: sets only the signed-in customer's own "
    "time zone (tests/shop/test_time_zone.py)",
    "metrics": "operators' counters behind METRICS_TOKEN (config/metrics.py)",
    "readyz": "readiness probe",
    "set_language": "Django's language switch",
    "api-schema": "the OpenAPI schema",
    "api-docs": "the API docs page",
    "cms-api:policy-for-product": "published return policies only",
    "cms-api:policy-embed": "published return policies only",
    "webhook-shopify": "HMAC-signed (tests/shop/test_webhooks.py)",
    "webhook-woocommerce": "HMAC-signed (tests/shop/test_webhooks.py)",
    "webhook-sendgrid-events": "signed by SendGrid (tests/emails/test_webhooks.py)",
    "wagtail_serve": "published Wagtail pages (private pages: Wagtail's own check)",
    "wagtailcore_authenticate_with_password": "Wagtail's page password form",
    "wagtailcore_login": "Wagtail's login for private pages",
    "wagtaildocs_serve": "Wagtail documents (collection privacy: Wagtail's check)",
    "wagtaildocs_authenticate_with_password": "Wagtail's document password form",
}
# Whole trees owned by a framework with its own permission checks.
FRAMEWORK_PREFIXES = ("admin/", "accounts/")


def all_routes() -> dict[str, str]:
    """{name: pattern} of every named route the project serves."""
    found: dict[str, str] = {}

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
            elif isinstance(entry, URLPattern):
                pattern = prefix + str(entry.pattern)
                name = f"{namespace}:{entry.name}" if namespace else str(entry.name)
                found[name] = pattern

    walk(get_resolver(), "", "")
    return found


def test_every_route_is_in_the_matrix():
    routes = {
        name: pattern
        for name, pattern in all_routes().items()
        if not pattern.startswith(FRAMEWORK_PREFIXES)
    }

    missing = sorted(set(routes) - set(MATRIX) - set(NOT_CUSTOMER_DATA))
    stale = sorted((set(MATRIX) | set(NOT_CUSTOMER_DATA)) - set(routes))

    assert missing == [], f"routes without an IDOR matrix entry: {missing}"
    assert stale == [], f"matrix entries for routes that are gone: {stale}"


def _send(client: Client, probe: Probe, **extra):
    if probe.method == "get":
        return client.get(probe.path, **extra)
    return client.post(probe.path, probe.data or {}, **extra)


def _assert_refused(response, probe, *, anonymous: bool) -> None:
    status = response.status_code
    if anonymous and status == 302:
        assert response["Location"].startswith("/accounts/login/"), probe
        return
    assert status in (403, 404, 410), (probe, status)


def _assert_hides(response, w: World, probe) -> None:
    text = response.content.decode(errors="replace")
    for secret in w.hidden:
        assert secret not in text, (probe, secret)


def _names(kind: str) -> list[str]:
    return [name for name, (found, _probes) in MATRIX.items() if found == kind]


@pytest.mark.parametrize("name", _names(OWNED))
def test_another_customer_or_a_visitor_cannot_reach_annas_objects(name, world, client):
    before = anna_state(world)
    probes = MATRIX[name][1](world)
    bob = Client()
    bob.force_login(world.bob)

    for probe in probes:
        _assert_refused(_send(bob, probe), probe, anonymous=False)
        _assert_refused(_send(client, probe), probe, anonymous=True)

    assert anna_state(world) == before


@pytest.mark.parametrize("name", _names(LINK))
def test_annas_signed_links_are_refused_to_another_signed_in_customer(name, world):
    before = anna_state(world)
    bob = Client()
    bob.force_login(world.bob)

    for probe in MATRIX[name][1](world):
        _assert_refused(_send(bob, probe), probe, anonymous=False)

    assert anna_state(world) == before


FORGED_LINKS = {
    "reviews:write_by_link": lambda w: reverse(
        "reviews:write_by_link",
        args=[
            signing.TimestampSigner(key="wrong", salt="reviews.review-link").sign(
                str(w.order.lines.order_by("pk")[0].pk)
            )
        ],
    ),
    "returns:status": lambda w: reverse(
        "returns:status", args=[_forged({"r": w.returned.rma}, "returns.status")]
    ),
    "returns:start-from-link": lambda w: reverse(
        "returns:start-from-link", args=[_forged({"o": w.order.pk}, "returns.start")]
    ),
    "emails:unsubscribe": lambda w: reverse(
        "emails:unsubscribe", args=[_forged(w.anna_customer.pk, "emails.unsubscribe")]
    ),
    "emails:preferences": lambda w: reverse(
        "emails:preferences", args=[_forged(w.anna_customer.pk, "emails.unsubscribe")]
    ),
}


@pytest.mark.parametrize("name", sorted(FORGED_LINKS))
def test_a_forged_link_to_annas_data_is_404(name, world, client):
    before = anna_state(world)
    path = FORGED_LINKS[name](world)

    assert client.get(path).status_code == 404, path
    assert client.post(path, {"confirm": "on", "score": "1"}).status_code == 404
    assert anna_state(world) == before


def test_bobs_own_link_with_annas_id_swapped_in_is_404(world, client):
    """Signed tokens carry the id inside the signature: Bob's valid token for his
    own line, with its id part replaced by Anna's line, is refused."""
    before = anna_state(world)
    bob_line = world.bob_order.lines.get()
    anna_line = world.order.lines.order_by("pk")[0]
    token = review_link_token(bob_line)
    swapped = token.replace(str(bob_line.pk), str(anna_line.pk), 1)
    assert swapped != token

    response = client.post(
        reverse("reviews:write_by_link", args=[swapped]), _review_form()
    )

    assert response.status_code == 404
    assert anna_state(world) == before


@pytest.mark.parametrize("name", _names(LISTING))
def test_my_pages_show_bob_nothing_of_annas(name, world, client):
    before = anna_state(world)
    bob = Client()
    bob.force_login(world.bob)

    for probe in MATRIX[name][1](world):
        response = _send(bob, probe, follow=True)
        assert response.status_code == 200, probe
        _assert_hides(response, world, probe)
        anonymous = _send(client, probe)
        if name == "returns:portal":  # the guest lookup form
            assert anonymous.status_code == 200
        else:
            assert anonymous.status_code == 302, probe
            assert anonymous["Location"].startswith("/accounts/login/"), probe
        _assert_hides(anonymous, world, probe)

    assert anna_state(world) == before


@pytest.mark.parametrize("name", _names(PUBLIC))
def test_public_product_pages_never_show_a_review_in_progress(name, world, client):
    for probe in MATRIX[name][1](world):
        response = _send(client, probe)
        assert response.status_code == 200, probe
        body = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
        assert SECRET not in body.decode(), probe


@pytest.mark.parametrize("name", _names(API) + _names("centre"))
def test_the_api_refuses_sessions_and_missing_tokens(name, world, client):
    before = anna_state(world)
    bob = Client()
    bob.force_login(world.bob)

    for probe in MATRIX[name][1](world):
        for caller in (client, bob):
            response = _send(caller, probe)
            assert response.status_code in (401, 403), (probe, response.status_code)
            _assert_hides(response, world, probe)

    assert anna_state(world) == before


@pytest.mark.parametrize("name", _names(API))
def test_a_centre_token_is_refused_on_the_shops_routes(name, world):
    before = anna_state(world)
    centre_client = Client(HTTP_AUTHORIZATION=f"Token {world.other_centre_key}")

    for probe in MATRIX[name][1](world):
        response = _send(centre_client, probe)
        assert response.status_code in (401, 403), (probe, response.status_code)
        _assert_hides(response, world, probe)

    assert anna_state(world) == before


def test_another_centre_sees_and_changes_none_of_annas_return(world):
    before = anna_state(world)
    other = Client(HTTP_AUTHORIZATION=f"Token {world.other_centre_key}")

    listing = other.get(reverse("returns-api:list"))
    export = other.get(reverse("returns-api:export"))
    event = other.post(
        reverse("returns-api:events", args=[world.returned.rma]),
        {"event_id": "x-1", "kind": "received"},
        content_type="application/json",
    )

    assert listing.status_code == 200
    assert listing.json()["count"] == 0
    assert export.status_code == 200
    assert world.returned.rma not in export.content.decode()
    assert event.status_code == 404
    assert anna_state(world) == before


def test_the_shop_token_sees_annas_coupon(world):
    """The matrix's refusals are not an API that refuses everyone."""
    shop = Client(HTTP_AUTHORIZATION=f"Token {world.shop_key}")

    response = shop.get(reverse("loyalty-api:coupon", args=[world.coupon.code]))

    assert response.status_code == 200
    assert world.coupon.code in response.content.decode()


def test_anna_reaches_everything_bob_was_refused(world):
    """The refusals are about who asks: Anna herself gets her pages."""
    anna = Client()
    anna.force_login(world.anna)
    line = world.order.lines.order_by("pk")[0]

    for path in (
        reverse("reviews:write", args=[line.pk]),
        reverse("reviews:edit", args=[world.review.pk]),
        reverse("returns:choose", args=[world.order.pk]),
        reverse("returns:status", args=[status_token(world.returned)]),
        reverse("returns:slip", args=[status_token(world.returned)]),
        reverse("returns:start-from-link", args=[return_start_token(world.order)]),
        reverse(
            "returns-api:satisfaction",
            args=[satisfaction_token(world.returned, score=4)],
        ),
    ):
        assert anna.get(path).status_code == 200, path
    html = anna.get(reverse("reviews:mine")).content.decode()
    assert SECRET in html


def test_a_return_photo_is_stored_under_a_name_nobody_can_guess(world):
    """Uploads may be served from /media/: a photo named after its order line's id
    (1234.jpg) could be fetched by counting."""
    anna = Client()
    anna.force_login(world.anna)
    line = world.order.lines.order_by("pk")[1]
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, format="JPEG")
    photo = SimpleUploadedFile("dent.jpg", buffer.getvalue(), "image/jpeg")
    data = line_post(line, reason="damaged-in-transit", photo=photo)

    chosen = anna.post(reverse("returns:choose", args=[world.order.pk]), data)
    page = anna.get(chosen["Location"]).content.decode()
    anna.post(
        reverse("returns:confirm", args=[world.order.pk]),
        {"key": confirm_key(page)},
    )

    stem = Path(ReturnPhoto.objects.get().image.name).stem
    assert str(line.pk) not in stem
    assert len(stem) >= 32
