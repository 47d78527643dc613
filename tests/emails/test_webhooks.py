"""SendGrid's signed Event Webhook: verified over the raw body, fresh, stored once per
sg_event_id, applied after the commit."""

import time

import pytest
from django.urls import reverse

from emails import services
from emails.models import Message, MessageEvent, ProviderEvent, Status, Suppression
from tests.emails.conftest import event_body

pytestmark = pytest.mark.django_db

URL = "/webhooks/sendgrid/events"


@pytest.fixture
def sent(sendgrid):
    message = services.enqueue(
        key="return-approved:RMA-1",
        to_email="anna@example.com",
        template="test_message",
        sender_label="returns",
    )
    services.send_due_messages()
    message.refresh_from_db()
    return message


def event(message, kind, event_id, **extra):
    return {
        "email": message.to_email,
        "timestamp": int(time.time()),
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"{message.provider_message_id}.filter0001",
        "outbox_id": str(message.pk),
        "outbox_key": message.key,
        **extra,
    }


def post(client, body, headers):
    return client.generic("POST", URL, body, content_type="application/json", **headers)


def test_url():
    assert reverse("webhook-sendgrid-events") == URL


def test_signed_events_update_the_message(
    client, sent, event_signer, django_capture_on_commit_callbacks
):
    body = event_body(
        event(sent, "delivered", "ev-1"),
        event(sent, "open", "ev-2"),
        event(sent, "click", "ev-3", url="https://shop.example/x"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, event_signer.headers(body))

    assert response.status_code == 200
    assert response.json() == {"received": 3, "new": 3}
    sent.refresh_from_db()
    assert sent.status == Status.SENT
    assert sent.delivered_at is not None
    assert sent.opened_at is not None
    assert sent.clicked_at is not None
    kinds = list(
        sent.events.exclude(kind="status").order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == ["delivered", "open", "click"]
    assert ProviderEvent.objects.filter(processed_at__isnull=False).count() == 3


def test_a_replayed_event_is_applied_once(
    client, sent, event_signer, django_capture_on_commit_callbacks
):
    body = event_body(event(sent, "delivered", "ev-1"))

    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, event_signer.headers(body))
        response = post(client, body, event_signer.headers(body))

    assert response.status_code == 200
    assert response.json() == {"received": 1, "new": 0}
    assert ProviderEvent.objects.count() == 1
    assert sent.events.filter(kind="delivered").count() == 1


@pytest.mark.parametrize(
    "tamper",
    ["no_signature", "bad_signature", "other_body", "stale", "future", "no_key"],
)
def test_unsigned_or_stale_requests_change_nothing(
    client, sent, event_signer, settings, tamper
):
    body = event_body(event(sent, "bounce", "ev-9", reason="550 no such user"))
    headers = event_signer.headers(body)
    if tamper == "no_signature":
        del headers["HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE"]
    elif tamper == "bad_signature":
        headers["HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE"] = "bm90IGEgc2lnbmF0dXJl"
    elif tamper == "other_body":
        body = body.replace(b"550", b"551")
    elif tamper == "stale":
        headers = event_signer.headers(body, timestamp=int(time.time()) - 601)
    elif tamper == "future":
        headers = event_signer.headers(body, timestamp=int(time.time()) + 601)
    elif tamper == "no_key":
        settings.SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = ""
    events_before = MessageEvent.objects.count()

    response = post(client, body, headers)

    assert response.status_code == 401
    assert ProviderEvent.objects.count() == 0
    assert Suppression.objects.count() == 0
    assert MessageEvent.objects.count() == events_before
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_a_body_that_is_not_a_list_is_refused(client, event_signer):
    body = b'{"event": "delivered"}'

    response = post(client, body, event_signer.headers(body))

    assert response.status_code == 400
    assert ProviderEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "reason", "status"),
    [
        ("bounce", "bounce", Status.FAILED),
        ("spamreport", "spamreport", Status.SENT),
        ("unsubscribe", "unsubscribe", Status.SENT),
    ],
)
def test_bounces_spam_reports_and_unsubscribes_suppress_the_address(
    client, sent, event_signer, django_capture_on_commit_callbacks, kind, reason, status
):
    body = event_body(event(sent, kind, "ev-1", reason="550 5.1.1 unknown"))

    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, event_signer.headers(body))

    assert list(Suppression.objects.values_list("email", "reason")) == [
        ("anna@example.com", reason)
    ]
    sent.refresh_from_db()
    assert sent.status == status


def test_an_event_with_a_forged_key_touches_no_message(
    client, sent, event_signer, django_capture_on_commit_callbacks
):
    body = event_body(event(sent, "delivered", "ev-1", outbox_key="someone-else"))

    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, event_signer.headers(body))

    sent.refresh_from_db()
    assert sent.delivered_at is None
    assert not sent.events.filter(kind="delivered").exists()


def test_events_left_unprocessed_are_applied_by_the_sweep(sent):
    services.store_provider_events(events=[event(sent, "delivered", "ev-1")])

    assert services.sweep()["events"] == 1

    assert Message.objects.get(pk=sent.pk).delivered_at is not None
