"""The outbox: enqueueing in the caller's transaction, the state machine, retries,
suppression, leases and the ambiguous window, against the SendGrid stand-in."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from emails import services
from emails.models import Category, Message, MessageEvent, Status, Suppression
from tests.emails.standin import Reply, bad_request, rate_limited, server_error
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def enqueue(key="order-shipped:1", **kwargs):
    values = {
        "key": key,
        "to_email": "Anna@Example.com",
        "template": "test_message",
        "context": {"first_name": "Anna"},
        "sender_label": "shop",
    }
    return services.enqueue(**(values | kwargs))


def statuses(message):
    return list(
        message.events.filter(kind="status")
        .order_by("pk")
        .values_list("from_status", "to_status")
    )


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def test_enqueue_twice_with_one_key_gives_one_message(sendgrid):
    first = enqueue()
    second = enqueue()

    assert first.pk == second.pk
    assert Message.objects.count() == 1
    assert first.to_email == "anna@example.com"
    assert first.status == Status.QUEUED


def test_reusing_a_key_for_another_recipient_is_refused():
    enqueue()

    with pytest.raises(services.OutboxKeyReused):
        enqueue(to_email="bob@example.com")

    assert list(Message.objects.values_list("to_email", flat=True)) == [
        "anna@example.com"
    ]


def test_a_rolled_back_caller_transaction_leaves_no_message(
    sendgrid, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue()
            raise RuntimeError("the business change failed")

    assert Message.objects.count() == 0
    assert callbacks == []
    assert sendgrid.requests == []


def test_enqueue_sends_on_commit_through_sendgrid(
    sendgrid, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            message = enqueue()
            enqueue(key="order-shipped:2", to_email="bob@example.com")

    # one kick for the whole transaction, one request for both (same content)
    assert len(callbacks) == 1
    assert len(sendgrid.requests) == 1
    assert sorted(sendgrid.keys(sendgrid.requests[0])) == [
        "order-shipped:1",
        "order-shipped:2",
    ]
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 1
    assert message.provider_message_id
    assert message.sent_at is not None
    assert message.subject == "A test e-mail from Returnwise"
    assert "Hello Anna," in message.html
    assert statuses(message) == [
        ("", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
    ]


def test_the_request_carries_categories_custom_args_and_both_parts(sendgrid):
    message = enqueue()

    services.send_due_messages()

    body = sendgrid.requests[0]["body"]
    assert sendgrid.requests[0]["headers"]["Authorization"] == "Bearer SG.test-key"
    assert sorted(body["categories"]) == ["service", "shop"]
    assert body["from"] == {"email": "service@example.com", "name": "Returnwise"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    (personalization,) = body["personalizations"]
    assert personalization["to"] == [{"email": "anna@example.com"}]
    assert personalization["custom_args"] == {
        "outbox_id": str(message.pk),
        "outbox_key": "order-shipped:1",
    }
    assert "headers" not in personalization  # no List-Unsubscribe on service mail


def test_429_then_202_sends_once_after_the_rate_limit_resets(sendgrid):
    sendgrid.reply(rate_limited(reset_in=5))
    message = enqueue()

    report = services.send_due_messages()

    message.refresh_from_db()
    assert report.retried == 1
    assert message.status == Status.QUEUED
    assert message.next_attempt_at >= later(4)
    assert message.last_error.startswith("429")

    # not due yet: nothing is sent
    assert services.send_due_messages().claimed == 0

    services.send_due_messages(now=later(61))
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 2
    assert len(sendgrid.requests) == 2
    assert sendgrid.accepted == {"order-shipped:1": 1}


def test_500_then_202_retries_with_backoff(sendgrid, settings):
    settings.EMAIL_OUTBOX_RETRY_BASE_SECONDS = 10
    sendgrid.reply(server_error())
    message = enqueue()

    services.send_due_messages()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert later(4) <= message.next_attempt_at <= later(11)

    services.send_due_messages(now=later(11))
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert sendgrid.accepted == {"order-shipped:1": 1}


def test_400_fails_with_sendgrids_reason_and_is_not_retried(sendgrid):
    sendgrid.reply(
        bad_request("Does not contain a valid address.", "personalizations.0.to")
    )
    message = enqueue()

    report = services.send_due_messages()

    message.refresh_from_db()
    assert report.failed == 1
    assert message.status == Status.FAILED
    assert message.last_error == (
        "400 personalizations.0.to: Does not contain a valid address."
    )
    assert services.send_due_messages(now=later(7200)).claimed == 0
    assert len(sendgrid.requests) == 1


def test_retries_stop_after_the_last_attempt(sendgrid, settings):
    settings.EMAIL_OUTBOX_MAX_ATTEMPTS = 2
    sendgrid.reply(server_error(), server_error())
    message = enqueue()

    services.send_due_messages()
    services.send_due_messages(now=later(7200))

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.last_error.startswith("gave up after 2 attempts: 500")
    assert message.attempts == 2


def test_a_timeout_makes_the_message_ambiguous_then_it_is_resent_once(
    sendgrid, settings
):
    settings.EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS = 600
    sendgrid.reply(Reply(delay=2))  # the client gives up after 1 s; SendGrid has it
    message = enqueue()

    report = services.send_due_messages()

    message.refresh_from_db()
    assert report.ambiguous == 1
    assert message.status == Status.AMBIGUOUS
    # within the wait nothing is resent
    assert services.sweep(now=later(60))["resent"] == 0
    assert services.send_due_messages(now=later(60)).claimed == 0

    # no event came: resent once
    assert services.resolve_ambiguous(now=later(601)) == ([message.pk], [])
    services.send_due_messages(now=later(602))
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.ambiguous_resends == 1
    assert len(sendgrid.requests) == 2


def test_an_ambiguous_message_with_an_event_is_not_resent(sendgrid, settings):
    sendgrid.reply(Reply(delay=2))
    message = enqueue()
    services.send_due_messages()

    # SendGrid's event carrying the message's own id arrives
    services.store_provider_events(
        events=[
            {
                "sg_event_id": "ev-1",
                "event": "processed",
                "email": "anna@example.com",
                "timestamp": int(timezone.now().timestamp()),
                "sg_message_id": "abc123.filter0001",
                "outbox_id": str(message.pk),
                "outbox_key": message.key,
            }
        ]
    )
    services.sweep(now=later(settings.EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS + 1))

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_message_id == "abc123"
    assert len(sendgrid.requests) == 1


def test_an_ambiguous_message_resent_without_answer_again_fails(sendgrid, settings):
    sendgrid.reply(Reply(delay=2), Reply(delay=2))
    message = enqueue()
    wait = settings.EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS
    services.send_due_messages()
    services.resolve_ambiguous(now=later(wait + 1))
    services.send_due_messages(now=later(wait + 2))

    resent, failed = services.resolve_ambiguous(now=later(3 * wait))

    message.refresh_from_db()
    assert (resent, failed) == ([], [message.pk])
    assert message.status == Status.FAILED
    assert len(sendgrid.requests) == 2


def test_a_lost_worker_before_the_request_requeues_after_the_lease(sendgrid, settings):
    message = enqueue()
    services.claim_due_messages()  # the worker dies right after claiming

    assert services.expire_leases(now=later(10)) == ([], [])
    requeued, ambiguous = services.expire_leases(
        now=later(settings.EMAIL_OUTBOX_LEASE_SECONDS + 1)
    )
    assert (requeued, ambiguous) == ([message.pk], [])
    services.send_due_messages(now=later(settings.EMAIL_OUTBOX_LEASE_SECONDS + 2))
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert sendgrid.accepted == {message.key: 1}


def test_a_lost_worker_during_the_request_makes_it_ambiguous(settings):
    message = enqueue()
    (claimed,) = services.claim_due_messages()
    Message.objects.filter(pk=claimed.pk).update(request_started_at=timezone.now())

    requeued, ambiguous = services.expire_leases(
        now=later(settings.EMAIL_OUTBOX_LEASE_SECONDS + 1)
    )

    message.refresh_from_db()
    assert (requeued, ambiguous) == ([], [message.pk])
    assert message.status == Status.AMBIGUOUS


def test_a_late_answer_from_an_expired_lease_does_not_clobber_a_new_claim(sendgrid):
    message = enqueue()
    (first,) = services.claim_due_messages()
    services.expire_leases(now=later(10_000))
    (second,) = services.claim_due_messages(now=later(10_001))

    # the first worker's answer arrives late
    moved = services.record_failed(
        ids=[message.pk], error="late", lease_until=first.lease_until
    )

    message.refresh_from_db()
    assert moved == []
    assert message.status == Status.SENDING
    assert message.lease_until == second.lease_until


@pytest.mark.parametrize(
    ("consent", "suppressed", "status"),
    [
        (True, False, Status.SENT),
        (False, False, Status.SUPPRESSED),
        (True, True, Status.SUPPRESSED),
    ],
)
def test_marketing_mail_needs_consent_and_an_unsuppressed_address(
    sendgrid, consent, suppressed, status
):
    customer = CustomerFactory(email="anna@example.com", marketing_consent=consent)
    if suppressed:
        services.add_suppression(email="ANNA@example.com", reason="bounce")
    message = enqueue(category=Category.MARKETING, customer=customer)

    services.send_due_messages()

    message.refresh_from_db()
    assert message.status == status
    assert len(sendgrid.requests) == (1 if status == Status.SENT else 0)


def test_service_mail_reaches_a_suppressed_address(sendgrid):
    services.add_suppression(email="anna@example.com", reason="unsubscribe")
    message = enqueue(category=Category.SERVICE)

    services.send_due_messages()

    message.refresh_from_db()
    assert message.status == Status.SENT


def test_marketing_mail_has_one_click_unsubscribe_headers_and_batches(sendgrid):
    anna = CustomerFactory(email="anna@example.com", marketing_consent=True)
    bob = CustomerFactory(email="bob@example.com", marketing_consent=True)
    for customer in (anna, bob):
        enqueue(
            key=f"campaign:1:{customer.pk}",
            to_email=customer.email,
            customer=customer,
            category=Category.MARKETING,
            sender_label="campaign:1",
            context={"first_name": ""},
        )

    services.send_due_messages()

    (request,) = sendgrid.requests
    personalizations = {
        p["to"][0]["email"]: p for p in request["body"]["personalizations"]
    }
    for customer in (anna, bob):
        p = personalizations[customer.email]
        assert p["custom_args"]["outbox_key"] == f"campaign:1:{customer.pk}"
        unsubscribe = p["substitutions"]["-unsubscribe_url-"]
        assert unsubscribe.startswith("http://127.0.0.1:8000/email/unsubscribe/")
        assert p["headers"] == {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    html = next(
        c["value"] for c in request["body"]["content"] if c["type"] == "text/html"
    )
    assert 'href="-unsubscribe_url-"' in html


def test_a_batch_larger_than_1000_is_split(sendgrid, settings):
    settings.EMAIL_OUTBOX_BATCH_SIZE = 1500
    Message.objects.bulk_create(
        Message(
            key=f"bulk:{n}",
            to_email=f"c{n}@example.com",
            sender_label="bench",
            template="test_message",
            next_attempt_at=timezone.now(),
        )
        for n in range(1200)
    )

    report = services.send_due_messages()

    assert report.sent == 1200
    assert [len(r["body"]["personalizations"]) for r in sendgrid.requests] in (
        [1000, 200],
        [200, 1000],
    )
    assert sum(sendgrid.accepted.values()) == 1200


def test_an_unknown_template_fails_the_message(sendgrid):
    message = enqueue(template="no_such_template")

    services.send_due_messages()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "no_such_template" in message.last_error
    assert sendgrid.requests == []


def test_an_illegal_transition_is_refused_and_changes_nothing(sendgrid):
    message = enqueue()
    services.send_due_messages()

    with pytest.raises(services.IllegalTransition):
        services.record_failed(ids=[message.pk], error="too late")

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.last_error == ""


def test_without_an_api_key_django_s_backend_delivers(settings, mailoutbox):
    message = enqueue()

    services.send_due_messages()

    message.refresh_from_db()
    assert message.status == Status.SENT
    (mail,) = mailoutbox
    assert mail.to == ["anna@example.com"]
    assert mail.subject == "A test e-mail from Returnwise"
    assert mail.alternatives[0][1] == "text/html"
    assert mail.extra_headers["X-Outbox-Key"] == "order-shipped:1"


def test_every_transition_has_an_event_row(sendgrid):
    sendgrid.reply(server_error())
    message = enqueue()
    services.send_due_messages()
    services.send_due_messages(now=later(7200))

    assert statuses(message) == [
        ("", "queued"),
        ("queued", "sending"),
        ("sending", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
    ]
    assert MessageEvent.objects.filter(message=message).count() == 5
    assert Suppression.objects.count() == 0


def test_a_late_event_cancels_the_resend_of_an_ambiguous_message(sendgrid, settings):
    sendgrid.reply(Reply(delay=2))
    message = enqueue()
    services.send_due_messages()
    wait = settings.EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS
    services.resolve_ambiguous(now=later(wait + 1))  # queued for the one resend

    # SendGrid's event for the first attempt arrives before the resend goes out
    services.store_provider_events(
        events=[
            {
                "sg_event_id": "ev-late",
                "event": "delivered",
                "timestamp": int(timezone.now().timestamp()),
                "sg_message_id": "late1.filter0001",
                "outbox_id": str(message.pk),
                "outbox_key": message.key,
            }
        ]
    )
    services.apply_provider_events()
    services.send_due_messages(now=later(wait + 2))

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_message_id == "late1"
    assert len(sendgrid.requests) == 1


def test_shared_parts_are_stored_once_and_filled_in_per_recipient(sendgrid):
    # A campaign batch: one shell and product blocks many rows name by id.
    shell = "<p>-greet-</p><div>-blocks-</div><a href='-unsubscribe_url-'>x</a>"
    contents = [shell, "Shell text -greet- -blocks-", "<b>boots</b>", "<b>socks</b>"]
    parts = services.share_parts(contents)
    assert services.share_parts(contents) == parts  # a retry adds nothing
    anna = CustomerFactory(email="anna@example.com", marketing_consent=True)
    bob = CustomerFactory(email="bob@example.com", marketing_consent=True)
    blocks = {anna: ["<b>boots</b>", "<b>socks</b>"], bob: ["<b>socks</b>"]}
    ids = services.enqueue_many(
        messages=[
            {
                "key": f"campaign:9:{customer.pk}",
                "to_email": customer.email,
                "customer_id": customer.pk,
                "language": "en",
                "category": Category.MARKETING,
                "sender_label": "campaign:9",
                "subject": "Your boots",
                "context": {
                    "parts": {"html": parts[contents[0]], "text": parts[contents[1]]},
                    "substitutions": {
                        "-greet-": f"Hi {customer.first_name}",
                        "-blocks-": [parts[block] for block in blocks[customer]],
                    },
                },
            }
            for customer in (anna, bob)
        ]
    )

    rows = Message.objects.filter(pk__in=ids.values())
    assert {(row.html, row.text, row.customer_id) for row in rows} == {
        ("", "", anna.pk),
        ("", "", bob.pk),
    }
    services.send_due_messages()

    (request,) = sendgrid.requests  # same shell: one request
    body = request["body"]
    assert {c["type"]: c["value"] for c in body["content"]} == {
        "text/plain": "Shell text -greet- -blocks-",
        "text/html": shell,
    }
    by_email = {p["to"][0]["email"]: p for p in body["personalizations"]}
    assert by_email["anna@example.com"]["substitutions"]["-blocks-"] == (
        "<b>boots</b><b>socks</b>"
    )
    assert by_email["bob@example.com"]["substitutions"]["-blocks-"] == "<b>socks</b>"
    assert by_email["bob@example.com"]["substitutions"]["-greet-"] == (
        f"Hi {bob.first_name}"
    )
    assert set(rows.values_list("status", flat=True)) == {Status.SENT}


def test_a_ready_made_row_names_parts_or_carries_content():
    with pytest.raises(services.NothingToSend):
        services.enqueue_many(
            messages=[
                {
                    "key": "k:1",
                    "to_email": "a@example.com",
                    "sender_label": "x",
                    "subject": "S",
                    "context": {"substitutions": {"-a-": "b"}},
                }
            ]
        )
    assert not Message.objects.exists()
