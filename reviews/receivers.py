"""Reviews' answers to the shop's privacy signals (shop/signals.py), and forgetting a
product's remembered SKU when the product is saved or deleted."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from reviews import privacy
from reviews.cache import forget_sku
from shop.models import Product
from shop.signals import customer_erase_requested, customer_export_requested


@receiver(post_save, sender=Product, dispatch_uid="reviews-forget-sku-saved")
@receiver(post_delete, sender=Product, dispatch_uid="reviews-forget-sku-deleted")
def forget_product_sku(sender, instance, **kwargs):
    forget_sku(instance.sku)


@receiver(customer_export_requested, dispatch_uid="reviews-export")
def export_reviews(sender, customer, **kwargs):
    return "reviews", privacy.export_customer_reviews(customer=customer)


@receiver(customer_erase_requested, dispatch_uid="reviews-erase")
def erase_reviews(sender, customer, **kwargs):
    return "reviews", privacy.erase_customer_reviews(customer=customer)
