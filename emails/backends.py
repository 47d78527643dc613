"""A Django e-mail backend that writes each message to the outbox, so mail sent with
django.core.mail (allauth's account e-mails, Django's password reset) is stored,
visible in the admin, retried and sent like every other e-mail.

The key is derived from the message's Message-ID when it has one (a retried call
then finds its row), else a fresh UUID; one row per recipient.
"""

import hashlib
import uuid
from email.utils import parseaddr

from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from emails import services
from emails.models import Category
from shop.models import Customer

SENDER_LABEL = "account"


class AttachmentsNotSupported(ValueError):
    """The outbox stores text and HTML only."""


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        count = 0
        with transaction.atomic():
            for email in email_messages:
                count += self._enqueue(email)
        return count

    def _enqueue(self, email) -> int:
        if email.attachments:
            raise AttachmentsNotSupported(email.subject)
        html = next(
            (
                content
                for content, mimetype in getattr(email, "alternatives", [])
                if mimetype == "text/html"
            ),
            "",
        )
        if email.content_subtype == "html":
            html, text = email.body, ""
        else:
            text = email.body
        message_id = email.extra_headers.get("Message-ID") or uuid.uuid4().hex
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:40]
        recipients = [parseaddr(r)[1].strip().lower() for r in email.recipients()]
        customers = {c.email: c for c in Customer.objects.filter(email__in=recipients)}
        for index, address in enumerate(recipients):
            services.enqueue(
                key=f"mail:{digest}:{index}",
                to_email=address,
                customer=customers.get(address),
                sender_label=SENDER_LABEL,
                category=Category.SERVICE,
                subject=email.subject,
                text=text,
                html=html,
                from_email=email.from_email,
                reply_to=", ".join(email.reply_to),
            )
        return 1 if recipients else 0
