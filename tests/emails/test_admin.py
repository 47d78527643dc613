"""The "E-mail" menu: messages (read-only, filters, preview, timeline), suppressions,
and "Send test e-mail"."""

import pytest
from django.urls import reverse

from emails import services
from emails.models import Category, Message, Status, Suppression
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(model, view, *args):
    return reverse(model.snippet_viewset.get_url_name(view), args=args)


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def sent_marketing(sendgrid):
    customer = CustomerFactory(email="anna@example.com", marketing_consent=True)
    message = services.enqueue(
        key="campaign:3:anna",
        to_email=customer.email,
        customer=customer,
        template="test_message",
        context={"first_name": "Anna"},
        category=Category.MARKETING,
        sender_label="campaign:3",
    )
    services.enqueue(
        key="return:1",
        to_email="bob@example.com",
        template="test_message",
        sender_label="returns",
    )
    services.send_due_messages()
    return message


def test_the_message_list_filters_by_status_category_and_sender(
    admin_client, sent_marketing
):
    response = admin_client.get(
        url(Message, "list"), {"category": "marketing", "sender_label": "campaign"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "anna@example.com" in html
    assert "bob@example.com" not in html
    assert (
        admin_client.get(url(Message, "list"), {"status": "failed"}).status_code == 200
    )


def test_the_detail_shows_the_rendered_mail_and_its_timeline(
    admin_client, sent_marketing
):
    response = admin_client.get(url(Message, "inspect", sent_marketing.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<iframe" in html and "sandbox" in html and "srcdoc=" in html
    assert "Hello Anna," in html
    # the preview shows the recipient's own unsubscribe link, not the tag
    assert "/email/unsubscribe/" in html
    assert "-unsubscribe_url-" not in html
    assert "queued → sending" in html
    assert "sending → sent" in html


def test_messages_cannot_be_edited_or_deleted_in_the_admin(
    admin_client, sent_marketing
):
    assert admin_client.get(url(Message, "edit", sent_marketing.pk)).status_code in (
        302,
        403,
    )
    assert admin_client.get(url(Message, "delete", sent_marketing.pk)).status_code in (
        302,
        403,
    )
    assert Message.objects.filter(pk=sent_marketing.pk).exists()


def test_staff_add_and_remove_a_suppression(admin_client):
    response = admin_client.post(
        url(Suppression, "add"),
        {"email": "carla@example.com", "reason": "manual", "note": "asked by phone"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.email == "carla@example.com"

    admin_client.post(url(Suppression, "delete", suppression.pk))
    assert Suppression.objects.count() == 0


def test_send_test_email_enqueues_and_sends(
    admin_client, sendgrid, django_capture_on_commit_callbacks
):
    page = admin_client.get(reverse("emails_send_test"))
    assert page.status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("emails_send_test"),
            {"to_email": "qa@example.com", "template": "test_message"},
        )

    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(Message, "inspect", message.pk)
    assert message.status == Status.SENT
    assert message.sender_label == "admin:test"
    assert list(sendgrid.accepted) == [message.key]


def test_send_test_email_needs_admin_access(client):
    client.force_login(UserFactory(username="anna"))

    response = client.post(
        reverse("emails_send_test"),
        {"to_email": "qa@example.com", "template": "test_message"},
    )

    assert response.status_code in (302, 403)
    assert Message.objects.count() == 0
