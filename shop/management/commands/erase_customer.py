"""`manage.py erase_customer EMAIL`: anonymise a customer in every app."""

import json

from django.core.management.base import BaseCommand, CommandError

from shop.models import Customer
from shop.privacy import erase_customer
from shop.services import normalise_email


class Command(BaseCommand):
    help = (
        "Anonymise one customer in every app. Orders and ledgers are kept (they "
        "still add up); names, e-mail and the account link are removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        customer = Customer.objects.filter(email=normalise_email(email)).first()
        if customer is None:
            raise CommandError(f"No customer with e-mail {email}.")
        summary = erase_customer(customer=customer)
        self.stdout.write(json.dumps(summary, indent=2, default=str))
