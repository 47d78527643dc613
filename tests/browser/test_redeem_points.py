"""A customer with points signs in, redeems 500 points for a EUR 5 coupon and sees
the code."""

import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from loyalty import services
from loyalty.models import Coupon, Reward
from tests.factories import CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"


def anna_with_points() -> None:
    user = UserFactory(username="anna", email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="anna@example.com", verified=True, primary=True
    )
    customer = CustomerFactory(email="anna@example.com", user=user)
    services.award_points(
        customer=customer, points=650, key="review:1", reason="Review #1 approved"
    )
    Reward.objects.create(
        name="EUR 5 off", kind="fixed_amount", points_cost=500, value=Decimal("5.00")
    )


def test_a_customer_redeems_points_for_a_coupon_and_sees_the_code(page):
    # given: Anna has 650 points and the catalogue has a EUR 5 coupon for 500
    anna_with_points()

    # when: she signs in and opens My points
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("anna@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("link", name="My points").click()

    # then: she sees her balance and history
    expect(page.get_by_role("heading", level=1)).to_have_text("My points")
    expect(page.get_by_test_id("points-balance")).to_have_text("650")
    expect(page.get_by_text("Review #1 approved")).to_be_visible()

    # when: she redeems the reward
    page.get_by_role("button", name="Redeem EUR 5 off").click()

    # then: My coupons shows the new code, and her balance went down by 500
    expect(page).to_have_url(re.compile(r"/coupons/$"))
    code = Coupon.objects.get().code
    expect(page.get_by_role("status")).to_contain_text(code)
    expect(page.get_by_role("cell", name=code)).to_be_visible()
    expect(page.get_by_role("cell", name="EUR 5.00")).to_be_visible()
    page.get_by_role("link", name="My points").click()
    expect(page.get_by_test_id("points-balance")).to_have_text("150")
