"""The campaign preview in the admin: the e-mail rendered for a real customer and order
the editor picks (with the real featured reviews of the order's products), and
"send me a test" to the editor's own address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from wagtail.rich_text import RichText

from campaigns.models import Campaign, CampaignContent
from emails.models import Message
from reviews.models import Review, ReviewStatus
from tests.campaigns.admin_setup import (
    marketer,
    url,
)
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(db):
    return marketer()


@pytest.fixture
def marketing_client(client, editor):
    client.force_login(editor)
    return client


def approved_review(product, *, title, rating=5, body="Fits well and feels great."):
    return Review.objects.create(
        order_line=OrderLineFactory(product=product),
        customer=CustomerFactory(),
        product=product,
        rating=rating,
        title=title,
        body=body,
        language="en",
        status=ReviewStatus.APPROVED,
        may_quote=True,
        approved_at=timezone.now() - timedelta(days=1),
    )


@pytest.fixture
def campaign():
    campaign = Campaign.objects.create(name="After delivery", kind="post_purchase")
    CampaignContent.objects.create(
        campaign=campaign,
        language="en",
        subject="About your order",
        body=[
            ("heading", "What other buyers say"),
            ("text", RichText("<p>Thank you for shopping with us.</p>")),
            ("featured_reviews", {"heading": "Reviews", "fallback": "No reviews yet"}),
        ],
    )
    return campaign


@pytest.fixture
def bought():
    """Anna's delivered order of a sweater with two glowing reviews and a poor one."""
    anna = CustomerFactory(email="anna@example.com", first_name="Anna")
    sweater = ProductFactory(name="Merino Wool Sweater")
    approved_review(sweater, title="Warm and soft")
    approved_review(sweater, title="My favourite jumper", rating=4)
    approved_review(sweater, title="Itchy and thin", rating=2)
    order = OrderFactory(customer=anna, number="#5001")
    OrderLineFactory(order=order, product=sweater)
    return anna, order


def preview(client, campaign, **params):
    return client.get(url("preview", campaign.pk), params)


def test_the_preview_shows_the_real_featured_reviews_of_the_orders_products(
    marketing_client, campaign, bought
):
    response = preview(
        marketing_client, campaign, customer="anna@example.com", order="#5001"
    )

    assert response.status_code == 200
    rendered = response.context["rendered"]
    assert rendered.subject == "About your order"
    assert "Warm and soft" in rendered.html
    assert "My favourite jumper" in rendered.html
    assert "Itchy and thin" not in rendered.html  # not glowing: not quoted
    assert "Merino Wool Sweater" in rendered.html
    text = response.content.decode()
    assert 'sandbox srcdoc="' in text
    assert "Warm and soft" in text


def test_the_preview_form_needs_a_real_customer(marketing_client, campaign, bought):
    response = preview(
        marketing_client, campaign, customer="nobody@example.com", order="#5001"
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "customer": ["No customer has this e-mail address."]
    }
    assert response.context["rendered"] is None


def test_the_order_must_be_the_customers_own(marketing_client, campaign, bought):
    OrderFactory(number="#7777")  # someone else's

    response = preview(
        marketing_client, campaign, customer="anna@example.com", order="#7777"
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "order": ["This customer has no order with this number."]
    }


def test_a_trigger_campaign_needs_an_order(marketing_client, campaign, bought):
    response = preview(marketing_client, campaign, customer="anna@example.com")

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "order": ["Choose one of the customer's orders for this campaign."]
    }


def test_send_me_a_test_queues_one_message_to_the_editor(
    marketing_client, editor, campaign, bought
):
    response = marketing_client.post(
        url("preview", campaign.pk),
        {"customer": "anna@example.com", "order": "#5001", "language": "en"},
    )

    assert response.status_code == 302
    assert response["Location"].startswith(url("preview", campaign.pk) + "?")
    message = Message.objects.get()
    assert message.to_email == editor.email == "mia@example.com"
    assert message.subject == "[TEST] About your order"
    assert "Warm and soft" in message.html
    followed = marketing_client.get(response["Location"])
    assert "A test e-mail to mia@example.com is queued." in [
        str(shown) for shown in followed.context["messages"]
    ]


def test_no_test_without_an_address_of_ones_own(client, campaign, bought):
    nameless = marketer(username="nameless", email="")
    client.force_login(nameless)

    response = client.post(
        url("preview", campaign.pk),
        {"customer": "anna@example.com", "order": "#5001"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Your account has no e-mail address to send a test to."
    ]
    assert not Message.objects.exists()
