"""Cached answers of the public review endpoints (product page, embed, JSON API,
Google feed) and their purging, on Django's cache (Redis in production).

Every cached answer's key carries two version numbers kept in the cache: one for
everything (bumped by `purge_all`) and the product's (bumped by `purge_product`, which
reviews.services calls on commit after an approval, removal, reply, edit, withdrawal
or helpful vote) — or, for shop-wide answers, the shop's (bumped by every
`purge_product`). A bump makes every older entry unreachable; they expire unread. Versions start
at the current time in milliseconds, so a flushed cache never reuses a number.

Entries also expire after REVIEWS_CACHE_SECONDS, which bounds how long a change that
announces nothing (a renamed product, a moved "How we check" page) can take to show.

Each answer carries a strong ETag (a digest of its body), so a client's If-None-Match
is answered 304 from the cache without touching the database.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags

ALL_VERSION_KEY = "reviews:version:all"
SHOP_VERSION_KEY = "reviews:version:shop"
# Bump when the markup or JSON of an answer changes, so caches drop old copies.
FORMAT_VERSION = 1


def _product_version_key(product_id: int) -> str:
    return f"reviews:version:product:{product_id}"


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, _fresh_version(), timeout=None)


def _fresh_version() -> int:
    return time.time_ns() // 1_000_000


def purge_product(product_id: int) -> None:
    """A review of this product changed what the public sees: drop the product's
    cached page, embed and API answers, and the shop-wide ones (feed, wall)."""
    _bump(_product_version_key(product_id))
    _bump(SHOP_VERSION_KEY)


def purge_all() -> None:
    """Drop every cached review answer (e.g. after a template change)."""
    _bump(ALL_VERSION_KEY)


def _versions(product_id: int | None) -> tuple[int, int]:
    """(everything's version, the product's version or the shop-wide one)."""
    scoped = (
        SHOP_VERSION_KEY if product_id is None else _product_version_key(product_id)
    )
    keys = [ALL_VERSION_KEY, scoped]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, _fresh_version(), timeout=None)
            found[key] = cache.get(key) or 0
    return found[ALL_VERSION_KEY], found[scoped]


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    content_type: str
    etag: str = ""
    headers: dict = field(default_factory=dict)

    @classmethod
    def of(cls, body: bytes, content_type: str, **headers: str) -> CachedAnswer:
        digest = hashlib.sha256(body).hexdigest()[:24]
        return cls(
            body=body, content_type=content_type, etag=f'"{digest}"', headers=headers
        )


def answer_key(*, kind: str, product_id: int | None, parts: tuple) -> str:
    everything, scoped = _versions(product_id)
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    scope = product_id if product_id is not None else "shop"
    return f"reviews:answer:v{FORMAT_VERSION}:{kind}:{scope}:{everything}:{scoped}:{digest}"


def cached_answer(
    *,
    kind: str,
    product_id: int | None,
    parts: tuple,
    render: Callable[[], CachedAnswer],
) -> CachedAnswer:
    """The answer from the cache, or rendered by `render` and stored. `parts` is
    everything the answer depends on besides the reviews (language, sort, page…)."""
    key = answer_key(kind=kind, product_id=product_id, parts=parts)
    answer = cache.get(key)
    if answer is None:
        answer = render()
        cache.set(key, answer, settings.REVIEWS_CACHE_SECONDS)
    return answer


def _sku_key(sku: str) -> str:
    return f"reviews:sku:{hashlib.sha256(sku.encode()).hexdigest()}"


def forget_sku(sku: str) -> None:
    """Drop the remembered id of this SKU (its product was deleted or re-created)."""
    cache.delete(_sku_key(sku))


def product_id_for_sku(sku: str) -> int | None:
    """The product's id for its SKU, remembered in the cache until that product is
    saved or deleted; None for an unknown SKU (not remembered)."""
    from shop.models import Product

    key = _sku_key(sku)
    product_id = cache.get(key)
    if product_id is None:
        product_id = (
            Product.objects.filter(sku=sku).values_list("pk", flat=True).first()
        )
        if product_id is not None:
            cache.set(key, product_id, settings.REVIEWS_CACHE_SECONDS)
    return product_id


def etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header or not etag:
        return False
    tags = parse_etags(header)
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def public_cache_headers(response, etag: str = ""):
    """Shared caches and the shop's visitors may keep it REVIEWS_EMBED_MAX_AGE."""
    if etag:
        response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=settings.REVIEWS_EMBED_MAX_AGE)
    return response
