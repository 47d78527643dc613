"""Recomputing the insights: nightly by beat (CELERY_BEAT_SCHEDULE in config/settings)
and for one customer when one of their returns is filed or resolved."""

from celery import shared_task

from insights import services


@shared_task(time_limit=1800, soft_time_limit=1700, acks_late=True)
def compute_insights_task() -> dict[str, int]:
    """Recompute every customer's figures, flag and persona (idempotent)."""
    report = services.compute_insights()
    return {
        "customers": report.customers,
        "changed": report.changed,
        "serial_returners": report.serial_returners,
    }


@shared_task(time_limit=120, soft_time_limit=100, acks_late=True)
def compute_customer_insights_task(customer_id: int) -> dict[str, int]:
    """Recompute one customer (after one of their returns was filed or resolved)."""
    report = services.compute_insights(customer_ids=[customer_id])
    return {"customers": report.customers}
