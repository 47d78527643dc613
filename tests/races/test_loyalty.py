"""Points redemption at the exact moment of a race: the balance never goes below
zero, a double click issues one coupon, and a coupon is used on one order."""

from decimal import Decimal

import pytest

from loyalty import services
from loyalty.models import Coupon, CouponRedemption, PointsAccount, PointsEntry
from tests.factories import CustomerFactory, UserFactory
from tests.loyalty.conftest import RewardFactory
from tests.races.interleave import competitor_at

pytestmark = [
    pytest.mark.races,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def customer():
    customer = CustomerFactory(email="anna@example.com")
    services.award_points(customer=customer, points=500, key="earned", reason="r")
    return customer


@pytest.fixture
def reward():
    return RewardFactory(name="EUR 5 off", points_cost=500, value=Decimal("5.00"))


def balance(customer) -> int:
    return PointsAccount.objects.get(customer=customer).balance


def ledger_sum(customer) -> int:
    return sum(
        PointsEntry.objects.filter(account__customer=customer).values_list(
            "amount", flat=True
        )
    )


def test_a_second_tab_redeeming_after_the_balance_check_gets_no_coupon(
    customer, reward
):
    # The balance covers one reward. The second tab's redemption arrives after the
    # first one checked the balance and before it wrote the ledger entry.
    with competitor_at(
        services,
        "_write_entry",
        lambda: services.redeem(customer=customer, reward=reward, key="tab-2"),
    ) as competitor:
        coupon = services.redeem(customer=customer, reward=reward, key="tab-1")

    assert competitor.outcome == "blocked"
    with pytest.raises(services.InsufficientPoints):
        competitor.join()
    assert list(Coupon.objects.values_list("code", flat=True)) == [coupon.code]
    assert balance(customer) == 0 == ledger_sum(customer)


def test_a_double_click_with_the_same_key_gets_the_same_coupon(customer, reward):
    with competitor_at(
        services,
        "_write_entry",
        lambda: services.redeem(customer=customer, reward=reward, key="form-1"),
    ) as competitor:
        coupon = services.redeem(customer=customer, reward=reward, key="form-1")

    assert competitor.outcome == "blocked"
    assert competitor.join() == coupon
    assert Coupon.objects.count() == 1
    assert balance(customer) == 0 == ledger_sum(customer)


def test_staff_taking_points_away_during_a_redemption_cannot_overdraw(customer, reward):
    agent = UserFactory(username="agent", is_staff=True)

    with competitor_at(
        services,
        "_write_entry",
        lambda: services.adjust(
            customer=customer, points=-300, reason="Correction", by=agent
        ),
    ) as competitor:
        services.redeem(customer=customer, reward=reward, key="form-1")

    assert competitor.outcome == "blocked"
    with pytest.raises(services.InsufficientPoints):
        competitor.join()
    assert balance(customer) == 0 == ledger_sum(customer)
    assert PointsEntry.objects.filter(kind="adjust").count() == 0


def test_a_coupon_used_on_two_orders_at_once_is_used_once(customer, reward):
    code = services.redeem(customer=customer, reward=reward).code

    # The second checkout asks while the first holds the coupon and has not yet
    # written its redemption.
    with competitor_at(
        services,
        "_lock_coupon",
        lambda: services.redeem_coupon(
            code=code, order_external_id="order-2", currency="EUR"
        ),
        after=True,
    ) as competitor:
        first = services.redeem_coupon(
            code=code, order_external_id="order-1", currency="EUR"
        )

    assert competitor.outcome == "blocked"
    with pytest.raises(services.CouponAlreadyUsed):
        competitor.join()
    assert list(CouponRedemption.objects.values_list("pk", "order_external_id")) == [
        (first.pk, "order-1")
    ]
