"""Celery tasks: thin, JSON arguments only, safe to run twice (acks_late)."""

from celery import shared_task
from django.conf import settings

from emails import services


@shared_task(time_limit=300, soft_time_limit=240)
def send_due_messages_task() -> dict[str, int]:
    """Claim one batch of due messages and send it. A full batch starts the next
    task first, so several workers send in parallel (one task per batch, never one
    per recipient)."""
    messages = services.claim_due_messages()
    if len(messages) >= settings.EMAIL_OUTBOX_BATCH_SIZE:
        send_due_messages_task.delay()
    report = services.send_claimed(messages)
    return {
        "claimed": report.claimed,
        "sent": report.sent,
        "retried": report.retried,
        "failed": report.failed,
        "suppressed": report.suppressed,
        "ambiguous": report.ambiguous,
        "requests": report.requests,
    }


@shared_task(time_limit=120, soft_time_limit=100)
def sweep_outbox_task() -> dict[str, int]:
    """Every minute (beat): pending events, expired leases, ambiguous rows, and a
    kick for anything due that a lost on-commit kick left behind."""
    return services.sweep()


@shared_task(time_limit=120, soft_time_limit=100)
def apply_provider_events_task(event_ids: list[str]) -> int:
    return services.apply_provider_events(event_ids=event_ids)
