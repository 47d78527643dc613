"""`manage.py create_api_token NAME`: issue a token for the shop or a 3PL.

The key is printed once; only its SHA-256 is stored, so a lost key means a new token.
Revoke a token in the Wagtail admin (Shop → API tokens).
"""

from django.core.management.base import BaseCommand, CommandError

from shop.models import ApiToken
from shop.services import ApiTokenNameTaken, create_api_token

NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class Command(BaseCommand):
    help = "Create an API token and print its key once (only a hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the token, e.g. 'webshop' or '3pl'.")

    def handle(self, *args, name: str, **options):
        name = name.strip()
        if not name or len(name) > NAME_MAX_LENGTH:
            raise CommandError(
                f"The name must be 1 to {NAME_MAX_LENGTH} characters long."
            )
        try:
            token, key = create_api_token(name=name)
        except ApiTokenNameTaken as exc:
            raise CommandError(
                f"A token named {name!r} exists already (revoked tokens keep "
                "their names). Choose another name."
            ) from exc
        self.stdout.write(key)
        self.stderr.write(
            f"Created API token {token.name!r} (starts with {token.prefix}). "
            "Store the key now: it is not shown again. "
            "Send it as 'Authorization: Token <key>'."
        )
