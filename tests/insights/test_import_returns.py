"""manage.py import_returns: CSV return history, validated first, idempotent."""

import csv
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from insights.imports import COLUMNS
from insights.models import CustomerInsight
from returns.models import ReturnEvent, ReturnLine, ReturnRequest, ReturnStatus
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory
from tests.insights.planted import give_back

pytestmark = pytest.mark.django_db

PLACED = datetime(2025, 3, 14, 9, 15, tzinfo=UTC)
ROW = {
    "return_id": "R-1",
    "order_id": "1001",
    "line_id": "L1",
    "quantity": "1",
    "reason_code": "size-fit",
    "comment": "Too small",
    "created_at": "2025-03-20T10:00:00Z",
    "resolution": "refund",
    "status": "resolved",
}


def row(**changes) -> dict[str, str]:
    return {**ROW, **changes}


@pytest.fixture
def orders():
    """Order 1001 (L1: 2 × 40.00, L2: 1 × 10.00) and 1002 (L1: 1 × 25.00)."""
    anna = CustomerFactory(email="anna@example.com")
    first = OrderFactory(
        external_id="1001", customer=anna, placed_at=PLACED, delivered_at=PLACED
    )
    OrderLineFactory(order=first, external_id="L1", quantity=2, unit_price="40.00")
    OrderLineFactory(order=first, external_id="L2", quantity=1, unit_price="10.00")
    second = OrderFactory(
        external_id="1002", customer=anna, placed_at=PLACED, delivered_at=PLACED
    )
    OrderLineFactory(order=second, external_id="L1", quantity=1, unit_price="25.00")
    return first, second


def write(tmp_path, rows, columns=COLUMNS):
    path = tmp_path / "returns.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(path, *args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("import_returns", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot():
    return (
        list(ReturnRequest.objects.order_by("pk").values()),
        list(ReturnLine.objects.order_by("pk").values()),
        list(ReturnEvent.objects.order_by("pk").values()),
    )


GOOD = [
    row(),
    row(line_id="L2", reason_code="defective", comment=""),
    row(return_id="R-2", order_id="1002", line_id="L1", status="rejected",
        resolution="", created_at="2025-03-21T10:00:00Z"),
]  # fmt: skip


def test_imports_returns_with_their_lines(tmp_path, orders):
    out, _err = run(write(tmp_path, GOOD))

    first = ReturnRequest.objects.get(rma="R-1")
    assert first.order == orders[0]
    assert first.status == ReturnStatus.RESOLVED
    assert first.idempotency_key == "import:R-1"
    assert first.created_at == datetime(2025, 3, 20, 10, tzinfo=UTC)
    assert first.refund_total == Decimal("50.00")
    lines = {line.order_line.external_id: line for line in first.lines.all()}
    assert lines["L1"].quantity == 1
    assert lines["L1"].reason.code == "size-fit"
    assert lines["L1"].comment == "Too small"
    assert lines["L1"].resolution == "refund"
    assert lines["L1"].unit_value == Decimal("40.00")
    assert lines["L2"].reason.code == "defective"
    assert ReturnRequest.objects.get(rma="R-2").status == ReturnStatus.REJECTED
    assert ReturnEvent.objects.filter(request=first, kind="requested").count() == 1
    assert "Returns: 2 created, 0 updated, 0 unchanged." in out
    assert "Lines: 3 created, 0 updated, 0 removed." in out
    # The customer's insights were recomputed (the orders are older than the window).
    insight = CustomerInsight.objects.get(customer=orders[0].customer)
    assert (insight.lifetime_orders, insight.returned_units) == (2, 0)


def test_the_same_file_twice_changes_nothing(tmp_path, orders):
    path = write(tmp_path, GOOD)
    run(path)
    before = snapshot()

    out, _err = run(path)

    assert snapshot() == before
    assert "Returns: 0 created, 0 updated, 2 unchanged." in out


def test_a_changed_file_updates_and_removes_lines(tmp_path, orders):
    run(write(tmp_path, GOOD))

    out, _err = run(write(tmp_path, [row(quantity="2", status="closed")]))

    first = ReturnRequest.objects.get(rma="R-1")
    assert first.status == ReturnStatus.CLOSED
    assert [
        (line.order_line.external_id, line.quantity) for line in first.lines.all()
    ] == [("L1", 2)]
    assert "Returns: 0 created, 1 updated, 0 unchanged." in out
    assert "Lines: 0 created, 1 updated, 1 removed." in out


def test_dry_run_writes_nothing(tmp_path, orders):
    out, _err = run(write(tmp_path, GOOD), "--dry-run")

    assert ReturnRequest.objects.count() == 0
    assert "Dry run: Returns: 2 created, 0 updated, 0 unchanged." in out


def test_an_unknown_reason_code_is_refused_with_the_valid_codes(tmp_path, orders):
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, [row(reason_code="meh")]))

    message = str(refused.value)
    assert "1 error(s) in the file; nothing was imported." in message
    assert (
        'row 2, column reason_code: unknown reason code "meh"; valid codes: ' in message
    )
    assert "arrived-too-late, better-price, changed-mind" in message
    assert ReturnRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"order_id": "9999"}, "order_id", 'no order "9999" (import it with import_orders)'),
        ({"line_id": "L9"}, "line_id", 'order "1001" has no line "L9"'),
        ({"quantity": "3"}, "quantity", "returns more than was bought (1 bought, 3 returned in all)"),
        ({"quantity": "0"}, "quantity", "must be between 1 and 100000, not 0"),
        ({"status": "lost"}, "status", "not one of requested, approved"),
        ({"resolution": "cash"}, "resolution", "not one of refund, exchange"),
        ({"created_at": "yesterday"}, "created_at", "not an ISO 8601 date and time"),
        ({"created_at": "2025-03-01T00:00:00Z"}, "created_at", "before the order was placed"),
        ({"return_id": "X" * 21}, "return_id", "longer than 20 characters"),
    ],
)  # fmt: skip
def test_invalid_rows_are_refused_whole(tmp_path, orders, changes, column, message):
    with pytest.raises(CommandError) as refused:
        run(
            write(
                tmp_path,
                [row(), row(**({"return_id": "R-3", "line_id": "L2"} | changes))],
            )
        )

    assert f"row 3, column {column}: {message}" in str(refused.value)
    assert ReturnRequest.objects.count() == 0


def test_rows_of_one_return_must_agree(tmp_path, orders):
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, [row(), row(line_id="L2", status="closed")]))

    assert "row 3, column status: differs from row 2 of the same return" in str(
        refused.value
    )


def test_a_line_listed_twice_in_one_return(tmp_path, orders):
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, [row(), row()]))

    assert "row 3, column line_id: listed twice" in str(refused.value)


def test_returns_already_stored_count_against_the_quantity(tmp_path, orders):
    line = orders[0].lines.get(external_id="L1")
    give_back(orders[0], (line, 2))

    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, [row()]))

    assert "returns more than was bought (2 bought, 3 returned in all)" in str(
        refused.value
    )


def test_a_return_id_used_by_a_portal_return_is_refused(tmp_path, orders):
    existing = give_back(orders[1], (orders[1].lines.get(), 1))

    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, [row(return_id=existing.rma)]))

    assert "is the RMA of a return filed otherwise" in str(refused.value)


def test_skip_invalid_imports_the_valid_returns(tmp_path, orders):
    rows = [*GOOD, row(return_id="R-9", line_id="L9")]

    out, err = run(write(tmp_path, rows), "--skip-invalid")

    assert sorted(ReturnRequest.objects.values_list("rma", flat=True)) == ["R-1", "R-2"]
    assert "1 error(s); skipped 1 return(s) with an invalid row:" in err
    assert 'row 5, column line_id: order "1001" has no line "L9"' in err
    assert "Rows skipped (invalid): 1 (1 returns)." in out


def test_a_wrong_header_is_refused(tmp_path, orders):
    path = write(tmp_path, [], columns=[c for c in COLUMNS if c != "status"] + ["x"])

    with pytest.raises(CommandError) as refused:
        run(path)

    assert "missing columns: status; unknown columns: x" in str(refused.value)
