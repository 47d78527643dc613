"""Every portal page runs the same number of queries for an order of 1 line as for
one of 50 lines (every line chosen)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cms.return_links import return_start_path
from returns.links import slip_path, status_path
from returns.models import ReturnRequest
from tests.factories import CustomerFactory, UserFactory
from tests.returns.portal_setup import (
    centre,
    confirm_key,
    default_policy,
    delivered_order,
    line_post,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    default_policy()
    centre()
    # Every line is cheap enough to be filed without waiting for approval.
    return UserFactory(username="sanne", email="sanne@example.com")


def all_lines(order) -> dict:
    data = {}
    for line in order.lines.order_by("pk"):
        data |= line_post(line, quantity=1, reason="size-fit", resolution="refund")
    return data


def walk(client, order) -> dict[str, int]:
    """Each portal page of a return of every line of `order`, with its query count."""
    counts = {}

    def measure(name, call):
        with CaptureQueriesContext(connection) as queries:
            response = call()
        assert response.status_code in (200, 302), (name, response.status_code)
        counts[name] = len(queries)
        return response

    measure("my orders", lambda: client.get("/orders/"))
    measure("qr start", lambda: client.get(return_start_path(order, language="en")))
    measure("choose", lambda: client.get(f"/my-returns/orders/{order.pk}/"))
    measure(
        "choose post",
        lambda: client.post(f"/my-returns/orders/{order.pk}/", all_lines(order)),
    )
    confirm = measure(
        "confirm", lambda: client.get(f"/my-returns/orders/{order.pk}/confirm/")
    )
    key = confirm_key(confirm.content.decode())
    measure(
        "submit",
        lambda: client.post(f"/my-returns/orders/{order.pk}/confirm/", {"key": key}),
    )
    found = ReturnRequest.objects.get(order=order)
    assert found.lines.count() == order.lines.count()
    status = status_path(found, language="en")
    measure("done", lambda: client.get(f"{status}done/"))
    measure("status", lambda: client.get(status))
    measure("slip", lambda: client.get(slip_path(found, language="en")))
    measure("portal", lambda: client.get("/my-returns/"))
    return counts


def test_portal_queries_do_not_grow_with_the_order(client, world):
    client.force_login(world)
    customer = CustomerFactory(email="sanne@example.com", user=world)
    warm_up = delivered_order(customer, number="RW-0", sku="ZERO", price="5.00")
    small = delivered_order(customer, lines=1, number="RW-1", sku="ONE", price="5.00")
    large = delivered_order(
        customer, lines=50, number="RW-50", sku="FIFTY", price="5.00"
    )

    walk(client, warm_up)  # fills the process-wide caches (site, settings)
    one_line = walk(client, small)
    fifty_lines = walk(client, large)

    assert fifty_lines == one_line
