"""Found by the worker-kill drill: SendGrid's event for a request can arrive while our
row is still `sending` (the worker died in the request, or its request timed out
after SendGrid took it). That event is the proof of acceptance: when the lease runs
out, or the timeout is recorded, the row is sent, not ambiguous (which would send
it once more after the wait)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from emails import services
from emails.models import Message, Status

pytestmark = [pytest.mark.faults, pytest.mark.django_db]


def claimed_in_request() -> Message:
    services.enqueue(
        key="order-shipped:1",
        to_email="anna@example.com",
        template="test_message",
        context={"first_name": "Anna"},
        sender_label="shop",
    )
    (message,) = services.claim_due_messages()
    Message.objects.filter(pk=message.pk).update(request_started_at=timezone.now())
    return message


def sendgrid_reports(message: Message, kind: str) -> None:
    new = services.store_provider_events(
        events=[
            {
                "sg_event_id": f"{kind}-{message.pk}",
                "event": kind,
                "email": message.to_email,
                "timestamp": int(time.time()),
                "outbox_id": str(message.pk),
                "outbox_key": message.key,
            }
        ]
    )
    services.apply_provider_events(event_ids=new)


@pytest.mark.parametrize(
    ("kind", "ends"), [("processed", Status.SENT), ("dropped", Status.FAILED)]
)
def test_an_event_during_the_lease_settles_the_row_when_the_lease_runs_out(
    settings, kind, ends
):
    message = claimed_in_request()
    sendgrid_reports(message, kind)
    assert Message.objects.get(pk=message.pk).status == Status.SENDING

    after = timezone.now() + timedelta(seconds=settings.EMAIL_OUTBOX_LEASE_SECONDS + 1)
    requeued, ambiguous = services.expire_leases(now=after)

    message.refresh_from_db()
    assert (requeued, ambiguous) == ([], [])
    assert message.status == ends
    assert services.resolve_ambiguous(now=after + timedelta(days=1)) == ([], [])


def test_an_event_before_the_timeout_is_recorded_makes_the_row_sent():
    message = claimed_in_request()
    sendgrid_reports(message, "processed")

    ambiguous = services.record_ambiguous(
        ids=[message.pk], error="read timeout", lease_until=message.lease_until
    )

    message.refresh_from_db()
    assert ambiguous == []
    assert message.status == Status.SENT


def test_without_an_event_a_lost_request_is_still_ambiguous(settings):
    message = claimed_in_request()

    after = timezone.now() + timedelta(seconds=settings.EMAIL_OUTBOX_LEASE_SECONDS + 1)
    requeued, ambiguous = services.expire_leases(now=after)

    assert (requeued, ambiguous) == ([], [message.pk])
