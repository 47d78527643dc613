"""`manage.py export_customer EMAIL [--output FILE]`: everything held on a customer."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shop.models import Customer
from shop.privacy import export_customer
from shop.services import normalise_email


class Command(BaseCommand):
    help = "Write everything every app holds on one customer as JSON."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args, email, output=None, **options):
        customer = Customer.objects.filter(email=normalise_email(email)).first()
        if customer is None:
            raise CommandError(f"No customer with e-mail {email}.")
        text = json.dumps(export_customer(customer=customer), indent=2, default=str)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text)
