"""manage.py import_orders: CSV order history, validated first, upserted in batches."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command

from shop import imports
from shop.imports import COLUMNS, import_orders_csv
from shop.models import (
    Category,
    ConsentSource,
    Customer,
    Order,
    OrderLine,
    OrderSource,
    Product,
)
from shop.services import CustomerData, LineData, OrderData, upsert_order
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROW = {
    "order_id": "1001",
    "order_number": "#1001",
    "placed_at": "2025-03-14T09:15:00Z",
    "delivered_at": "2025-03-17T12:00:00Z",
    "currency": "eur",
    "customer_email": "anna@example.com",
    "customer_first_name": "Anna",
    "customer_last_name": "Jansen",
    "customer_language": "nl",
    "marketing_consent": "",
    "line_id": "L1",
    "sku": "SHIRT-M",
    "product_name": "Linen shirt",
    "category": "Shirts",
    "quantity": "2",
    "unit_price": "49.95",
}
PLACED = datetime(2025, 3, 14, 9, 15, tzinfo=UTC)
DELIVERED = datetime(2025, 3, 17, 12, tzinfo=UTC)


def row(**changes) -> dict[str, str]:
    return {**ROW, **changes}


def two_orders() -> list[dict[str, str]]:
    """Order 1001 (two lines) for Anna, order 1002 (one line) for Bram."""
    return [
        row(),
        row(
            line_id="L2",
            sku="JEANS-32",
            product_name="Jeans",
            category="Trousers",
            quantity="1",
            unit_price="79.00",
        ),
        row(
            order_id="1002",
            order_number="#1002",
            customer_email="bram@example.com",
            customer_first_name="Bram",
            customer_last_name="de Vries",
            customer_language="en",
            placed_at="2025-03-15 10:00",
            delivered_at="",
            line_id="L1",
            quantity="3",
        ),
    ]


def write_csv(tmp_path, rows, columns=COLUMNS, name="orders.csv"):
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def import_orders(path, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_orders", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "customers": Customer.objects.count(),
        "products": Product.objects.count(),
        "categories": Category.objects.count(),
    }


NOTHING = {"orders": 0, "lines": 0, "customers": 0, "products": 0, "categories": 0}


def test_a_valid_file_imports_orders_lines_customers_and_products(tmp_path):
    # given
    path = write_csv(tmp_path, two_orders())

    # when
    out, err = import_orders(path)

    # then
    assert out.splitlines() == [
        "Orders: 2 created, 0 updated, 0 unchanged.",
        "Lines: 3 created, 0 updated, 0 removed.",
        "Customers created: 2.",
        "Products created: 2.",
        "Rows skipped (invalid): 0 (0 orders).",
    ]
    assert err == ""
    assert counts() == {
        "orders": 2,
        "lines": 3,
        "customers": 2,
        "products": 2,
        "categories": 2,
    }
    first = Order.objects.get(source=OrderSource.SHOP, external_id="1001")
    assert (first.number, first.currency, first.total) == (
        "#1001",
        "EUR",
        Decimal("178.90"),
    )
    assert (first.placed_at, first.delivered_at, first.shipped_at) == (
        PLACED,
        DELIVERED,
        None,
    )
    assert first.customer.email == "anna@example.com"
    assert sorted(
        first.lines.values_list("external_id", "product__sku", "quantity", "unit_price")
    ) == [
        ("L1", "SHIRT-M", 2, Decimal("49.95")),
        ("L2", "JEANS-32", 1, Decimal("79.00")),
    ]
    second = Order.objects.get(external_id="1002")
    # A time without an offset is UTC; a blank delivered_at is none.
    assert (second.placed_at, second.delivered_at) == (
        datetime(2025, 3, 15, 10, tzinfo=UTC),
        None,
    )
    assert second.total == Decimal("149.85")
    bram = Customer.objects.get(email="bram@example.com")
    assert (bram.first_name, bram.last_name, bram.language) == (
        "Bram",
        "de Vries",
        "en",
    )
    assert (
        bram.marketing_consent,
        bram.marketing_consent_at,
        bram.marketing_consent_source,
    ) == (False, None, "")
    shirt = Product.objects.get(sku="SHIRT-M")
    assert (shirt.name, shirt.category.name, shirt.price, shirt.currency) == (
        "Linen shirt",
        "Shirts",
        Decimal("49.95"),
        "EUR",
    )


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    # given
    path = write_csv(tmp_path, two_orders())
    import_orders(path)
    before = counts()
    orders_before = list(Order.objects.order_by("pk").values())
    lines_before = list(OrderLine.objects.order_by("pk").values())
    customers_before = list(Customer.objects.order_by("pk").values())

    # when
    out, _ = import_orders(path)

    # then
    assert out.splitlines()[:4] == [
        "Orders: 0 created, 0 updated, 2 unchanged.",
        "Lines: 0 created, 0 updated, 0 removed.",
        "Customers created: 0.",
        "Products created: 0.",
    ]
    assert counts() == before
    assert list(Order.objects.order_by("pk").values()) == orders_before
    assert list(OrderLine.objects.order_by("pk").values()) == lines_before
    assert list(Customer.objects.order_by("pk").values()) == customers_before


def test_invalid_rows_are_listed_by_row_and_column_and_nothing_is_imported(tmp_path):
    # given: rows 3 and 4 are bad; row 2 (order 1001's first line) is fine
    path = write_csv(
        tmp_path,
        [
            row(),
            row(line_id="L2", unit_price="12,5x"),
            row(
                order_id="1002",
                order_number="#1002",
                customer_email="bram@",
                quantity="0",
            ),
        ],
    )

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).splitlines() == [
        "3 error(s) in the file; nothing was imported.",
        '  row 3, column unit_price: not a decimal number "12,5x"',
        '  row 4, column customer_email: not a valid e-mail address "bram@"',
        "  row 4, column quantity: must be between 1 and 100000, not 0",
    ]
    assert counts() == NOTHING


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("order_id", "", "required"),
        ("order_number", "", "required"),
        ("placed_at", "14/03/2025", 'not an ISO 8601 date and time "14/03/2025"'),
        ("delivered_at", "2025-03-13T09:00:00Z", "cannot be before placed_at"),
        ("currency", "EURO", 'not a three-letter ISO 4217 code "EURO"'),
        ("customer_email", "", "required"),
        (
            "customer_email",
            "anna.example.com",
            'not a valid e-mail address "anna.example.com"',
        ),
        ("customer_first_name", "A" * 151, "longer than 150 characters"),
        ("customer_language", "de", 'not one of en, nl or blank "de"'),
        (
            "marketing_consent",
            "maybe",
            'not one of true, false, yes, no, 1, 0 or blank "maybe"',
        ),
        ("line_id", "", "required"),
        ("sku", "", "required"),
        ("sku", "S" * 65, "longer than 64 characters"),
        ("quantity", "1.5", 'not a whole number "1.5"'),
        ("quantity", "-1", 'not a whole number "-1"'),
        ("quantity", "100001", "must be between 1 and 100000, not 100001"),
        ("unit_price", "-1.00", 'must not be negative "-1.00"'),
        ("unit_price", "1.999", 'more than 2 decimal places "1.999"'),
        ("unit_price", "NaN", 'not a decimal number "NaN"'),
        ("unit_price", "10000000000", 'too large "10000000000"'),
    ],
)
def test_each_rule_names_its_column(tmp_path, column, value, message):
    # given
    path = write_csv(tmp_path, [row(**{column: value})])

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).splitlines()[1] == f"  row 2, column {column}: {message}"
    assert counts() == NOTHING


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("placed_at", "2025-03-14T10:15:00+01:00"),  # the same moment
        ("customer_email", "ANNA@example.com"),
        ("currency", "EUR"),
        ("marketing_consent", ""),
    ],
)
def test_the_same_order_level_value_spelled_differently_is_no_conflict(
    tmp_path, column, value
):
    # given
    path = write_csv(tmp_path, [row(), row(line_id="L2", **{column: value})])

    # when
    import_orders(path)

    # then
    assert counts()["lines"] == 2


def test_rows_of_one_order_that_disagree_on_order_level_columns_are_refused(tmp_path):
    # given
    path = write_csv(
        tmp_path,
        [
            row(),
            row(line_id="L2", placed_at="2025-03-15T09:15:00Z", currency="USD"),
        ],
    )

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).splitlines()[1:] == [
        '  row 3, column placed_at: "2025-03-15T09:15:00Z" differs from '
        '"2025-03-14T09:15:00Z" in row 2 of the same order',
        '  row 3, column currency: "USD" differs from "eur" in row 2 of the same order',
    ]
    assert counts() == NOTHING


def test_a_line_id_twice_in_one_order_is_refused(tmp_path):
    # given
    path = write_csv(tmp_path, [row(), row(sku="OTHER")])

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).splitlines()[1] == (
        '  row 3, column line_id: "L1" appears twice in this order'
    )
    assert counts() == NOTHING


def test_rows_of_one_order_must_be_next_to_each_other(tmp_path):
    # given: order 1001's second line comes after order 1002
    path = write_csv(
        tmp_path,
        [row(), row(order_id="1002", order_number="#1002"), row(line_id="L2")],
    )

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).splitlines()[1] == (
        '  row 4, column order_id: order "1001" also appears higher up, not next to '
        "this row; rows of one order must be contiguous (sort the file by order_id)"
    )
    assert counts() == NOTHING


def test_the_listed_errors_are_capped_at_fifty(tmp_path):
    # given
    path = write_csv(
        tmp_path, [row(order_id=str(n), quantity="x") for n in range(1, 61)]
    )

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    listing = str(refused.value).splitlines()
    assert listing[0] == "60 error(s) in the file; nothing was imported."
    assert listing[50] == '  row 51, column quantity: not a whole number "x"'
    assert listing[51:] == ["  … and 10 more"]


def test_missing_and_unknown_columns_are_named_and_nothing_is_imported(tmp_path):
    # given
    columns = [c for c in COLUMNS if c not in ("unit_price", "sku")] + ["price"]
    path = write_csv(tmp_path, [{**row(), "price": "49.95"}], columns=columns)

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).startswith(
        "The header (row 1) does not match: missing columns: sku, unit_price; "
        "unknown columns: price."
    )
    assert counts() == NOTHING


def test_a_row_with_too_few_fields_is_an_error(tmp_path):
    # given
    path = write_csv(tmp_path, [row()])
    with path.open("a", encoding="utf-8") as file:
        file.write("1002,#1002,2025-03-14T09:15:00Z\n")

    # when
    with pytest.raises(CommandError) as refused:
        import_orders(path)

    # then
    assert str(refused.value).splitlines()[1] == (
        "  row 3: the number of fields does not match the header"
    )
    assert counts() == NOTHING


def test_skip_invalid_skips_every_order_with_an_invalid_row(tmp_path):
    # given: order 1001 has one bad line of two, so the whole order is skipped
    rows = two_orders()
    rows[1]["unit_price"] = "12,5x"
    path = write_csv(tmp_path, rows)

    # when
    out, err = import_orders(path, "--skip-invalid")

    # then
    assert err.splitlines() == [
        "1 error(s); skipped 1 order(s) with an invalid row:",
        '  row 3, column unit_price: not a decimal number "12,5x"',
    ]
    assert out.splitlines() == [
        "Orders: 1 created, 0 updated, 0 unchanged.",
        "Lines: 1 created, 0 updated, 0 removed.",
        "Customers created: 1.",
        "Products created: 1.",
        "Rows skipped (invalid): 2 (1 orders).",
    ]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["1002"]
    assert list(Customer.objects.values_list("email", flat=True)) == [
        "bram@example.com"
    ]


def test_dry_run_reports_the_counts_and_writes_nothing(tmp_path):
    # given
    path = write_csv(tmp_path, two_orders())

    # when
    out, _ = import_orders(path, "--dry-run")

    # then
    assert out.splitlines() == [
        "Dry run: Orders: 2 created, 0 updated, 0 unchanged.",
        "Dry run: Lines: 3 created, 0 updated, 0 removed.",
        "Dry run: Customers created: 2.",
        "Dry run: Products created: 2.",
        "Dry run: Rows skipped (invalid): 0 (0 orders).",
    ]
    assert counts() == NOTHING


def test_dry_run_counts_updates_of_existing_orders(tmp_path):
    # given: the file was imported, then order 1002's quantity changes
    rows = two_orders()
    import_orders(write_csv(tmp_path, rows))
    rows[2]["quantity"] = "1"
    before = list(OrderLine.objects.order_by("pk").values())

    # when
    out, _ = import_orders(write_csv(tmp_path, rows, name="changed.csv"), "--dry-run")

    # then
    assert out.splitlines()[:2] == [
        "Dry run: Orders: 0 created, 1 updated, 1 unchanged.",
        "Dry run: Lines: 0 created, 1 updated, 0 removed.",
    ]
    assert list(OrderLine.objects.order_by("pk").values()) == before


def test_a_changed_file_updates_orders_and_removes_lines_it_no_longer_has(tmp_path):
    # given
    rows = two_orders()
    import_orders(write_csv(tmp_path, rows))
    kept = OrderLine.objects.get(order__external_id="1001", external_id="L1")

    # when: 1001 loses line L2 and L1 changes; 1002 is renumbered
    rows[0].update(quantity="1", unit_price="45.00")
    rows[2]["order_number"] = "#1002-B"
    out, _ = import_orders(write_csv(tmp_path, [rows[0], rows[2]], name="v2.csv"))

    # then
    assert out.splitlines()[:2] == [
        "Orders: 0 created, 2 updated, 0 unchanged.",
        "Lines: 0 created, 1 updated, 1 removed.",
    ]
    first = Order.objects.get(external_id="1001")
    assert list(
        first.lines.values_list("pk", "external_id", "quantity", "unit_price")
    ) == [(kept.pk, "L1", 1, Decimal("45.00"))]
    assert first.total == Decimal("45.00")
    assert Order.objects.get(external_id="1002").number == "#1002-B"


def test_a_blank_delivered_at_keeps_the_time_we_have(tmp_path):
    # given
    import_orders(write_csv(tmp_path, [row()]))

    # when
    out, _ = import_orders(write_csv(tmp_path, [row(delivered_at="")], name="b.csv"))

    # then
    assert out.splitlines()[0] == "Orders: 0 created, 0 updated, 1 unchanged."
    assert Order.objects.get().delivered_at == DELIVERED


def test_batches_never_split_an_order(tmp_path):
    # given: a batch of one line still takes each order whole
    path = write_csv(tmp_path, two_orders())

    # when
    out, _ = import_orders(path, "--batch-size", "1")

    # then
    assert out.splitlines()[:2] == [
        "Orders: 2 created, 0 updated, 0 unchanged.",
        "Lines: 3 created, 0 updated, 0 removed.",
    ]
    assert Order.objects.get(external_id="1001").lines.count() == 2


def test_an_e_mail_address_matches_its_customer_whatever_its_case(tmp_path):
    # given
    anna = CustomerFactory(email="anna@example.com", first_name="Anna", last_name="J")
    path = write_csv(
        tmp_path,
        [
            row(customer_email="Anna@Example.COM", customer_last_name="Jansen"),
            row(
                order_id="1002", order_number="#1002", customer_email="ANNA@EXAMPLE.COM"
            ),
        ],
    )

    # when
    out, _ = import_orders(path)

    # then
    assert out.splitlines()[2] == "Customers created: 0."
    assert Customer.objects.count() == 1
    assert Order.objects.filter(customer=anna).count() == 2
    anna.refresh_from_db()
    assert (anna.first_name, anna.last_name, anna.language) == ("Anna", "Jansen", "nl")


def test_consent_is_stamped_only_when_it_changes(tmp_path):
    # given: Bram has not consented; Anna consented at checkout
    bram = CustomerFactory(email="bram@example.com", marketing_consent=False)
    stamped = datetime(2024, 1, 1, tzinfo=UTC)
    anna = CustomerFactory(
        email="anna@example.com",
        marketing_consent=True,
        marketing_consent_at=stamped,
        marketing_consent_source=ConsentSource.CHECKOUT,
    )
    path = write_csv(
        tmp_path,
        [
            row(
                order_id="1", customer_email="bram@example.com", marketing_consent="yes"
            ),
            row(order_id="2", customer_email="anna@example.com", marketing_consent="1"),
            row(
                order_id="3", customer_email="carla@example.com", marketing_consent="no"
            ),
        ],
    )

    # when
    import_orders(path)

    # then
    bram.refresh_from_db()
    anna.refresh_from_db()
    carla = Customer.objects.get(email="carla@example.com")
    assert (bram.marketing_consent, bram.marketing_consent_source) == (
        True,
        ConsentSource.IMPORT,
    )
    assert bram.marketing_consent_at is not None
    assert (
        anna.marketing_consent,
        anna.marketing_consent_at,
        anna.marketing_consent_source,
    ) == (True, stamped, ConsentSource.CHECKOUT)
    assert (carla.marketing_consent, carla.marketing_consent_source) == (
        False,
        ConsentSource.IMPORT,
    )
    assert carla.marketing_consent_at is not None


def test_a_blank_consent_keeps_what_the_customer_chose(tmp_path):
    # given
    anna = CustomerFactory(email="anna@example.com", marketing_consent=True)

    # when
    import_orders(write_csv(tmp_path, [row(marketing_consent="")]))

    # then
    anna.refresh_from_db()
    assert (anna.marketing_consent, anna.marketing_consent_at) == (True, None)


def test_known_products_are_left_alone_and_categories_match_whatever_their_case(
    tmp_path,
):
    # given
    shirts = CategoryFactory(name="Shirts")
    shirt = ProductFactory(sku="SHIRT-M", name="Shirt", price=Decimal("39.00"))
    path = write_csv(
        tmp_path,
        [
            row(),
            row(line_id="L2", sku="POLO-M", product_name="", category="SHIRTS"),
        ],
    )

    # when
    import_orders(path)

    # then
    shirt.refresh_from_db()
    assert (shirt.name, shirt.price) == ("Shirt", Decimal("39.00"))
    polo = Product.objects.get(sku="POLO-M")
    assert (polo.name, polo.category, polo.price) == (
        "POLO-M",
        shirts,
        Decimal("49.95"),
    )
    assert Category.objects.filter(name__iexact="shirts").count() == 1


@pytest.mark.parametrize("api_first", [False, True])
def test_the_csv_and_the_api_upsert_the_same_order(tmp_path, api_first):
    # given
    data = OrderData(
        external_id="1001",
        number="#1001",
        placed_at=PLACED,
        currency="EUR",
        customer=CustomerData(email="Anna@example.com"),
        lines=(
            LineData(
                external_id="L1", sku="SHIRT-M", quantity=2, unit_price=Decimal("49.95")
            ),
        ),
    )
    path = write_csv(tmp_path, [row()])

    # when
    if api_first:
        upsert_order(data=data, source="shop")
        import_orders(path)
    else:
        import_orders(path)
        upsert_order(data=data, source="shop")

    # then
    order = Order.objects.get()
    assert (order.source, order.external_id, order.total) == (
        "shop",
        "1001",
        Decimal("99.90"),
    )
    assert order.lines.count() == 1
    assert Customer.objects.count() == 1


def test_source_keeps_orders_of_other_platforms_apart(tmp_path):
    # given
    path = write_csv(tmp_path, [row()])
    import_orders(path)

    # when
    import_orders(path, "--source", "shopify")

    # then
    assert sorted(Order.objects.values_list("source", "external_id")) == [
        ("shop", "1001"),
        ("shopify", "1001"),
    ]


def test_the_service_takes_an_open_file_and_returns_a_report():
    # given
    file = io.StringIO()
    writer = csv.DictWriter(file, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(two_orders())

    # when
    report = import_orders_csv(file=file, source=OrderSource.SHOP)

    # then
    assert (report.rows, report.orders_created, report.lines_created) == (3, 2, 3)
    assert (report.customers_created, report.products_created) == (2, 2)
    assert (report.error_count, report.errors) == (0, [])


def test_a_new_customer_gets_the_account_that_verified_the_address(tmp_path):
    # given
    user = UserFactory(email="anna@example.com")
    EmailAddress.objects.create(user=user, email="anna@example.com", verified=True)

    # when
    import_orders(write_csv(tmp_path, [row(customer_email="Anna@Example.com")]))

    # then
    assert Customer.objects.get().user == user


def test_a_missing_file_is_named(tmp_path):
    # when
    with pytest.raises(CommandError) as refused:
        import_orders(tmp_path / "nope.csv")

    # then
    assert str(refused.value) == f"No such file: {tmp_path / 'nope.csv'}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_a_writer_thread_writes_the_batches(tmp_path):
    # given: no transaction open, so batches go to the writer thread's connection
    path = write_csv(tmp_path, two_orders())

    # when
    first, _ = import_orders(path, "--batch-size", "1")
    again, _ = import_orders(path, "--batch-size", "1")

    # then
    assert first.splitlines()[:2] == [
        "Orders: 2 created, 0 updated, 0 unchanged.",
        "Lines: 3 created, 0 updated, 0 removed.",
    ]
    assert again.splitlines()[0] == "Orders: 0 created, 0 updated, 2 unchanged."
    assert counts() == {
        "orders": 2,
        "lines": 3,
        "customers": 2,
        "products": 2,
        "categories": 2,
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failing_batch_stops_the_import_and_keeps_the_batches_before_it(
    tmp_path, monkeypatch
):
    # given: writing the second batch (order 1002) fails
    write_batch = imports._upsert_batch

    def fail_on_1002(batch, **kwargs):
        if batch[0].external_id == "1002":
            raise RuntimeError("the database went away")
        write_batch(batch, **kwargs)

    monkeypatch.setattr(imports, "_upsert_batch", fail_on_1002)
    path = write_csv(tmp_path, two_orders())

    # when
    with pytest.raises(RuntimeError, match="the database went away"):
        import_orders_csv(path=path, batch_size=1)

    # then
    assert list(Order.objects.values_list("external_id", flat=True)) == ["1001"]
    assert counts()["lines"] == 2
