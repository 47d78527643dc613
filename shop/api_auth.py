"""Token authentication for the shop and 3PLs: `Authorization: Token <key>`."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from shop.models import ApiToken


class ApiClient:
    """The authenticated caller: a token, not a person."""

    is_authenticated = True
    is_anonymous = False
    pk = None  # not a user: code that logs request.user.pk gets None

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self):
        return f"api:{self.token.name}"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        key = parts[1].decode(errors="replace")
        token = ApiToken.objects.filter(
            key_hash=ApiToken.hash_key(key), revoked_at__isnull=True
        ).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        now = timezone.now()
        if (
            token.last_used_at is None
            or (now - token.last_used_at).total_seconds() > 60
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ApiClient(token), token

    def authenticate_header(self, request):
        return "Token"
