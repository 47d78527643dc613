"""Loyalty's answers to the shop's privacy signals (shop/signals.py)."""

from django.dispatch import receiver

from loyalty import privacy
from shop.signals import customer_erase_requested, customer_export_requested


@receiver(customer_export_requested, dispatch_uid="loyalty-export")
def export_loyalty(sender, customer, **kwargs):
    return "loyalty", privacy.export_customer_loyalty(customer=customer)


@receiver(customer_erase_requested, dispatch_uid="loyalty-erase")
def erase_loyalty(sender, customer, **kwargs):
    return "loyalty", privacy.erase_customer_loyalty(customer=customer)
