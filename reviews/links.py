"""Signed "write a review" links for one order line (the review-request e-mail).

The token is the line's id signed with the SECRET_KEY and a timestamp: it cannot be
forged or moved to another line, it expires after REVIEW_LINK_MAX_AGE_DAYS, and it is
spent once the line has a review (any review, even one withdrawn later: the customer
then writes again from their account).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from reviews.models import Review
from reviews.services import ReviewError
from shop.models import OrderLine

SALT = "reviews.review-link"


class ReviewLinkInvalid(ReviewError):
    code = "link_invalid"
    message = _("This link is not valid. Check that you copied all of it.")


class ReviewLinkExpired(ReviewError):
    code = "link_expired"
    message = _("This link has expired. Sign in to review your purchases.")


class ReviewLinkSpent(ReviewError):
    code = "link_spent"
    message = _("This purchase has been reviewed already. Thank you!")


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def review_link_token(order_line: OrderLine) -> str:
    return _signer().sign(str(order_line.pk))


def review_link_path(order_line: OrderLine, language: str) -> str:
    """The path (with the language prefix) of the review form for this line."""
    with translation.override(language):
        return reverse("reviews:write_by_link", args=[review_link_token(order_line)])


def order_line_for_review_token(token: str) -> OrderLine:
    """The delivered, not yet reviewed order line the token was made for; raises
    ReviewLinkInvalid, ReviewLinkExpired or ReviewLinkSpent otherwise."""
    max_age = timedelta(days=settings.REVIEW_LINK_MAX_AGE_DAYS)
    try:
        line_id = int(_signer().unsign(token, max_age=max_age))
    except signing.SignatureExpired as exc:
        raise ReviewLinkExpired() from exc
    except (signing.BadSignature, ValueError) as exc:
        raise ReviewLinkInvalid() from exc
    line = (
        OrderLine.objects.select_related("order__customer", "product")
        .filter(pk=line_id, order__delivered_at__isnull=False)
        .first()
    )
    if line is None:
        raise ReviewLinkInvalid()
    if Review.objects.filter(order_line=line).exists():
        raise ReviewLinkSpent()
    return line
