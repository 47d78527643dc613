"""Writes of the cms app: the history of published return policies."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cms.models import PolicySnapshot, PolicySnapshotTarget, ReturnPolicyPage
from cms.rules import PolicyRules


@transaction.atomic
def record_policy_snapshot(
    *, page: ReturnPolicyPage, at: datetime | None = None
) -> PolicySnapshot | None:
    """Close the page's open snapshot at `at` (now) and open one with the rules just
    published. Called on every publish, including a scheduled one when it goes live.
    Wagtail also announces a first publish scheduled for later: the page is not live
    then, and nothing is recorded (None)."""
    at = at or timezone.now()
    page = ReturnPolicyPage.objects.select_related("locale").get(pk=page.pk)
    if not page.live:
        return None
    close_policy_snapshots(page_id=page.pk, at=at)
    rules = PolicyRules.from_page(page, url=public_url(page))
    snapshot = PolicySnapshot.objects.create(
        page_id=page.pk,
        translation_key=page.translation_key,
        locale=page.locale.language_code,
        revision_id=page.live_revision_id,
        title=page.title,
        summary=page.summary,
        url=rules.url,
        is_default=page.is_default,
        rules=rules.to_json(),
        valid_from=at,
    )
    PolicySnapshotTarget.objects.bulk_create(
        [
            *(
                PolicySnapshotTarget(snapshot=snapshot, category_id=pk)
                for pk in page.applies_to_categories.values_list("pk", flat=True)
            ),
            *(
                PolicySnapshotTarget(snapshot=snapshot, product_id=pk)
                for pk in page.applies_to_products.values_list("pk", flat=True)
            ),
        ]
    )
    return snapshot


@transaction.atomic
def refresh_policy_snapshots(
    *, page, include_page: bool = True, at: datetime | None = None
) -> int:
    """A page was moved or its slug changed: the live policies at or below it have a
    new address, so each gets a new snapshot (same rules, new URL). Returns how many.
    A slug change is published, so the page's own snapshot is new already
    (`include_page=False`)."""
    policies = ReturnPolicyPage.objects.live().descendant_of(
        page, inclusive=include_page
    )
    return sum(
        1
        for policy in policies
        if record_policy_snapshot(page=policy, at=at) is not None
    )


def public_url(page) -> str:
    """The page's address for other sites (the embed, the printed insert)."""
    url = page.get_url() or ""
    if url.startswith("/"):
        return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + url
    return url


@transaction.atomic
def close_policy_snapshots(*, page_id: int, at: datetime | None = None) -> int:
    """End the open snapshot of a page that was unpublished or deleted (or is about
    to be republished); returns how many were closed (0 or 1)."""
    at = at or timezone.now()
    open_ = PolicySnapshot.objects.select_for_update().filter(
        page_id=page_id, valid_to__isnull=True
    )
    return sum(1 for snapshot in open_ if _close(snapshot, at))


def _close(snapshot: PolicySnapshot, at: datetime) -> bool:
    snapshot.valid_to = max(at, snapshot.valid_from)
    snapshot.save(update_fields=["valid_to"])
    return True
