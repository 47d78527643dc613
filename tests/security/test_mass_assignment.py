"""Mass assignment: extra fields posted to the customer's forms and to the API
(status, points, customer, user, is_staff, approved, amount, …) are ignored. Each
test posts a valid form plus the extras and checks the record written is exactly
what the honest form would have written."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from emails.rendering import unsubscribe_token
from loyalty import services as loyalty
from loyalty.models import Coupon, CouponRedemption, PointsAccount
from returns import services as returns
from returns.links import status_token
from returns.models import Channel, ReturnRequest, ReturnStatus
from reviews.models import Review, ReviewSettings, ReviewStatus
from shop.models import Customer, Order
from shop.services import create_api_token
from tests.factories import CustomerFactory, UserFactory
from tests.loyalty.conftest import RewardFactory
from tests.returns.portal_setup import centre, default_policy, delivered_order
from tests.reviews.core_helpers import submit as submit_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    default_policy()
    centre()
    rules = ReviewSettings.load()
    rules.auto_approve_clean = False
    rules.save()
    anna = UserFactory(username="anna", email="anna@example.com")
    customer = CustomerFactory(email="anna@example.com", user=anna)
    order = delivered_order(customer, lines=3, number="RW-ANNA-1")
    bob = UserFactory(username="bob", email="bob@example.com")
    bob_customer = CustomerFactory(email="bob@example.com", user=bob)
    bob_order = delivered_order(bob_customer, number="RW-BOB-1", sku="BOB")
    client = Client()
    client.force_login(anna)
    return {
        "anna": anna,
        "customer": customer,
        "order": order,
        "lines": list(order.lines.order_by("pk")),
        "bob": bob,
        "bob_customer": bob_customer,
        "bob_order": bob_order,
        "client": client,
    }


def _extras(w) -> dict:
    """What an attacker adds to any form."""
    return {
        "status": "approved",
        "approved": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "points": "100000",
        "points_awarded": "100000",
        "rewarded": "on",
        "customer": str(w["bob_customer"].pk),
        "customer_id": str(w["bob_customer"].pk),
        "user": str(w["bob"].pk),
        "amount": "1000",
        "value": "1000",
        "channel": Channel.STAFF,
        "window_exception": "on",
        "needs_approval": "",
        "refund_total": "9999",
        "order": str(w["bob_order"].pk),
        "order_line": str(w["bob_order"].lines.get().pk),
    }


REVIEW = {
    "rating": "4",
    "title": "Lovely shirt",
    "body": "Soft fabric, true to size, and it survived the first wash well.",
    "language": "en",
}


def test_writing_a_review_ignores_extra_fields(world):
    line = world["lines"][0]

    response = world["client"].post(
        reverse("reviews:write", args=[line.pk]), REVIEW | _extras(world)
    )

    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.order_line_id, review.customer_id, review.status) == (
        line.pk,
        world["customer"].pk,
        ReviewStatus.PENDING,
    )
    assert (review.points_awarded, review.rewarded) == (0, False)
    assert review.approved_at is None
    assert not PointsAccount.objects.filter(balance__gt=0).exists()


def test_editing_a_review_ignores_extra_fields(world):
    review = submit_review(world["lines"][0])

    response = world["client"].post(
        reverse("reviews:edit", args=[review.pk]),
        REVIEW | {"title": "Changed"} | _extras(world),
    )

    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.title, review.status, review.customer_id) == (
        "Changed",
        ReviewStatus.PENDING,
        world["customer"].pk,
    )
    assert review.points_awarded == 0
    assert review.approved_at is None


def test_redeeming_points_ignores_extra_fields(world):
    loyalty.award_points(customer=world["customer"], points=300, key="k", reason="r")
    reward = RewardFactory(points_cost=100, value=Decimal("5.00"))

    response = world["client"].post(
        reverse("loyalty:redeem", args=[reward.pk]),
        {"key": str(uuid.uuid4())}
        | _extras(world)
        | {"points_cost": "0", "kind": "percent", "expires_at": "2099-01-01"},
    )

    assert response.status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.customer_id, coupon.value, coupon.kind) == (
        world["customer"].pk,
        Decimal("5.00"),
        reward.kind,
    )
    assert PointsAccount.objects.get(customer=world["customer"]).balance == 200
    assert not PointsAccount.objects.filter(customer=world["bob_customer"]).exists()


def _file_return(client, order, data):
    chosen = client.post(reverse("returns:choose", args=[order.pk]), data)
    assert chosen.status_code == 302, chosen.content.decode()[:2000]
    page = client.get(chosen["Location"]).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    return key


def test_filing_a_return_ignores_extra_fields(world):
    order, line = world["order"], world["lines"][0]
    bob_line = world["bob_order"].lines.get()
    prefix = f"line-{line.pk}"
    data = {
        f"{prefix}-quantity": "1",
        f"{prefix}-reason": "size-fit",
        f"{prefix}-resolution": "refund",
        # someone else's line, and more than bought of another line of this order
        f"line-{bob_line.pk}-quantity": "1",
        f"line-{bob_line.pk}-reason": "size-fit",
        f"line-{bob_line.pk}-resolution": "refund",
    } | _extras(world)
    client = world["client"]

    key = _file_return(client, order, data)
    done = client.post(
        reverse("returns:confirm", args=[order.pk]), {"key": key} | _extras(world)
    )

    assert done.status_code == 302
    found = ReturnRequest.objects.get()
    assert (found.order_id, found.customer_id, found.channel) == (
        order.pk,
        world["customer"].pk,
        Channel.ACCOUNT,
    )
    assert found.window_exception is False
    assert list(found.lines.values_list("order_line_id", "quantity")) == [(line.pk, 1)]
    assert found.status in (ReturnStatus.APPROVED, ReturnStatus.REQUESTED)


def test_cancelling_a_return_ignores_extra_fields(world):
    found = returns.submit_return(
        order=world["order"],
        choices=[returns.LineChoice(world["lines"][0].pk, 1, "size-fit", "refund")],
        channel=Channel.ACCOUNT,
        idempotency_key="k-1",
        by_user=world["anna"],
    )

    world["client"].post(
        reverse("returns:cancel", args=[status_token(found)]),
        {"confirm": "on"} | _extras(world) | {"status": "resolved"},
    )

    found.refresh_from_db()
    assert found.status == ReturnStatus.CANCELLED
    assert found.refund_total in (None, Decimal("0.00"))


def test_the_guest_lookup_ignores_an_order_id(world):
    response = Client().post(
        reverse("returns:portal"),
        {"order_number": "RW-ANNA-1", "email": "anna@example.com"}
        | {"order_id": str(world["bob_order"].pk)},
    )

    assert response.status_code == 302
    assert response["Location"].endswith(
        reverse("returns:choose", args=[world["order"].pk])
    )


def test_signing_up_cannot_make_a_staff_account(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "eve@example.com",
            "password1": "a long and unusual passphrase 42",
            "password2": "a long and unusual passphrase 42",
            "is_staff": "on",
            "is_superuser": "on",
            "is_active": "on",
            "groups": "1",
            "username": "admin",
        },
    )

    assert response.status_code == 302
    user = get_user_model().objects.get(email="eve@example.com")
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert user.groups.count() == 0
    assert user.username != "admin"


# The API -------------------------------------------------------------------------------


ORDER = {
    "number": "#1001",
    "placed_at": "2025-03-01T10:00:00Z",
    "currency": "EUR",
    "customer": {"email": "carol@example.com", "first_name": "Carol"},
    "lines": [
        {
            "external_id": "l1",
            "sku": "TEE-M",
            "name": "T-shirt M",
            "quantity": 1,
            "unit_price": "19.95",
        }
    ],
}


@pytest.fixture
def api():
    _token, key = create_api_token(name="shop")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_an_order_push_ignores_fields_that_are_not_the_orders(world, api):
    body = ORDER | {
        "id": world["order"].pk,
        "pk": world["order"].pk,
        "total": "0.01",
        "customer_id": world["customer"].pk,
        "points": 100000,
        "status": "delivered",
    }
    body["customer"] = ORDER["customer"] | {
        "id": world["customer"].pk,
        "user": world["bob"].pk,
        "is_staff": True,
    }
    body["lines"] = [ORDER["lines"][0] | {"id": world["lines"][0].pk, "order": 1}]

    response = api.put(
        reverse("api:order", args=["C-1"]),
        json.dumps(body),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get(external_id="C-1")
    assert order.pk != world["order"].pk
    assert order.total == Decimal("19.95")
    assert order.customer.email == "carol@example.com"
    assert order.customer.user_id is None
    anna = Customer.objects.get(pk=world["customer"].pk)
    assert (anna.email, anna.user_id) == ("anna@example.com", world["anna"].pk)
    assert world["order"].lines.count() == 3


def test_a_coupon_redemption_ignores_extra_fields(world, api):
    loyalty.award_points(customer=world["customer"], points=100, key="k", reason="r")
    coupon = loyalty.redeem(
        customer=world["customer"], reward=RewardFactory(points_cost=100)
    )

    response = api.post(
        reverse("loyalty-api:coupon-redeem", args=[coupon.code]),
        json.dumps(
            {
                "order_external_id": "o-1",
                "currency": "EUR",
                "value": "1000",
                "single_use": False,
                "customer": world["bob_customer"].pk,
                "released_at": "2020-01-01T00:00:00Z",
            }
        ),
        content_type="application/json",
    )

    assert response.status_code in (200, 201), response.content
    redemption = CouponRedemption.objects.get()
    assert (redemption.amount, redemption.single_use, redemption.released_at) == (
        coupon.value,
        True,
        None,
    )
    coupon.refresh_from_db()
    assert (coupon.value, coupon.customer_id) == (
        Decimal("5.00"),
        world["customer"].pk,
    )


def test_mail_preferences_change_only_the_consent(world):
    customer = world["customer"]
    customer.marketing_consent = True
    customer.save()
    path = reverse("emails:preferences", args=[unsubscribe_token(customer.pk)])

    response = Client().post(
        path,
        {"marketing": ""}
        | _extras(world)
        | {"email": "eve@example.com", "language": "nl", "first_name": "Eve"},
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.marketing_consent is False
    assert (
        customer.email,
        customer.language,
        customer.first_name,
        customer.user_id,
    ) == (
        "anna@example.com",
        "en",
        "Anna",
        world["anna"].pk,
    )


def test_a_centre_event_ignores_status_and_money_fields(world):
    found = returns.submit_return(
        order=world["order"],
        choices=[returns.LineChoice(world["lines"][0].pk, 1, "size-fit", "refund")],
        channel=Channel.ACCOUNT,
        idempotency_key="k-1",
        by_user=world["anna"],
    )
    _centre, key = returns.create_centre_token(centre=found.centre)

    response = Client(HTTP_AUTHORIZATION=f"Token {key}").post(
        reverse("returns-api:events", args=[found.rma]),
        json.dumps(
            {
                "event_id": "wms-1",
                "kind": "received",
                "status": "closed",
                "refund_total": "9999.00",
                "customer": world["bob_customer"].pk,
                "centre": "other",
            }
        ),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    found.refresh_from_db()
    assert found.status == ReturnStatus.RECEIVED
    assert found.refund_total in (None, Decimal("0.00"))
    assert found.customer_id == world["customer"].pk
