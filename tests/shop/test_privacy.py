"""manage.py export_customer / erase_customer: every app's data on one customer."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from loyalty import services as loyalty
from loyalty.models import ExpiryReminder, PointsAccount, Reward
from shop.models import Customer
from tests.factories import CustomerFactory, OrderLineFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    user = UserFactory(username="anna", email="anna@example.com")
    customer = CustomerFactory(
        email="anna@example.com", first_name="Anna", last_name="Jansen", user=user
    )
    OrderLineFactory(order__customer=customer, order__number="#1001")
    reward = Reward.objects.create(
        name="EUR 5 off", kind="fixed_amount", points_cost=100, value=Decimal(5)
    )
    loyalty.award_points(customer=customer, points=150, key="review:1", reason="Review")
    loyalty.redeem(customer=customer, reward=reward)
    loyalty.credit_store(
        customer=customer, amount=Decimal("9.50"), currency="EUR", key="c", reason="r"
    )
    return customer


def export(email) -> dict:
    out = StringIO()
    call_command("export_customer", email, stdout=out)
    return json.loads(out.getvalue())


def test_export_holds_the_shop_and_loyalty_data(anna):
    data = export("Anna@Example.com")

    assert data["shop"]["customer"]["email"] == "anna@example.com"
    assert data["shop"]["customer"]["first_name"] == "Anna"
    assert [o["number"] for o in data["shop"]["orders"]] == ["#1001"]
    assert len(data["shop"]["orders"][0]["lines"]) == 1
    points = data["loyalty"]["points"]
    assert points["balance"] == 50
    assert [e["amount"] for e in points["entries"]] == [150, -100]
    assert len(data["loyalty"]["coupons"]) == 2  # the reward and the store credit
    assert data["loyalty"]["store_credit"][0]["balance"] == "9.50"


def test_export_to_a_file(anna, tmp_path):
    target = tmp_path / "anna.json"

    call_command(
        "export_customer", "anna@example.com", output=str(target), stderr=StringIO()
    )

    assert json.loads(target.read_text())["shop"]["customer"]["last_name"] == "Jansen"


def test_export_of_an_unknown_customer_is_refused():
    with pytest.raises(CommandError, match="No customer"):
        call_command("export_customer", "nobody@example.com", stdout=StringIO())


def test_erase_anonymises_the_person_and_keeps_ledgers_adding_up(anna):
    account = PointsAccount.objects.get(customer=anna)
    ExpiryReminder.objects.create(account=account, expires_on="2030-01-01", points=50)
    out = StringIO()

    call_command("erase_customer", "anna@example.com", stdout=out)

    customer = Customer.objects.get(pk=anna.pk)
    assert customer.email == f"erased-{anna.pk}@invalid"
    assert (customer.first_name, customer.last_name, customer.user) == ("", "", None)
    assert customer.marketing_consent is False
    assert customer.orders.count() == 1
    account.refresh_from_db()
    assert account.balance == 50
    assert account.entries.aggregate(total=Sum("amount"))["total"] == 50
    assert not ExpiryReminder.objects.exists()
    summary = json.loads(out.getvalue())
    assert summary["loyalty"]["points_entries_kept"] == 2
    assert summary["loyalty"]["reminders_dropped"] == 1
    call_command("check_ledger", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("export_customer", "anna@example.com", stdout=StringIO())


def test_erase_leaves_other_customers_alone(anna):
    bert = CustomerFactory(email="bert@example.com", first_name="Bert")

    call_command("erase_customer", "anna@example.com", stdout=StringIO())

    bert.refresh_from_db()
    assert (bert.email, bert.first_name) == ("bert@example.com", "Bert")
