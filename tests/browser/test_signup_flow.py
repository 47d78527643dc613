"""A customer who ordered signs up, verifies the address and sees the order."""

import re
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from playwright.sync_api import expect

from shop import services

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/[^/\s]+/")


def push_order_for_anna() -> str:
    result = services.upsert_order(
        data=services.OrderData(
            external_id="5001",
            number="R-5001",
            placed_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
            currency="EUR",
            customer=services.CustomerData(email="anna@example.com"),
            lines=(
                services.LineData(
                    external_id="1",
                    sku="LAMP-1",
                    name="Desk lamp",
                    quantity=2,
                    unit_price=Decimal("24.50"),
                ),
            ),
        )
    )
    return result.order.number


def wait_for_mail(count: int, timeout: float = 10.0):
    """The live server sends from its own thread into this process's test outbox."""
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count:
        assert time.monotonic() < deadline, "no verification mail arrived"
        time.sleep(0.05)
    return mail.outbox[count - 1]


def test_signing_up_with_the_order_address_shows_the_order(page):
    # given: the shop pushed an order for anna@example.com
    number = push_order_for_anna()

    # when: she signs up with that address
    page.goto("/accounts/signup/")
    page.get_by_label("Email:").fill("anna@example.com")
    page.get_by_label("Password:", exact=True).fill("correct horse battery staple")
    page.get_by_label("Password (again):").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign Up").click()

    # then: she is asked to verify, and the mail has the link
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Verify Your Email Address"
    )
    message = wait_for_mail(1)
    assert message.to == ["anna@example.com"]
    link = CONFIRM_LINK.search(message.body).group(0)

    # when: she opens the link and confirms
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    # then: she is signed in on My orders and sees her order with its line
    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My orders")
    expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    expect(page.get_by_role("cell", name="Desk lamp")).to_be_visible()
    expect(page.get_by_text("EUR 49.00").first).to_be_visible()
