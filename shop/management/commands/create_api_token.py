"""`manage.py create_api_token NAME [--scope SCOPE ...]`: issue a token for the shop
or a 3PL, allowed the scopes named (every scope when none is named):

  orders    products and orders: create, update, mark delivered; the printable
            return insert
  coupons   coupons: check, redeem, release
  returns   returns: list, export (fulfilment centres report events with their
            own keys)
  insights  serial returners, products to fix

The key is printed once; only its SHA-256 is stored, so a lost key means a new token.
Revoke a token in the Wagtail admin (Shop → API tokens). Scopes are fixed: for other
scopes, issue another token and revoke this one.
"""

from django.core.management.base import BaseCommand, CommandError

from shop.models import ApiScope, ApiToken
from shop.services import ApiTokenNameTaken, create_api_token

NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class Command(BaseCommand):
    help = "Create an API token and print its key once (only a hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the token, e.g. 'webshop' or '3pl'.")
        parser.add_argument(
            "--scope",
            action="append",
            choices=ApiScope.values,
            dest="scopes",
            help="What the token may use; repeat for several. Default: every scope.",
        )

    def handle(self, *args, name: str, scopes: list[str] | None = None, **options):
        name = name.strip()
        if not name or len(name) > NAME_MAX_LENGTH:
            raise CommandError(
                f"The name must be 1 to {NAME_MAX_LENGTH} characters long."
            )
        try:
            token, key = create_api_token(name=name, scopes=scopes)
        except ApiTokenNameTaken as exc:
            raise CommandError(
                f"A token named {name!r} exists already (revoked tokens keep "
                "their names). Choose another name."
            ) from exc
        self.stdout.write(key)
        self.stderr.write(
            f"Created API token {token.name!r} (starts with {token.prefix}; "
            f"scopes: {', '.join(token.scopes)}). "
            "Store the key now: it is not shown again. "
            "Send it as 'Authorization: Token <key>'."
        )
