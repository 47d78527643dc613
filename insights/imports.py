"""CSV import of return history: one row per returned order line.

Columns: return_id, order_id, line_id, quantity, reason_code, comment, created_at,
resolution, status. `order_id` and `line_id` are the shop's external ids, as imported
by `import_orders` (shop/imports.py), whose validators, errors and progress callback
this module reuses.

1. Validation (nothing written): every field; the rows of one return agree on
   order_id, created_at and status; the order and its line exist; a line appears once
   per return; the return is not filed before the order was placed; the reason code
   is known (else the error lists the valid codes); the units returned of a line, by
   this file and by other returns that count, are not more than were bought; a
   return_id is not the RMA of a return filed another way. An invalid file is refused
   whole unless `skip_invalid`, which drops every return with an invalid row.
2. Upsert, in batches of returns, one transaction each: `return_id` is the return's
   RMA and its idempotency key is "import:<return_id>", so importing the same file
   twice changes nothing. Lines missing from the file are removed from an imported
   return. A new return gets one "requested" event marked as imported. Afterwards
   the customers concerned are recomputed (insights.services.compute_insights).

Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, NamedTuple

from django.db import transaction
from django.db.models import Sum

from insights.services import compute_insights
from returns.models import (
    VOID_STATUSES,
    Actor,
    Channel,
    EventKind,
    Resolution,
    ReturnEvent,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from shop.imports import (
    MAX_LISTED_ERRORS,
    ImportFileInvalid,
    Progress,
    RowError,
    _datetime,
    _Invalid,
    _quantity,
    _quoted,
    _text,
)
from shop.models import Order, OrderLine, OrderSource

COLUMNS = (
    "return_id",
    "order_id",
    "line_id",
    "quantity",
    "reason_code",
    "comment",
    "created_at",
    "resolution",
    "status",
)
# Columns every row of one return must agree on.
REQUEST_COLUMNS = ("order_id", "created_at", "status")
RMA_MAX_LENGTH = ReturnRequest._meta.get_field("rma").max_length
DEFAULT_BATCH_SIZE = 1000  # returns per transaction
LOOKUP_CHUNK = 5000
PROGRESS_EVERY = 1000
KEY_PREFIX = "import:"
DONE = {ReturnStatus.RESOLVED, ReturnStatus.CLOSED}
ZERO = Decimal("0.00")


@dataclass
class ReturnsImportReport:
    dry_run: bool = False
    rows: int = 0
    returns_created: int = 0
    returns_updated: int = 0
    returns_unchanged: int = 0
    lines_created: int = 0
    lines_updated: int = 0
    lines_removed: int = 0
    returns_skipped: int = 0
    rows_skipped: int = 0
    customers_recomputed: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def summary(self) -> list[str]:
        lines = [
            f"Returns: {self.returns_created} created, {self.returns_updated} "
            f"updated, {self.returns_unchanged} unchanged.",
            f"Lines: {self.lines_created} created, {self.lines_updated} updated, "
            f"{self.lines_removed} removed.",
            f"Rows skipped (invalid): {self.rows_skipped} "
            f"({self.returns_skipped} returns).",
        ]
        if self.dry_run:
            return [f"Dry run: {line}" for line in lines]
        return lines + [f"Customers recomputed: {self.customers_recomputed}."]


class _Row(NamedTuple):
    number: int
    return_id: str
    order_id: str
    line_id: str
    quantity: int
    reason_id: int
    comment: str
    created_at: datetime
    resolution: str
    status: str


@dataclass
class _Return:
    return_id: str
    rows: list[_Row]
    order: Order | None = None
    line_ids: dict[str, int] = field(default_factory=dict)  # line external id -> pk


@dataclass
class _Errors:
    errors: list[RowError] = field(default_factory=list)
    count: int = 0
    returns: set[str] = field(default_factory=set)

    def add(self, row: int, column: str, message: str, return_id: str = "") -> None:
        self.count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(row, column, message))
        if return_id:
            self.returns.add(return_id)


# --- Reading and checking each row ---------------------------------------------------


def _records(file: IO[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(file)
    header = [name.strip().lstrip("\ufeff").lower() for name in next(reader, [])]
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    twice = sorted({name for name in header if header.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    if twice:
        problems.append(f"columns given twice: {', '.join(twice)}")
    if problems:
        raise ImportFileInvalid(
            f"The header (row 1) does not match: {'; '.join(problems)}. "
            f"Expected the columns: {', '.join(COLUMNS)}."
        )
    positions = [header.index(name) for name in COLUMNS]
    for number, row in enumerate(reader, start=2):
        if not row or not any(value.strip() for value in row):
            continue
        if len(row) != len(header):
            yield number, []
        else:
            yield number, [row[i].strip() for i in positions]


def _choice(value: str, allowed: list[str], blank_ok: bool = False) -> str:
    if (blank_ok and not value) or value in allowed:
        return value
    raise _Invalid(f"not one of {', '.join(allowed)} {_quoted(value)}")


def _parse(
    number: int, raw: list[str], reasons: dict[str, int], errors: _Errors
) -> _Row | None:
    if not raw:
        errors.add(number, "", f"expected {len(COLUMNS)} fields like the header")
        return None
    (
        return_id,
        order_id,
        line_id,
        quantity,
        code,
        comment,
        created,
        resolution,
        status,
    ) = raw
    checks = [
        ("return_id", lambda: _text(return_id, RMA_MAX_LENGTH, required=True)),
        ("order_id", lambda: _text(order_id, 64, required=True)),
        ("line_id", lambda: _text(line_id, 64, required=True)),
        ("quantity", lambda: _quantity(quantity)),
        ("reason_code", lambda: _reason(code, reasons)),
        ("comment", lambda: _text(comment, 5000, required=False)),
        ("created_at", lambda: _datetime(created)),
        ("resolution", lambda: _choice(resolution, Resolution.values, blank_ok=True)),
        ("status", lambda: _choice(status, ReturnStatus.values)),
    ]
    values = []
    failed = False
    for column, check in checks:
        try:
            values.append(check())
        except _Invalid as invalid:
            errors.add(number, column, str(invalid), return_id)
            failed = True
    if failed:
        return None
    return _Row(number, *values)


def _reason(code: str, reasons: dict[str, int]) -> int:
    if code in reasons:
        return reasons[code]
    raise _Invalid(
        f"unknown reason code {_quoted(code)}; valid codes: {', '.join(sorted(reasons))}"
    )


# --- Pass over the whole file: references and totals --------------------------------


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), LOOKUP_CHUNK):
        yield items[start : start + LOOKUP_CHUNK]


def _resolve(returns: dict[str, _Return], source: str, errors: _Errors) -> None:
    """Find each return's order and lines; check dates, RMAs and quantities."""
    order_ids = sorted({r.rows[0].order_id for r in returns.values()})
    orders: dict[str, Order] = {}
    for chunk in _chunks(order_ids):
        for order in Order.objects.filter(source=source, external_id__in=chunk):
            orders[order.external_id] = order
    lines: dict[tuple[int, str], OrderLine] = {}
    order_pks = [order.pk for order in orders.values()]
    for chunk in _chunks(order_pks):
        for line in OrderLine.objects.filter(order_id__in=chunk).only(
            "id", "order_id", "external_id", "quantity", "unit_price"
        ):
            lines[(line.order_id, line.external_id)] = line
    taken = {}
    for chunk in _chunks(sorted(returns)):
        for rma, key, order_pk in ReturnRequest.objects.filter(
            rma__in=chunk
        ).values_list("rma", "idempotency_key", "order_id"):
            taken[rma] = (key, order_pk)

    for r in returns.values():
        first = r.rows[0]
        order = orders.get(first.order_id)
        if order is None:
            errors.add(
                first.number,
                "order_id",
                f"no order {_quoted(first.order_id)} (import it with import_orders)",
                r.return_id,
            )
            continue
        r.order = order
        if first.created_at < order.placed_at:
            errors.add(
                first.number, "created_at", "before the order was placed", r.return_id
            )
        if r.return_id in taken:
            key, order_pk = taken[r.return_id]
            if key != KEY_PREFIX + r.return_id:
                errors.add(
                    first.number,
                    "return_id",
                    f"{_quoted(r.return_id)} is the RMA of a return filed otherwise",
                    r.return_id,
                )
            elif order_pk != order.pk:
                errors.add(
                    first.number,
                    "return_id",
                    "was imported before for another order",
                    r.return_id,
                )
        for row in r.rows:
            line = lines.get((order.pk, row.line_id))
            if line is None:
                errors.add(
                    row.number,
                    "line_id",
                    f"order {_quoted(row.order_id)} has no line {_quoted(row.line_id)}",
                    r.return_id,
                )
            elif row.line_id in r.line_ids:
                errors.add(row.number, "line_id", "listed twice", r.return_id)
            else:
                r.line_ids[row.line_id] = line.pk
    _check_quantities(returns, lines, errors)


def _check_quantities(returns, lines, errors: _Errors) -> None:
    """Units returned of a line (this file's counting returns plus other counting
    returns already stored) must not exceed the units bought."""
    by_pk = {line.pk: line for line in lines.values()}
    in_file: dict[int, int] = defaultdict(int)
    rows_of: dict[int, list[tuple[_Row, str]]] = defaultdict(list)
    keys = []
    for r in returns.values():
        keys.append(KEY_PREFIX + r.return_id)
        for row in r.rows:
            pk = r.line_ids.get(row.line_id)
            if pk is None:
                continue
            rows_of[pk].append((row, r.return_id))
            if row.status not in VOID_STATUSES:
                in_file[pk] += row.quantity
    stored: dict[int, int] = defaultdict(int)
    pks = sorted(in_file)
    key_set = set(keys)
    for chunk in _chunks(pks):
        for pk, key, quantity in (
            ReturnLine.objects.filter(order_line_id__in=chunk)
            .exclude(request__status__in=VOID_STATUSES)
            .values_list("order_line_id", "request__idempotency_key")
            .annotate(q=Sum("quantity"))
        ):
            if key not in key_set:
                stored[pk] += quantity
    for pk, units in in_file.items():
        bought = by_pk[pk].quantity
        if units + stored[pk] > bought:
            for row, return_id in rows_of[pk]:
                errors.add(
                    row.number,
                    "quantity",
                    f"returns more than was bought ({bought} bought, "
                    f"{units + stored[pk]} returned in all)",
                    return_id,
                )


def _read(
    path, file, source: str, progress: Progress | None
) -> tuple[dict[str, _Return], _Errors, int]:
    reasons = dict(ReturnReason.objects.values_list("code", "pk"))
    errors = _Errors()
    returns: dict[str, _Return] = {}
    rows = 0
    pending = 0

    def consume(opened):
        nonlocal rows, pending
        for number, raw in _records(opened):
            rows += 1
            pending += 1
            if progress and pending >= PROGRESS_EVERY:
                progress("Validating", pending, None)
                pending = 0
            row = _parse(number, raw, reasons, errors)
            if row is None:
                continue
            found = returns.get(row.return_id)
            if found is None:
                returns[row.return_id] = _Return(row.return_id, [row])
                continue
            first = found.rows[0]
            for column in REQUEST_COLUMNS:
                if getattr(row, column) != getattr(first, column):
                    errors.add(
                        number,
                        column,
                        f"differs from row {first.number} of the same return",
                        row.return_id,
                    )
            found.rows.append(row)

    if file is not None:
        file.seek(0)
        consume(file)
    else:
        with open(path, newline="", encoding="utf-8-sig") as opened:
            consume(opened)
    if progress and pending:
        progress("Validating", pending, None)
    _resolve(returns, source, errors)
    return returns, errors, rows


# --- Writing ------------------------------------------------------------------------


def _request_fields(r: _Return, unit_prices: dict) -> dict:
    first = r.rows[0]
    return {
        "order_id": r.order.pk,
        "customer_id": r.order.customer_id,
        "status": first.status,
        "created_at": first.created_at,
        "currency": r.order.currency,
        "refund_total": sum(
            (_line_fields(r, row, unit_prices)["refund_amount"] for row in r.rows),
            ZERO,
        ),
    }


def _line_fields(r: _Return, row: _Row, unit_prices: dict) -> dict:
    done = row.status in DONE
    price = unit_prices[r.line_ids[row.line_id]]
    fields = {
        "quantity": row.quantity,
        "reason_id": row.reason_id,
        "comment": row.comment,
        "requested_resolution": row.resolution or Resolution.REFUND,
        "resolution": row.resolution if done else "",
    }
    refund = done and row.resolution == Resolution.REFUND
    fields["refund_amount"] = price * row.quantity if refund else ZERO
    return fields


def _write_batch(
    batch: list[_Return], report: ReturnsImportReport, dry_run: bool
) -> set[int]:
    """Create or update one batch of returns with their lines; return the customers
    whose returns changed."""
    keys = [KEY_PREFIX + r.return_id for r in batch]
    existing = {
        request.idempotency_key: request
        for request in ReturnRequest.objects.filter(idempotency_key__in=keys)
    }
    line_pks = [pk for r in batch for pk in r.line_ids.values()]
    prices = dict(
        OrderLine.objects.filter(pk__in=line_pks).values_list("pk", "unit_price")
    )
    stored_lines: dict[int, dict[int, ReturnLine]] = defaultdict(dict)
    for line in ReturnLine.objects.filter(
        request_id__in=[request.pk for request in existing.values()]
    ):
        stored_lines[line.request_id][line.order_line_id] = line

    new_requests, changed_requests = [], []
    new_lines, changed_lines, removed_lines = [], [], []
    changed_customers: set[int] = set()
    request_update_fields = set()
    line_update_fields = set()
    for r in batch:
        wanted = _request_fields(r, prices)
        request = existing.get(KEY_PREFIX + r.return_id)
        if request is None:
            request = ReturnRequest(
                rma=r.return_id,
                idempotency_key=KEY_PREFIX + r.return_id,
                channel=Channel.STAFF,
                **wanted,
            )
            new_requests.append((r, request))
            changed_customers.add(r.order.customer_id)
            report.returns_created += 1
            lines_now: dict[int, ReturnLine] = {}
        else:
            differing = [k for k, v in wanted.items() if getattr(request, k) != v]
            lines_now = stored_lines.get(request.pk, {})
            if differing:
                for name in differing:
                    setattr(request, name, wanted[name])
                request_update_fields.update(differing)
                changed_requests.append(request)
        line_changed = False
        seen = set()
        for row in r.rows:
            order_line_id = r.line_ids[row.line_id]
            seen.add(order_line_id)
            fields = _line_fields(r, row, prices)
            current = lines_now.get(order_line_id)
            if current is None:
                new_lines.append(
                    (
                        request,
                        ReturnLine(
                            order_line_id=order_line_id,
                            unit_value=prices[order_line_id],
                            **fields,
                        ),
                    )
                )
                report.lines_created += 1
                line_changed = True
                continue
            differing = [k for k, v in fields.items() if getattr(current, k) != v]
            if differing:
                for name in differing:
                    setattr(current, name, fields[name])
                line_update_fields.update(differing)
                changed_lines.append(current)
                report.lines_updated += 1
                line_changed = True
        for order_line_id, current in lines_now.items():
            if order_line_id not in seen:
                removed_lines.append(current.pk)
                report.lines_removed += 1
                line_changed = True
        if request.pk is not None:
            if request in changed_requests or line_changed:
                report.returns_updated += 1
                changed_customers.add(r.order.customer_id)
            else:
                report.returns_unchanged += 1

    if dry_run:
        return changed_customers
    with transaction.atomic():
        created = ReturnRequest.objects.bulk_create([req for _r, req in new_requests])
        ReturnEvent.objects.bulk_create(
            [
                ReturnEvent(
                    request=request,
                    kind=EventKind.REQUESTED,
                    to_status=request.status,
                    actor=Actor.SYSTEM,
                    note="Imported from CSV",
                    data={"imported": True},
                    occurred_at=request.created_at,
                )
                for request in created
            ]
        )
        if changed_requests:
            ReturnRequest.objects.bulk_update(
                changed_requests, sorted(request_update_fields | {"updated_at"})
            )
        for request, line in new_lines:
            line.request_id = request.pk
        ReturnLine.objects.bulk_create([line for _request, line in new_lines])
        if changed_lines:
            ReturnLine.objects.bulk_update(changed_lines, sorted(line_update_fields))
        if removed_lines:
            ReturnLine.objects.filter(pk__in=removed_lines).delete()
    return changed_customers


def import_returns_csv(
    *,
    path: str | Path | None = None,
    file: IO[str] | None = None,
    source: str = OrderSource.SHOP,
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ReturnsImportReport:
    """Import return history from a CSV file (a path, or a seekable text file).

    Raises ImportFileInvalid, having written nothing, when the header is wrong or,
    unless `skip_invalid`, when any row is invalid. With `skip_invalid` a return with
    an invalid row is skipped whole; the report lists the errors."""
    if (path is None) == (file is None):
        raise TypeError("Pass either path or file.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    returns, errors, rows = _read(path, file, source, progress)
    report = ReturnsImportReport(
        dry_run=dry_run,
        rows=rows,
        errors=errors.errors,
        error_count=errors.count,
    )
    if errors.count and not skip_invalid:
        raise ImportFileInvalid(
            f"{errors.count} error(s) in the file; nothing was imported.",
            errors.errors,
            errors.count,
        )
    valid = [r for r in returns.values() if r.return_id not in errors.returns]
    report.returns_skipped = len(returns) - len(valid)
    report.rows_skipped = rows - sum(len(r.rows) for r in valid)
    customers: set[int] = set()
    for start in range(0, len(valid), batch_size):
        batch = valid[start : start + batch_size]
        customers |= _write_batch(batch, report, dry_run)
        if progress:
            progress("Importing", sum(len(r.rows) for r in batch), rows)
    if customers and not dry_run:
        report.customers_recomputed = compute_insights(
            customer_ids=sorted(customers)
        ).changed
    return report
