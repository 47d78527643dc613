"""`manage.py create_centre_token CODE`: issue a fulfilment centre its API key.

The key is printed once; only its SHA-256 is stored, so a lost key means a new one
(which replaces the old). Revoke it in the admin (the centre's "token revoked at").
"""

from django.core.management.base import BaseCommand, CommandError

from returns.models import FulfilmentCentre
from returns.services import create_centre_token


class Command(BaseCommand):
    help = "Create a fulfilment centre's API key and print it once (only a hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="The centre's code, e.g. 'nl-main'.")

    def handle(self, *args, code: str, **options):
        centre = FulfilmentCentre.objects.filter(code=code.strip()).first()
        if centre is None:
            raise CommandError(f"No fulfilment centre has the code {code!r}.")
        had_token = bool(centre.key_hash)
        centre, key = create_centre_token(centre=centre)
        self.stdout.write(key)
        self.stderr.write(
            f"Created the API key of {centre.name!r} (starts with {centre.key_prefix})"
            + (", replacing its earlier key" if had_token else "")
            + ". Store it now: it is not shown again. "
            "Send it as 'Authorization: Token <key>'."
        )
