"""What the policy JSON and the embed share: finding the policy for a SKU in a
language, and the HTTP caching that lets shops' pages reuse the answer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags
from django.utils.translation import gettext as _

from cms.page_cache import ANSWERS_VERSION_KEY, cache_version
from cms.queries import policy_for
from cms.rules import PolicyRules
from shop.models import Product

# Bump when the JSON or the embed's markup changes, so caches drop old copies.
FORMAT_VERSION = 1


class PolicyNotFound(Exception):
    def __init__(self, path: str, message: str, status: int):
        super().__init__(message)
        self.path, self.message, self.status = path, message, status


@dataclass(frozen=True)
class FoundPolicy:
    product: Product
    lang: str
    rules: PolicyRules

    @property
    def etag(self) -> str:
        return f'"p{self.rules.snapshot_id}-{self.lang}-v{FORMAT_VERSION}"'


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def find_policy(*, sku: str, lang: str | None) -> FoundPolicy:
    """The policy in force now for the product with this SKU; raises PolicyNotFound
    (400 for an unknown language, 404 for an unknown SKU or no policy)."""
    lang = (settings.LANGUAGE_CODE if lang is None else lang).lower()
    if lang not in language_codes():
        raise PolicyNotFound(
            "lang",
            _("Unknown language “%(lang)s”; use one of: %(codes)s.")
            % {"lang": lang, "codes": ", ".join(language_codes())},
            400,
        )
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise PolicyNotFound("sku", _("No product has this SKU."), 404)
    rules = policy_for(product, locale=lang)
    if rules is None:
        raise PolicyNotFound("sku", _("No return policy applies to this product."), 404)
    return FoundPolicy(product=product, lang=lang, rules=rules)


@dataclass(frozen=True)
class PolicyAnswer:
    """A rendered answer (JSON or HTML) and its ETag, as kept in the cache."""

    etag: str
    body: bytes
    lang: str


def policy_answer(
    *, kind: str, sku: str, lang: str | None, render: Callable[[FoundPolicy], bytes]
) -> PolicyAnswer:
    """The rendered policy for this SKU and language, from Django's cache when it was
    rendered since the last change of a page, product or category (and within
    POLICY_EMBED_MAX_AGE, so a change no signal announced still shows within a
    minute). Raises PolicyNotFound; refusals are not cached."""
    code = (settings.LANGUAGE_CODE if lang is None else lang).lower()
    version = cache_version(ANSWERS_VERSION_KEY)
    digest = hashlib.sha256(f"{kind}|{code}|{sku}".encode()).hexdigest()
    key = f"cms:policy-answer:v{FORMAT_VERSION}:{version}:{digest}"
    answer = cache.get(key)
    if answer is None:
        found = find_policy(sku=sku, lang=lang)
        answer = PolicyAnswer(etag=found.etag, body=render(found), lang=found.lang)
        cache.set(key, answer, settings.POLICY_EMBED_MAX_AGE)
    return answer


def etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    tags = parse_etags(header)
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def cache_headers(response, etag: str):
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=settings.POLICY_EMBED_MAX_AGE)
    return response
