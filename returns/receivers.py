"""Returns' answers to signals of the apps below it: the shop's privacy signals
(shop/signals.py) and loyalty's kept-order question (loyalty/signals.py)."""

from django.dispatch import receiver

from loyalty.signals import kept_order_deductions
from returns import privacy, queries
from shop.privacy import erased_email
from shop.signals import customer_erase_requested, customer_export_requested


@receiver(customer_export_requested, dispatch_uid="returns-export")
def export_returns(sender, customer, **kwargs):
    return "returns", privacy.export_customer_returns(customer=customer)


@receiver(customer_erase_requested, dispatch_uid="returns-erase")
def erase_returns(sender, customer, **kwargs):
    return "returns", privacy.erase_customer_returns(
        customer=customer, erased_email=erased_email(customer)
    )


@receiver(kept_order_deductions, dispatch_uid="returns-kept-order")
def refunded_value(sender, order, **kwargs):
    return queries.returned_value(order)
