"""SendGrid's Event Webhook: POST /webhooks/sendgrid/events.

Checked in this order, and refused with nothing stored:

1. the verification key is configured (else 401: an unconfigured receiver must not
   accept unsigned data);
2. the timestamp header is within EMAIL_WEBHOOK_MAX_AGE_SECONDS of now (else 401: a
   captured request cannot be replayed later);
3. the ECDSA signature over timestamp + raw body verifies with SendGrid's SDK helper
   (else 401), before anything is parsed;
4. the body is a JSON list of events (else 400).

Events are stored once per sg_event_id (SendGrid delivers each about three times) and
applied by a task after the commit; the answer is 200 at once.
"""

import binascii
import json
import logging
import time
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from emails import services, transport

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


@csrf_exempt
@require_POST
def sendgrid_events(request: HttpRequest) -> JsonResponse:
    public_key = settings.SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY
    if not public_key:
        logger.warning("SendGrid event webhook refused: no verification key is set")
        return _refuse(401, "This webhook is not configured.")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not _fresh(timestamp):
        logger.warning("SendGrid event webhook refused: stale or missing timestamp")
        return _refuse(401, "Missing or stale timestamp.")
    body = request.body
    if not signature or not _verified(public_key, body, signature, timestamp):
        logger.warning("SendGrid event webhook refused: bad or missing signature")
        return _refuse(401, "Missing or invalid signature.")
    try:
        events = json.loads(body)
    except ValueError:
        return _refuse(400, "The body is not valid JSON.")
    if not isinstance(events, list):
        return _refuse(400, "The body is not a list of events.")

    with transaction.atomic():
        new = services.store_provider_events(events=events)
        if new:
            transaction.on_commit(lambda: _apply_later(new), robust=True)
    return JsonResponse({"received": len(events), "new": len(new)})


def _apply_later(event_ids: list[str]) -> None:
    from emails.tasks import apply_provider_events_task

    apply_provider_events_task.delay(event_ids)


def _fresh(timestamp: str) -> bool:
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= settings.EMAIL_WEBHOOK_MAX_AGE_SECONDS


@lru_cache(maxsize=4)
def _verifier(public_key: str):
    return transport.event_webhook(public_key)


def _verified(public_key: str, body: bytes, signature: str, timestamp: str) -> bool:
    try:
        return _verifier(public_key).verify_signature(
            body.decode("utf-8"), signature, timestamp
        )
    except (UnicodeDecodeError, binascii.Error, ValueError):
        return False


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"errors": [{"message": message}]}, status=status)
