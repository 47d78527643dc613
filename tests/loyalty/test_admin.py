"""Loyalty in the Wagtail admin: accounts, ledger, manual adjustment, report."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from loyalty import services
from loyalty.models import (
    Coupon,
    PointsAccount,
    PointsEntry,
    Reward,
    StoreCreditAccount,
)
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY = "1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def member_of(client, group_name):
    user = UserFactory(username=group_name.replace(" ", "-").lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return user


@pytest.fixture
def account(customer, reward):
    services.award_points(
        customer=customer, points=600, key="review:1", reason="Review #1"
    )
    services.redeem(customer=customer, reward=reward)
    return PointsAccount.objects.get(customer=customer)


def url(model, view, *args):
    return reverse(model.snippet_viewset.get_url_name(view), args=args)


@pytest.mark.parametrize("model", [PointsAccount, Coupon, StoreCreditAccount, Reward])
def test_each_listing_renders(superuser_client, account, model):
    services.credit_store(
        customer=account.customer,
        amount=Decimal(5),
        currency="EUR",
        key="c",
        reason="r",
    )
    assert superuser_client.get(url(model, "list")).status_code == 200


def test_accounts_are_searchable_by_email(superuser_client, account):
    CustomerFactory(email="zed@example.com")
    other = CustomerFactory(email="other@example.com")
    services.award_points(customer=other, points=1, key="o", reason="r")

    response = superuser_client.get(url(PointsAccount, "list"), {"q": "anna@"})

    text = response.content.decode()
    assert "anna@example.com" in text
    assert "other@example.com" not in text


def test_the_account_page_shows_its_ledger(superuser_client, account):
    response = superuser_client.get(url(PointsAccount, "inspect", account.pk))

    text = response.content.decode()
    assert response.status_code == 200
    assert "review:1" in text and "Reward: EUR 5 off" in text
    assert reverse("loyalty_accounts:adjust", args=[account.pk]) in text


@pytest.mark.parametrize("group", ["Returns team", "Marketing"])
def test_staff_groups_adjust_with_a_reason_and_are_recorded(client, account, group):
    user = member_of(client, group)
    adjust_url = reverse("loyalty_accounts:adjust", args=[account.pk])

    assert client.get(adjust_url).status_code == 200
    response = client.post(
        adjust_url, {"points": "25", "reason": "Parcel lost", "key": KEY}
    )
    client.post(adjust_url, {"points": "25", "reason": "Parcel lost", "key": KEY})

    assert response.status_code == 302
    entry = PointsEntry.objects.get(kind="adjust")
    assert (entry.amount, entry.reason, entry.created_by) == (25, "Parcel lost", user)
    account.refresh_from_db()
    assert account.balance == 125
    page = client.get(url(PointsAccount, "inspect", account.pk)).content.decode()
    assert "Parcel lost" in page and user.username in page


def test_an_adjustment_needs_a_reason(superuser_client, account):
    response = superuser_client.post(
        reverse("loyalty_accounts:adjust", args=[account.pk]),
        {"points": "25", "reason": "  ", "key": KEY},
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not PointsEntry.objects.filter(kind="adjust").exists()


def test_an_adjustment_cannot_overdraw(superuser_client, account):
    response = superuser_client.post(
        reverse("loyalty_accounts:adjust", args=[account.pk]),
        {"points": "-101", "reason": "oops", "key": KEY},
    )

    assert response.status_code == 200
    assert "cannot go below zero" in response.content.decode()
    account.refresh_from_db()
    assert account.balance == 100


def test_other_staff_cannot_adjust_or_read_the_report(client, account):
    member_of(client, "Editors")

    assert client.get(
        reverse("loyalty_accounts:adjust", args=[account.pk])
    ).status_code in (
        302,
        403,
    )
    assert client.get(reverse("loyalty_report:index")).status_code in (302, 403)


def test_a_customer_cannot_reach_the_loyalty_admin(client, account):
    client.force_login(UserFactory(username="anna"))

    response = client.get(reverse("loyalty_accounts:adjust", args=[account.pk]))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_marketing_edits_the_rewards_catalogue(client):
    member_of(client, "Marketing")

    response = client.post(
        url(Reward, "add"),
        {
            "name": "Free shipping",
            "description": "",
            "kind": "free_shipping",
            "points_cost": "200",
            "value": "0",
            "currency": "EUR",
            "coupon_valid_days": "60",
            "per_customer_limit": "0",
            "active": "on",
            "sort_order": "0",
        },
    )

    assert response.status_code == 302
    assert Reward.objects.get().name == "Free shipping"


def test_the_report_shows_months_chart_and_liability(client, account):
    member_of(client, "Marketing")

    response = client.get(reverse("loyalty_report:index"))

    text = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in text and 'class="bar-issued"' in text
    assert "100 points outstanding × EUR 0.0100 = <strong>EUR 1.00</strong>" in text


def test_the_loyalty_menu_lists_the_report(superuser_client):
    response = superuser_client.get(reverse("wagtailadmin_home"))

    assert reverse("loyalty_report:index") in response.content.decode()


def test_marketing_edits_the_earning_rules(client):
    member_of(client, "Marketing")

    response = client.get(
        reverse("wagtailsettings:edit", args=["loyalty", "loyaltysettings"]),
        follow=True,
    )

    assert response.status_code == 200
    assert "points per approved review" in response.content.decode().lower()
