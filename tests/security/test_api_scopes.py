"""API token scopes: a shop token reaches only the endpoints its scopes name. The
routes come from the URL resolver, so a new endpoint is covered as soon as it exists:
it must name a scope (or be public on purpose), or every shop token is refused.

Scopes are fixed when a token is made (`create_api_token --scope …`); a token made
without naming any, like every token made before scopes existed, has them all."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.permissions import AllowAny

from loyalty.models import CouponRedemption
from returns.models import FulfilmentCentre, ReturnEvent
from returns.services import create_centre_token
from shop.models import ApiScope, ApiToken, Order, Product
from shop.services import create_api_token
from tests.returns.portal_setup import centre
from tests.security.test_csrf import _routes, _sample_path

pytestmark = pytest.mark.django_db

# Public on purpose: the schema, its docs, the policy and reviews of a product.
PUBLIC = {
    "api-schema",
    "api-docs",
    "cms-api:policy-for-product",
    "reviews-api:product-reviews",
}
METHODS = ("get", "put", "post", "patch", "delete")


def _api_routes() -> list[tuple[str, str, type]]:
    """(name, pattern, view class) of every DRF route."""
    return [
        (name, pattern, callback.cls)
        for name, pattern, callback in _routes()
        if getattr(callback, "cls", None) is not None
    ]


def _calls() -> list[tuple[str, str, str, str | None]]:
    """(route name, pattern, method, scope) of every token-authenticated call."""
    return [
        (name, pattern, method, getattr(view, "required_scope", None))
        for name, pattern, view in _api_routes()
        if name not in PUBLIC
        for method in METHODS
        if hasattr(view, method)
    ]


def _api(*scopes: str) -> Client:
    _token, key = create_api_token(name="-".join(scopes) or "none", scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _call(client: Client, method: str, path: str):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, "{}", content_type="application/json")


def _stored() -> tuple:
    return (
        Order.objects.count(),
        Product.objects.count(),
        CouponRedemption.objects.count(),
        ReturnEvent.objects.count(),
    )


def test_every_api_route_is_public_on_purpose_or_names_a_scope():
    views = {name: view for name, _pattern, view in _api_routes()}

    public = {
        name for name, view in views.items() if AllowAny in view.permission_classes
    }
    unscoped = {
        name
        for name, view in views.items()
        if name not in public and getattr(view, "required_scope", None) is None
    }

    assert public == PUBLIC
    assert unscoped == set()
    assert {scope for *_rest, scope in _calls()} == set(ApiScope.values)


@pytest.mark.parametrize(
    ("name", "pattern", "method", "scope"), _calls(), ids=lambda v: str(v)
)
def test_a_token_without_the_scope_is_refused_and_changes_nothing(
    name, pattern, method, scope
):
    others = [s for s in ApiScope.values if s != scope]
    before = _stored()

    response = _call(_api(*others), method, _sample_path(name, pattern))

    assert response.status_code == 403, (name, method, response.status_code)
    [error] = response.json()["errors"]
    assert f"it needs the scope '{scope}'" in error["message"]
    assert _stored() == before


@pytest.mark.parametrize(
    ("name", "pattern", "method", "scope"), _calls(), ids=lambda v: str(v)
)
def test_a_token_with_just_that_scope_gets_past_the_scope_check(
    name, pattern, method, scope
):
    response = _call(_api(scope), method, _sample_path(name, pattern))

    # The made-up ids and the empty body may be refused (400, 404), not the token's
    # scopes (reporting return events is for a centre's own key: 403, its reason).
    assert response.status_code != 401, (name, method)
    if response.status_code == 403:
        assert "needs the scope" not in response.content.decode(), (name, method)
        assert name == "returns-api:events"


def test_a_storefront_token_checks_coupons_but_cannot_push_orders_or_read_returners():
    storefront = _api(ApiScope.COUPONS)

    order = storefront.put(
        reverse("api:order", args=["A-1"]),
        json.dumps({"number": "#1", "lines": []}),
        content_type="application/json",
    )
    returners = storefront.get(reverse("insights-api:serial-returners"))
    coupon = storefront.get(reverse("loyalty-api:coupon", args=["NOPE-1234"]))

    assert (order.status_code, returners.status_code) == (403, 403)
    assert coupon.status_code == 404  # past the scope check: no such coupon
    assert Order.objects.count() == 0


def test_a_token_made_without_naming_scopes_may_use_every_endpoint():
    token, _key = create_api_token(name="webshop")

    assert token.scopes == ApiScope.values


def test_a_fulfilment_centres_own_key_is_not_a_shop_token(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _centre, key = create_centre_token(centre=centre())

    api = Client(HTTP_AUTHORIZATION=f"Token {key}")

    # Its own returns: yes. The shop's endpoints: no key of theirs at all.
    assert api.get(reverse("returns-api:list")).status_code == 200
    assert api.get(reverse("insights-api:serial-returners")).status_code == 401
    assert api.get(reverse("loyalty-api:coupon", args=["X"])).status_code == 401
    assert FulfilmentCentre.objects.get().key_prefix == key[:8]


def test_the_command_makes_a_token_with_the_scopes_named():
    out, err = StringIO(), StringIO()

    call_command(
        "create_api_token",
        "storefront",
        "--scope",
        "coupons",
        "--scope",
        "orders",
        stdout=out,
        stderr=err,
    )

    token = ApiToken.objects.get()
    assert token.scopes == ["orders", "coupons"]
    assert "scopes: orders, coupons" in err.getvalue()
    key = out.getvalue().strip()
    assert (
        Client(HTTP_AUTHORIZATION=f"Token {key}")
        .get(reverse("insights-api:products"))
        .status_code
        == 403
    )


def test_the_command_refuses_an_unknown_scope_and_makes_no_token():
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        call_command("create_api_token", "x", "--scope", "admin", stderr=StringIO())

    assert ApiToken.objects.count() == 0


def test_the_admin_shows_a_tokens_scopes_and_cannot_change_them(
    client, django_user_model
):
    admin = django_user_model.objects.create_superuser("root", "root@example.com")
    client.force_login(admin)
    token, _key = create_api_token(name="storefront", scopes=[ApiScope.COUPONS])
    viewset = ApiToken.snippet_viewset
    listing = client.get(reverse(viewset.get_url_name("list")))
    edit = reverse(viewset.get_url_name("edit"), args=[token.pk])

    response = client.post(edit, {"scopes": json.dumps(ApiScope.values)})

    [row] = [
        tr
        for tr in re.findall(r"<tr.*?</tr>", listing.content.decode(), re.DOTALL)
        if "storefront" in tr
    ]
    assert re.search(r"<td[^>]*>\s*coupons\s*</td>", row)
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.scopes == ["coupons"]
