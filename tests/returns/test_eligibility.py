"""Eligibility: the window from delivery in the shop's time zone, not-returnable
items, quantities left after earlier returns, and the policy as it was at purchase."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import translation

from cms.models import PolicySnapshot
from returns import services
from returns.eligibility import eligibility_for_order, last_day, window_closes_at
from returns.models import ReturnStatus
from tests.cms.conftest import republish
from tests.factories import CategoryFactory, ProductFactory
from tests.returns import core_setup as setup

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Delivered 1 March 2026, 10:00 in Amsterdam (09:00 UTC); a 30-day window.
DELIVERED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def policy(db):
    return setup.policy()


@pytest.fixture
def centre(db):
    return setup.centre()


def _order(**kwargs):
    return setup.order(
        placed_at=datetime(2026, 2, 26, tzinfo=UTC), delivered_at=DELIVERED, **kwargs
    )


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_last_day_and_closing_moment_are_counted_in_the_shop_time_zone():
    # 1 March + 30 days: the last day is 31 March; it closes at midnight, Amsterdam
    # time (summer time has started by then: 22:00 UTC).
    assert last_day(DELIVERED, 30).isoformat() == "2026-03-31"
    assert window_closes_at(DELIVERED, 30) == datetime(2026, 4, 1, tzinfo=AMSTERDAM)
    assert window_closes_at(DELIVERED, 30).astimezone(UTC) == datetime(
        2026, 3, 31, 22, 0, tzinfo=UTC
    )


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_a_late_evening_delivery_counts_from_the_shop_s_date_not_utc():
    # 23:30 UTC on 28 Feb is 00:30 on 1 March in Amsterdam: day one is 1 March
    delivered = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    assert last_day(delivered, 30).isoformat() == "2026-03-31"


@pytest.mark.parametrize(
    ("at", "eligible"),
    [
        # the last moment of the last day, Amsterdam time: still in time
        (datetime(2026, 3, 31, 23, 59, 59, tzinfo=AMSTERDAM), True),
        (datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC), True),
        # midnight after the last day: too late
        (datetime(2026, 4, 1, 0, 0, tzinfo=AMSTERDAM), False),
        (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), False),
        # 23:00 on 31 March in London is already 1 April in Amsterdam
        (datetime(2026, 3, 31, 23, 0, tzinfo=ZoneInfo("Europe/London")), False),
        # right after delivery
        (datetime(2026, 3, 1, 9, 1, tzinfo=UTC), True),
    ],
)
@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_window_boundary(policy, at, eligible):
    order = _order()
    [line] = eligibility_for_order(order, at=at)
    assert line.eligible is eligible
    assert line.deadline.isoformat() == "2026-03-31"
    if eligible:
        assert line.explanation == ""
        assert line.returnable_quantity == 2
    else:
        assert line.explanation == "The 30-day return window closed on 31 March 2026."
        assert line.explanation_code == "window"
        assert line.returnable_quantity == 0
        assert line.remaining_quantity == 2


def test_the_date_in_the_explanation_is_in_the_customer_s_language(policy):
    # (the sentence's Dutch comes with the project's catalogue: see /tmp/i18n)
    order = _order()
    with translation.override("nl"):
        [line] = eligibility_for_order(order, at=datetime(2026, 6, 1, tzinfo=UTC))
    assert "31 maart 2026" in line.explanation


def test_an_order_not_delivered_yet_is_in_time_whenever_asked(policy):
    order = setup.order(undelivered=True, placed_at=datetime(2026, 1, 1, tzinfo=UTC))
    [line] = eligibility_for_order(order, at=datetime(2027, 1, 1, tzinfo=UTC))
    assert line.eligible is True
    assert line.deadline is None
    assert line.closes_at is None


def test_not_returnable_items_say_why(policy):
    category = CategoryFactory(name="Hygiene")
    setup.policy(
        title="Hygiene",
        is_default=False,
        categories=[category],
        not_returnable=True,
        not_returnable_reason="Opened hygiene products cannot be returned.",
    )
    order = setup.order(category=category)
    [line] = eligibility_for_order(order)
    assert line.eligible is False
    assert line.explanation == "Opened hygiene products cannot be returned."
    assert line.explanation_code == "not_returnable"
    assert line.resolutions == ()


def test_resolutions_come_from_the_policy(policy):
    order = setup.order()
    [line] = eligibility_for_order(order)
    assert line.resolutions == ("refund", "exchange", "store_credit")


def test_quantity_left_subtracts_earlier_returns_but_not_cancelled_or_rejected(
    policy, centre
):
    order = setup.order(quantity=5)
    line = order.lines.get()
    setup.submit(order, setup.choice(line, quantity=2))
    cancelled = setup.submit(order, setup.choice(line, quantity=1))
    services.cancel(request=cancelled)

    [item] = eligibility_for_order(order)

    assert cancelled.status == ReturnStatus.CANCELLED
    assert (item.bought_quantity, item.returned_quantity) == (5, 2)
    assert item.returnable_quantity == 3


def test_everything_already_returned_is_not_eligible(policy, centre):
    order = setup.order(quantity=1)
    setup.submit(order)
    [item] = eligibility_for_order(order)
    assert item.eligible is False
    assert item.explanation == "All of these have already been returned."


def test_policy_changed_after_purchase_keeps_the_rules_of_the_sale(policy, centre):
    # given an order placed under the 30-day policy, then the policy shortened to 7
    order = setup.order(delivered_at=datetime.now(UTC) - timedelta(days=20))
    republish(policy, window_days=7)
    assert PolicySnapshot.objects.filter(page_id=policy.pk).count() == 2

    # then the order is still judged by 30 days, and a new order by 7
    [old] = eligibility_for_order(order)
    newer = setup.order(
        placed_at=datetime.now(UTC),
        delivered_at=datetime.now(UTC),
    )
    [new] = eligibility_for_order(newer, at=datetime.now(UTC) + timedelta(days=20))
    assert (old.eligible, old.policy.window_days) == (True, 30)
    assert (new.eligible, new.policy.window_days) == (False, 7)


def test_an_order_older_than_the_policy_history_uses_today_s_policy(db):
    setup.policy(since=datetime(2026, 1, 1, tzinfo=UTC))
    order = setup.order(placed_at=datetime(2025, 6, 1, tzinfo=UTC), undelivered=True)
    [item] = eligibility_for_order(order)
    assert item.eligible is True
    assert item.policy.window_days == 30


def test_without_any_policy_nothing_is_returnable(db):
    order = setup.order()
    [item] = eligibility_for_order(order)
    assert (item.eligible, item.explanation) == (
        False,
        "No return policy covers this item.",
    )


@pytest.mark.parametrize("lines", [1, 50])
def test_constant_queries_whatever_the_number_of_lines(
    policy, centre, django_assert_max_num_queries, lines
):
    order = setup.order(lines=lines)
    category = CategoryFactory(name="Shoes")
    setup.policy(title="Shoes", is_default=False, categories=[category])
    line = order.lines.first()
    line.product = ProductFactory(category=category)
    line.save()
    setup.submit(order, setup.choice(order.lines.last()))

    with django_assert_max_num_queries(5):
        found = eligibility_for_order(order)

    assert len(found) == lines
    assert found[0].policy.title == "Shoes"
    assert all(item.policy is not None for item in found)
    assert sum(item.returned_quantity for item in found) == 1
    assert found[-1].returnable_quantity == 1
    assert found[0].order_line.unit_price == Decimal("40.00")
