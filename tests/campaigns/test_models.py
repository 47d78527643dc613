"""Campaign status moves only along the allowed transitions, one event per move;
the database keeps the invariants; the Marketing group may run campaigns."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    Assignment,
    Campaign,
    CampaignContent,
    CampaignKind,
    CampaignStatus,
    Group,
)
from emails.models import Message
from tests.campaigns.core_setup import make_campaign
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_activate_pause_resume_finish_each_write_an_event():
    user = UserFactory()
    campaign = make_campaign(status=CampaignStatus.DRAFT)

    services.activate(campaign=campaign, by=user)
    services.pause(campaign=campaign, by=user)
    services.resume(campaign=campaign, by=user)
    services.finish(campaign=campaign, by=user)

    assert campaign.status == CampaignStatus.FINISHED
    assert campaign.activated_at is not None
    assert list(campaign.events.values_list("from_status", "to_status", "by")) == [
        ("draft", "active", user.pk),
        ("active", "paused", user.pk),
        ("paused", "active", user.pk),
        ("active", "finished", user.pk),
    ]


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (CampaignStatus.DRAFT, services.pause),
        (CampaignStatus.DRAFT, services.resume),
        (CampaignStatus.ACTIVE, services.activate),
        (CampaignStatus.FINISHED, services.resume),
        (CampaignStatus.FINISHED, services.activate),
    ],
)
def test_an_illegal_move_is_refused_and_changes_nothing(status, action):
    campaign = make_campaign(status=status)

    with pytest.raises(services.IllegalTransition):
        action(campaign=campaign, by=None)

    campaign.refresh_from_db()
    assert campaign.status == status
    assert campaign.events.count() == 0


def test_a_campaign_without_content_or_a_promotion_without_a_time_cannot_start():
    empty = Campaign.objects.create(name="Empty", kind=CampaignKind.POST_PURCHASE)
    promo = make_campaign(kind=CampaignKind.PROMOTION, status=CampaignStatus.DRAFT)

    with pytest.raises(services.CampaignIncomplete):
        services.activate(campaign=empty, by=None)
    with pytest.raises(services.CampaignIncomplete):
        services.activate(campaign=promo, by=None)

    assert {c.status for c in Campaign.objects.all()} == {CampaignStatus.DRAFT}


def test_database_constraints():
    campaign = make_campaign()
    customer = CustomerFactory()
    message = Message.objects.create(
        key="x", to_email="x@example.com", sender_label="t", subject="s", text="t"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=60)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            campaign=campaign,
            customer=customer,
            group=Group.HOLDOUT,
            key="k1",
            message=message,
            assigned_at=timezone.now(),
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignContent.objects.create(campaign=campaign, language="en", subject="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(
            name="p",
            kind=CampaignKind.PROMOTION,
            status=CampaignStatus.ACTIVE,
            scheduled_at=None,
        )


def test_the_marketing_group_may_run_campaigns():
    codenames = set(
        AuthGroup.objects.get(name="Marketing")
        .permissions.filter(content_type__app_label="campaigns")
        .values_list("codename", flat=True)
    )
    assert {
        "add_campaign",
        "change_campaign",
        "view_campaign",
        "delete_campaign",
        "add_campaigncontent",
        "view_assignment",
    } <= codenames


def test_promotion_time_is_kept():
    when = timezone.now() + dt.timedelta(days=1)
    campaign = make_campaign(kind=CampaignKind.PROMOTION, scheduled_at=when)
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at == when
