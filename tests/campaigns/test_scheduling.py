"""The beat's scheduler: which orders are due (day boundaries in the shop's time
zone), the sending window and quiet hours on the queued rows, idempotency."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from campaigns import services
from campaigns.models import Assignment, CampaignKind, Group
from emails.models import Category, Message
from tests.campaigns.core_setup import delivered_order, make_campaign
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")


def ams(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMS)


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
@pytest.mark.parametrize(
    ("delivered", "due"),
    [
        (ams(2026, 3, 7, 23, 59), True),  # local day 7: 3 days before the 10th
        (ams(2026, 3, 8, 0, 0), False),  # local day 8: tomorrow
        (dt.datetime(2026, 3, 7, 23, 30, tzinfo=dt.UTC), False),  # 00:30 on the 8th
        (dt.datetime(2026, 3, 7, 22, 59, tzinfo=dt.UTC), True),  # 23:59 on the 7th
    ],
)
def test_an_order_is_due_on_the_shops_calendar_day_delay_days_after_delivery(
    delivered, due
):
    campaign = make_campaign(delay_days=3, holdout_percent=0)
    order = delivered_order(delivered_at=delivered)

    services.schedule_due(now=ams(2026, 3, 10, 0, 1))

    assert Assignment.objects.filter(campaign=campaign, order=order).exists() is due


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_orders_from_before_the_activation_are_not_mailed():
    campaign = make_campaign(delay_days=3, activated_at=ams(2026, 3, 10, 12, 0))
    old = delivered_order(delivered_at=ams(2026, 3, 6, 12, 0))
    fresh = delivered_order(delivered_at=ams(2026, 3, 7, 12, 0))

    services.schedule_due(now=ams(2026, 3, 10, 13, 0))

    assert list(
        Assignment.objects.filter(campaign=campaign).values_list("order", flat=True)
    ) == [fresh.pk]
    assert old.campaign_assignments.count() == 0


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_CATCH_UP_DAYS=7)
def test_a_delivery_recorded_weeks_late_gets_no_e_mail_but_a_week_late_does():
    # A campaign active since January; today is 30 March, the delay 3 days: an order
    # delivered on the 27th is due today, one delivered on the 20th is due a week
    # late (the beat was down, or the delivery was reported late) and still sent;
    # one delivered on the 19th would be 8 days late and is not.
    campaign = make_campaign(delay_days=3, activated_at=ams(2026, 1, 5, 9, 0))
    today = delivered_order(delivered_at=ams(2026, 3, 27, 12, 0))
    week_late = delivered_order(delivered_at=ams(2026, 3, 20, 0, 0))
    too_late = delivered_order(delivered_at=ams(2026, 3, 19, 23, 59))
    months_late = delivered_order(delivered_at=ams(2026, 2, 1, 12, 0))

    services.schedule_due(now=ams(2026, 3, 30, 10, 0))

    assigned = set(
        Assignment.objects.filter(campaign=campaign).values_list("order", flat=True)
    )
    assert assigned == {today.pk, week_late.pk}
    assert not {too_late.pk, months_late.pk} & assigned


@override_settings(
    SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_QUIET_HOURS="21:00-08:00"
)
def test_messages_wait_for_the_sending_window_in_shop_time():
    campaign = make_campaign(
        delay_days=3, window_start=dt.time(9, 0), window_end=dt.time(20, 0)
    )
    campaign.holdout_percent = 0
    campaign.save()
    delivered_order(delivered_at=ams(2026, 3, 7, 12, 0))

    services.schedule_due(now=ams(2026, 3, 10, 6, 30))

    message = Message.objects.get()
    assert message.next_attempt_at == ams(2026, 3, 10, 9, 0)
    assert message.category == Category.MARKETING
    assert message.key == f"campaign:{campaign.pk}:{message.customer.orders.get().pk}"


@override_settings(
    SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_QUIET_HOURS="21:00-08:00"
)
def test_quiet_hours_follow_the_customers_time_zone_where_known():
    make_campaign(delay_days=3, holdout_percent=0)
    order = delivered_order(delivered_at=ams(2026, 3, 7, 12, 0))
    services.set_customer_time_zone(
        customer=order.customer, time_zone="America/New_York"
    )

    # 12:00 in Amsterdam is 07:00 in New York (quiet until 08:00 there).
    services.schedule_due(now=ams(2026, 3, 10, 12, 0))

    message = Message.objects.get()
    assert message.next_attempt_at == dt.datetime(
        2026, 3, 10, 8, 0, tzinfo=ZoneInfo("America/New_York")
    )


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_a_second_run_adds_nothing():
    campaign = make_campaign(delay_days=3, holdout_percent=10)
    product = ProductFactory()
    for _ in range(30):
        delivered_order(delivered_at=ams(2026, 3, 6, 12, 0), products=[product])
    now = ams(2026, 3, 10, 12, 0)

    first = services.schedule_due(now=now)
    second = services.schedule_due(now=now)

    assert first.assigned == 30
    assert second.assigned == 0
    assert Assignment.objects.filter(campaign=campaign).count() == 30
    treated = Assignment.objects.filter(campaign=campaign, group=Group.TREATMENT)
    assert Message.objects.count() == treated.count()
    assert set(treated.values_list("message__key", flat=True)) == set(
        treated.values_list("key", flat=True)
    )


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_BATCH_SIZE=7)
def test_batches_cover_every_due_order_once():
    make_campaign(delay_days=3, holdout_percent=0)
    for _ in range(23):
        delivered_order(delivered_at=ams(2026, 3, 6, 12, 0))

    report = services.schedule_due(now=ams(2026, 3, 10, 12, 0))

    assert (report.batches, report.assigned, report.queued) == (4, 23, 23)
    assert Message.objects.count() == 23


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_BATCH_SIZE=4)
def test_batches_in_delivery_order_miss_and_repeat_no_order():
    # Delivery times out of id order, with ties across batch boundaries.
    make_campaign(delay_days=3, holdout_percent=0)
    orders = [
        delivered_order(delivered_at=ams(2026, 3, 6, 8 + (n * 7) % 3, 0))
        for n in range(17)
    ]

    report = services.schedule_due(now=ams(2026, 3, 10, 12, 0))

    assert (report.batches, report.assigned) == (5, 17)
    assert sorted(Assignment.objects.values_list("order_id", flat=True)) == sorted(
        o.pk for o in orders
    )


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_customers_without_consent_are_assigned_but_not_mailed():
    campaign = make_campaign(delay_days=3, holdout_percent=0)
    order = delivered_order(delivered_at=ams(2026, 3, 6, 12, 0))
    order.customer.marketing_consent = False
    order.customer.save()

    services.schedule_due(now=ams(2026, 3, 10, 12, 0))

    assignment = Assignment.objects.get(campaign=campaign)
    assert (assignment.message_id, assignment.skipped_reason) == (None, "no_consent")
    assert Message.objects.count() == 0


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_a_paused_campaign_assigns_nothing():
    make_campaign(delay_days=3, status="paused")
    delivered_order(delivered_at=ams(2026, 3, 6, 12, 0))

    report = services.schedule_due(now=ams(2026, 3, 10, 12, 0))

    assert (report.campaigns, Assignment.objects.count()) == (0, 0)


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam")
def test_review_request_lists_only_unreviewed_lines_and_holds_out_none_when_zero():
    campaign = make_campaign(
        kind=CampaignKind.REVIEW_REQUEST, delay_days=3, holdout_percent=0, body=[]
    )
    order = delivered_order(
        delivered_at=ams(2026, 3, 6, 12, 0),
        products=[ProductFactory(name="Boots"), ProductFactory(name="Socks")],
    )
    from tests.campaigns.core_setup import make_review

    socks = order.lines.get(product__name="Socks")
    make_review(product=socks.product, line=socks)

    services.schedule_due(now=ams(2026, 3, 10, 12, 0))

    message = Message.objects.get(key=f"campaign:{campaign.pk}:{order.pk}")
    lines = message.context["substitutions"]["-cmp_review_lines_text-"]
    assert "Boots: http" in lines
    assert "Socks" not in lines


@override_settings(SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_BATCH_SIZE=4)
def test_the_beat_fans_batches_out_to_tasks_that_are_safe_to_run_twice(
    monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns import tasks

    campaign = make_campaign(delay_days=3, holdout_percent=0)
    orders = [delivered_order(delivered_at=ams(2026, 3, 6, 12, 0)) for _ in range(10)]
    sent = []
    monkeypatch.setattr(
        tasks.queue_trigger_batch_task, "delay", lambda *args: sent.append(args)
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = services.schedule_due(now=ams(2026, 3, 10, 12, 0), fan_out=True)

    assert (report.batches, report.assigned) == (3, 0)
    assert [ids for _, ids, _ in sent] == [
        [o.pk for o in orders[:4]],
        [o.pk for o in orders[4:8]],
        [o.pk for o in orders[8:]],
    ]
    for args in sent + sent:  # each task delivered twice
        tasks.queue_trigger_batch_task.run(*args)
    assert Assignment.objects.filter(campaign=campaign).count() == 10
    assert Message.objects.count() == 10
