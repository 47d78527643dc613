"""Signed webhooks to the shop, delivered against a real local HTTP server standing
in for the shop: signature, headers, retries with backoff, nothing lost while the
shop is down, delivered once when it is back."""

import hashlib
import hmac
import json
import threading
from collections import deque
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from returns import outbound, services, tasks
from returns.models import ShopWebhook, WebhookStatus
from tests.returns import core_setup as setup

SECRET = "whsec-test"


class ShopStandIn:
    """Answers POSTs with the queued statuses (then 200) and records each request."""

    def __init__(self):
        self.statuses: deque[int] = deque()
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = stand_in.statuses.popleft() if stand_in.statuses else 200
                stand_in.requests.append(
                    {"headers": dict(self.headers), "body": raw, "status": status}
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/returns-hook"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def delivered(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]


@pytest.fixture
def shop(db):
    with ShopStandIn() as stand_in:
        setup.settings(shop_webhook_url=stand_in.url, shop_webhook_secret=SECRET)
        yield stand_in


@pytest.fixture
def returns_setup(db):
    setup.policy()
    setup.centre()


def _approve_one(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = setup.submit(setup.order())
    return request, ShopWebhook.objects.get(event="return.approved")


def test_shop_down_then_up_delivers_exactly_once(
    shop, returns_setup, django_capture_on_commit_callbacks
):
    # given the shop answers 500 to the first attempt
    shop.statuses.extend([500])

    # when a return is approved (the row commits, the task runs on commit)
    request, webhook = _approve_one(django_capture_on_commit_callbacks)

    # then the row waits for a retry, with the error and a backoff
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts, webhook.last_error) == (
        WebhookStatus.PENDING,
        1,
        "HTTP 500",
    )
    assert webhook.next_attempt_at > timezone.now() + timedelta(seconds=20)
    # the beat's scan finds nothing due yet, and a duplicate kick sends nothing
    assert outbound.due_webhook_ids() == []
    assert outbound.deliver_webhook(webhook_id=webhook.pk) == WebhookStatus.PENDING
    assert len(shop.requests) == 1

    # when the backoff has passed and the scan runs again
    later = webhook.next_attempt_at + timedelta(seconds=1)
    assert outbound.due_webhook_ids(now=later) == [webhook.pk]
    assert outbound.deliver_webhook(webhook_id=webhook.pk, now=later) == "delivered"
    # and more scans or duplicate kicks come along
    outbound.deliver_webhook(webhook_id=webhook.pk, now=later + timedelta(hours=1))
    assert tasks.deliver_due_webhooks_task() == 0

    # then the shop accepted it exactly once
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts) == (WebhookStatus.DELIVERED, 2)
    assert len(shop.requests) == 2
    assert len(shop.delivered) == 1
    assert json.loads(shop.delivered[0]["body"])["rma"] == request.rma


def test_the_request_is_signed_over_the_raw_body(
    shop, returns_setup, django_capture_on_commit_callbacks
):
    request, webhook = _approve_one(django_capture_on_commit_callbacks)

    [sent] = shop.requests
    raw = sent["body"]
    expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert sent["headers"]["X-Returns-Signature"] == f"sha256={expected}"
    assert sent["headers"]["X-Returns-Event"] == "return.approved"
    assert sent["headers"]["X-Returns-Idempotency-Key"] == (
        f"return.approved:{request.rma}"
    )
    assert int(sent["headers"]["X-Returns-Timestamp"]) > 1_700_000_000
    body = json.loads(raw)
    assert body["event"] == "return.approved"
    assert body["key"] == f"return.approved:{request.rma}"
    assert body["status"] == "approved"
    assert body["customer_email"] == request.customer.email


def test_every_attempt_signs_the_same_body(
    shop, returns_setup, django_capture_on_commit_callbacks
):
    shop.statuses.extend([503])
    _request, webhook = _approve_one(django_capture_on_commit_callbacks)
    outbound.deliver_webhook(
        webhook_id=webhook.pk, now=timezone.now() + timedelta(days=1)
    )
    first, second = shop.requests
    assert first["body"] == second["body"]
    assert (
        first["headers"]["X-Returns-Signature"]
        == second["headers"]["X-Returns-Signature"]
    )


def test_backoff_doubles_and_is_capped(settings):
    settings.RETURNS_WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.RETURNS_WEBHOOK_RETRY_MAX_SECONDS = 600
    assert [outbound.backoff_seconds(n) for n in range(1, 8)] == [
        30,
        60,
        120,
        240,
        480,
        600,
        600,
    ]


def test_attempts_are_capped_in_the_row(
    shop, returns_setup, django_capture_on_commit_callbacks
):
    shop.statuses.extend([500] * 10)
    _request, webhook = _approve_one(django_capture_on_commit_callbacks)
    ShopWebhook.objects.filter(pk=webhook.pk).update(max_attempts=3)

    now = timezone.now()
    for hours in (1, 2, 3, 4):
        outbound.deliver_webhook(
            webhook_id=webhook.pk, now=now + timedelta(hours=hours)
        )

    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts) == (WebhookStatus.FAILED, 3)
    assert len(shop.requests) == 3

    # staff retries it once the shop is fixed
    shop.statuses.clear()
    outbound.retry_webhook(webhook=webhook)
    outbound.deliver_webhook(webhook_id=webhook.pk)
    webhook.refresh_from_db()
    assert webhook.status == WebhookStatus.DELIVERED


def test_an_unreachable_shop_loses_nothing(db, returns_setup):
    setup.settings(shop_webhook_url="http://127.0.0.1:9/nothing-listens")
    request = setup.submit(setup.order())
    webhook = ShopWebhook.objects.get()

    status = outbound.deliver_webhook(webhook_id=webhook.pk)

    webhook.refresh_from_db()
    assert status == WebhookStatus.PENDING
    assert webhook.attempts == 1
    assert webhook.last_error.startswith("URLError")
    assert webhook.payload["rma"] == request.rma


def test_the_row_rolls_back_with_the_change(db, returns_setup):
    setup.settings(shop_webhook_url="http://127.0.0.1:9/")
    order = setup.order()
    with pytest.raises(services.ReturnNotEligible):
        setup.submit(order, setup.choice(order.lines.get(), quantity=99))
    assert ShopWebhook.objects.count() == 0


def test_the_beat_scan_enqueues_due_rows(
    shop, returns_setup, django_capture_on_commit_callbacks
):
    shop.statuses.extend([500])
    _request, webhook = _approve_one(django_capture_on_commit_callbacks)
    ShopWebhook.objects.filter(pk=webhook.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    assert tasks.deliver_due_webhooks_task() == 1

    webhook.refresh_from_db()
    assert webhook.status == WebhookStatus.DELIVERED


def test_the_scan_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["deliver-due-return-webhooks"]
    assert entry["task"] == "returns.tasks.deliver_due_webhooks_task"
    assert entry["schedule"] == timedelta(minutes=1)
