"""The signed link printed as a QR code on the return insert: it opens the returns
portal for one order without signing in. It names the order and a hash of the
customer's e-mail address, so it stops working if the order changes hands; it does not
expire (the policy's window decides what can still be returned)."""

from __future__ import annotations

import hashlib

from django.core import signing
from django.urls import reverse
from django.utils import translation

from shop.models import Order

SALT = "returns.start"


def _email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def return_start_token(order: Order) -> str:
    return signing.dumps(
        {"o": order.pk, "e": _email_hash(order.customer.email)},
        salt=SALT,
        compress=True,
    )


def return_start_path(order: Order, *, language: str) -> str:
    with translation.override(language):
        return reverse("returns:start-from-link", args=[return_start_token(order)])


class InvalidReturnLink(Exception):
    """The link was altered, signed with another key, or its order is gone."""


def order_for_return_token(token: str) -> Order:
    try:
        data = signing.loads(token, salt=SALT)
        order = Order.objects.select_related("customer").get(pk=int(data["o"]))
    except (
        signing.BadSignature,
        Order.DoesNotExist,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise InvalidReturnLink from exc
    if data.get("e") != _email_hash(order.customer.email):
        raise InvalidReturnLink
    return order
