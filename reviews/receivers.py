"""Reviews' answers to the shop's privacy signals (shop/signals.py)."""

from django.dispatch import receiver

from reviews import privacy
from shop.signals import customer_erase_requested, customer_export_requested


@receiver(customer_export_requested, dispatch_uid="reviews-export")
def export_reviews(sender, customer, **kwargs):
    return "reviews", privacy.export_customer_reviews(customer=customer)


@receiver(customer_erase_requested, dispatch_uid="reviews-erase")
def erase_reviews(sender, customer, **kwargs):
    return "reviews", privacy.erase_customer_reviews(customer=customer)
