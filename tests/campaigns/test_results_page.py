"""The results page of a campaign on planted data: the delivery figures from the
outbox, the holdout comparison (return and review rate, difference, 95% interval,
sample sizes) and the charts with their tables, in a constant number of queries."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from campaigns.models import Campaign, CampaignVariant
from returns.models import ReturnStatus
from tests.campaigns.admin_setup import (
    assign,
    marketer,
    url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(db):
    return marketer()


@pytest.fixture
def marketing_client(client, editor):
    client.force_login(editor)
    return client


NBSP = "\u00a0"


@pytest.fixture
def planted():
    """10 orders in the e-mail group (2 returned, a third return rejected, 4
    reviewed) and 5 held out (3 returned, none reviewed)."""
    campaign = Campaign.objects.create(
        name="After delivery", kind="post_purchase", status="active"
    )
    mails = [
        {"delivered", "opened", "clicked"},
        {"delivered", "opened", "clicked"},
        {"delivered", "opened"},
        {"delivered", "opened"},
        {"delivered", "opened", "unsubscribed"},
        {"delivered"},
        {"delivered"},
        {"delivered"},
        {"bounced"},
        set(),
    ]
    for index, mail in enumerate(mails):
        assign(
            campaign,
            group="treatment",
            returned=ReturnStatus.APPROVED if index < 2 else None,
            reviewed=index >= 6,
            mail=mail,
        )
    assign(campaign, group="treatment", returned=ReturnStatus.REJECTED, mail=set())
    # ... that makes 11 treated orders: the rejected return does not count.
    for index in range(5):
        assign(
            campaign,
            group="holdout",
            returned=ReturnStatus.APPROVED if index < 3 else None,
        )
    return campaign


def cell(soup, row, name) -> str:
    return soup.select_one(f'[data-testid="{row}"] [data-testid="{name}"]').get_text(
        strip=True
    )


def test_the_results_show_delivery_and_the_holdout_comparison(
    marketing_client, planted
):
    response = marketing_client.get(url("results", planted.pk))

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    delivery = soup.select_one('[data-testid="delivery"]')
    assert {
        name: cell(soup, "delivery", name)
        for name in (
            "sent",
            "delivered",
            "opened",
            "clicked",
            "unsubscribed",
            "bounced",
        )
    } == {
        "sent": "11",
        "delivered": "8",
        "opened": "5",
        "clicked": "2",
        "unsubscribed": "1",
        "bounced": "1",
    }
    assert delivery is not None
    returns, reviews = "comparison-1-returns", "comparison-1-reviews"
    # 2 of 11 returned against 3 of 5; 4 of 11 reviewed against 0 of 5.
    assert cell(soup, returns, "treated-return-rate") == f"18.2{NBSP}%"
    assert cell(soup, returns, "holdout-return-rate") == f"60.0{NBSP}%"
    assert cell(soup, returns, "return-difference") == f"-41.8{NBSP}%"
    assert cell(soup, returns, "sample-sizes") == "11 / 5"
    assert cell(soup, reviews, "treated-review-rate") == f"36.4{NBSP}%"
    assert cell(soup, reviews, "holdout-review-rate") == f"0.0{NBSP}%"
    assert cell(soup, reviews, "review-difference") == f"36.4{NBSP}%"


def test_the_interval_is_newcombes_and_covers_the_difference(marketing_client, planted):
    soup = BeautifulSoup(
        marketing_client.get(url("results", planted.pk)).content, "html.parser"
    )

    # Newcombe's hybrid score interval for 2/11 − 3/5, worked out by hand.
    assert cell(soup, "comparison-1-returns", "return-ci") == (
        f"-72.9{NBSP}% … 5.5{NBSP}%"
    )


def test_each_chart_comes_with_its_table(marketing_client, planted):
    soup = BeautifulSoup(
        marketing_client.get(url("results", planted.pk)).content, "html.parser"
    )

    for chart_id in (
        "campaign-daily",
        "campaign-assigned",
        "campaign-returns",
        "campaign-reviews",
    ):
        assert soup.select_one(f"svg#{chart_id}") is not None
        assert soup.select_one(f'table[data-chart="{chart_id}"]') is not None
    sent_day = soup.select_one('table[data-chart="campaign-daily"] tbody tr')
    assert [td.get_text() for td in sent_day.select("td")] == ["11", "0", "0"]


def test_a_promotion_has_no_holdout_comparison(marketing_client):
    promotion = Campaign.objects.create(name="Spring sale", kind="promotion")

    response = marketing_client.get(url("results", promotion.pk))

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.select_one('[data-testid="comparison"]') is None
    assert cell(soup, "delivery", "sent") == "0"


def test_the_results_page_costs_the_same_queries_for_more_variants_and_orders(
    marketing_client, planted, django_assert_max_num_queries
):
    small = Campaign.objects.create(name="Small", kind="post_purchase")
    assign(small, group="treatment", mail={"delivered"})
    marketing_client.get(url("results", small.pk))  # warm caches (session, user)
    with django_assert_max_num_queries(20) as small_queries:
        marketing_client.get(url("results", small.pk))

    for code in ("A", "B", "C"):
        CampaignVariant.objects.create(campaign=planted, code=code)
    assign(planted, group="treatment", code="B", mail={"delivered"})
    assign(planted, group="treatment", code="C", mail=set())
    with django_assert_max_num_queries(len(small_queries)):
        response = marketing_client.get(url("results", planted.pk))

    assert len(response.context["comparison"]) == 3
