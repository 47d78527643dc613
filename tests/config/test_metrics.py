"""GET /metrics: Prometheus text with the outbox backlog, failed messages, webhook
failures both ways and task outcomes; behind a bearer token; a constant few queries."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from emails.models import Message, ProviderEvent, Status
from returns.models import ShopWebhook, WebhookStatus
from shop.tasks import purge_webhook_deliveries_task

TOKEN = "scrape-token-0123456789"
PURGE = "shop.tasks.purge_webhook_deliveries_task"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    cache.clear()
    yield
    cache.clear()


def scrape(client) -> dict:
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for line in response.content.decode().splitlines():
        if line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        samples[series] = float(value)
    return samples


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", ["", "Bearer wrong-token", f"Basic {TOKEN}", TOKEN]
)
def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_on, authorization):
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 403
    assert b"returnwise_" not in response.content


def _message(key: str, status: str, **fields) -> Message:
    message = Message.objects.create(
        key=key, to_email=f"{key}@example.com", sender_label="test", status=status
    )
    Message.objects.filter(pk=message.pk).update(**fields)
    return message


@pytest.mark.django_db
def test_metrics_report_the_outbox_backlog_and_failures(client, metrics_on):
    now = timezone.now()
    _message("due-1", Status.QUEUED, queued_at=now - timedelta(minutes=10))
    _message(
        "due-2",
        Status.QUEUED,
        next_attempt_at=now - timedelta(seconds=5),
        queued_at=now - timedelta(minutes=2),
    )
    _message("later", Status.QUEUED, next_attempt_at=now + timedelta(hours=1))
    _message("ambiguous", Status.AMBIGUOUS)
    _message("failed-now", Status.FAILED)
    _message("failed-old", Status.FAILED, updated_at=now - timedelta(days=2))
    _message("sent", Status.SENT)
    ProviderEvent.objects.create(sg_event_id="todo", payload={})
    ProviderEvent.objects.create(sg_event_id="done", payload={}, processed_at=now)

    samples = scrape(client)

    assert {
        key: value
        for key, value in samples.items()
        if key.startswith(("returnwise_email_", "returnwise_sendgrid_"))
        and "age_seconds" not in key
    } == {
        'returnwise_email_outbox_messages{status="queued"}': 3,
        'returnwise_email_outbox_messages{status="sending"}': 0,
        'returnwise_email_outbox_messages{status="ambiguous"}': 1,
        'returnwise_email_outbox_messages{status="failed"}': 2,
        "returnwise_email_outbox_due_messages": 2,
        "returnwise_email_outbox_failed_last_hour_messages": 1,
        "returnwise_sendgrid_events_unprocessed": 1,
    }
    assert 590 <= samples["returnwise_email_outbox_oldest_due_age_seconds"] <= 660
    assert 0 <= samples["returnwise_sendgrid_events_oldest_unprocessed_age_seconds"]


def _webhook(key: str, status: str, **fields) -> ShopWebhook:
    return ShopWebhook.objects.create(
        key=key,
        event="return.approved",
        payload={},
        status=status,
        created_at=timezone.now() - timedelta(minutes=30),
        **fields,
    )


@pytest.mark.django_db
def test_metrics_report_webhooks_to_the_shop_that_fail(client, metrics_on):
    now = timezone.now()
    _webhook("new", WebhookStatus.PENDING)
    _webhook(
        "retrying",
        WebhookStatus.PENDING,
        attempts=3,
        next_attempt_at=now + timedelta(minutes=5),
        last_error="HTTP 503",
    )
    _webhook("gave-up", WebhookStatus.FAILED, attempts=12, last_error="HTTP 500")
    _webhook("done", WebhookStatus.DELIVERED, attempts=1, delivered_at=now)

    samples = scrape(client)

    assert samples['returnwise_shop_webhooks{status="pending"}'] == 2
    assert samples['returnwise_shop_webhooks{status="failed"}'] == 1
    assert samples["returnwise_shop_webhooks_retrying"] == 1
    assert samples["returnwise_shop_webhooks_due"] == 1
    assert 1790 <= samples["returnwise_shop_webhooks_oldest_pending_age_seconds"]


@pytest.mark.django_db
def test_metrics_count_task_outcomes_and_refused_inbound_webhooks(client, metrics_on):
    # given one task that ran, one that raised, and a forged Shopify webhook
    purge_webhook_deliveries_task.delay()
    result = purge_webhook_deliveries_task.apply(
        args=("an argument it does not take",), throw=False
    )
    assert result.failed()
    forged = client.post(
        "/webhooks/shopify/",
        data=b'{"id": 1}',
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256="forged",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
    )
    assert forged.status_code in {401, 403}

    samples = scrape(client)

    assert (
        samples[f'returnwise_celery_tasks_total{{task="{PURGE}",state="SUCCESS"}}'] == 1
    )
    assert (
        samples[f'returnwise_celery_tasks_total{{task="{PURGE}",state="FAILURE"}}'] == 1
    )
    assert (
        samples[f'returnwise_celery_task_runtime_seconds_count{{task="{PURGE}"}}'] == 2
    )
    assert (
        samples[
            'returnwise_webhook_responses_total{route="webhook-shopify",status="4xx"}'
        ]
        == 1
    )
    assert (
        samples[
            'returnwise_webhook_responses_total{route="webhook-shopify",status="2xx"}'
        ]
        == 0
    )


@pytest.mark.django_db
def test_metrics_cost_the_same_few_queries_however_many_rows(
    client, metrics_on, django_assert_max_num_queries
):
    for number in range(30):
        _message(f"m{number}", Status.QUEUED)
        _webhook(f"w{number}", WebhookStatus.PENDING)
        ProviderEvent.objects.create(sg_event_id=f"e{number}", payload={})

    with django_assert_max_num_queries(3):
        samples = scrape(client)

    assert samples["returnwise_email_outbox_due_messages"] == 30
    assert samples['returnwise_shop_webhooks{status="pending"}'] == 30
