"""`manage.py check_ledger`: every cached balance must equal the sum of its entries."""

from django.core.management.base import BaseCommand, CommandError

from loyalty.queries import ledger_mismatches


class Command(BaseCommand):
    help = (
        "Check that every points and store-credit balance equals the sum of its "
        "entries; exits non-zero when one does not."
    )

    def handle(self, *args, **options):
        mismatches = ledger_mismatches()
        for ledger, pk, cached, total in mismatches:
            self.stderr.write(
                f"{ledger} account {pk}: balance {cached}, entries add up to {total}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} ledger balance(s) do not add up.")
        self.stdout.write(self.style.SUCCESS("Every balance equals its entries."))
