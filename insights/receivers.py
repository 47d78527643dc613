"""insights' answers to the returns app: the serial-returner approval rule (registered
with returns.services.register_approval_check in apps.py) and a recompute of the
customer when one of their returns is filed or resolved (returns/signals.py, sent after
the commit)."""

from __future__ import annotations

from django.dispatch import receiver

from insights.models import InsightsSettings
from insights.queries import is_serial_returner
from insights.tasks import compute_customer_insights_task
from returns.signals import return_filed, return_resolved

SERIAL_RETURNER = "serial_returner"  # returns.services.APPROVAL_REASON_LABELS key


def serial_returner_approval(request) -> str | None:
    """A new return from a serial returner waits for the returns team, when
    InsightsSettings.serial_needs_approval is on."""
    if not InsightsSettings.load().serial_needs_approval:
        return None
    return SERIAL_RETURNER if is_serial_returner(request.customer_id) else None


@receiver(return_filed, dispatch_uid="insights-return-filed")
@receiver(return_resolved, dispatch_uid="insights-return-resolved")
def recompute_customer(sender, *, customer_id: int, **kwargs) -> None:
    compute_customer_insights_task.delay(customer_id)
