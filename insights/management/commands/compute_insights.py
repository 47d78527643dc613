"""`manage.py compute_insights`: recompute the customers' return figures, serial-returner
flags and personas now (beat does it nightly)."""

from django.core.management.base import BaseCommand

from insights.services import compute_insights


class Command(BaseCommand):
    help = (
        "Recompute every customer's return figures, serial-returner flag and persona "
        "(or only --customer ids)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customer",
            type=int,
            action="append",
            dest="customers",
            help="Recompute only this customer id (repeatable).",
        )

    def handle(self, *args, customers=None, **options):
        report = compute_insights(customer_ids=customers)
        self.stdout.write(
            self.style.SUCCESS(
                f"Computed {report.customers} customer(s), {report.changed} changed; "
                f"{report.serial_returners} serial returner(s)."
            )
        )
