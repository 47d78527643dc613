"""Treatment or holdout, and which variant: a hash, so reruns give the same split;
the share is right on many customers; two beats racing queue every message once."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Assignment, CampaignKind, CampaignVariant, Group
from emails.models import Message
from shop.models import Customer
from tests.campaigns.core_setup import delivered_order, make_campaign
from tests.factories import ProductFactory


def _customers(n: int) -> None:
    Customer.objects.bulk_create(
        Customer(email=f"c{i}@example.com", marketing_consent=True) for i in range(n)
    )


@pytest.mark.django_db
@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00", CAMPAIGNS_BATCH_SIZE=2500)
def test_the_holdout_share_is_right_on_10000_customers_and_stable_across_reruns():
    campaign = make_campaign(
        kind=CampaignKind.PROMOTION,
        holdout_percent=10,
        scheduled_at=timezone.now() - dt.timedelta(minutes=1),
        body=[("text", "<p>Sale!</p>")],
    )
    _customers(10_000)

    report = services.schedule_due()

    holdout = set(
        Assignment.objects.filter(campaign=campaign, group=Group.HOLDOUT).values_list(
            "customer_id", flat=True
        )
    )
    assert (report.assigned, report.batches) == (10_000, 4)
    assert 900 <= len(holdout) <= 1100  # 10% ± 3.3 standard deviations
    assert Message.objects.count() == 10_000 - len(holdout)
    assert not Message.objects.filter(customer_id__in=holdout).exists()

    # Forget everything and run again: the very same customers are held out.
    Message.objects.all().delete()
    Assignment.objects.all().delete()
    campaign.expanded_at = None
    campaign.save()
    services.schedule_due()
    assert (
        set(
            Assignment.objects.filter(
                campaign=campaign, group=Group.HOLDOUT
            ).values_list("customer_id", flat=True)
        )
        == holdout
    )


@pytest.mark.django_db
def test_variants_split_by_weight_and_the_holdout_has_no_message():
    campaign = make_campaign(holdout_percent=20)
    CampaignVariant.objects.create(campaign=campaign, code="A", weight=1)
    CampaignVariant.objects.create(campaign=campaign, code="B", weight=3)

    groups = [services.assign_group(campaign, str(n)) for n in range(4000)]

    treated = [code for group, code in groups if group == Group.TREATMENT]
    assert 0.17 <= sum(g == Group.HOLDOUT for g, _ in groups) / 4000 <= 0.23
    assert 0.70 <= treated.count("B") / len(treated) <= 0.80
    assert groups == [services.assign_group(campaign, str(n)) for n in range(4000)]


@pytest.mark.django_db
def test_zero_holdout_holds_nobody_out():
    campaign = make_campaign(holdout_percent=0)
    assert {services.assign_group(campaign, str(n))[0] for n in range(500)} == {
        Group.TREATMENT
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@override_settings(CAMPAIGNS_BATCH_SIZE=10)
def test_two_beats_racing_queue_each_message_once(needs_postgres):
    campaign = make_campaign(holdout_percent=10)
    product = ProductFactory()
    delivered = timezone.now() - dt.timedelta(days=campaign.delay_days + 1)
    orders = [
        delivered_order(delivered_at=delivered, products=[product]) for _ in range(60)
    ]
    barrier = threading.Barrier(3)
    errors = []

    def beat():
        try:
            barrier.wait()
            services.schedule_due()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Assignment.objects.filter(campaign=campaign).count() == len(orders)
    treated = Assignment.objects.filter(campaign=campaign, group=Group.TREATMENT)
    assert Message.objects.count() == treated.count()
    assert not treated.filter(message__isnull=True).exists()
    assert Message.objects.filter(events__to_status="queued").count() == treated.count()
