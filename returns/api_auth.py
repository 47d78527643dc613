"""Token authentication for fulfilment centres on the returns API:
`Authorization: Token <key>`, the key made by `manage.py create_centre_token CODE`
(only its SHA-256 is stored). A key that is not a centre's is left to the next
authentication class (the shop's own API tokens)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from returns.models import FulfilmentCentre


class CentreClient:
    """The authenticated caller: a fulfilment centre, not a person."""

    is_authenticated = True
    is_anonymous = False
    pk = None  # not a user: code that logs request.user.pk gets None
    is_staff = False

    def __init__(self, centre: FulfilmentCentre):
        self.centre = centre

    def __str__(self):
        return f"centre:{self.centre.code}"


class CentreTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        key = parts[1].decode(errors="replace")
        centre = FulfilmentCentre.objects.filter(
            key_hash=FulfilmentCentre.hash_key(key), revoked_at__isnull=True
        ).first()
        if centre is None:
            return None  # maybe a shop token: the next class decides
        return CentreClient(centre), centre

    def authenticate_header(self, request):
        return "Token"


class CentreTokenScheme(OpenApiAuthenticationExtension):
    """Centre keys travel in the same `Authorization: Token <key>` header as the
    shop's, so the schema documents them under the shop's `tokenAuth` scheme (every
    returns view also accepts shop tokens) and adds no scheme of its own."""

    target_class = "returns.api_auth.CentreTokenAuthentication"
    name: list[str] = []

    def get_security_definition(self, auto_schema):
        return []

    def get_security_requirement(self, auto_schema):
        return []
