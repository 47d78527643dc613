"""My points and My coupons: a signed-in customer's own loyalty data, in en and nl."""

import pytest
from django.urls import reverse
from django.utils import translation

from loyalty import services
from loyalty.models import Coupon, PointsAccount
from tests.factories import CustomerFactory, UserFactory
from tests.loyalty.conftest import RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(customer):
    user = UserFactory(username="anna", email="anna@example.com")
    customer.user = user
    customer.save()
    return user


@pytest.fixture
def anna_client(client, anna):
    client.force_login(anna)
    return client


@pytest.fixture
def bert():
    user = UserFactory(username="bert", email="bert@example.com")
    customer = CustomerFactory(email="bert@example.com", user=user)
    services.award_points(
        customer=customer, points=777, key="bert", reason="Bert's secret review"
    )
    return customer


def test_my_points_needs_a_login(client):
    response = client.get(reverse("loyalty:my_points"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_my_points_shows_balance_history_rewards_and_disclosure(
    anna_client, customer, reward, bert, django_assert_max_num_queries
):
    services.award_points(
        customer=customer, points=650, key="review:1", reason="Review #1 approved"
    )

    with django_assert_max_num_queries(12):
        response = anna_client.get(reverse("loyalty:my_points"))

    text = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="points-balance">650<' in text
    assert "Review #1 approved" in text
    assert "EUR 5 off" in text
    assert "whatever its rating" in text
    assert "Bert&#x27;s secret review" not in text and "777" not in text


def test_my_points_in_dutch(anna_client, customer):
    services.award_points(customer=customer, points=5, key="k", reason="r")

    # override() restores the thread's language after the request activated Dutch
    with translation.override("en"):
        response = anna_client.get("/nl" + reverse("loyalty:my_points"))

    assert response.status_code == 200
    assert '<html lang="nl">' in response.content.decode()


def test_a_user_without_a_customer_record_sees_how_to_get_points(client):
    client.force_login(UserFactory(username="new"))

    response = client.get(reverse("loyalty:my_points"))

    assert response.status_code == 200
    assert "verified the e-mail address" in response.content.decode()


def test_redeem_from_the_page_issues_a_coupon_once(anna_client, customer, reward):
    services.award_points(customer=customer, points=1000, key="k", reason="r")
    url = reverse("loyalty:redeem", args=[reward.pk])
    body = {"key": "7d5b7c1e-0d4a-4f39-9f51-7c1a2b3c4d5e"}

    first = anna_client.post(url, body)
    anna_client.post(url, body)  # a double click

    assert first.status_code == 302
    assert first["Location"] == reverse("loyalty:my_coupons")
    coupon = Coupon.objects.get()
    assert PointsAccount.objects.get(customer=customer).balance == 500
    page = anna_client.get(reverse("loyalty:my_coupons")).content.decode()
    assert coupon.code in page


def test_redeem_without_enough_points_says_so(anna_client, customer, reward):
    response = anna_client.post(
        reverse("loyalty:redeem", args=[reward.pk]),
        {"key": "7d5b7c1e-0d4a-4f39-9f51-7c1a2b3c4d5e"},
        follow=True,
    )

    assert "Not enough points." in response.content.decode()
    assert not Coupon.objects.exists()


def test_redeem_needs_post(anna_client, reward):
    assert (
        anna_client.get(reverse("loyalty:redeem", args=[reward.pk])).status_code == 405
    )


def test_my_coupons_shows_only_mine(
    anna_client, customer, bert, django_assert_max_num_queries
):
    reward = RewardFactory(points_cost=100)
    services.award_points(customer=customer, points=300, key="k", reason="r")
    mine = [services.redeem(customer=customer, reward=reward) for _ in range(3)]
    theirs = services.redeem(customer=bert, reward=reward)
    services.redeem_coupon(code=mine[0].code, order_external_id="A", currency="EUR")

    with django_assert_max_num_queries(8):
        response = anna_client.get(reverse("loyalty:my_coupons"))

    text = response.content.decode()
    assert all(coupon.code in text for coupon in mine)
    assert theirs.code not in text
    assert "Used" in text and "Ready to use" in text
