"""What the outbox re-checks just before a campaign message leaves: a return started
since it was queued, consent, the campaign's status, the frequency cap (deferral,
never a drop) and review reminders."""

import datetime as dt

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Assignment, CampaignKind, Group
from emails import services as email_services
from emails.models import Category, Message, MessageEvent, Status
from returns.models import ReturnStatus
from tests.campaigns.core_setup import (
    delivered_order,
    make_campaign,
    make_review,
    start_return,
)
from tests.factories import ProductFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("_no_quiet_hours"),
]


@pytest.fixture
def _no_quiet_hours():
    with override_settings(
        CAMPAIGNS_QUIET_HOURS="00:00-00:00", CAMPAIGNS_FREQUENCY_CAP=2
    ):
        yield


def queued(campaign, **kw):
    order = delivered_order(
        delivered_at=timezone.now() - dt.timedelta(days=campaign.delay_days + 1),
        products=[ProductFactory()],
        **kw,
    )
    services.schedule_due()
    return order, Message.objects.get(key=f"campaign:{campaign.pk}:{order.pk}")


def test_a_return_started_after_queueing_stops_the_post_purchase_email():
    campaign = make_campaign(holdout_percent=0)
    order, message = queued(campaign)
    start_return(order)

    report = email_services.send_due_messages()

    message.refresh_from_db()
    assert (report.sent, report.suppressed, message.status) == (0, 1, Status.SUPPRESSED)
    assert mail.outbox == []
    assert MessageEvent.objects.filter(
        message=message, detail="the customer started a return for this order"
    ).exists()
    assignment = Assignment.objects.get(order=order)
    assert (assignment.group, assignment.skipped_reason) == (
        Group.TREATMENT,
        "returning",
    )


def test_a_cancelled_return_does_not_stop_it():
    campaign = make_campaign(holdout_percent=0)
    order, message = queued(campaign)
    start_return(order, status=ReturnStatus.CANCELLED)

    report = email_services.send_due_messages()

    message.refresh_from_db()
    assert (report.sent, message.status) == (1, Status.SENT)
    assert len(mail.outbox) == 1
    assert "Great" in mail.outbox[0].body or "No reviews yet!" in mail.outbox[0].body


def test_a_customer_who_withdrew_consent_gets_nothing():
    campaign = make_campaign(holdout_percent=0)
    order, message = queued(campaign)
    email_services.set_marketing_consent(customer_id=order.customer_id, consent=False)

    email_services.send_due_messages()

    message.refresh_from_db()
    assert message.status == Status.SUPPRESSED
    assert mail.outbox == []


def _sent_marketing(customer, *ages_days):
    now = timezone.now()
    for n, age in enumerate(ages_days):
        Message.objects.create(
            key=f"other:{customer.pk}:{n}",
            to_email=customer.email,
            customer=customer,
            category=Category.MARKETING,
            sender_label="other",
            subject="Sale",
            text="Sale",
            status=Status.SENT,
            sent_at=now - dt.timedelta(days=age),
        )


def test_the_frequency_cap_defers_until_the_oldest_leaves_the_week():
    campaign = make_campaign(holdout_percent=0)
    order, message = queued(campaign)
    _sent_marketing(order.customer, 1, 3)  # the cap is 2
    before = timezone.now()

    report = email_services.send_due_messages()

    message.refresh_from_db()
    assert (report.sent, report.deferred, message.status) == (0, 1, Status.QUEUED)
    assert message.attempts == 0
    oldest = Message.objects.filter(key__startswith="other:").order_by("sent_at")[0]
    assert message.next_attempt_at == oldest.sent_at + dt.timedelta(days=7)
    assert message.next_attempt_at > before + dt.timedelta(days=3)
    assert mail.outbox == []


def test_an_old_mail_outside_the_week_does_not_count():
    campaign = make_campaign(holdout_percent=0)
    order, message = queued(campaign)
    _sent_marketing(order.customer, 1, 8)

    report = email_services.send_due_messages()

    assert report.sent == 1


def test_an_exempt_campaign_ignores_the_cap():
    campaign = make_campaign(holdout_percent=0, frequency_cap_exempt=True)
    order, message = queued(campaign)
    _sent_marketing(order.customer, 1, 2, 3)

    assert email_services.send_due_messages().sent == 1


def test_a_paused_campaign_defers_and_a_finished_one_suppresses():
    campaign = make_campaign(holdout_percent=0)
    _order, message = queued(campaign)

    services.pause(campaign=campaign, by=None)
    paused = email_services.send_due_messages()
    message.refresh_from_db()
    assert (paused.deferred, message.status) == (1, Status.QUEUED)

    services.finish(campaign=campaign, by=None)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    finished = email_services.send_due_messages()
    message.refresh_from_db()
    assert (finished.suppressed, message.status) == (1, Status.SUPPRESSED)
    assert list(campaign.events.values_list("from_status", "to_status")) == [
        ("active", "paused"),
        ("paused", "finished"),
    ]


def test_outside_the_window_the_message_waits():
    now = timezone.now().astimezone(services.shop_tz())
    closed_from = (now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    closed_until = (now + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    campaign = make_campaign(
        holdout_percent=0, window_start=closed_from, window_end=closed_until
    )
    _order, message = queued(campaign)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())

    report = email_services.send_due_messages()

    message.refresh_from_db()
    assert (report.deferred, message.status) == (1, Status.QUEUED)
    assert message.next_attempt_at.astimezone(services.shop_tz()).time() == closed_from


def test_a_review_request_gets_one_reminder_only_when_nothing_was_written():
    campaign = make_campaign(
        kind=CampaignKind.REVIEW_REQUEST,
        holdout_percent=0,
        reminder_after_days=4,
        frequency_cap_exempt=True,
        body=[],
    )
    quiet, _ = queued(campaign)
    written, _ = queued(campaign)
    assert email_services.send_due_messages().sent == 2
    Message.objects.filter(key__startswith="campaign:").update(
        sent_at=timezone.now() - dt.timedelta(days=5)
    )
    line = written.lines.get()
    make_review(product=line.product, line=line)

    first = services.schedule_due()
    second = services.schedule_due()

    assert (first.reminders, second.reminders) == (1, 0)
    reminder = Message.objects.get(key__endswith=":reminder")
    assert reminder.key == f"campaign:{campaign.pk}:{quiet.pk}:reminder"
    assert Assignment.objects.get(order=quiet).reminder_message == reminder
