"""The serial-returner rule holds a new return for the returns team (through
returns.services.register_approval_check), only when the setting is on."""

import pytest

from insights.models import InsightsSettings
from insights.services import compute_insights, set_override
from returns.models import ReturnStatus
from tests.factories import CustomerFactory, UserFactory
from tests.returns import core_setup as setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def returns_ready():
    setup.policy()
    setup.centre()


def _serial_customer():
    who = CustomerFactory()
    compute_insights(customer_ids=[who.pk])
    set_override(
        customer=who, override="always", reason="known", by=UserFactory(is_staff=True)
    )
    return who


def test_a_serial_returners_return_waits_for_approval(returns_ready):
    order = setup.order(customer=_serial_customer())

    request = setup.submit(order)

    assert request.status == ReturnStatus.REQUESTED
    assert request.needs_approval is True
    assert request.approval_reasons == ["serial_returner"]


def test_other_customers_returns_are_approved_at_once(returns_ready):
    order = setup.order(customer=CustomerFactory())

    request = setup.submit(order)

    assert request.status == ReturnStatus.APPROVED
    assert request.approval_reasons == []


def test_the_rule_is_off_when_the_setting_is_off(returns_ready):
    who = _serial_customer()
    config = InsightsSettings.load()
    config.serial_needs_approval = False
    config.save()

    request = setup.submit(setup.order(customer=who))

    assert request.status == ReturnStatus.APPROVED
    assert request.approval_reasons == []


def test_override_never_lets_the_return_through(returns_ready):
    who = _serial_customer()
    set_override(customer=who, override="never", reason="VIP", by=None)

    request = setup.submit(setup.order(customer=who))

    assert request.status == ReturnStatus.APPROVED


def test_filing_and_cancelling_a_return_recompute_the_customer(
    returns_ready, django_capture_on_commit_callbacks
):
    from insights.models import CustomerInsight
    from returns import services

    order = setup.order(customer=CustomerFactory(), quantity=2)

    with django_capture_on_commit_callbacks(execute=True):
        request = setup.submit(order)

    row = CustomerInsight.objects.get(customer=order.customer)
    assert (row.delivered_units, row.returned_units) == (2, 1)

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(request=request, by=None)

    row.refresh_from_db()
    assert row.returned_units == 0
