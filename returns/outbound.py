"""Signed webhooks to the shop: the one module that calls the shop's HTTP endpoint.

Each event is a ShopWebhook row written in the same transaction as the change that
caused it (`queue_webhook`), so it commits or rolls back with it. A Celery task is
kicked on commit to deliver it; the beat's `deliver_due_webhooks_task` picks up every
row that is due (a lost kick, a retry after backoff), so nothing is lost while the
shop is down.

The request: `POST <ReturnsSettings.shop_webhook_url>` with a JSON body and headers
- `X-Returns-Event`: the event name (e.g. `return.resolved`),
- `X-Returns-Idempotency-Key`: the row's unique key; the shop drops repeats by it,
- `X-Returns-Timestamp`: Unix seconds when this attempt was sent,
- `X-Returns-Signature`: `sha256=<hex HMAC-SHA256 of the raw body>` with
  `ReturnsSettings.shop_webhook_secret`.
A 2xx answer delivers the row; anything else (or no answer) retries with exponential
backoff (`RETURNS_WEBHOOK_RETRY_BASE_SECONDS` doubling, capped at
`RETURNS_WEBHOOK_RETRY_MAX_SECONDS`) until the row's `max_attempts`, then it fails and
shows in the admin. One row is delivered by one worker at a time (claimed with a
lease, no lock held during the request), so the shop gets it once except when it
answers after our timeout (it drops the repeat by the idempotency key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from returns.models import ReturnRequest, ReturnsSettings, ShopWebhook, WebhookStatus

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Returns-Signature"
TIMESTAMP_HEADER = "X-Returns-Timestamp"
IDEMPOTENCY_HEADER = "X-Returns-Idempotency-Key"
EVENT_HEADER = "X-Returns-Event"


def body_bytes(payload: dict) -> bytes:
    return json.dumps(
        payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")
    ).encode()


def signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def queue_webhook(
    *,
    key: str,
    event: str,
    payload: dict,
    request: ReturnRequest | None = None,
    now: datetime | None = None,
) -> ShopWebhook | None:
    """Write the webhook row once per key (a repeat returns the first row), and kick
    delivery on commit. None when no shop webhook address is configured."""
    config = ReturnsSettings.load()
    if not config.shop_webhook_url:
        return None
    now = now or timezone.now()
    body = {"event": event, "key": key, "created_at": now.isoformat(), **payload}
    # Stored as JSON text once, so the signed body is the same on every attempt.
    body = json.loads(body_bytes(body))
    try:
        with transaction.atomic():
            webhook = ShopWebhook.objects.create(
                key=key,
                event=event,
                request=request,
                payload=body,
                max_attempts=settings.RETURNS_WEBHOOK_MAX_ATTEMPTS,
                next_attempt_at=now,
                created_at=now,
            )
    except IntegrityError:
        return ShopWebhook.objects.get(key=key)
    transaction.on_commit(lambda: _kick(webhook.pk), robust=True)
    return webhook


def _kick(webhook_id: int) -> None:
    from returns.tasks import deliver_webhook_task

    deliver_webhook_task.delay(webhook_id)


def backoff_seconds(attempts: int) -> float:
    base = settings.RETURNS_WEBHOOK_RETRY_BASE_SECONDS
    return min(
        base * 2 ** max(attempts - 1, 0), settings.RETURNS_WEBHOOK_RETRY_MAX_SECONDS
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  (URL set by staff)
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.RETURNS_WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deliver_webhook(*, webhook_id: int, now: datetime | None = None) -> str:
    """Try to deliver one row if it is due; returns its status afterwards.

    The row is claimed by one conditional UPDATE that moves `next_attempt_at` past
    the HTTP timeout (a lease), so no lock or transaction is held while the shop
    answers, and a second worker (or a duplicate kick) finds nothing due. A worker
    that dies mid-request leaves the row due again once the lease has passed."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.RETURNS_WEBHOOK_TIMEOUT_SECONDS * 2 + 30)
    claimed = ShopWebhook.objects.filter(
        pk=webhook_id, status=WebhookStatus.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + lease)
    if not claimed:
        return (
            ShopWebhook.objects.filter(pk=webhook_id)
            .values_list("status", flat=True)
            .first()
            or ""
        )
    webhook = ShopWebhook.objects.get(pk=webhook_id)
    error = _send(webhook, now=now)
    if not error:
        changes = {
            "status": WebhookStatus.DELIVERED,
            "delivered_at": now,
            "next_attempt_at": None,
            "last_error": "",
        }
    elif webhook.attempts >= webhook.max_attempts:
        logger.warning("shop webhook %s failed for good: %s", webhook.key, error)
        changes = {
            "status": WebhookStatus.FAILED,
            "next_attempt_at": None,
            "last_error": error[:2000],
        }
    else:
        changes = {
            "next_attempt_at": now
            + timedelta(seconds=backoff_seconds(webhook.attempts)),
            "last_error": error[:2000],
        }
    ShopWebhook.objects.filter(pk=webhook_id, status=WebhookStatus.PENDING).update(
        **changes
    )
    return changes.get("status", WebhookStatus.PENDING)


def _send(webhook: ShopWebhook, *, now: datetime) -> str:
    """POST the row to the shop; the error in words, or "" when it took it."""
    config = ReturnsSettings.load()
    if not config.shop_webhook_url:
        return "no shop webhook address configured"
    body = body_bytes(webhook.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "returnwise-returns/1",
        EVENT_HEADER: webhook.event,
        IDEMPOTENCY_HEADER: webhook.key,
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        SIGNATURE_HEADER: signature(config.shop_webhook_secret, body),
    }
    try:
        status = _post(config.shop_webhook_url, body, headers)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if not 200 <= status < 300:
        return f"HTTP {status}"
    return ""


def due_webhook_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        ShopWebhook.objects.filter(
            status=WebhookStatus.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def retry_webhook(*, webhook: ShopWebhook, now: datetime | None = None) -> ShopWebhook:
    """Staff: send a failed row again (with a fresh set of attempts)."""
    now = now or timezone.now()
    with transaction.atomic():
        ShopWebhook.objects.filter(pk=webhook.pk, status=WebhookStatus.FAILED).update(
            status=WebhookStatus.PENDING, attempts=0, next_attempt_at=now
        )
        transaction.on_commit(lambda: _kick(webhook.pk), robust=True)
    webhook.refresh_from_db()
    return webhook
