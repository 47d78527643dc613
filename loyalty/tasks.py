"""The daily loyalty scan, run by beat (CELERY_BEAT_SCHEDULE in config/settings)."""

from celery import shared_task
from django.utils import timezone

from loyalty import services


@shared_task(time_limit=1800, soft_time_limit=1700, acks_late=True)
def scan_points_task() -> dict[str, int]:
    """Expire due balances, record due reminders (writing their e-mails to the
    outbox) and give points for kept orders. Each step is idempotent by key, so
    running it twice changes nothing more."""
    now = timezone.now()
    return {
        "expired": services.expire_due(now=now),
        "reminders": services.record_expiry_reminders(now=now),
        "kept_orders": services.award_points_for_kept_orders(now=now),
    }
