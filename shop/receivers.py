"""allauth announces a verified address; the shop links that address's orders."""

from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from shop import services


@receiver(email_confirmed, dispatch_uid="shop.link_customer_on_email_confirmed")
def link_customer_on_email_confirmed(request, email_address, **kwargs):
    services.link_customers_to_user(user=email_address.user, email=email_address.email)
