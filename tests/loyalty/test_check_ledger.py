"""manage.py check_ledger: every cached balance equals the sum of its entries."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from loyalty import services
from loyalty.models import PointsAccount, StoreCreditAccount

pytestmark = pytest.mark.django_db


def test_a_consistent_ledger_passes(customer, reward):
    services.award_points(customer=customer, points=600, key="k", reason="r")
    services.redeem(customer=customer, reward=reward)
    services.credit_store(
        customer=customer, amount=Decimal("20"), currency="EUR", key="c", reason="r"
    )
    out = StringIO()

    call_command("check_ledger", stdout=out)

    assert "Every balance equals its entries." in out.getvalue()


def test_a_tampered_points_balance_fails(customer):
    services.award_points(customer=customer, points=600, key="k", reason="r")
    PointsAccount.objects.filter(customer=customer).update(balance=9000)
    err = StringIO()

    with pytest.raises(CommandError, match="1 ledger balance"):
        call_command("check_ledger", stderr=err)

    account = PointsAccount.objects.get(customer=customer)
    assert f"points account {account.pk}: balance 9000, entries add up to 600" in (
        err.getvalue()
    )


def test_a_tampered_store_credit_balance_fails(customer):
    services.credit_store(
        customer=customer, amount=Decimal("20"), currency="EUR", key="c", reason="r"
    )
    StoreCreditAccount.objects.update(balance=Decimal("25.00"))

    with pytest.raises(CommandError):
        call_command("check_ledger", stderr=StringIO())


def test_the_command_exits_non_zero(customer):
    services.award_points(customer=customer, points=1, key="k", reason="r")
    PointsAccount.objects.update(balance=2)

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "check_ledger"]).execute()

    assert exit_info.value.code == 1
