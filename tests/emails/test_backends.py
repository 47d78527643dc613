"""Mail sent with django.core.mail (allauth's account mails) goes through the outbox."""

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, send_mail
from django.urls import reverse

from emails.backends import AttachmentsNotSupported
from emails.models import Category, Message, Status
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_allauth_signup_mail_goes_through_the_outbox_and_arrives(
    client, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(email="anna@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("account_signup"),
            {
                "email": "anna@example.com",
                "password1": "correct horse battery staple",
                "password2": "correct horse battery staple",
            },
        )

    message = Message.objects.get()
    assert message.status == Status.SENT
    assert message.category == Category.SERVICE
    assert message.sender_label == "account"
    assert message.customer == customer
    assert message.subject == "[Returnwise] Please Confirm Your Email Address"
    assert message.text.startswith("Hello from Returnwise!")
    (sent,) = mail.outbox
    assert sent.to == ["anna@example.com"]
    assert sent.subject == message.subject
    assert sent.body == message.text


def test_send_mail_enqueues_one_row_per_recipient_and_sends_on_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = send_mail(
            "Hello",
            "Plain text",
            "Shop <shop@example.com>",
            ["Anna <Anna@Example.com>", "bob@example.com"],
            html_message="<p>HTML</p>",
        )

    assert sent == 1
    rows = list(
        Message.objects.order_by("key").values_list("to_email", "status", "html")
    )
    assert rows == [
        ("anna@example.com", Status.SENT, "<p>HTML</p>"),
        ("bob@example.com", Status.SENT, "<p>HTML</p>"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [
        "anna@example.com",
        "bob@example.com",
    ]
    assert all(m.from_email == "Shop <shop@example.com>" for m in mail.outbox)


def test_the_same_message_id_enqueues_once():
    email = EmailMultiAlternatives(
        "Hello", "Text", to=["anna@example.com"], headers={"Message-ID": "<x@y>"}
    )
    email.send()
    email.send()

    assert Message.objects.count() == 1


def test_attachments_are_refused_and_nothing_is_stored():
    email = EmailMultiAlternatives("Hello", "Text", to=["anna@example.com"])
    email.attach("a.txt", "content", "text/plain")

    with pytest.raises(AttachmentsNotSupported):
        email.send()

    assert Message.objects.count() == 0
