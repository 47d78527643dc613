import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.emails.standin import StandIn


@pytest.fixture(autouse=True)
def outbox_backend(settings):
    """Django's test set-up swaps EMAIL_BACKEND for locmem; put the outbox back (it
    delivers into django.core.mail.outbox through EMAIL_DELIVERY_BACKEND)."""
    settings.EMAIL_BACKEND = "emails.backends.OutboxEmailBackend"


@pytest.fixture
def sendgrid(settings):
    """The SendGrid stand-in, with the settings pointing the real SDK at it."""
    stand_in = StandIn().start()
    settings.SENDGRID_API_KEY = "SG.test-key"
    settings.SENDGRID_API_HOST = stand_in.url
    settings.SENDGRID_TIMEOUT = 1.0
    yield stand_in
    stand_in.stop()


class EventSigner:
    """Signs Event Webhook bodies as SendGrid does: ECDSA P-256 / SHA-256 over
    timestamp + body, base64 DER (see EventWebhook.verify_signature)."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private_key.sign(
            timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
        return {
            "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(
                signature
            ).decode(),
            "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
        }


@pytest.fixture
def event_signer(settings):
    signer = EventSigner()
    settings.SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = signer.public_key
    return signer


def event_body(*events: dict) -> bytes:
    return json.dumps(list(events)).encode()
