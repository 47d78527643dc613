"""Guests find their order by number + e-mail: the answer never tells which half was
wrong, attempts are limited per address and per order number, and a match opens the
portal for that order only."""

import pytest
from django.core.cache import cache

from returns.models import Channel, ReturnRequest
from returns.views import GUEST_LOOKUPS_PER_IP, GUEST_LOOKUPS_PER_ORDER
from tests.factories import CustomerFactory
from tests.returns.portal_setup import (
    centre,
    confirm_key,
    default_policy,
    delivered_order,
    line_post,
)

pytestmark = pytest.mark.django_db

NOT_FOUND = (
    "We could not find an order with this number and e-mail address. "
    "Check both and try again."
)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def order(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    default_policy()
    centre()
    return delivered_order(CustomerFactory(email="sanne@example.com"))


def lookup(client, number, email, ip="203.0.113.7"):
    return client.post(
        "/my-returns/",
        {"order_number": number, "email": email},
        REMOTE_ADDR=ip,
    )


def test_a_match_opens_the_portal_and_files_a_guest_return(client, order):
    response = lookup(client, "rw-1001", "Sanne@Example.com ")

    assert response.status_code == 302
    assert response["Location"] == f"/my-returns/orders/{order.pk}/"
    line = order.lines.get()
    client.post(response["Location"], line_post(line, reason="changed-mind"))
    key = confirm_key(
        client.get(f"/my-returns/orders/{order.pk}/confirm/").content.decode()
    )
    client.post(f"/my-returns/orders/{order.pk}/confirm/", {"key": key})
    assert ReturnRequest.objects.get().channel == Channel.GUEST


def test_a_wrong_number_and_a_wrong_email_get_the_same_answer(client, order):
    wrong_number = lookup(client, "RW-9999", "sanne@example.com")
    wrong_email = lookup(client, "RW-1001", "someone@example.com")

    assert wrong_number.status_code == wrong_email.status_code == 400
    errors = [r.context["form"].errors for r in (wrong_number, wrong_email)]
    assert errors[0] == errors[1] == {"__all__": [NOT_FOUND]}
    assert "returns.orders" not in client.session
    assert client.get(f"/my-returns/orders/{order.pk}/").status_code == 404


def test_missing_fields_are_named(client, order):
    response = client.post("/my-returns/", {"order_number": "", "email": "nope"})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"order_number", "email"}


def test_attempts_on_one_order_number_are_limited(client, order):
    for n in range(GUEST_LOOKUPS_PER_ORDER):
        lookup(client, "RW-1001", f"guess{n}@example.com", ip=f"198.51.100.{n}")

    response = lookup(client, "RW-1001", "sanne@example.com", ip="192.0.2.1")

    assert response.status_code == 429
    assert response.context["form"].errors == {
        "__all__": ["Too many attempts. Please try again in an hour."]
    }
    assert "returns.orders" not in client.session


def test_attempts_from_one_address_are_limited(client, order):
    for n in range(GUEST_LOOKUPS_PER_IP):
        lookup(client, f"RW-{n}", "sanne@example.com")

    assert lookup(client, "RW-1001", "sanne@example.com").status_code == 429
    assert lookup(
        client, "RW-1001", "sanne@example.com", ip="192.0.2.9"
    ).status_code == (302)


def test_a_lookup_opens_only_that_order(client, order):
    other = delivered_order(
        CustomerFactory(email="bob@example.com"), number="RW-2", sku="DESK"
    )

    lookup(client, "RW-1001", "sanne@example.com")

    assert client.get(f"/my-returns/orders/{order.pk}/").status_code == 200
    assert client.get(f"/my-returns/orders/{other.pk}/").status_code == 404


def test_successful_lookups_do_not_use_up_the_order_numbers_attempts(client, order):
    for n in range(GUEST_LOOKUPS_PER_ORDER + 1):
        response = lookup(client, "RW-1001", "sanne@example.com", ip=f"192.0.2.{n}")
        assert response.status_code == 302
