"""insights models: the view permission for the staff groups, the override deciding
the flag, and the constraints in the database."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError
from django.utils import timezone

from insights.models import CustomerInsight, InsightsSettings, Override, Persona
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["Returns team", "Marketing"])
def test_the_staff_groups_may_view_insights(name):
    user = UserFactory()
    user.groups.add(Group.objects.get(name=name))

    assert user.has_perm("insights.view_insights")


def test_others_may_not():
    assert not UserFactory(is_staff=True).has_perm("insights.view_insights")
    assert UserFactory(is_superuser=True).has_perm("insights.view_insights")


@pytest.mark.parametrize(
    ("computed", "override", "serial"),
    [
        (False, Override.NONE, False),
        (True, Override.NONE, True),
        (False, Override.ALWAYS, True),
        (True, Override.NEVER, False),
    ],
)
def test_the_override_decides(computed, override, serial):
    row = CustomerInsight(computed_serial=computed, override=override)

    assert row.is_serial_returner is serial


def _row(**fields):
    values = {"customer": CustomerFactory(), "computed_at": timezone.now()}
    return CustomerInsight.objects.create(**(values | fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"override": "sometimes"},
        {"persona": "shopaholic"},
        {"delivered_units": 1, "returned_units": 2},
    ],
)
def test_the_database_refuses_invalid_rows(fields):
    with pytest.raises(IntegrityError):
        _row(**fields)


def test_defaults():
    config = InsightsSettings.load()

    assert (config.serial_window_days, config.serial_min_orders) == (365, 3)
    assert config.serial_min_returned_units == 3
    assert config.serial_min_return_rate == Decimal("0.50")
    assert (config.product_min_units, config.wilson_z) == (20, Decimal("1.96"))
    assert config.serial_needs_approval is True
    assert _row().persona == Persona.NEW
