from datetime import UTC, datetime
from decimal import Decimal

import factory
import pytest

from loyalty.models import Reward, RewardKind
from tests.factories import CustomerFactory, UserFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    name = factory.Sequence(lambda n: f"EUR 5 off #{n}")
    kind = RewardKind.FIXED_AMOUNT
    points_cost = 500
    value = Decimal("5.00")
    currency = "EUR"


@pytest.fixture
def customer(db):
    return CustomerFactory(email="anna@example.com")


@pytest.fixture
def reward(db):
    return RewardFactory(name="EUR 5 off", points_cost=500, value=Decimal("5.00"))


@pytest.fixture
def staff(db):
    return UserFactory(username="agent", email="agent@example.com", is_staff=True)
