"""Reads of the cms app: which return policy applies to a product at a moment."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Prefetch, Q
from django.utils import timezone

from cms.models import PolicySnapshot, PolicySnapshotTarget
from cms.rules import PolicyRules

# Most specific first.
PRODUCT, CATEGORY, DEFAULT = "product", "category", "default"


def _language(locale) -> str:
    code = getattr(locale, "language_code", locale) or settings.LANGUAGE_CODE
    return code.split("-")[0].lower()


def policies_for(
    products: Iterable, *, at: datetime | None = None, locale=None
) -> dict[int, PolicyRules | None]:
    """The rules in force at `at` (now) for each product, by product pk, in one query
    whatever the number of products or policies.

    For each product the most specific published policy wins: one naming the product,
    then one naming its category, then the default. At each of these levels a policy
    in `locale` (a language code or Locale) is preferred, else the one in the default
    language, so a missing translation never hands a product a less specific policy.
    """
    products = list(products)
    at = at or timezone.now()
    languages = list(dict.fromkeys([_language(locale), _language(None)]))
    product_ids = {p.pk for p in products}
    category_ids = {p.category_id for p in products if p.category_id}
    relevant_targets = PolicySnapshotTarget.objects.filter(
        Q(product_id__in=product_ids) | Q(category_id__in=category_ids)
    )
    snapshots = (
        PolicySnapshot.objects.filter(valid_from__lte=at, locale__in=languages)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .filter(Q(is_default=True) | Q(targets__in=relevant_targets))
        .distinct()
        .order_by("-valid_from", "-pk")
        .prefetch_related(
            Prefetch("targets", queryset=relevant_targets, to_attr="matching")
        )
    )
    # Candidates by (level, key, language): the newest publish wins a tie.
    best: dict[tuple, PolicySnapshot] = {}
    for snapshot in snapshots:
        keys = [(DEFAULT, None)] if snapshot.is_default else []
        for target in snapshot.matching:
            if target.product_id:
                keys.append((PRODUCT, target.product_id))
            else:
                keys.append((CATEGORY, target.category_id))
        for level, key in keys:
            best.setdefault((level, key, snapshot.locale), snapshot)

    found = {}
    for product in products:
        found[product.pk] = None
        for level, key in (
            (PRODUCT, product.pk),
            (CATEGORY, product.category_id),
            (DEFAULT, None),
        ):
            if key is None and level != DEFAULT:
                continue
            snapshot = next(
                (
                    best[level, key, lang]
                    for lang in languages
                    if (level, key, lang) in best
                ),
                None,
            )
            if snapshot is not None:
                found[product.pk] = _rules(snapshot)
                break
    return found


def policy_for(
    product, *, at: datetime | None = None, locale=None
) -> PolicyRules | None:
    """The rules that applied to `product` at `at` (default: now): see `policies_for`.
    Pass the order's `placed_at` to judge an order by the rules it was sold under."""
    return policies_for([product], at=at, locale=locale)[product.pk]


def _rules(snapshot: PolicySnapshot) -> PolicyRules:
    return PolicyRules.from_json(
        snapshot.rules,
        page_id=snapshot.page_id,
        snapshot_id=snapshot.pk,
        valid_from=snapshot.valid_from,
    )
