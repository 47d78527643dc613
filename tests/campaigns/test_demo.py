"""seed_demo's campaigns: a post-purchase campaign whose planted history shows fewer
returns in the treated group, a review request, a scheduled promotion; the history's
e-mails are sent already; a second run changes nothing."""

import pytest

from campaigns import analysis, demo
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Group
from cms import demo as cms_demo
from emails.models import Message, Status
from returns import demo as returns_demo
from shop import demo as shop_demo

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            shop_demo.seed_demo(orders=1500, customers=150)
            cms_demo.seed_demo()
            returns_demo.seed_demo()
            first = demo.seed_demo()
            second = demo.seed_demo()
            yield first, second
            transaction.set_rollback(True)


def test_three_campaigns_and_nothing_new_on_a_second_run(seeded):
    first, second = seeded
    assert first["campaigns"] == 3
    assert first["assignments"] > 500
    assert second == {"campaigns": 0, "assignments": 0, "messages": 0}
    kinds = dict(Campaign.objects.values_list("kind", "status"))
    assert kinds == {
        CampaignKind.POST_PURCHASE: CampaignStatus.ACTIVE,
        CampaignKind.REVIEW_REQUEST: CampaignStatus.ACTIVE,
        CampaignKind.PROMOTION: CampaignStatus.ACTIVE,
    }
    assert Campaign.objects.get(kind=CampaignKind.PROMOTION).scheduled_at is not None


def test_the_history_is_sent_already_and_treated_return_less(seeded):
    campaign = Campaign.objects.get(name=demo.POST_PURCHASE)
    messages = Message.objects.filter(sender_label=campaign.sender_label)
    assert messages.exists()
    assert not messages.exclude(status=Status.SENT).exists()
    assert not campaign.assignments.filter(
        group=Group.HOLDOUT, message__isnull=False
    ).exists()

    results = analysis.holdout_comparison(campaign)

    assert {r.variant for r in results} == {"A", "B"}
    for result in results:
        assert result.difference < 0
    figures = analysis.delivery_figures(campaign)
    assert figures["sent"] == messages.count()
    assert 0 < figures["opened"] < figures["sent"]
