"""The points ledger's services: award, adjust, redeem, reverse, expire."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from loyalty import services
from loyalty.models import (
    AppendOnlyError,
    Coupon,
    ExpiryReminder,
    LoyaltySettings,
    PointsAccount,
    PointsEntry,
)
from tests.factories import CustomerFactory, OrderFactory
from tests.loyalty.conftest import NOW, RewardFactory

pytestmark = pytest.mark.django_db


def balance_of(customer) -> int:
    return PointsAccount.objects.get(customer=customer).balance


def test_award_points_writes_an_entry_and_moves_the_balance(customer):
    entry = services.award_points(
        customer=customer, points=50, key="review:1", reason="Review #1", now=NOW
    )

    assert (entry.amount, entry.kind, entry.key) == (50, "earn", "review:1")
    assert balance_of(customer) == 50
    account = PointsAccount.objects.get(customer=customer)
    assert account.last_activity_at == NOW
    assert account.expires_at == NOW.replace(year=2027)


def test_a_second_award_moves_balance_and_expiry_the_same_way(customer):
    # the first award creates the account; later ones take the one-statement path
    services.award_points(customer=customer, points=50, key="a", reason="r", now=NOW)
    later = NOW.replace(month=5, day=31)

    entry = services.award_points(
        customer=customer, points=7, key="b", reason="r", now=later
    )

    assert PointsEntry.objects.get(pk=entry.pk).amount == 7
    account = PointsAccount.objects.get(customer=customer)
    assert (account.balance, account.last_activity_at) == (57, later)
    assert account.expires_at == later.replace(year=2027)


def test_award_with_the_same_key_returns_the_first_entry(customer):
    first = services.award_points(customer=customer, points=50, key="k", reason="r")

    again = services.award_points(customer=customer, points=80, key="k", reason="r")

    assert again.pk == first.pk
    assert PointsEntry.objects.count() == 1
    assert balance_of(customer) == 50


def test_a_key_of_another_customer_is_refused(customer):
    services.award_points(customer=customer, points=50, key="k", reason="r")
    other = CustomerFactory()

    with pytest.raises(services.KeyConflict):
        services.award_points(customer=other, points=50, key="k", reason="r")

    assert PointsEntry.objects.count() == 1


@pytest.mark.parametrize("points", [0, -5])
def test_award_needs_positive_points(customer, points):
    with pytest.raises(ValueError):
        services.award_points(customer=customer, points=points, key="k", reason="r")
    assert not PointsEntry.objects.exists()


def test_adjust_records_who_and_why(customer, staff):
    services.award_points(customer=customer, points=100, key="k", reason="r")

    entry = services.adjust(
        customer=customer, points=-30, reason="  Goodwill error  ", by=staff
    )

    assert (entry.amount, entry.kind, entry.reason, entry.created_by) == (
        -30,
        "adjust",
        "Goodwill error",
        staff,
    )
    assert balance_of(customer) == 70


def test_adjust_without_a_reason_is_refused(customer, staff):
    with pytest.raises(services.ReasonRequired):
        services.adjust(customer=customer, points=10, reason="   ", by=staff)
    assert not PointsEntry.objects.exists()


def test_adjust_cannot_overdraw(customer, staff):
    services.award_points(customer=customer, points=10, key="k", reason="r")

    with pytest.raises(services.InsufficientPoints):
        services.adjust(customer=customer, points=-11, reason="typo", by=staff)

    assert balance_of(customer) == 10
    assert PointsEntry.objects.count() == 1


def test_adjust_with_the_same_key_writes_once(customer, staff):
    for _ in range(2):
        services.adjust(customer=customer, points=5, reason="x", by=staff, key="f:1")
    assert balance_of(customer) == 5


def test_redeem_spends_points_and_issues_a_coupon(customer, reward):
    services.award_points(customer=customer, points=600, key="k", reason="r", now=NOW)

    coupon = services.redeem(customer=customer, reward=reward, now=NOW)

    assert balance_of(customer) == 100
    assert len(coupon.code) == 12
    assert set(coupon.code) <= set(services.CODE_ALPHABET)
    assert (coupon.kind, coupon.value, coupon.currency) == (
        "fixed_amount",
        Decimal("5.00"),
        "EUR",
    )
    assert coupon.expires_at == NOW + timedelta(days=90)
    entry = coupon.points_entry
    assert (entry.amount, entry.kind, entry.key) == (
        -500,
        "redeem",
        f"redeem:{coupon.code}",
    )


def test_redeem_with_too_few_points_is_refused(customer, reward):
    services.award_points(customer=customer, points=499, key="k", reason="r")

    with pytest.raises(services.InsufficientPoints):
        services.redeem(customer=customer, reward=reward)

    assert balance_of(customer) == 499
    assert not Coupon.objects.exists()


def test_redeem_an_inactive_reward_is_refused(customer):
    reward = RewardFactory(active=False)
    services.award_points(customer=customer, points=999, key="k", reason="r")

    with pytest.raises(services.RewardUnavailable):
        services.redeem(customer=customer, reward=reward)
    assert balance_of(customer) == 999


def test_redeem_respects_the_per_customer_limit(customer):
    reward = RewardFactory(points_cost=100, per_customer_limit=1)
    services.award_points(customer=customer, points=300, key="k", reason="r")
    services.redeem(customer=customer, reward=reward)

    with pytest.raises(services.RewardUnavailable):
        services.redeem(customer=customer, reward=reward)
    assert balance_of(customer) == 200


def test_redeem_with_a_key_twice_issues_one_coupon(customer, reward):
    services.award_points(customer=customer, points=1200, key="k", reason="r")

    first = services.redeem(customer=customer, reward=reward, key="form:1")
    second = services.redeem(customer=customer, reward=reward, key="form:1")

    assert first.pk == second.pk
    assert balance_of(customer) == 700


def test_reverse_takes_back_at_most_the_balance(customer, reward):
    services.award_points(customer=customer, points=600, key="review:7", reason="r")
    services.redeem(customer=customer, reward=reward)

    reversal = services.reverse(key="review:7", reason="Review removed")

    assert (reversal.amount, reversal.kind, reversal.key) == (
        -100,
        "reversal",
        "reversal:review:7",
    )
    assert balance_of(customer) == 0
    assert services.reverse(key="review:7", reason="again").pk == reversal.pk
    assert services.reverse(key="review:unknown", reason="x") is None


def test_reverse_when_everything_was_spent_writes_a_zero_entry(customer, reward):
    services.award_points(customer=customer, points=500, key="review:8", reason="r")
    services.redeem(customer=customer, reward=reward)

    reversal = services.reverse(key="review:8", reason="Review removed")

    assert reversal.amount == 0
    assert balance_of(customer) == 0


def test_expire_due_expires_inactive_balances_once(customer):
    services.award_points(customer=customer, points=70, key="k", reason="r", now=NOW)
    fresh = CustomerFactory()
    later = NOW + timedelta(days=300)
    services.award_points(customer=fresh, points=20, key="k2", reason="r", now=later)

    expired = services.expire_due(now=NOW.replace(year=2027) + timedelta(seconds=1))

    assert expired == 1
    assert balance_of(customer) == 0
    assert balance_of(fresh) == 20
    entry = PointsEntry.objects.get(kind="expire")
    assert entry.amount == -70
    assert services.expire_due(now=NOW.replace(year=2028)) == 1  # now fresh expires
    assert services.expire_due(now=NOW.replace(year=2028)) == 0


def test_activity_moves_the_expiry_on(customer, reward):
    services.award_points(customer=customer, points=600, key="k", reason="r", now=NOW)
    redeemed_at = NOW + timedelta(days=200)
    services.redeem(customer=customer, reward=reward, now=redeemed_at)

    assert services.expire_due(now=NOW.replace(year=2027) + timedelta(days=1)) == 0
    assert PointsAccount.objects.get(customer=customer).expires_at == (
        redeemed_at.replace(year=2027)
    )


def test_no_expiry_when_months_is_zero(customer):
    LoyaltySettings.objects.create(expiry_months=0)

    services.award_points(customer=customer, points=70, key="k", reason="r", now=NOW)
    services.award_points(customer=customer, points=1, key="k2", reason="r", now=NOW)

    assert PointsAccount.objects.get(customer=customer).expires_at is None
    assert services.expire_due(now=NOW.replace(year=2040)) == 0


def test_reminders_are_recorded_once_per_account_and_expiry_date(customer):
    services.award_points(customer=customer, points=70, key="k", reason="r", now=NOW)
    soon = NOW.replace(year=2027) - timedelta(days=20)

    assert services.record_expiry_reminders(now=soon - timedelta(days=20)) == 0
    assert services.record_expiry_reminders(now=soon) == 1
    assert services.record_expiry_reminders(now=soon + timedelta(days=1)) == 0
    reminder = ExpiryReminder.objects.get()
    assert (reminder.points, reminder.expires_on) == (70, NOW.replace(year=2027).date())


def test_review_points_include_the_photo_bonus_and_do_not_repeat(customer):
    points = services.award_review_points(
        customer=customer, review_id=3, has_photo=True
    )
    again = services.award_review_points(customer=customer, review_id=3, has_photo=True)

    assert (points.base.amount, points.base.key) == (50, "review:3")
    assert (points.photo.amount, points.photo.key) == (25, "review-photo:3")
    assert points.total == 75
    assert (again.base.pk, again.photo.pk) == (points.base.pk, points.photo.pk)
    assert PointsAccount.objects.get(customer=customer).balance == 75


def test_tiers_multiply_earning(customer):
    LoyaltySettings.objects.create(silver_threshold=100, silver_multiplier="1.50")
    services.award_points(customer=customer, points=100, key="k", reason="r", now=NOW)

    points = services.award_review_points(
        customer=customer, review_id=4, has_photo=False, now=NOW
    )

    assert (points.base.amount, points.photo) == (75, None)  # 50 × 1.5


def test_kept_order_points_only_after_the_return_window(customer):
    LoyaltySettings.objects.create(points_per_euro=2, return_window_days=30)
    order = OrderFactory(
        customer=customer,
        total=Decimal("49.95"),
        delivered_at=NOW - timedelta(days=29),
    )

    assert services.award_points_for_kept_orders(now=NOW) == 0
    later = NOW + timedelta(days=2)
    assert services.award_points_for_kept_orders(now=later) == 1
    assert services.award_points_for_kept_orders(now=later) == 0
    entry = PointsEntry.objects.get(key=f"order:{order.pk}")
    assert entry.amount == 98


def test_kept_order_points_are_off_by_default(customer):
    OrderFactory(
        customer=customer, total=Decimal("100"), delivered_at=NOW - timedelta(days=60)
    )
    assert services.award_points_for_kept_orders(now=NOW) == 0


def test_entries_refuse_updates_and_deletes(customer):
    entry = services.award_points(customer=customer, points=5, key="k", reason="r")

    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        PointsEntry.objects.filter(pk=entry.pk).update(amount=500)
    with pytest.raises(AppendOnlyError):
        PointsEntry.objects.all().delete()


def test_the_database_refuses_a_negative_balance(customer):
    services.award_points(customer=customer, points=5, key="k", reason="r")

    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.filter(customer=customer).update(balance=-1)


def test_the_database_refuses_a_second_entry_with_a_key(customer):
    entry = services.award_points(customer=customer, points=5, key="k", reason="r")

    with pytest.raises(IntegrityError), transaction.atomic():
        PointsEntry.objects.create(
            account=entry.account, amount=5, kind="earn", reason="r", key="k"
        )


def test_the_database_trigger_refuses_raw_updates(customer, needs_postgres):
    from django.db import connection

    entry = services.award_points(customer=customer, points=5, key="k", reason="r")

    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE loyalty_pointsentry SET amount = 500 WHERE id = %s", [entry.pk]
            )
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM loyalty_pointsentry WHERE id = %s", [entry.pk])
    assert PointsEntry.objects.get(pk=entry.pk).amount == 5
