"""/api/v1/coupons/{code}: check, redeem (idempotent per order), release."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty import services
from loyalty.models import CouponRedemption, StoreCreditEntry
from shop.services import create_api_token
from tests.loyalty.conftest import RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client):
    _, key = create_api_token(name="webshop")
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


@pytest.fixture
def coupon(customer, reward):
    services.award_points(customer=customer, points=500, key="k", reason="r")
    return services.redeem(customer=customer, reward=reward)


def post(client, name, code, body):
    return client.post(
        reverse(f"loyalty-api:{name}", args=[code]),
        json.dumps(body),
        content_type="application/json",
    )


def get(client, code):
    return client.get(reverse("loyalty-api:coupon", args=[code]))


def error(response) -> tuple[str, str]:
    (only,) = response.json()["errors"]
    return only["path"], only["code"]


def test_a_valid_coupon(api, coupon):
    response = get(api, coupon.code.lower())

    assert response.status_code == 200
    assert response.json() == {
        "code": coupon.code,
        "valid": True,
        "reason": None,
        "kind": "fixed_amount",
        "value": "5.00",
        "currency": "EUR",
        "expires_at": coupon.expires_at.isoformat().replace("+00:00", "Z"),
        "remaining": "5.00",
    }


def test_without_a_token_nothing_is_told(client, coupon):
    assert get(client, coupon.code).status_code == 401


def test_an_unknown_coupon_is_404_with_its_reason(api):
    response = get(api, "NOPE")

    assert response.status_code == 404
    assert error(response) == ("$", "unknown")
    assert (
        post(
            api, "coupon-redeem", "NOPE", {"order_external_id": "o", "currency": "EUR"}
        ).status_code
        == 404
    )


def test_redeem_on_an_order(api, coupon):
    response = post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "A-1", "currency": "eur"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["order_external_id"], body["amount"], body["currency"]) == (
        "A-1",
        "5.00",
        "EUR",
    )
    assert body["coupon"]["valid"] is False
    assert body["coupon"]["reason"] == "already_used"
    assert body["coupon"]["remaining"] == "0.00"


def test_redeem_twice_for_one_order_redeems_once(api, coupon):
    body = {"order_external_id": "A-1", "currency": "EUR"}

    first = post(api, "coupon-redeem", coupon.code, body)
    second = post(api, "coupon-redeem", coupon.code, body)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert CouponRedemption.objects.count() == 1


def test_a_used_coupon_is_refused_on_another_order(api, coupon):
    post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "A-1", "currency": "EUR"},
    )

    response = post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "B-2", "currency": "EUR"},
    )

    assert response.status_code == 409
    assert error(response) == ("$", "already_used")
    assert CouponRedemption.objects.count() == 1


def test_an_expired_coupon_is_refused(api, customer):
    reward = RewardFactory(points_cost=10)
    services.award_points(customer=customer, points=10, key="k", reason="r")
    coupon = services.redeem(
        customer=customer, reward=reward, now=timezone.now() - timedelta(days=91)
    )

    response = post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "A-1", "currency": "EUR"},
    )

    assert response.status_code == 409
    assert error(response) == ("$", "expired")
    assert get(api, coupon.code).json()["reason"] == "expired"
    assert not CouponRedemption.objects.exists()


def test_a_coupon_in_another_currency_is_refused(api, coupon):
    response = post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "A-1", "currency": "USD"},
    )

    assert response.status_code == 422
    assert error(response) == ("currency", "wrong_currency")
    assert not CouponRedemption.objects.exists()


def test_an_amount_above_the_value_is_refused(api, coupon):
    response = post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "A-1", "currency": "EUR", "amount": "5.01"},
    )

    assert response.status_code == 409
    assert error(response) == ("amount", "insufficient_value")


def test_a_bad_body_names_the_field(api, coupon):
    response = post(api, "coupon-redeem", coupon.code, {"currency": "EURO"})

    assert response.status_code == 400
    paths = sorted(e["path"] for e in response.json()["errors"])
    assert paths == ["currency", "order_external_id"]


def test_release_makes_the_coupon_usable_again(api, coupon):
    post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "A-1", "currency": "EUR"},
    )

    released = post(api, "coupon-release", coupon.code, {"order_external_id": "A-1"})
    again = post(api, "coupon-release", coupon.code, {"order_external_id": "A-1"})

    assert released.status_code == again.status_code == 200
    assert released.json()["released_at"] is not None
    assert released.json()["coupon"]["valid"] is True
    other = post(
        api,
        "coupon-redeem",
        coupon.code,
        {"order_external_id": "B-2", "currency": "EUR"},
    )
    assert other.status_code == 200


def test_release_of_an_order_it_was_not_used_on(api, coupon):
    response = post(api, "coupon-release", coupon.code, {"order_external_id": "Z"})

    assert response.status_code == 404
    assert error(response) == ("order_external_id", "not_redeemed")


def test_percentage_and_free_shipping_coupons_take_any_currency(api, customer):
    reward = RewardFactory(kind="percentage", value=Decimal("10"), points_cost=10)
    services.award_points(customer=customer, points=10, key="k", reason="r")
    coupon = services.redeem(customer=customer, reward=reward)

    response = post(
        api, "coupon-redeem", coupon.code, {"order_external_id": "A", "currency": "USD"}
    )

    assert response.status_code == 200
    assert get(api, coupon.code).json()["remaining"] is None


# Store credit --------------------------------------------------------------------------


@pytest.fixture
def credit(customer):
    services.credit_store(
        customer=customer,
        amount=Decimal("30.00"),
        currency="EUR",
        key="return:1",
        reason="Return R-1 refunded as credit",
    )
    return customer.coupons.get(kind="store_credit")


def test_store_credit_is_spent_order_by_order(api, credit):
    first = post(
        api,
        "coupon-redeem",
        credit.code,
        {"order_external_id": "A", "currency": "EUR", "amount": "12.50"},
    )
    repeat = post(
        api,
        "coupon-redeem",
        credit.code,
        {"order_external_id": "A", "currency": "EUR", "amount": "12.50"},
    )
    second = post(
        api,
        "coupon-redeem",
        credit.code,
        {"order_external_id": "B", "currency": "EUR", "amount": "17.50"},
    )

    assert first.status_code == repeat.status_code == second.status_code == 200
    assert first.json()["coupon"]["remaining"] == "17.50"
    assert second.json()["coupon"] == second.json()["coupon"] | {
        "valid": False,
        "reason": "used_up",
        "remaining": "0.00",
    }
    assert StoreCreditEntry.objects.filter(kind="spend").count() == 2


def test_store_credit_cannot_be_overspent(api, credit):
    response = post(
        api,
        "coupon-redeem",
        credit.code,
        {"order_external_id": "A", "currency": "EUR", "amount": "30.01"},
    )

    assert response.status_code == 409
    assert error(response) == ("amount", "insufficient_value")
    assert get(api, credit.code).json()["remaining"] == "30.00"


def test_store_credit_needs_an_amount(api, credit):
    response = post(
        api, "coupon-redeem", credit.code, {"order_external_id": "A", "currency": "EUR"}
    )

    assert response.status_code == 422
    assert error(response) == ("amount", "amount_required")


def test_releasing_store_credit_pays_it_back(api, credit):
    post(
        api,
        "coupon-redeem",
        credit.code,
        {"order_external_id": "A", "currency": "EUR", "amount": "10"},
    )

    post(api, "coupon-release", credit.code, {"order_external_id": "A"})
    post(api, "coupon-release", credit.code, {"order_external_id": "A"})

    assert get(api, credit.code).json()["remaining"] == "30.00"
    assert StoreCreditEntry.objects.filter(kind="release").count() == 1


def test_credit_store_twice_with_one_key_credits_once(customer, credit):
    services.credit_store(
        customer=customer,
        amount=Decimal("30"),
        currency="EUR",
        key="return:1",
        reason="r",
    )
    assert customer.store_credit_accounts.get().balance == Decimal("30.00")


def test_the_schema_documents_the_coupon_endpoints(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    paths = response.json()["paths"]
    assert {"/api/v1/coupons/{code}", "/api/v1/coupons/{code}/redeem"} <= set(paths)
