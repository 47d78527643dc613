from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shop import services


@shared_task(time_limit=120, soft_time_limit=100)
def purge_webhook_deliveries_task() -> int:
    """Daily: forget webhook delivery ids older than the platforms' retry window."""
    cutoff = timezone.now() - settings.WEBHOOK_DELIVERY_RETENTION
    return services.purge_webhook_deliveries(older_than=cutoff)
