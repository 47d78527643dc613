"""A customer's time zone where known: set from what the shop hears (their browser's
IANA zone name), validated, and followed by quiet hours at send time; anyone else
keeps the shop's."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from campaigns import receivers, services
from campaigns.models import CustomerTimeZone
from emails import services as email_services
from emails.models import Message
from tests.campaigns.core_setup import delivered_order, make_campaign
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


def test_the_time_zone_is_stored_and_replaced():
    customer = CustomerFactory()

    services.set_customer_time_zone(customer=customer, time_zone="America/New_York")
    services.set_customer_time_zone(customer=customer, time_zone=" Asia/Tokyo ")
    services.set_customer_time_zone(customer=customer, time_zone="Asia/Tokyo")

    assert list(CustomerTimeZone.objects.values_list("customer", "time_zone")) == [
        (customer.pk, "Asia/Tokyo")
    ]
    assert services.customer_time_zones([customer.pk]) == {
        customer.pk: ZoneInfo("Asia/Tokyo")
    }


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus_Mons", "../../etc/passwd", "europe/amsterdam", "CEST"]
)
def test_an_unknown_time_zone_is_refused_and_changes_nothing(name):
    customer = CustomerFactory()
    services.set_customer_time_zone(customer=customer, time_zone="Europe/Lisbon")

    with pytest.raises(services.UnknownTimeZone):
        services.set_customer_time_zone(customer=customer, time_zone=name)

    assert CustomerTimeZone.objects.get().time_zone == "Europe/Lisbon"


def test_the_shops_report_is_recorded_and_an_unknown_name_ignored():
    customer = CustomerFactory()

    receivers.customer_time_zone_reported(
        sender=None, customer=customer, time_zone="America/New_York"
    )
    receivers.customer_time_zone_reported(
        sender=None, customer=customer, time_zone="Nowhere/Special"
    )

    assert CustomerTimeZone.objects.get(customer=customer).time_zone == (
        "America/New_York"
    )


@override_settings(
    SHOP_TIME_ZONE="Europe/Amsterdam", CAMPAIGNS_QUIET_HOURS="21:00-08:00"
)
def test_at_send_time_quiet_hours_follow_the_customers_zone():
    # given: two queued e-mails, one to a customer in New York, one to a customer
    # whose zone is unknown (the shop's)
    make_campaign(
        holdout_percent=0, window_start=dt.time(0, 0), window_end=dt.time(23, 59)
    )
    delivered = dt.datetime(2026, 3, 6, 12, 0, tzinfo=AMS)
    product = ProductFactory()
    far = delivered_order(delivered_at=delivered, products=[product])
    near = delivered_order(delivered_at=delivered, products=[product])
    services.schedule_due(now=dt.datetime(2026, 3, 9, 18, 0, tzinfo=AMS))
    services.set_customer_time_zone(customer=far.customer, time_zone="America/New_York")
    messages = list(Message.objects.order_by("pk"))
    assert len(messages) == 2

    # when: the outbox checks them at 12:00 in Amsterdam (07:00 in New York, where
    # summer time has begun)
    verdicts = services.send_check(
        messages, now=dt.datetime(2026, 3, 10, 12, 0, tzinfo=AMS)
    )

    # then: New York waits for 08:00 there; the other one may leave now
    by_order = {m.key.rsplit(":", 1)[1]: verdicts.get(m.pk) for m in messages}
    deferred = by_order[str(far.pk)]
    assert isinstance(deferred, email_services.Defer)
    assert deferred.until == dt.datetime(2026, 3, 10, 8, 0, tzinfo=NEW_YORK)
    assert by_order[str(near.pk)] is None
