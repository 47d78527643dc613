"""The one module that talks to SendGrid (or, without an API key, to Django's e-mail
backend named by EMAIL_DELIVERY_BACKEND).

`batches()` groups outgoing mails whose content is the same into one SendGrid request
of at most 1,000 personalizations; each personalization carries its own recipient,
substitutions, headers and custom_args (`outbox_id`, `outbox_key`), so a webhook
event maps back to its row. `send()` makes one request and classifies the outcome:

- accepted (2xx): SendGrid has the mail;
- retry: 429 (with the delay X-RateLimit-Reset asks for), 5xx, or the connection
  failed before the request was sent;
- failed: any other 4xx, with SendGrid's error messages;
- ambiguous: the request left but no answer came (timeout, connection dropped):
  SendGrid may or may not have accepted it, and it has no idempotency key.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from python_http_client import exceptions as http_exceptions
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    Content,
    From,
    Mail,
    ReplyTo,
    Subject,
)

logger = logging.getLogger(__name__)

MAX_PERSONALIZATIONS = 1000


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    key: str
    to_email: str
    from_email: str
    subject: str
    html: str
    text: str
    reply_to: str = ""
    categories: tuple[str, ...] = ()
    substitutions: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def content_key(self) -> tuple:
        return (
            self.from_email,
            self.reply_to,
            self.subject,
            self.html,
            self.text,
            self.categories,
        )


@dataclass(frozen=True)
class Result:
    outcome: str  # accepted | retry | failed | ambiguous
    provider_message_id: str = ""
    error: str = ""
    retry_after: float | None = None
    status_code: int | None = None


ACCEPTED, RETRY, FAILED, AMBIGUOUS = "accepted", "retry", "failed", "ambiguous"


def uses_sendgrid() -> bool:
    return bool(settings.SENDGRID_API_KEY)


def batches(messages: Iterable[Outgoing]) -> list[list[Outgoing]]:
    """Mails with the same content together, at most 1,000 to a request (SendGrid's
    limit); without SendGrid, one mail per batch."""
    if not uses_sendgrid():
        return [[message] for message in messages]
    groups: dict[tuple, list[Outgoing]] = {}
    for message in messages:
        groups.setdefault(message.content_key(), []).append(message)
    return [
        group[start : start + MAX_PERSONALIZATIONS]
        for group in groups.values()
        for start in range(0, len(group), MAX_PERSONALIZATIONS)
    ]


def send(batch: list[Outgoing]) -> Result:
    if uses_sendgrid():
        return _send_with_sendgrid(batch)
    return _send_with_django(batch)


# SendGrid --------------------------------------------------------------------------


def sendgrid_client() -> SendGridAPIClient:
    client = SendGridAPIClient(
        settings.SENDGRID_API_KEY, host=settings.SENDGRID_API_HOST
    )
    # The SDK sets no timeout (a hung connection would hold the lease for ever);
    # python_http_client passes this one to every request it builds.
    client.client.timeout = settings.SENDGRID_TIMEOUT
    return client


def build_mail(batch: list[Outgoing]) -> Mail:
    """The request for a batch: the shared envelope and content built with the SDK's
    helpers, one personalization per recipient. (The personalizations are plain
    dicts in the request body: building 1,000 helper objects costs more than the
    rest of the request, and Mail.add_personalization would insert each at the
    front. Nothing relies on their order: events map back through custom_args.)"""
    first = batch[0]
    mail = Mail(from_email=From(first.from_email))
    mail.subject = Subject(first.subject)
    if first.reply_to:
        mail.reply_to = ReplyTo(first.reply_to)
    mail.add_content(Content("text/plain", first.text or " "))
    if first.html:
        mail.add_content(Content("text/html", first.html))
    for category in first.categories:
        mail.add_category(Category(category))
    return mail


def request_body(batch: list[Outgoing]) -> dict:
    body = build_mail(batch).get()
    body["personalizations"] = [_personalization(message) for message in batch]
    return body


def _personalization(message: Outgoing) -> dict:
    personalization: dict = {
        "to": [{"email": message.to_email}],
        "custom_args": {
            "outbox_id": str(message.message_id),
            "outbox_key": message.key,
        },
    }
    if message.substitutions:
        personalization["substitutions"] = dict(message.substitutions)
    if message.headers:
        personalization["headers"] = dict(message.headers)
    return personalization


def _send_with_sendgrid(batch: list[Outgoing]) -> Result:
    body = request_body(batch)
    try:
        response = sendgrid_client().send(body)
    except http_exceptions.HTTPError as exc:
        return _http_error(exc)
    except urllib.error.URLError as exc:
        # urllib wraps failures while connecting and sending: nothing was accepted.
        return Result(RETRY, error=f"connection failed: {exc.reason}")
    except (TimeoutError, http.client.HTTPException, OSError) as exc:
        # The request was sent and the answer never came.
        return Result(AMBIGUOUS, error=f"no answer from SendGrid: {exc!r}")
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Result(
        ACCEPTED,
        provider_message_id=headers.get("x-message-id", ""),
        status_code=response.status_code,
    )


def _http_error(exc: http_exceptions.HTTPError) -> Result:
    status = exc.status_code
    headers = {name.lower(): value for name, value in dict(exc.headers or {}).items()}
    error = f"{status} {_error_messages(exc.body)}".strip()
    if status == 429:
        return Result(
            RETRY,
            error=error,
            retry_after=_rate_limit_wait(headers.get("x-ratelimit-reset")),
            status_code=status,
        )
    if status >= 500:
        return Result(RETRY, error=error, status_code=status)
    return Result(FAILED, error=error, status_code=status)


def _error_messages(body: bytes | str | None) -> str:
    """SendGrid's `{"errors": [{"message", "field", "help"}]}` as one line."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        errors = json.loads(body or "{}").get("errors") or []
    except (ValueError, AttributeError):
        return (body or "")[:500]
    return "; ".join(
        f"{error.get('field')}: {error.get('message')}"
        if error.get("field")
        else str(error.get("message"))
        for error in errors
        if isinstance(error, dict)
    )[:2000]


def _rate_limit_wait(reset: str | None) -> float | None:
    """X-RateLimit-Reset is the Unix time the limit resets at."""
    try:
        return max(0.0, float(reset) - time.time())
    except (TypeError, ValueError):
        return None


# Django's e-mail backend ---------------------------------------------------------


def _send_with_django(batch: list[Outgoing]) -> Result:
    connection = get_connection(settings.EMAIL_DELIVERY_BACKEND)
    mails = []
    for message in batch:
        mail = EmailMultiAlternatives(
            subject=_fill(message.subject, message),
            body=_fill(message.text, message),
            from_email=message.from_email,
            to=[message.to_email],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={
                **message.headers,
                "Message-ID": make_msgid(domain="outbox.local"),
                "X-Outbox-Key": message.key,
            },
            connection=connection,
        )
        if message.html:
            mail.attach_alternative(_fill(message.html, message), "text/html")
        mails.append(mail)
    try:
        connection.send_messages(mails)
    except Exception as exc:  # noqa: BLE001  (any backend: SMTP, console, ...)
        logger.warning("e-mail backend failed: %r", exc)
        return Result(RETRY, error=f"e-mail backend: {exc!r}")
    return Result(ACCEPTED, provider_message_id=mails[0].extra_headers["Message-ID"])


def _fill(content: str, message: Outgoing) -> str:
    for tag, value in message.substitutions.items():
        content = content.replace(tag, value)
    return content


def event_webhook(public_key: str):
    """SendGrid's verifier for signed Event Webhook requests (ECDSA P-256)."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    return EventWebhook(public_key)
