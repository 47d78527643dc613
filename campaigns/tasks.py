"""Celery tasks: thin, JSON arguments only, safe to run twice (acks_late)."""

from datetime import datetime

from celery import shared_task

from campaigns import services


@shared_task(time_limit=1800, soft_time_limit=1700)
def schedule_due_campaigns_task() -> dict[str, int]:
    """Every few minutes (beat): due trigger orders, promotions whose time has
    come, review reminders. Idempotent: a rerun or a racing beat adds nothing."""
    report = services.schedule_due()
    return {
        "campaigns": report.campaigns,
        "assigned": report.assigned,
        "holdout": report.holdout,
        "queued": report.queued,
        "skipped": report.skipped,
        "reminders": report.reminders,
        "batches": report.batches,
    }


@shared_task(time_limit=600, soft_time_limit=540)
def queue_trigger_batch_task(campaign_id: int, order_ids: list[int], now: str) -> int:
    """One batch of due orders handed out by the beat's pass; returns how many it
    queued (none on a rerun)."""
    report = services.queue_trigger_batch(
        campaign_id=campaign_id,
        order_ids=order_ids,
        now=datetime.fromisoformat(now),
    )
    return report.queued
