"""Concurrent awards and redemptions on PostgreSQL, from real threads."""

import threading
from collections import Counter

import pytest
from django.db import connection

from loyalty import services
from loyalty.models import Coupon, PointsAccount, PointsEntry
from tests.factories import CustomerFactory
from tests.loyalty.conftest import RewardFactory

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

THREADS = 20


def run_in_threads(action, count=THREADS) -> list:
    """Start `count` threads that call `action()` at the same moment; return what
    each returned or raised."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as exc:  # noqa: BLE001  (collected and asserted on)
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_twenty_threads_award_the_same_key_once(needs_postgres):
    # given an account, so every thread takes award_points' one-statement path
    customer = CustomerFactory()
    services.award_points(customer=customer, points=5, key="first", reason="r")

    results = run_in_threads(
        lambda: (
            services.award_points(
                customer=customer, points=50, key="review:1", reason="r"
            ).pk
        )
    )

    assert len(set(results)) == 1, results
    assert PointsEntry.objects.filter(key="review:1").count() == 1
    assert PointsAccount.objects.get(customer=customer).balance == 55


def test_twenty_threads_award_the_same_key_for_a_new_account(needs_postgres):
    # no account yet: the threads race to create it, then on the key
    customers = [CustomerFactory()]

    results = run_in_threads(
        lambda: (
            services.award_points(
                customer=customers[0], points=10, key="order:9", reason="r"
            ).pk
        )
    )

    assert len(set(results)) == 1, results
    assert PointsAccount.objects.get().balance == 10


def test_twenty_threads_award_different_keys_to_one_account(needs_postgres):
    customer = CustomerFactory()
    services.award_points(customer=customer, points=1, key="first", reason="r")
    keys = iter(range(THREADS))
    lock = threading.Lock()

    def award():
        with lock:
            key = f"review:{next(keys)}"
        return services.award_points(customer=customer, points=3, key=key, reason="r")

    run_in_threads(award)

    assert PointsAccount.objects.get(customer=customer).balance == 1 + 3 * THREADS
    assert PointsEntry.objects.count() == 1 + THREADS


def test_twenty_threads_redeem_a_balance_that_covers_five(needs_postgres):
    customer = CustomerFactory()
    reward = RewardFactory(points_cost=100)
    services.award_points(customer=customer, points=500, key="k", reason="r")

    results = run_in_threads(
        lambda: services.redeem(customer=customer, reward=reward).code
    )

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"str": 5, "InsufficientPoints": 15}, results
    assert PointsAccount.objects.get(customer=customer).balance == 0
    assert Coupon.objects.count() == 5


def test_twenty_threads_redeem_one_coupon_on_different_orders(needs_postgres):
    customer = CustomerFactory()
    reward = RewardFactory(points_cost=100)
    services.award_points(customer=customer, points=100, key="k", reason="r")
    code = services.redeem(customer=customer, reward=reward).code
    orders = iter(range(THREADS))
    lock = threading.Lock()

    def redeem():
        with lock:
            order = f"o-{next(orders)}"
        return services.redeem_coupon(
            code=code, order_external_id=order, currency="EUR"
        ).order_external_id

    results = run_in_threads(redeem)

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"str": 1, "CouponAlreadyUsed": 19}, results
