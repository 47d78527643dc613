"""Token authentication for the shop and 3PLs: `Authorization: Token <key>`."""

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from shop.models import ApiScope, ApiToken


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


class TokenScopes(permissions.BasePermission):
    """A shop token may call a view only when its scopes include the view's
    `required_scope`; a view that names none refuses every shop token (fail closed).
    Another credential (a fulfilment centre's key) passes only on views that say
    they check it themselves (`other_credentials_checked`)."""

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return bool(getattr(view, "other_credentials_checked", False))
        scope = getattr(view, "required_scope", None)
        if scope is not None and token.allows(scope):
            return True
        self.message = gettext(
            "This token may not use this endpoint: it needs the scope "
            "'{scope}'; the token has: {scopes}."
        ).format(
            scope=scope or "-",
            scopes=", ".join(token.scopes or []) or gettext("none"),
        )
        return False


__all__ = ["ApiClient", "ApiScope", "ApiTokenAuthentication", "TokenScopes"]
