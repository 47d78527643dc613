"""Signed links into one return, for e-mails and the portal: the status page, and the
satisfaction score. They name the return and a hash of the customer's e-mail address,
so they stop working if the return changes hands; they do not expire."""

from __future__ import annotations

import hashlib

from django.core import signing
from django.urls import reverse
from django.utils import translation

from returns.models import ReturnRequest

STATUS_SALT = "returns.status"
SATISFACTION_SALT = "returns.satisfaction"


class InvalidStatusLink(Exception):
    """The link was altered, signed with another key, or its return is gone."""


def _email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def _token(request: ReturnRequest, salt: str, **extra) -> str:
    return signing.dumps(
        {"r": request.rma, "e": _email_hash(request.customer.email), **extra},
        salt=salt,
        compress=True,
    )


def _load(token: str, salt: str) -> tuple[ReturnRequest, dict]:
    try:
        data = signing.loads(token, salt=salt)
        request = ReturnRequest.objects.select_related("customer", "order").get(
            rma=str(data["r"])
        )
    except (
        signing.BadSignature,
        ReturnRequest.DoesNotExist,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise InvalidStatusLink from exc
    if data.get("e") != _email_hash(request.customer.email):
        raise InvalidStatusLink
    return request, data


def status_token(request: ReturnRequest) -> str:
    return _token(request, STATUS_SALT)


def request_for_status_token(token: str) -> ReturnRequest:
    return _load(token, STATUS_SALT)[0]


def status_path(request: ReturnRequest, *, language: str) -> str:
    """The status page (helper D's `returns:status` view, under the language prefix)."""
    with translation.override(language):
        return reverse("returns:status", args=[status_token(request)])


def satisfaction_token(request: ReturnRequest, *, score: int) -> str:
    return _token(request, SATISFACTION_SALT, s=int(score))


def satisfaction_for_token(token: str) -> tuple[ReturnRequest, int]:
    """The return and the score a satisfaction link records."""
    request, data = _load(token, SATISFACTION_SALT)
    try:
        score = int(data["s"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStatusLink from exc
    if not 1 <= score <= 5:
        raise InvalidStatusLink
    return request, score


def satisfaction_path(request: ReturnRequest, *, score: int) -> str:
    """No language prefix: the link records the score in returns/urls.py."""
    return reverse(
        "returns-api:satisfaction", args=[satisfaction_token(request, score=score)]
    )


def slip_path(request: ReturnRequest, *, language: str) -> str:
    """The printable slip (helper D's `returns:slip` view), signed with the status
    token."""
    with translation.override(language):
        return reverse("returns:slip", args=[status_token(request)])
