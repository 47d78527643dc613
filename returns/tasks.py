"""Celery tasks: thin, JSON arguments only, safe to run twice (acks_late)."""

from celery import shared_task

from returns import outbound, photos


@shared_task(time_limit=60, soft_time_limit=45)
def deliver_webhook_task(webhook_id: int) -> str:
    """Deliver one shop webhook if it is due (kicked on commit of its row)."""
    return outbound.deliver_webhook(webhook_id=webhook_id)


@shared_task(time_limit=300, soft_time_limit=240)
def deliver_due_webhooks_task() -> int:
    """Every minute (beat): fan out one task per due row, so a lost kick or a retry
    after backoff is picked up. Returns how many were enqueued."""
    ids = outbound.due_webhook_ids()
    for webhook_id in ids:
        deliver_webhook_task.delay(webhook_id)
    return len(ids)


@shared_task(time_limit=300, soft_time_limit=240)
def purge_abandoned_drafts_task() -> int:
    """Hourly (beat): delete the photos of return drafts nobody confirmed within
    returns.photos.DRAFT_MAX_AGE. Returns how many files were deleted."""
    return photos.purge_abandoned_drafts()
