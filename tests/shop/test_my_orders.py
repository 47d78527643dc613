"""My orders: a signed-in customer's own orders, newest first, in their language."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return UserFactory(username="anna", email="anna@example.com")


@pytest.fixture
def anna_client(client, anna):
    client.force_login(anna)
    return client


def order_with_lines(customer, number, placed_at, delivered_at=None, shipped_at=None):
    order = OrderFactory(
        customer=customer,
        number=number,
        placed_at=placed_at,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        currency="EUR",
        total=Decimal("1249.50"),
    )
    OrderLineFactory(
        order=order,
        product=ProductFactory(name="Walnut desk"),
        quantity=1,
        unit_price=Decimal("1200.00"),
    )
    OrderLineFactory(
        order=order,
        product=ProductFactory(name="Desk lamp"),
        quantity=3,
        unit_price=Decimal("16.50"),
    )
    return order


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/orders/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/orders/"


def test_shows_the_order_with_its_lines_dates_and_money(anna_client, anna):
    # given: placed late on 5 January UTC, which is 6 January in the shop's zone
    customer = CustomerFactory(email="anna@example.com", user=anna)
    order_with_lines(
        customer,
        "R-1001",
        placed_at=datetime(2025, 1, 5, 23, 30, tzinfo=UTC),
        shipped_at=datetime(2025, 1, 7, 9, 0, tzinfo=UTC),
        delivered_at=datetime(2025, 1, 9, 12, 0, tzinfo=UTC),
    )

    # when
    response = anna_client.get("/orders/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Order R-1001" in html
    assert "Placed on Jan. 6, 2025" in html
    assert "Delivered on Jan. 9, 2025" in html
    assert "<strong>EUR 1,249.50</strong>" in html
    assert "<td>Walnut desk</td>" in html
    assert '<td class="num">3</td>' in html
    assert '<td class="num optional">EUR 16.50</td>' in html
    assert '<td class="num">EUR 49.50</td>' in html
    assert '<td class="num">EUR 1,200.00</td>' in html


@pytest.mark.parametrize(
    ("shipped", "delivered", "status"),
    [
        (None, None, "Not shipped yet"),
        (datetime(2025, 1, 7, tzinfo=UTC), None, "Shipped, not yet delivered"),
    ],
)
def test_shows_an_undelivered_order_status(
    anna_client, anna, shipped, delivered, status
):
    # given
    customer = CustomerFactory(email="anna@example.com", user=anna)
    order_with_lines(
        customer,
        "R-1001",
        placed_at=datetime(2025, 1, 5, 10, tzinfo=UTC),
        shipped_at=shipped,
        delivered_at=delivered,
    )

    # when
    html = anna_client.get("/orders/").content.decode()

    # then
    assert status in html
    assert "Delivered on" not in html


def test_shows_dutch_text_dates_and_money_under_nl(anna_client, anna):
    # given
    customer = CustomerFactory(email="anna@example.com", user=anna)
    order_with_lines(
        customer,
        "R-1001",
        placed_at=datetime(2025, 1, 5, 23, 30, tzinfo=UTC),
        delivered_at=datetime(2025, 3, 9, 12, 0, tzinfo=UTC),
    )

    # when
    response = anna_client.get("/nl/orders/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="nl">' in html
    assert "<h1>Mijn bestellingen</h1>" in html
    assert "Bestelling R-1001" in html
    assert "Geplaatst op 6 januari 2025" in html
    assert "Bezorgd op 9 maart 2025" in html
    assert "<strong>EUR 1.249,50</strong>" in html
    assert '<td class="num optional">EUR 16,50</td>' in html


def test_shows_only_the_users_own_orders(anna_client, anna):
    # given: Anna's orders under two verified addresses, and other people's orders
    own = CustomerFactory(email="anna@example.com", user=anna)
    own_work = CustomerFactory(email="anna@work.example.com", user=anna)
    bob = CustomerFactory(
        email="bob@example.com", user=UserFactory(username="bob", email="b@x.com")
    )
    unlinked = CustomerFactory(email="carla@example.com")
    placed = datetime(2025, 1, 5, 10, tzinfo=UTC)
    for customer, number in [
        (own, "A-111"),
        (own_work, "A-222"),
        (bob, "B-333"),
        (unlinked, "C-444"),
    ]:
        order_with_lines(customer, number, placed_at=placed)

    # when
    html = anna_client.get("/orders/").content.decode()

    # then
    assert "A-111" in html
    assert "A-222" in html
    assert "B-333" not in html
    assert "C-444" not in html


def test_lists_newest_first_twenty_a_page(anna_client, anna):
    # given: 21 orders, R-100 oldest to R-120 newest
    customer = CustomerFactory(email="anna@example.com", user=anna)
    start = datetime(2025, 1, 1, 10, tzinfo=UTC)
    for day in range(21):
        OrderFactory(
            customer=customer,
            number=f"R-{100 + day}",
            placed_at=start + timedelta(days=day),
        )

    # when
    first = anna_client.get("/orders/")
    second = anna_client.get("/orders/?page=2")

    # then
    numbers = [order.number for order in first.context["page"]]
    assert numbers == [f"R-{n}" for n in range(120, 100, -1)]
    assert [order.number for order in second.context["page"]] == ["R-100"]
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?page=2"' in first.content.decode()


def test_shows_how_to_find_orders_when_there_are_none(anna_client):
    html = anna_client.get("/orders/").content.decode()

    assert "There are no orders here yet." in html
    assert "verified the e-mail address you used at checkout" in html
    assert 'href="/accounts/email/"' in html


def test_query_count_does_not_grow_with_the_number_of_orders(
    anna_client, anna, django_assert_max_num_queries
):
    # given: one order, measured
    customer = CustomerFactory(email="anna@example.com", user=anna)
    placed = datetime(2025, 1, 5, 10, tzinfo=UTC)
    order_with_lines(customer, "R-0", placed_at=placed)
    with CaptureQueriesContext(connection) as one_order:
        anna_client.get("/orders/")

    # when: twenty orders of three lines each
    for n in range(1, 20):
        order = order_with_lines(customer, f"R-{n}", placed_at=placed)
        OrderLineFactory(order=order)
    with django_assert_max_num_queries(8) as twenty_orders:
        response = anna_client.get("/orders/")

    # then
    assert len(response.context["page"]) == 20
    assert len(twenty_orders.captured_queries) == len(one_order.captured_queries)


@pytest.mark.parametrize(
    ("page", "next_path"),
    [("/orders/?page=2", "/orders/?page=2"), ("/nl/orders/?page=2", "/orders/?page=2")],
)
def test_language_switch_posts_the_page_path_without_language_prefix(
    anna_client, page, next_path
):
    html = anna_client.get(page).content.decode()

    assert f'<input name="next" type="hidden" value="{next_path}">' in html


@pytest.mark.parametrize(
    ("language", "location"),
    [("nl", "/nl/orders/?page=2"), ("en", "/orders/?page=2")],
)
def test_language_switch_redirects_to_the_page_in_that_language(
    client, language, location
):
    # when
    response = client.post(
        "/i18n/setlang/", {"language": language, "next": "/orders/?page=2"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == location
    assert response.cookies["django_language"].value == language
