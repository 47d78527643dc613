"""Hooks into lower apps: the outbox asks campaigns to re-check their messages just
before they leave (emails never imports campaigns); the shop reports a customer's time
zone (quiet hours follow it)."""

from campaigns import services
from emails.services import register_send_check
from shop import signals as shop_signals


def customer_time_zone_reported(sender, *, customer, time_zone, **kwargs):
    """The shop heard the customer's time zone (from their browser); an unknown name
    is ignored, like a missing one."""
    try:
        services.set_customer_time_zone(customer=customer, time_zone=time_zone)
    except services.UnknownTimeZone:
        return


def connect() -> None:
    register_send_check(services.KEY_PREFIX, services.send_check)
    shop_signals.customer_time_zone_reported.connect(
        customer_time_zone_reported, dispatch_uid="campaigns-time-zone"
    )
