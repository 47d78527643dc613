"""Unsubscribe (page and one-click POST, no login, no CSRF token, only with a valid
signature) and the preference page."""

import pytest
from django.test import Client

from emails import rendering, services
from emails.models import Category, Message, Status
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return CustomerFactory(email="anna@example.com", marketing_consent=True)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def unsubscribe_url(customer):
    return f"/email/unsubscribe/{rendering.unsubscribe_token(customer.pk)}/"


def test_one_click_unsubscribe_without_login_or_csrf_token(anna, csrf_client):
    response = csrf_client.post(
        unsubscribe_url(anna), {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    anna.refresh_from_db()
    assert anna.marketing_consent is False
    assert anna.marketing_consent_source == "email_link"
    assert anna.marketing_consent_at is not None


def test_the_unsubscribe_page_asks_then_unsubscribes(anna, csrf_client):
    page = csrf_client.get(unsubscribe_url(anna))
    assert page.status_code == 200
    assert "Stop offers and news to anna@example.com?" in page.content.decode()
    anna.refresh_from_db()
    assert anna.marketing_consent is True  # a GET (link scanners) changes nothing

    response = csrf_client.post(unsubscribe_url(anna))

    assert response.status_code == 200
    assert "will get no more offers or news" in response.content.decode()
    anna.refresh_from_db()
    assert anna.marketing_consent is False


@pytest.mark.parametrize(
    "token",
    [
        "forged",
        # a token signed for another purpose (another salt)
        "MQ:1t0vDe:abc",
    ],
)
def test_an_invalid_signature_unsubscribes_no_one(anna, csrf_client, token):
    response = csrf_client.post(
        f"/email/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 404
    anna.refresh_from_db()
    assert anna.marketing_consent is True


def test_a_token_for_one_customer_is_not_valid_for_another(anna):
    token = rendering.unsubscribe_token(anna.pk)
    tampered = token.replace(
        token.split(":")[0], rendering.unsubscribe_token(anna.pk + 1).split(":")[0]
    )

    response = Client().post(f"/email/unsubscribe/{tampered}/")

    assert response.status_code == 404


def test_after_unsubscribing_marketing_is_suppressed_and_service_mail_arrives(
    anna, sendgrid
):
    Client().post(unsubscribe_url(anna), {"List-Unsubscribe": "One-Click"})
    marketing = services.enqueue(
        key="campaign:1:anna",
        to_email=anna.email,
        customer=anna,
        template="test_message",
        category=Category.MARKETING,
        sender_label="campaign:1",
    )
    service = services.enqueue(
        key="return-approved:1",
        to_email=anna.email,
        customer=anna,
        template="test_message",
        sender_label="returns",
    )

    services.send_due_messages()

    assert Message.objects.get(pk=marketing.pk).status == Status.SUPPRESSED
    assert Message.objects.get(pk=service.pk).status == Status.SENT
    assert list(sendgrid.accepted) == ["return-approved:1"]


def test_the_preference_page_records_consent_changes(anna):
    url = f"/email/preferences/{rendering.unsubscribe_token(anna.pk)}/"
    client = Client()
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="marketing"' in page.content.decode()

    response = client.post(url, {})  # marketing unticked

    assert response.status_code == 200
    assert "Your preferences are saved." in response.content.decode()
    anna.refresh_from_db()
    assert anna.marketing_consent is False

    client.post(url, {"marketing": "on"})
    anna.refresh_from_db()
    assert anna.marketing_consent is True
    assert anna.marketing_consent_source == "email_link"


def test_the_preference_page_needs_a_csrf_token(anna, csrf_client):
    url = f"/email/preferences/{rendering.unsubscribe_token(anna.pk)}/"

    response = csrf_client.post(url, {"marketing": ""})

    assert response.status_code == 403
    anna.refresh_from_db()
    assert anna.marketing_consent is True
