"""Random sequences of award / redeem / adjust / expire / repeat-with-same-key: after
every step each balance equals the sum of its entries, never goes below zero, and
matches a plain-Python model of the rules."""

import uuid
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.db.models import Sum
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loyalty import services
from loyalty.models import PointsAccount, PointsEntry
from tests.factories import CustomerFactory, UserFactory
from tests.loyalty.conftest import NOW, RewardFactory

CUSTOMERS = 3
KEYS = 6
EXPIRY = relativedelta(months=12)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        run = uuid.uuid4().hex[:8]
        self.prefix = f"h{run}"
        self.customers = [
            CustomerFactory(email=f"{run}-{i}@example.com") for i in range(CUSTOMERS)
        ]
        self.staff = UserFactory(username=f"staff-{run}")
        self.reward = RewardFactory(points_cost=100)
        self.clock = NOW
        self.balance = [0] * CUSTOMERS
        self.expires = [None] * CUSTOMERS
        self.keys: dict[str, int] = {}  # key -> customer index

    def _active(self, index):
        self.expires[index] = self.clock + EXPIRY

    @rule(
        index=st.integers(0, CUSTOMERS - 1),
        points=st.integers(1, 300),
        key=st.integers(0, KEYS - 1),
    )
    def award(self, index, points, key):
        key = f"{self.prefix}:{key}"
        owner = self.keys.get(key)
        if owner is not None and owner != index:
            with pytest.raises(services.KeyConflict):
                services.award_points(
                    customer=self.customers[index],
                    points=points,
                    key=key,
                    reason="r",
                    now=self.clock,
                )
            return
        services.award_points(
            customer=self.customers[index],
            points=points,
            key=key,
            reason="r",
            now=self.clock,
        )
        if owner is None:
            self.keys[key] = index
            self.balance[index] += points
            self._active(index)

    @rule(index=st.integers(0, CUSTOMERS - 1))
    def redeem(self, index):
        if self.balance[index] < 100:
            with pytest.raises(services.InsufficientPoints):
                services.redeem(
                    customer=self.customers[index], reward=self.reward, now=self.clock
                )
            return
        services.redeem(
            customer=self.customers[index], reward=self.reward, now=self.clock
        )
        self.balance[index] -= 100
        self._active(index)

    @rule(
        index=st.integers(0, CUSTOMERS - 1),
        points=st.integers(-300, 300).filter(bool),
    )
    def adjust(self, index, points):
        if self.balance[index] + points < 0:
            with pytest.raises(services.InsufficientPoints):
                services.adjust(
                    customer=self.customers[index],
                    points=points,
                    reason="r",
                    by=self.staff,
                    now=self.clock,
                )
            return
        services.adjust(
            customer=self.customers[index],
            points=points,
            reason="r",
            by=self.staff,
            now=self.clock,
        )
        self.balance[index] += points
        if points > 0:
            self._active(index)

    @rule(days=st.integers(1, 400))
    def expire(self, days):
        self.clock += timedelta(days=days)
        expected = 0
        for index in range(CUSTOMERS):
            if self.balance[index] > 0 and self.expires[index] <= self.clock:
                self.balance[index] = 0
                expected += 1
        mine = PointsEntry.objects.filter(
            kind="expire", account__customer__in=self.customers
        )
        before = mine.count()
        # Accounts of earlier examples (same database) may expire too.
        assert services.expire_due(now=self.clock) >= expected
        assert mine.count() - before == expected

    @precondition(lambda self: self.keys)
    @rule(data=st.data())
    def repeat_a_key(self, data):
        key = data.draw(st.sampled_from(sorted(self.keys)))
        index = self.keys[key]
        before = PointsEntry.objects.count()
        entry = services.award_points(
            customer=self.customers[index], points=999, key=key, reason="again"
        )
        assert entry.key == key
        assert PointsEntry.objects.count() == before

    @invariant()
    def balances_add_up(self):
        for index, customer in enumerate(self.customers):
            account = PointsAccount.objects.filter(customer=customer).first()
            cached = account.balance if account else 0
            total = (
                account.entries.aggregate(total=Sum("amount"))["total"] or 0
                if account
                else 0
            )
            assert cached == total == self.balance[index]
            assert cached >= 0


@pytest.mark.django_db
def test_ledger_state_machine():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=30, deadline=None),
    )
