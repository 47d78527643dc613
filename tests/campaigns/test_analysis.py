"""The holdout comparison on planted data returns the known difference and a 95%
interval that covers it."""

import datetime as dt
import math

import pytest
from django.utils import timezone

from campaigns import analysis
from campaigns.models import Assignment, Group
from returns.models import ReturnStatus
from shop.models import Customer, Order, OrderSource
from tests.campaigns.core_setup import make_campaign, start_return


def test_wilson_matches_the_textbook_value():
    # 81 of 263: Wilson 95% interval (0.2553, 0.3662) (Newcombe 1998, Table I style).
    interval = analysis.wilson(81, 263)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2553, 0.3662)


def test_newcombe_difference_matches_the_published_example():
    # Newcombe (1998) example: 56/70 vs 48/80 → difference 0.2, 95% CI (0.0524, 0.3339).
    d, interval = analysis.difference_interval(56, 70, 48, 80)
    assert round(d, 4) == 0.2
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0524, 0.3339)


def _plant(campaign, *, group, n, returned, rejected=0, variant="A"):
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        Customer(email=f"{group}{variant.lower()}{i}@example.com") for i in range(n)
    )
    orders = Order.objects.bulk_create(
        Order(
            source=OrderSource.SHOP,
            external_id=f"{group}{variant}{i}",
            number=f"{group}{variant}{i}",
            customer=customer,
            placed_at=now - dt.timedelta(days=20),
            delivered_at=now - dt.timedelta(days=18),
            currency="EUR",
            total=0,
        )
        for i, customer in enumerate(customers)
    )
    Assignment.objects.bulk_create(
        Assignment(
            campaign=campaign,
            customer=order.customer,
            order=order,
            group=group,
            variant_code=variant,
            key=f"campaign:{campaign.pk}:{order.pk}",
            assigned_at=now,
        )
        for order in orders
    )
    for order in orders[:returned]:
        start_return(order, status=ReturnStatus.RESOLVED)
    for order in orders[returned : returned + rejected]:
        start_return(order, status=ReturnStatus.REJECTED)


@pytest.mark.django_db
def test_planted_reduction_is_found_with_a_covering_interval():
    campaign = make_campaign(holdout_percent=10)
    # Treated: 90 returns in 900 (10%); holdout: 30 in 150 (20%); rejected returns
    # do not count.
    _plant(campaign, group=Group.TREATMENT, n=900, returned=90, rejected=20)
    _plant(campaign, group=Group.HOLDOUT, n=150, returned=30, rejected=5)

    [result] = analysis.holdout_comparison(campaign)

    assert (result.variant, result.treated_n, result.holdout_n) == ("A", 900, 150)
    assert (result.returns.treated_hits, result.returns.holdout_hits) == (90, 30)
    assert math.isclose(result.treated_return_rate, 0.10)
    assert math.isclose(result.holdout_return_rate, 0.20)
    assert math.isclose(result.difference, -0.10)
    assert result.ci_low < -0.10 < result.ci_high
    assert result.ci_high < 0  # a real reduction at this size
    assert result.returns.significant
    d, interval = analysis.difference_interval(90, 900, 30, 150)
    assert (result.ci_low, result.ci_high) == (interval.low, interval.high)
    assert (result.reviews.treated_hits, result.reviews.holdout_hits) == (0, 0)


@pytest.mark.django_db
def test_each_variant_is_compared_with_the_whole_holdout():
    campaign = make_campaign(holdout_percent=10)
    _plant(campaign, group=Group.TREATMENT, n=200, returned=20, variant="A")
    _plant(campaign, group=Group.TREATMENT, n=200, returned=40, variant="B")
    _plant(campaign, group=Group.HOLDOUT, n=100, returned=15, variant="A")
    _plant(campaign, group=Group.HOLDOUT, n=100, returned=15, variant="B")

    results = {r.variant: r for r in analysis.holdout_comparison(campaign)}

    assert math.isclose(results["A"].difference, 0.10 - 0.15)
    assert math.isclose(results["B"].difference, 0.20 - 0.15)
    assert results["A"].holdout_n == results["B"].holdout_n == 200


@pytest.mark.django_db
def test_no_holdout_yet_gives_no_difference():
    campaign = make_campaign(holdout_percent=10)
    _plant(campaign, group=Group.TREATMENT, n=5, returned=1)

    [result] = analysis.holdout_comparison(campaign)

    assert (result.difference, result.ci_low, result.holdout_return_rate) == (
        None,
        None,
        None,
    )
    assert result.treated_return_rate == 0.2
