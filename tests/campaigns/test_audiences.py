"""Who a promotion goes to: consent, not suppressed, the rules, and no serial
returners unless asked; and the scheduler queues exactly that audience."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Assignment, CampaignKind
from emails import services as email_services
from emails.models import Message
from insights.models import CustomerInsight, Persona
from tests.campaigns.core_setup import make_campaign
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


def promotion(**fields):
    return make_campaign(
        kind=CampaignKind.PROMOTION,
        scheduled_at=timezone.now() - dt.timedelta(minutes=1),
        holdout_percent=fields.pop("holdout_percent", 0),
        body=[("text", "<p>Sale</p>")],
        **fields,
    )


@pytest.fixture
def people():
    keen = CustomerFactory(marketing_consent=True, language="nl")
    serial = CustomerFactory(marketing_consent=True)
    CustomerInsight.objects.create(
        customer=serial,
        persona=Persona.SERIAL_RETURNER,
        computed_serial=True,
        computed_at=timezone.now(),
    )
    unsubscribed = CustomerFactory(marketing_consent=True)
    email_services.set_marketing_consent(customer_id=unsubscribed.pk, consent=False)
    suppressed = CustomerFactory(marketing_consent=True)
    email_services.add_suppression(email=suppressed.email.upper())
    never = CustomerFactory(marketing_consent=False)
    return {
        "keen": keen,
        "serial": serial,
        "unsubscribed": unsubscribed,
        "suppressed": suppressed,
        "never": never,
    }


def test_serial_returners_unsubscribed_and_suppressed_are_left_out(people):
    campaign = promotion()

    assert list(services.audience_queryset(campaign)) == [people["keen"]]
    assert services.audience_count(campaign) == 1


def test_serial_returners_can_be_included_on_purpose(people):
    campaign = promotion(include_serial_returners=True)

    assert set(services.audience_queryset(campaign)) == {
        people["keen"],
        people["serial"],
    }


def test_rules_language_category_recent_order_and_persona(people):
    shoes = CategoryFactory(name="Shoes")
    OrderLineFactory(
        order=OrderFactory(customer=people["keen"], placed_at=timezone.now()),
        product=ProductFactory(category=shoes),
    )
    other = CustomerFactory(marketing_consent=True, language="en")
    OrderLineFactory(
        order=OrderFactory(
            customer=other, placed_at=timezone.now() - dt.timedelta(days=90)
        ),
        product=ProductFactory(category=shoes),
    )
    CustomerInsight.objects.create(
        customer=other, persona=Persona.LOYAL_KEEPER, computed_at=timezone.now()
    )

    assert list(services.audience_queryset(promotion(languages=["nl"]))) == [
        people["keen"]
    ]
    assert set(services.audience_queryset(promotion(category=shoes))) == {
        people["keen"],
        other,
    }
    assert list(services.audience_queryset(promotion(ordered_within_days=30))) == [
        people["keen"]
    ]
    assert list(
        services.audience_queryset(promotion(persona=Persona.LOYAL_KEEPER))
    ) == [other]


@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00")
def test_a_promotion_waits_for_its_time_then_queues_its_audience_once(people):
    campaign = promotion()
    campaign.scheduled_at = timezone.now() + dt.timedelta(hours=1)
    campaign.save()

    assert services.schedule_due().assigned == 0

    later = timezone.now() + dt.timedelta(hours=2)
    first = services.schedule_due(now=later)
    second = services.schedule_due(now=later)

    assert (first.assigned, second.assigned) == (1, 0)
    assignment = Assignment.objects.get(campaign=campaign)
    assert assignment.key == f"campaign:{campaign.pk}:c{people['keen'].pk}"
    assert list(Message.objects.values_list("to_email", flat=True)) == [
        people["keen"].email
    ]
    campaign.refresh_from_db()
    assert campaign.expanded_at == later
