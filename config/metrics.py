"""GET /metrics: Prometheus text exposition (format 0.0.4), written by hand.

Gauges come from the database in three aggregate queries (the e-mail outbox, SendGrid's
unprocessed events, the webhooks to the shop); counters of tasks and webhook responses
live in the shared cache (Redis in production), incremented by the worker and the web
processes and read back with one get_many. Without METRICS_TOKEN the endpoint is off
(404); with it, a scrape must send `Authorization: Bearer <token>` (403 otherwise).
docs/deploy.md lists the series and the alerts to set on them.
"""

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TASK_STATES = ("SUCCESS", "FAILURE", "RETRY")
# Inbound webhooks: every answer is counted by status class (refusals show forgeries,
# a misconfigured secret or a bug); elsewhere only server errors are counted.
WEBHOOK_ROUTES = ("webhook-shopify", "webhook-woocommerce", "webhook-sendgrid-events")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
COUNTER_TTL = None  # counters never expire; Prometheus handles resets


def _key(*parts: str) -> str:
    return "metrics:" + ":".join(parts)


def _incr(key: str, amount: int = 1) -> None:
    """Counting must never fail the request or the task it counts."""
    try:
        cache.add(key, 0, timeout=COUNTER_TTL)
        cache.incr(key, amount)
    except Exception:  # noqa: BLE001
        logger.debug("metrics: could not increment %s", key, exc_info=True)


def record_response(*, route: str, status: int) -> None:
    status_class = f"{status // 100}xx"
    if route in WEBHOOK_ROUTES:
        _incr(_key("http", route, status_class))
    elif status >= 500:
        _incr(_key("http", "other", "5xx"))


def record_task(*, name: str, state: str, runtime_ms: float) -> None:
    if state not in TASK_STATES:
        return
    _incr(_key("task", name, state))
    _incr(_key("task_ms", name), round(runtime_ms))


def record_task_wait(*, name: str, wait_ms: float) -> None:
    _incr(_key("task_wait_ms", name), max(round(wait_ms), 0))
    _incr(_key("task_waits", name))


# Reading -------------------------------------------------------------------------------


def _age_seconds(now, oldest) -> float:
    return round((now - oldest).total_seconds(), 1) if oldest else 0.0


def outbox_figures(now) -> dict:
    from emails.models import Message, ProviderEvent, Status

    due = Q(status=Status.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    messages = Message.objects.aggregate(
        queued=Count("pk", filter=Q(status=Status.QUEUED)),
        sending=Count("pk", filter=Q(status=Status.SENDING)),
        ambiguous=Count("pk", filter=Q(status=Status.AMBIGUOUS)),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
        failed_last_hour=Count(
            "pk",
            filter=Q(status=Status.FAILED, updated_at__gte=now - timedelta(hours=1)),
        ),
        due=Count("pk", filter=due),
        oldest_due=Min("queued_at", filter=due),
    )
    events = ProviderEvent.objects.filter(processed_at__isnull=True).aggregate(
        unprocessed=Count("pk"), oldest=Min("received_at")
    )
    return {"messages": messages, "events": events}


def shop_webhook_figures(now) -> dict:
    from returns.models import ShopWebhook, WebhookStatus

    pending = Q(status=WebhookStatus.PENDING)
    return ShopWebhook.objects.aggregate(
        pending=Count("pk", filter=pending),
        retrying=Count("pk", filter=pending & Q(attempts__gt=0)),
        due=Count(
            "pk",
            filter=pending
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)),
        ),
        failed=Count("pk", filter=Q(status=WebhookStatus.FAILED)),
        oldest_pending=Min("created_at", filter=pending),
    )


def _task_names() -> list[str]:
    from config.celery import app

    return sorted(name for name in app.tasks if not name.startswith("celery."))


def cached_counters(task_names: list[str]) -> dict:
    keys = [_key("http", route, c) for route in WEBHOOK_ROUTES for c in STATUS_CLASSES]
    keys.append(_key("http", "other", "5xx"))
    for name in task_names:
        keys += [_key("task", name, state) for state in TASK_STATES]
        keys += [
            _key("task_ms", name),
            _key("task_wait_ms", name),
            _key("task_waits", name),
        ]
    try:
        return cache.get_many(keys)
    except Exception:  # noqa: BLE001  (the database figures still help)
        logger.warning("metrics: the cache did not answer", exc_info=True)
        return {}


class Exposition:
    def __init__(self):
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value, **labels: str) -> None:
        if labels:
            inner = ",".join(
                f'{key}="{_escape(str(val))}"' for key, val in labels.items()
            )
            name = f"{name}{{{inner}}}"
        self.lines.append(f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(now=None) -> str:
    now = now or timezone.now()
    outbox = outbox_figures(now)
    messages, events = outbox["messages"], outbox["events"]
    webhooks = shop_webhook_figures(now)
    task_names = _task_names()
    counters = cached_counters(task_names)
    out = Exposition()

    out.family(
        "returnwise_email_outbox_messages",
        "gauge",
        "E-mail outbox messages by status (sent and suppressed are not counted).",
    )
    for status in ("queued", "sending", "ambiguous", "failed"):
        out.sample("returnwise_email_outbox_messages", messages[status], status=status)
    out.family(
        "returnwise_email_outbox_due_messages",
        "gauge",
        "Queued messages whose send time has come (the backlog).",
    )
    out.sample("returnwise_email_outbox_due_messages", messages["due"])
    out.family(
        "returnwise_email_outbox_oldest_due_age_seconds",
        "gauge",
        "Age of the oldest due message; 0 when none is due.",
    )
    out.sample(
        "returnwise_email_outbox_oldest_due_age_seconds",
        _age_seconds(now, messages["oldest_due"]),
    )
    out.family(
        "returnwise_email_outbox_failed_last_hour_messages",
        "gauge",
        "Messages that failed for good in the last hour.",
    )
    out.sample(
        "returnwise_email_outbox_failed_last_hour_messages",
        messages["failed_last_hour"],
    )
    out.family(
        "returnwise_sendgrid_events_unprocessed",
        "gauge",
        "SendGrid webhook events stored but not yet applied.",
    )
    out.sample("returnwise_sendgrid_events_unprocessed", events["unprocessed"])
    out.family(
        "returnwise_sendgrid_events_oldest_unprocessed_age_seconds",
        "gauge",
        "Age of the oldest unapplied SendGrid event; 0 when none.",
    )
    out.sample(
        "returnwise_sendgrid_events_oldest_unprocessed_age_seconds",
        _age_seconds(now, events["oldest"]),
    )

    out.family(
        "returnwise_shop_webhooks",
        "gauge",
        "Webhooks to the shop by status (delivered ones are not counted).",
    )
    for status in ("pending", "failed"):
        out.sample("returnwise_shop_webhooks", webhooks[status], status=status)
    out.family(
        "returnwise_shop_webhooks_retrying",
        "gauge",
        "Pending webhooks to the shop that failed at least once.",
    )
    out.sample("returnwise_shop_webhooks_retrying", webhooks["retrying"])
    out.family(
        "returnwise_shop_webhooks_due", "gauge", "Pending webhooks whose time has come."
    )
    out.sample("returnwise_shop_webhooks_due", webhooks["due"])
    out.family(
        "returnwise_shop_webhooks_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest pending webhook to the shop; 0 when none.",
    )
    out.sample(
        "returnwise_shop_webhooks_oldest_pending_age_seconds",
        _age_seconds(now, webhooks["oldest_pending"]),
    )

    out.family(
        "returnwise_webhook_responses_total",
        "counter",
        "Answers to inbound webhooks (shop platforms, SendGrid) by status class.",
    )
    for route in WEBHOOK_ROUTES:
        for status_class in STATUS_CLASSES:
            out.sample(
                "returnwise_webhook_responses_total",
                counters.get(_key("http", route, status_class), 0),
                route=route,
                status=status_class,
            )
    out.family(
        "returnwise_http_server_errors_total",
        "counter",
        "5xx answers outside the inbound webhooks.",
    )
    out.sample(
        "returnwise_http_server_errors_total",
        counters.get(_key("http", "other", "5xx"), 0),
    )

    out.family(
        "returnwise_celery_tasks_total",
        "counter",
        "Celery task runs by final state (FAILURE: raised; RETRY: retried).",
    )
    for name in task_names:
        for state in TASK_STATES:
            out.sample(
                "returnwise_celery_tasks_total",
                counters.get(_key("task", name, state), 0),
                task=name,
                state=state,
            )
    out.family(
        "returnwise_celery_task_runtime_seconds",
        "summary",
        "Time tasks spent running.",
    )
    for name in task_names:
        runs = sum(counters.get(_key("task", name, s), 0) for s in TASK_STATES)
        runtime_ms = counters.get(_key("task_ms", name), 0)
        out.sample(
            "returnwise_celery_task_runtime_seconds_sum", runtime_ms / 1000, task=name
        )
        out.sample("returnwise_celery_task_runtime_seconds_count", runs, task=name)
    out.family(
        "returnwise_celery_task_wait_seconds",
        "summary",
        "Time from publishing a task to a worker starting it (includes countdowns).",
    )
    for name in task_names:
        wait_ms = counters.get(_key("task_wait_ms", name), 0)
        out.sample("returnwise_celery_task_wait_seconds_sum", wait_ms / 1000, task=name)
        out.sample(
            "returnwise_celery_task_wait_seconds_count",
            counters.get(_key("task_waits", name), 0),
            task=name,
        )
    return out.text()


def _authorised(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@never_cache
@require_GET
def metrics_view(request):
    if not settings.METRICS_TOKEN:
        raise Http404
    if not _authorised(request):
        return HttpResponseForbidden(
            "Send the METRICS_TOKEN as 'Authorization: Bearer <token>'.",
            content_type="text/plain",
        )
    return HttpResponse(render(), content_type=CONTENT_TYPE)
