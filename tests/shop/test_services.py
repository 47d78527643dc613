"""The order upsert and its neighbours, called directly (no HTTP)."""

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.db import connection, transaction

from shop.models import (
    Category,
    ConsentSource,
    Customer,
    Order,
    OrderLine,
    OrderSource,
    Product,
    WebhookDelivery,
)
from shop.services import (
    CustomerData,
    LineData,
    OrderData,
    link_customers_to_user,
    purge_webhook_deliveries,
    record_delivery,
    upsert_order,
    upsert_order_from_webhook,
)
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
)

PLACED = datetime(2025, 3, 14, 9, 15, tzinfo=UTC)


def line(external_id="L1", sku="SHIRT-M", quantity=1, unit_price="49.95", **extra):
    return LineData(
        external_id=external_id,
        sku=sku,
        quantity=quantity,
        unit_price=Decimal(unit_price),
        **extra,
    )


def order_data(
    *,
    external_id="1042",
    email="anna@example.com",
    lines=None,
    consent=None,
    **extra,
):
    values = {
        "external_id": external_id,
        "number": "#1042",
        "placed_at": PLACED,
        "currency": "eur",
        "customer": CustomerData(
            email=email,
            first_name="Anna",
            last_name="de Vries",
            language="nl",
            marketing_consent=consent,
        ),
        "lines": tuple(
            lines
            if lines is not None
            else (
                line(
                    "L1", "SHIRT-M", 2, "49.95", name="Linen shirt", category="Shirts"
                ),
                line("L2", "CHINO-32", 1, "64.95", name="Chinos", category="Trousers"),
            )
        ),
    }
    values.update(extra)
    return OrderData(**values)


# upsert_order --------------------------------------------------------------


@pytest.mark.django_db
def test_upsert_order_creates_customer_products_order_and_lines():
    result = upsert_order(data=order_data(), source=OrderSource.SHOP)

    assert result.created is True
    order = Order.objects.get()
    assert result.order == order
    assert (order.source, order.external_id, order.number) == ("shop", "1042", "#1042")
    assert order.placed_at == PLACED
    assert (order.currency, order.total) == ("EUR", Decimal("164.85"))
    customer = order.customer
    assert (customer.email, customer.first_name, customer.last_name) == (
        "anna@example.com",
        "Anna",
        "de Vries",
    )
    assert customer.language == "nl"
    assert [
        (ln.external_id, ln.product.sku, ln.quantity, ln.unit_price)
        for ln in order.lines.select_related("product")
    ] == [
        ("L1", "SHIRT-M", 2, Decimal("49.95")),
        ("L2", "CHINO-32", 1, Decimal("64.95")),
    ]


@pytest.mark.django_db
def test_pushing_an_order_twice_updates_it_and_never_duplicates():
    upsert_order(data=order_data())
    shipped = PLACED + timedelta(days=1)

    result = upsert_order(
        data=order_data(
            number="#1042-B",
            shipped_at=shipped,
            lines=(
                line("L1", "SHIRT-M", 3, "49.95"),
                line("L2", "CHINO-32", 1, "59.95"),
            ),
        )
    )

    assert result.created is False
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 2)
    assert (Customer.objects.count(), Product.objects.count()) == (1, 2)
    order = Order.objects.get()
    assert (order.number, order.shipped_at) == ("#1042-B", shipped)
    assert order.total == Decimal("209.80")
    assert [(ln.quantity, ln.unit_price) for ln in order.lines.all()] == [
        (3, Decimal("49.95")),
        (1, Decimal("59.95")),
    ]


@pytest.mark.django_db
def test_the_same_external_id_from_another_source_is_another_order():
    upsert_order(data=order_data(), source=OrderSource.SHOPIFY)

    result = upsert_order(data=order_data(), source=OrderSource.WOOCOMMERCE)

    assert result.created is True
    assert sorted(Order.objects.values_list("source", flat=True)) == [
        "shopify",
        "woocommerce",
    ]
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_customer_email_is_case_insensitive():
    upsert_order(data=order_data(external_id="1", email="Anna@X.com"))
    upsert_order(data=order_data(external_id="2", email=" anna@x.com "))

    customer = Customer.objects.get()
    assert customer.email == "anna@x.com"
    assert customer.orders.count() == 2


@pytest.mark.django_db
def test_unknown_sku_becomes_a_product_from_the_line():
    upsert_order(
        data=order_data(
            lines=(
                line(
                    "L1", "BELT-95", 1, "34.95", name="Leather belt", category="Belts"
                ),
                line("L2", "SOCKS-3P", 2, "12.50"),
            )
        )
    )

    belt = Product.objects.select_related("category").get(sku="BELT-95")
    assert (belt.name, belt.price, belt.currency) == (
        "Leather belt",
        Decimal("34.95"),
        "EUR",
    )
    assert belt.category.name == "Belts"
    socks = Product.objects.get(sku="SOCKS-3P")
    # No name and no category: the SKU names it.
    assert (socks.name, socks.category) == ("SOCKS-3P", None)


@pytest.mark.django_db
def test_known_sku_is_not_overwritten_by_an_order_line():
    category = CategoryFactory(name="Shirts")
    ProductFactory(
        sku="SHIRT-M", name="Linen shirt M", price=Decimal("55.00"), category=category
    )

    upsert_order(data=order_data())

    product = Product.objects.get(sku="SHIRT-M")
    assert (product.name, product.price, product.category) == (
        "Linen shirt M",
        Decimal("55.00"),
        category,
    )
    # The line keeps the price actually paid.
    assert OrderLine.objects.get(external_id="L1").unit_price == Decimal("49.95")


@pytest.mark.django_db
def test_existing_category_is_reused_whatever_its_case():
    CategoryFactory(name="Shirts")

    upsert_order(
        data=order_data(lines=(line("L1", "NEW-1", 1, "10.00", category="SHIRTS"),))
    )

    assert list(Category.objects.values_list("name", flat=True)) == ["Shirts"]


@pytest.mark.django_db
def test_lines_missing_from_a_push_are_removed():
    upsert_order(data=order_data())

    upsert_order(data=order_data(lines=(line("L2", "CHINO-32", 1, "64.95"),)))

    order = Order.objects.get()
    assert list(order.lines.values_list("external_id", flat=True)) == ["L2"]
    assert order.total == Decimal("64.95")
    # The product of the removed line stays in the catalogue.
    assert Product.objects.filter(sku="SHIRT-M").exists()


# Marketing consent ----------------------------------------------------------

T1 = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
T2 = datetime(2025, 4, 1, 8, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_consent_time_and_source_change_only_when_the_value_changes():
    with mock.patch("shop.services.timezone.now", return_value=T1):
        upsert_order(data=order_data(consent=True))

    with mock.patch("shop.services.timezone.now", return_value=T2):
        upsert_order(
            data=order_data(consent=True), consent_source=ConsentSource.WEBHOOK
        )
        upsert_order(data=order_data(consent=None), consent_source=ConsentSource.IMPORT)

    customer = Customer.objects.get()
    assert (
        customer.marketing_consent,
        customer.marketing_consent_at,
        customer.marketing_consent_source,
    ) == (True, T1, ConsentSource.CHECKOUT)

    with mock.patch("shop.services.timezone.now", return_value=T2):
        upsert_order(
            data=order_data(consent=False), consent_source=ConsentSource.WEBHOOK
        )

    customer.refresh_from_db()
    assert (
        customer.marketing_consent,
        customer.marketing_consent_at,
        customer.marketing_consent_source,
    ) == (False, T2, ConsentSource.WEBHOOK)


@pytest.mark.django_db
def test_a_push_without_consent_records_none_for_a_new_customer():
    upsert_order(data=order_data(consent=None))

    customer = Customer.objects.get()
    assert (
        customer.marketing_consent,
        customer.marketing_consent_at,
        customer.marketing_consent_source,
    ) == (False, None, "")


@pytest.mark.django_db
def test_blank_names_in_a_push_keep_the_customer_names():
    CustomerFactory(email="anna@example.com", first_name="Anna", last_name="Smit")

    upsert_order(
        data=order_data(
            customer=CustomerData(email="anna@example.com", first_name="", last_name="")
        )
    )

    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name) == ("Anna", "Smit")


# Accounts -------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_of_an_address_already_verified_is_linked_to_its_account():
    user = UserFactory(email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="Anna@Example.com", verified=True, primary=True
    )

    upsert_order(data=order_data(email="ANNA@example.com"))

    assert Customer.objects.get().user == user


@pytest.mark.django_db
def test_customer_of_an_unverified_address_is_not_linked():
    user = UserFactory(email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="anna@example.com", verified=False, primary=True
    )

    upsert_order(data=order_data())

    assert Customer.objects.get().user is None


@pytest.mark.django_db
def test_link_customers_to_user_links_only_that_address():
    user = UserFactory()
    anna = CustomerFactory(email="anna@example.com")
    other = CustomerFactory(email="bob@example.com")

    linked = link_customers_to_user(user=user, email=" Anna@Example.COM")

    assert linked == 1
    anna.refresh_from_db()
    other.refresh_from_db()
    assert (anna.user, other.user) == (user, None)


@pytest.mark.django_db
def test_link_customers_to_user_without_a_customer_links_nothing():
    assert link_customers_to_user(user=UserFactory(), email="new@example.com") == 0


# record_delivery -------------------------------------------------------------


@pytest.mark.django_db
def test_record_delivery_keeps_a_time_not_given():
    order = OrderFactory(shipped_at=None, delivered_at=None)
    shipped = order.placed_at + timedelta(days=1)
    delivered = order.placed_at + timedelta(days=2)

    record_delivery(order=order, shipped_at=shipped)
    record_delivery(order=order, delivered_at=delivered)

    order.refresh_from_db()
    assert (order.shipped_at, order.delivered_at) == (shipped, delivered)


@pytest.mark.django_db
def test_a_push_without_delivery_times_keeps_the_ones_recorded():
    # given an order whose delivery a 3PL reported
    result = upsert_order(data=order_data())
    shipped, delivered = PLACED + timedelta(days=1), PLACED + timedelta(days=3)
    record_delivery(order=result.order, shipped_at=shipped, delivered_at=delivered)

    # when the shop pushes the order again without any delivery times
    upsert_order(data=order_data(number="#1042-b"))

    # then the times are kept and the rest is updated
    order = Order.objects.get()
    assert (order.number, order.shipped_at, order.delivered_at) == (
        "#1042-b",
        shipped,
        delivered,
    )


@pytest.mark.django_db
def test_re_pushing_an_order_of_a_known_customer_costs_a_fixed_number_of_queries(
    django_assert_num_queries,
):
    upsert_order(data=order_data())

    # select customer, products, order, lines; savepoints; update order
    with django_assert_num_queries(9):
        upsert_order(data=order_data())


# Webhook deliveries ---------------------------------------------------------


@pytest.mark.django_db
def test_upsert_order_from_webhook_records_the_delivery_with_the_order():
    result = upsert_order_from_webhook(
        platform=OrderSource.SHOPIFY,
        delivery_id="d-1",
        topic="orders/create",
        data=order_data(consent=True),
    )

    assert result.created is True
    delivery = WebhookDelivery.objects.get()
    assert (delivery.platform, delivery.delivery_id, delivery.topic) == (
        "shopify",
        "d-1",
        "orders/create",
    )
    assert delivery.order == result.order
    assert result.order.source == OrderSource.SHOPIFY
    assert result.order.customer.marketing_consent_source == ConsentSource.WEBHOOK


@pytest.mark.django_db
def test_upsert_order_from_webhook_skips_a_delivery_seen_before():
    first = upsert_order_from_webhook(
        platform=OrderSource.SHOPIFY,
        delivery_id="d-1",
        topic="orders/create",
        data=order_data(),
    )

    again = upsert_order_from_webhook(
        platform=OrderSource.SHOPIFY,
        delivery_id="d-1",
        topic="orders/updated",
        data=order_data(number="#CHANGED", lines=(line("L9", "OTHER", 1, "1.00"),)),
    )

    assert again is None
    order = Order.objects.get()
    assert order.number == "#1042"
    assert order.updated_at == first.order.updated_at
    assert list(order.lines.values_list("external_id", flat=True)) == ["L1", "L2"]
    assert not Product.objects.filter(sku="OTHER").exists()
    assert WebhookDelivery.objects.get().topic == "orders/create"


@pytest.mark.django_db
def test_the_same_delivery_id_on_another_platform_is_another_delivery():
    upsert_order_from_webhook(
        platform=OrderSource.SHOPIFY, delivery_id="d-1", topic="t", data=order_data()
    )

    result = upsert_order_from_webhook(
        platform=OrderSource.WOOCOMMERCE,
        delivery_id="d-1",
        topic="t",
        data=order_data(),
    )

    assert result is not None
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.django_db
def test_purge_webhook_deliveries_forgets_only_old_ones():
    old = WebhookDelivery.objects.create(
        platform="shopify", delivery_id="old", topic="t"
    )
    WebhookDelivery.objects.filter(pk=old.pk).update(
        received_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    WebhookDelivery.objects.create(platform="shopify", delivery_id="new", topic="t")

    deleted = purge_webhook_deliveries(older_than=datetime(2025, 2, 1, tzinfo=UTC))

    assert deleted == 1
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == [
        "new"
    ]


# Concurrency (PostgreSQL) ---------------------------------------------------


def _wait_until_a_query_waits_on_a_lock(timeout: float = 10.0) -> None:
    """Block until another connection to this database waits on a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second upsert never waited for the first")


def _in_thread(target, errors):
    def run():
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_concurrent_upserts_of_a_new_order_create_it_once(
    needs_postgres, transactional_db, django_db_serialized_rollback
):
    # A inserts the order and holds its transaction open; B then upserts the same
    # order and must wait on the unique indexes; once A commits, B updates A's rows.
    results, errors = {}, []
    a_written, a_may_commit = threading.Event(), threading.Event()
    newer = order_data(
        lines=(
            line("L1", "SHIRT-M", 3, "49.95", name="Linen shirt", category="Shirts"),
            line("L2", "CHINO-32", 1, "64.95", name="Chinos", category="Trousers"),
        )
    )

    def first():
        with transaction.atomic():
            results["a"] = upsert_order(data=order_data())
            a_written.set()
            assert a_may_commit.wait(10)

    def second():
        assert a_written.wait(10)
        results["b"] = upsert_order(data=newer)

    threads = [_in_thread(first, errors)]
    assert a_written.wait(10)
    threads.append(_in_thread(second, errors))
    try:
        _wait_until_a_query_waits_on_a_lock()
    finally:
        a_may_commit.set()
        for thread in threads:
            thread.join(10)
    assert not errors, errors

    assert results["a"].created is True
    assert results["b"].created is False
    assert results["b"].order.pk == results["a"].order.pk
    assert (Order.objects.count(), Customer.objects.count()) == (1, 1)
    assert Product.objects.count() == 2
    assert Category.objects.count() == 2
    assert list(
        OrderLine.objects.order_by("external_id").values_list("external_id", "quantity")
    ) == [("L1", 3), ("L2", 1)]


def test_two_identical_deliveries_at_the_same_moment_are_processed_once(
    needs_postgres, transactional_db, django_db_serialized_rollback
):
    results, errors = [], []
    start = threading.Barrier(2, timeout=10)

    def deliver():
        start.wait()
        results.append(
            upsert_order_from_webhook(
                platform=OrderSource.SHOPIFY,
                delivery_id="same-delivery",
                topic="orders/create",
                data=order_data(),
            )
        )

    threads = [_in_thread(deliver, errors) for _ in range(2)]
    for thread in threads:
        thread.join(15)
    assert not errors, errors

    assert sorted(result is None for result in results) == [False, True]
    assert WebhookDelivery.objects.count() == 1
    assert (Order.objects.count(), Customer.objects.count()) == (1, 1)
    assert OrderLine.objects.count() == 2
