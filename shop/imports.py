"""CSV import of order history: one row per order line.

The file is read twice, streaming, so memory stays flat however large it is:

1. Validation. Every row is checked by a hand-rolled validator that mirrors the API's
   rules (`shop.serializers`); rows of one order must agree on the order-level columns
   and sit next to each other. Nothing is written; an invalid file is refused whole
   unless `skip_invalid`, which drops every order that has an invalid row.
2. Upsert. Orders are gathered into batches of about `batch_size` lines (an order is
   never split across batches); each batch is written in one transaction with a few
   bulk queries per model, with the same outcome as `shop.services.upsert_order` for
   each order in turn: customers by lower-cased e-mail, unknown SKUs become products,
   orders by (source, order_id), lines by (order, line_id), lines missing from the file
   are removed, a blank delivered_at keeps the time we have. Importing the same file
   twice changes nothing. A writer thread with its own connection applies the batches
   while this thread parses the next, so Python and the database work at the same
   time (unless the caller has a transaction open: then batches are applied on its
   connection). On PostgreSQL customers, orders and lines go through COPY into a
   temporary table and one INSERT ... ON CONFLICT each; elsewhere through bulk_create.

Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import functools
import json
import operator
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, NamedTuple

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, connections, reset_queries, transaction
from django.db.models import BooleanField, F, Func, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from shop.models import (
    Category,
    ConsentSource,
    Customer,
    Language,
    Order,
    OrderLine,
    OrderSource,
    Product,
)

COLUMNS = (
    "order_id",
    "order_number",
    "placed_at",
    "delivered_at",
    "currency",
    "customer_email",
    "customer_first_name",
    "customer_last_name",
    "customer_language",
    "marketing_consent",
    "line_id",
    "sku",
    "product_name",
    "category",
    "quantity",
    "unit_price",
)
# Columns every row of one order must agree on: COLUMNS[1:10].
ORDER_COLUMNS = COLUMNS[1:10]
LINE_COLUMNS = COLUMNS[10:]

DEFAULT_BATCH_SIZE = 5000
MAX_LISTED_ERRORS = 50
# The API's limits (shop/serializers.py).
MAX_LINES_PER_ORDER = 1000
MAX_QUANTITY = 100_000
MAX_MONEY = Decimal("10") ** 10  # max_digits=12, decimal_places=2
CENT = Decimal("0.01")
LANGUAGES = {"": "", **{code: code for code in Language.values}}
CONSENT = {
    "": None,
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}
PROGRESS_EVERY = 1000
# The common spelling of a valid price, recognised in one go.
_PLAIN_PRICE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
_NO_ERRORS: list[tuple[str, str]] = []

Progress = Callable[[str, int, int | None], None]
"""Called as progress(stage, rows_advanced, total_rows_or_None)."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return f"row {self.row}, column {self.column}: {self.message}"
        return f"row {self.row}: {self.message}"


class ImportFileInvalid(Exception):
    """The file is refused; nothing was written."""

    def __init__(self, message: str, errors: Sequence[RowError] = (), count: int = 0):
        super().__init__(message)
        self.errors = list(errors)
        self.count = count or len(self.errors)


@dataclass
class ImportReport:
    dry_run: bool = False
    rows: int = 0
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    lines_created: int = 0
    lines_updated: int = 0
    lines_removed: int = 0
    customers_created: int = 0
    products_created: int = 0
    orders_skipped: int = 0
    rows_skipped: int = 0
    # The first MAX_LISTED_ERRORS errors; error_count counts them all.
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def summary(self) -> list[str]:
        lines = [
            f"Orders: {self.orders_created} created, {self.orders_updated} updated, "
            f"{self.orders_unchanged} unchanged.",
            f"Lines: {self.lines_created} created, {self.lines_updated} updated, "
            f"{self.lines_removed} removed.",
            f"Customers created: {self.customers_created}.",
            f"Products created: {self.products_created}.",
            f"Rows skipped (invalid): {self.rows_skipped} "
            f"({self.orders_skipped} orders).",
        ]
        if self.dry_run:
            lines = [f"Dry run: {line}" for line in lines]
        return lines


# --- Field validators: return the clean value or raise _Invalid(reason). -------------


class _Invalid(ValueError):
    pass


def _quoted(value: str) -> str:
    return f'"{value[:60]}…"' if len(value) > 60 else f'"{value}"'


def _text(value: str, max_length: int, required: bool) -> str:
    if not value and required:
        raise _Invalid("required")
    if len(value) > max_length:
        raise _Invalid(f"longer than {max_length} characters")
    return value


def _datetime(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"not an ISO 8601 date and time {_quoted(value)}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise _Invalid(f"not a three-letter ISO 4217 code {_quoted(value)}")
    return value.upper()


@functools.lru_cache(maxsize=65536)
def _email_is_valid(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return len(email) <= 254


def _email(value: str) -> str:
    email = value.lower()
    if not email:
        raise _Invalid("required")
    if not _email_is_valid(email):
        raise _Invalid(f"not a valid e-mail address {_quoted(value)}")
    return email


def _language(value: str) -> str:
    try:
        return LANGUAGES[value.lower()]
    except KeyError:
        raise _Invalid(
            f"not one of {', '.join(Language.values)} or blank {_quoted(value)}"
        ) from None


def _consent(value: str) -> bool | None:
    try:
        return CONSENT[value.lower()]
    except KeyError:
        raise _Invalid(
            f"not one of true, false, yes, no, 1, 0 or blank {_quoted(value)}"
        ) from None


def _quantity(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise _Invalid(f"not a whole number {_quoted(value)}")
    quantity = int(value)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise _Invalid(f"must be between 1 and {MAX_QUANTITY}, not {quantity}")
    return quantity


def _money(value: str) -> Decimal:
    if _PLAIN_PRICE.fullmatch(value):
        return Decimal(value)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _Invalid(f"not a decimal number {_quoted(value)}") from None
    if not amount.is_finite():
        raise _Invalid(f"not a decimal number {_quoted(value)}")
    if amount < 0:
        raise _Invalid(f"must not be negative {_quoted(value)}")
    if amount.as_tuple().exponent < -2:
        raise _Invalid(f"more than 2 decimal places {_quoted(value)}")
    if amount >= MAX_MONEY:
        raise _Invalid(f"too large {_quoted(value)}")
    return amount.quantize(CENT)


class _OrderRow(NamedTuple):
    number: str
    placed_at: datetime
    delivered_at: datetime | None
    currency: str
    email: str
    first_name: str
    last_name: str
    language: str
    consent: bool | None


class _LineRow(NamedTuple):
    external_id: str
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal


# One check per order-level column, in ORDER_COLUMNS order; blank delivered_at is None.
_ORDER_CHECKS: tuple[Callable[[str], object], ...] = (
    functools.partial(_text, max_length=64, required=True),
    _datetime,
    lambda value: _datetime(value) if value else None,
    _currency,
    _email,
    functools.partial(_text, max_length=150, required=False),
    functools.partial(_text, max_length=150, required=False),
    _language,
    _consent,
)
_LINE_CHECKS: tuple[Callable[[str], object], ...] = (
    functools.partial(_text, max_length=64, required=True),
    functools.partial(_text, max_length=64, required=True),
    functools.partial(_text, max_length=255, required=False),
    functools.partial(_text, max_length=120, required=False),
    _quantity,
    _money,
)


def _check(
    raw: Sequence[str], checks: Sequence[Callable[[str], object]], names: Sequence[str]
) -> list[tuple[str, str]]:
    """Every column's error (the slow path, once a row is known to be invalid)."""
    errors: list[tuple[str, str]] = []
    for check, name, value in zip(checks, names, raw, strict=True):
        try:
            check(value)
        except _Invalid as invalid:
            errors.append((name, str(invalid)))
    return errors


def _parse_order(raw: Sequence[str]) -> tuple[_OrderRow | None, list[tuple[str, str]]]:
    number, placed, delivered, currency, email, first, last, language, consent = raw
    try:
        order = _OrderRow(
            _text(number, 64, required=True),
            _datetime(placed),
            _datetime(delivered) if delivered else None,
            _currency(currency),
            _email(email),
            _text(first, 150, required=False),
            _text(last, 150, required=False),
            _language(language),
            _consent(consent),
        )
    except _Invalid:
        return None, _check(raw, _ORDER_CHECKS, ORDER_COLUMNS)
    if order.delivered_at is not None and order.delivered_at < order.placed_at:
        return None, [("delivered_at", "cannot be before placed_at")]
    return order, _NO_ERRORS


def _parse_line(raw: Sequence[str]) -> tuple[_LineRow | None, list[tuple[str, str]]]:
    external_id, sku, name, category, quantity, price = raw
    # The usual line in one expression, without a call per column (the same rules as
    # _LINE_CHECKS); the validators below say what is wrong with the others.
    if (
        0 < len(external_id) <= 64
        and 0 < len(sku) <= 64
        and len(name) <= 255
        and len(category) <= 120
        and quantity.isascii()
        and quantity.isdigit()
        and 0 < int(quantity) <= MAX_QUANTITY
        and _PLAIN_PRICE.fullmatch(price)
    ):
        line = _LineRow(external_id, sku, name, category, int(quantity), Decimal(price))
        return line, _NO_ERRORS
    try:
        line = _LineRow(
            _text(external_id, 64, required=True),
            _text(sku, 64, required=True),
            _text(name, 255, required=False),
            _text(category, 120, required=False),
            _quantity(quantity),
            _money(price),
        )
    except _Invalid:
        return None, _check(raw, _LINE_CHECKS, LINE_COLUMNS)
    return line, _NO_ERRORS


# --- Reading the file ----------------------------------------------------------------


@contextmanager
def _rows(path: str | Path | None, file: IO[str] | None) -> Iterator[Iterator[list]]:
    """Yield an iterator over the rows, the header checked: each row a list of the
    stripped values in COLUMNS order, [] for a blank line, and [order_id] alone for a
    row whose number of fields does not match the header."""
    if file is not None:
        file.seek(0)
        yield _records(file)
    else:
        with open(path, newline="", encoding="utf-8-sig") as opened:
            yield _records(opened)


def _records(file: IO[str]) -> Iterator[list]:
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
    width = len(header)
    order_id_at = header.index("order_id")
    pick = operator.itemgetter(*(header.index(name) for name in COLUMNS))
    for row in reader:
        if not row:
            yield row
        elif len(row) != width:
            yield [row[order_id_at].strip() if len(row) > order_id_at else ""]
        else:
            yield list(map(str.strip, pick(row)))


# --- Pass 1: validation --------------------------------------------------------------


@dataclass
class _Validation:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    invalid_orders: set[str] = field(default_factory=set)

    def add(self, row: int, column: str, message: str, order_id: str = "") -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(row, column, message))
        if order_id:
            self.invalid_orders.add(order_id)


def _differences(first: Sequence[str], other: Sequence[str]) -> list[tuple[str, str]]:
    """Order-level columns whose values differ in meaning (not just in spelling)."""
    differing = []
    for name, check, a, b in zip(
        ORDER_COLUMNS, _ORDER_CHECKS, first, other, strict=True
    ):
        if a == b:
            continue
        try:
            same = check(a) == check(b)
        except _Invalid:
            same = False
        if not same:
            differing.append((name, f"{_quoted(b)} differs from {_quoted(a)}"))
    return differing


def _validate(rows: Iterator[list], progress: Progress | None) -> _Validation:
    result = _Validation()
    seen: set[str] = set()  # orders already met: their rows must be contiguous
    current_id = None
    first_row = 0
    first_raw: list[str] = []
    line_ids: set[str] = set()
    total = Decimal(0)
    number = 1  # the header
    pending = 0
    for values in rows:
        number += 1
        if not values:
            continue
        result.rows += 1
        if progress:
            pending += 1
            if pending == PROGRESS_EVERY:
                progress("Validating", pending, None)
                pending = 0
        order_id = values[0]
        if len(values) == 1:
            result.add(
                number, "", "the number of fields does not match the header", order_id
            )
            continue
        if not order_id:
            result.add(number, "order_id", "required")
            continue
        if len(order_id) > 64:
            result.add(number, "order_id", "longer than 64 characters", order_id)
            continue
        raw_order = values[1:10]
        if order_id != current_id:
            if order_id in seen:
                result.add(
                    number,
                    "order_id",
                    f"order {_quoted(order_id)} also appears higher up, not next to "
                    "this row; rows of one order must be contiguous (sort the file "
                    "by order_id)",
                    order_id,
                )
            seen.add(order_id)
            current_id, first_row, first_raw = order_id, number, raw_order
            line_ids = set()
            total = Decimal(0)
            _, errors = _parse_order(raw_order)
            for column, message in errors:
                result.add(number, column, message, order_id)
        elif raw_order != first_raw:
            for column, message in _differences(first_raw, raw_order):
                result.add(
                    number,
                    column,
                    f"{message} in row {first_row} of the same order",
                    order_id,
                )
        line, errors = _parse_line(values[10:])
        for column, message in errors:
            result.add(number, column, message, order_id)
        line_id = values[10]
        if line_id and line_id in line_ids:
            result.add(
                number,
                "line_id",
                f"{_quoted(line_id)} appears twice in this order",
                order_id,
            )
        line_ids.add(line_id)
        if len(line_ids) == MAX_LINES_PER_ORDER + 1:
            result.add(
                number,
                "line_id",
                f"more than {MAX_LINES_PER_ORDER} lines in one order",
                order_id,
            )
        if line is not None and total < MAX_MONEY:
            total += line.unit_price * line.quantity
            if total >= MAX_MONEY:
                result.add(
                    number, "unit_price", "the order's total is too large", order_id
                )
    if progress and pending:
        progress("Validating", pending, None)
    return result


# --- Pass 2: batched upsert ----------------------------------------------------------


@dataclass
class _PendingOrder:
    external_id: str
    data: _OrderRow
    lines: list[_LineRow]


@dataclass
class _DryRunState:
    """What a dry run would have created in earlier batches (nothing is written, so
    later batches would not find them in the database)."""

    emails: set[str] = field(default_factory=set)
    skus: set[str] = field(default_factory=set)


class _AnyOf(Func):
    """`expression = ANY(<values>)` (PostgreSQL), the values sent as one JSON array.
    Django binds parameters client-side, and psycopg quotes a list into the SQL text
    element by element in Python, which cost more than the query itself; json.dumps
    does it in C, and the server unpacks it as fast as an array literal."""

    arg_joiner = " = ANY(ARRAY(SELECT json_array_elements_text("
    template = "%(expressions)s::json))::%(element_type)s[])"
    output_field = BooleanField()

    def __init__(self, expression, values: Sequence):
        element_type = "bigint" if isinstance(values[0], int) else "text"
        super().__init__(
            expression, Value(json.dumps(list(values))), element_type=element_type
        )


def _filter_in(queryset: QuerySet, field: str, values: Sequence) -> Iterator[QuerySet]:
    """`queryset.filter(<field>__in=values)` in as few queries as the database allows:
    one parameter on PostgreSQL (a long IN list costs more to build and parse than to
    run), chunks under the parameter limit elsewhere."""
    if not values:
        return
    if connection.vendor == "postgresql":
        yield queryset.filter(_AnyOf(F(field), values))
    else:
        for chunk in _chunks(values):
            yield queryset.filter(**{f"{field}__in": chunk})


def _chunks(items: Sequence) -> Iterator[Sequence]:
    """Split a list for `__in` lookups on backends with a parameter limit (SQLite)."""
    limit = connection.features.max_query_params
    if not limit:
        yield items
        return
    size = limit - 10  # room for the query's other parameters
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _customers(
    batch: list[_PendingOrder], *, now: datetime, dry_run: bool, state: _DryRunState
) -> tuple[dict[str, int | None], int]:
    """Customers of the batch by e-mail, applied order by order as upsert_customer
    does: names and language when given, consent (with time and source) when it
    changes. Returns ids by e-mail (None for a dry run's new ones) and how many were
    created."""
    emails = sorted({order.data.email for order in batch})  # one order of locks
    # email -> [id, first_name, last_name, language, marketing_consent]
    existing: dict[str, list] = {}
    for query in _filter_in(Customer.objects.order_by("pk"), "email", emails):
        if not dry_run:
            query = query.select_for_update()
        for pk, email, *values in query.values_list(
            "pk", "email", "first_name", "last_name", "language", "marketing_consent"
        ):
            existing[email] = [pk, *values]
    new = [email for email in emails if email not in existing]
    ids = {email: row[0] for email, row in existing.items()}
    if dry_run:
        created = len(set(new) - state.emails)
        state.emails.update(new)
        return {**ids, **dict.fromkeys(new)}, created

    # email -> [id, first_name, last_name, language, marketing_consent], as it becomes
    customers: dict[str, list] = {}
    changed: set[str] = set()
    consent_changed: set[str] = set()
    for order in batch:
        data = order.data
        email = data.email
        customer = customers.get(email)
        if customer is None:
            current = existing.get(email)
            if current is None:  # created by this order, as upsert_customer would
                customers[email] = [
                    None,
                    data.first_name,
                    data.last_name,
                    data.language or Language.ENGLISH,
                    bool(data.consent),
                ]
                if data.consent is not None:
                    consent_changed.add(email)
                continue
            customer = customers[email] = list(current)
        for index, value in (
            (1, data.first_name),
            (2, data.last_name),
            (3, data.language),
        ):
            if value and customer[index] != value:
                customer[index] = value
                changed.add(email)
        if data.consent is not None and customer[4] != data.consent:
            customer[4] = data.consent
            consent_changed.add(email)

    users = {}
    addresses = (
        EmailAddress.objects.annotate(email_lower=Lower("email"))
        .filter(verified=True)
        .order_by("pk")
    )
    for query in _filter_in(addresses, "email_lower", new):
        users.update(query.values_list("email_lower", "user_id"))
    # Consent time and source are written only where consent changed.
    for emails_to_write, consent in (
        ([e for e in emails if e in consent_changed], True),
        (
            [
                e
                for e in emails
                if e not in consent_changed and (e in changed or e not in existing)
            ],
            False,
        ),
    ):
        if not emails_to_write:
            continue
        rows = [
            (
                email,
                *customers[email][1:],
                now if consent else None,
                ConsentSource.IMPORT if consent else "",
                users.get(email),
            )
            for email in emails_to_write
        ]
        update = ["first_name", "last_name", "language", "updated_at"]
        if consent:
            update += [
                "marketing_consent",
                "marketing_consent_at",
                "marketing_consent_source",
            ]
        ids.update(_write_customers(rows, update=update, now=now))
    return ids, len(new)


CUSTOMER_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "language",
    "marketing_consent",
    "marketing_consent_at",
    "marketing_consent_source",
    "user",
)


def _write_customers(
    rows: list[tuple], *, update: list[str], now: datetime
) -> dict[str, int]:
    """Upsert customers by e-mail from rows in CUSTOMER_FIELDS order, updating only
    the `update` fields of existing ones; ids by e-mail. COPY on PostgreSQL (no model
    instance per row), bulk_create elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            return dict(
                _copy_upsert(
                    cursor,
                    Customer,
                    CUSTOMER_FIELDS,
                    rows,
                    constants={"created_at": now, "updated_at": now},
                    unique=("email",),
                    update=update,
                    returning=("email", "id"),
                )
            )
    writes = [
        Customer(
            email=email,
            first_name=first_name,
            last_name=last_name,
            language=language,
            marketing_consent=consent,
            marketing_consent_at=consent_at,
            marketing_consent_source=consent_source,
            user_id=user_id,
        )
        for (
            email,
            first_name,
            last_name,
            language,
            consent,
            consent_at,
            consent_source,
            user_id,
        ) in rows
    ]
    Customer.objects.bulk_create(
        writes, update_conflicts=True, unique_fields=["email"], update_fields=update
    )
    return _ids_of(writes, "email", Customer.objects.all())


def _ids_of(objs: list, key: str, queryset) -> dict[str, int]:
    """Primary keys by `key` of freshly bulk-created objects: from RETURNING where the
    database gives them back, else with one query."""
    if all(obj.pk is not None for obj in objs):
        return {getattr(obj, key): obj.pk for obj in objs}
    keys = [getattr(obj, key) for obj in objs]
    ids = {}
    for query in _filter_in(queryset.order_by(), key, keys):
        ids.update(query.values_list(key, "pk"))
    return ids


def _categories(names: list[str]) -> dict[str, int]:
    """Category ids by lower-cased name, created if new (matched case-insensitively,
    as upsert_category does)."""
    wanted = {}
    for name in names:
        wanted.setdefault(name.lower(), name)

    def lookup() -> dict[str, int]:
        found: dict[str, int] = {}
        categories = Category.objects.annotate(name_lower=Lower("name")).order_by(
            "name", "pk"
        )
        for query in _filter_in(categories, "name_lower", list(wanted)):
            for lower, pk in query.values_list("name_lower", "pk"):
                found.setdefault(lower, pk)
        return found

    found = lookup()
    missing = [name for lower, name in wanted.items() if lower not in found]
    if missing:
        Category.objects.bulk_create(
            [Category(name=name) for name in missing], ignore_conflicts=True
        )
        found = lookup()
    return found


def _products(
    batch: list[_PendingOrder], *, dry_run: bool, state: _DryRunState
) -> tuple[dict[str, int | None], int]:
    """Product ids by SKU; an unknown SKU becomes a product from the first order that
    has it (the line's name, category and unit price, the order's currency). Known
    products are left alone."""
    first_lines: dict[str, tuple[_LineRow, str]] = {}
    for order in batch:
        # Within an order the last line with a SKU counts, as in upsert_order.
        for sku, line in {line.sku: line for line in order.lines}.items():
            first_lines.setdefault(sku, (line, order.data.currency))
    skus = list(first_lines)
    ids: dict[str, int | None] = {}
    for query in _filter_in(Product.objects.order_by(), "sku", skus):
        ids.update(query.values_list("sku", "pk"))
    new = [sku for sku in skus if sku not in ids]
    if not new:
        return ids, 0
    if dry_run:
        created = len(set(new) - state.skus)
        state.skus.update(new)
        return {**ids, **dict.fromkeys(new)}, created

    categories = _categories(
        [first_lines[sku][0].category for sku in new if first_lines[sku][0].category]
    )
    products = []
    for sku in sorted(new):  # one order of inserts: concurrent imports cannot deadlock
        line, currency = first_lines[sku]
        products.append(
            Product(
                sku=sku,
                name=line.name or sku,
                price=line.unit_price,
                currency=currency,
                category_id=categories.get(line.category.lower()),
            )
        )
    Product.objects.bulk_create(products, ignore_conflicts=True)
    for query in _filter_in(Product.objects.order_by(), "sku", new):
        ids.update(query.values_list("sku", "pk"))
    return ids, len(new)


def _upsert_batch(
    batch: list[_PendingOrder],
    *,
    source: str,
    dry_run: bool,
    report: ImportReport,
    state: _DryRunState,
) -> None:
    now = timezone.now()
    customer_ids, created = _customers(batch, now=now, dry_run=dry_run, state=state)
    report.customers_created += created
    product_ids, created = _products(batch, dry_run=dry_run, state=state)
    report.products_created += created

    external_ids = [order.external_id for order in batch]
    existing = {}
    orders = Order.objects.filter(source=source).order_by("pk")
    for query in _filter_in(orders, "external_id", external_ids):
        if not dry_run:
            query = query.select_for_update()
        existing.update(
            (row[0], row[1:])
            for row in query.values_list(
                "external_id",
                "pk",
                "number",
                "customer_id",
                "placed_at",
                "shipped_at",
                "delivered_at",
                "currency",
                "total",
            )
        )
    existing_lines: dict[int, dict[str, tuple]] = {}
    order_pks = [row[0] for row in existing.values()]
    for query in _filter_in(OrderLine.objects.order_by(), "order_id", order_pks):
        for (
            order_pk,
            external_id,
            pk,
            product_id,
            quantity,
            unit_price,
        ) in query.values_list(
            "order_id", "external_id", "pk", "product_id", "quantity", "unit_price"
        ):
            existing_lines.setdefault(order_pk, {})[external_id] = (
                pk,
                product_id,
                quantity,
                unit_price,
            )

    # Rows to write, in ORDER_FIELDS and LINE_FIELDS order (lines by order external id).
    order_rows: list[tuple] = []
    line_rows: list[tuple] = []
    removed: list[int] = []
    for order in batch:
        data = order.data
        current = existing.get(order.external_id)
        # As a push without them: shipped_at (not in the file) and a blank
        # delivered_at keep the times we have.
        values = (
            data.number,
            customer_ids[data.email],
            data.placed_at,
            current[4] if current else None,
            data.delivered_at or (current[5] if current else None),
            data.currency,
            sum((line.unit_price * line.quantity for line in order.lines), Decimal(0)),
        )
        old_lines = existing_lines.get(current[0], {}) if current else {}
        writes = []
        for line in order.lines:
            product_id = product_ids[line.sku]
            old = old_lines.pop(line.external_id, None)
            if old is None:
                report.lines_created += 1
            elif old[1:] != (product_id, line.quantity, line.unit_price):
                report.lines_updated += 1
            else:
                continue
            writes.append(
                (
                    order.external_id,
                    line.external_id,
                    product_id,
                    line.quantity,
                    line.unit_price,
                )
            )
        removed.extend(old[0] for old in old_lines.values())
        report.lines_removed += len(old_lines)
        if current is None:
            report.orders_created += 1
        elif current[1:] != values or writes or old_lines:
            report.orders_updated += 1
        else:
            report.orders_unchanged += 1
            continue
        order_rows.append((order.external_id, *values))
        line_rows.extend(writes)
    if dry_run or not order_rows:
        return
    for query in _filter_in(OrderLine.objects.all(), "pk", removed):
        query.delete()
    if connection.vendor == "postgresql":
        _write_orders_by_copy(order_rows, line_rows, source=source, now=now)
    else:
        _write_orders_in_bulk(order_rows, line_rows, source=source)


ORDER_FIELDS = (
    "external_id",
    "number",
    "customer",
    "placed_at",
    "shipped_at",
    "delivered_at",
    "currency",
    "total",
)
LINE_FIELDS = ("order", "external_id", "product", "quantity", "unit_price")


def _write_orders_in_bulk(
    order_rows: list[tuple], line_rows: list[tuple], *, source: str
) -> None:
    """Upsert orders, then their lines, with bulk_create (any database)."""
    orders = [
        Order(
            source=source,
            external_id=external_id,
            number=number,
            customer_id=customer_id,
            placed_at=placed_at,
            shipped_at=shipped_at,
            delivered_at=delivered_at,
            currency=currency,
            total=total,
        )
        for (
            external_id,
            number,
            customer_id,
            placed_at,
            shipped_at,
            delivered_at,
            currency,
            total,
        ) in order_rows
    ]
    Order.objects.bulk_create(
        orders,
        update_conflicts=True,
        unique_fields=["source", "external_id"],
        update_fields=[*ORDER_FIELDS[1:], "updated_at"],
    )
    order_ids = _ids_of(orders, "external_id", Order.objects.filter(source=source))
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order_id=order_ids[order],
                external_id=external_id,
                product_id=product_id,
                quantity=quantity,
                unit_price=unit_price,
            )
            for order, external_id, product_id, quantity, unit_price in line_rows
        ],
        update_conflicts=True,
        unique_fields=["order", "external_id"],
        update_fields=list(LINE_FIELDS[2:]),
    )


def _write_orders_by_copy(
    order_rows: list[tuple], line_rows: list[tuple], *, source: str, now: datetime
) -> None:
    """The same upserts on PostgreSQL, without a model instance per row: COPY the rows
    into a temporary table, then INSERT ... SELECT ... ON CONFLICT DO UPDATE."""
    with connection.cursor() as cursor:
        order_ids = dict(
            _copy_upsert(
                cursor,
                Order,
                ORDER_FIELDS,
                order_rows,
                constants={"source": source, "created_at": now, "updated_at": now},
                unique=("source", "external_id"),
                update=(*ORDER_FIELDS[1:], "updated_at"),
                returning=("external_id", "id"),
            )
        )
        _copy_upsert(
            cursor,
            OrderLine,
            LINE_FIELDS,
            [(order_ids[order], *rest) for order, *rest in line_rows],
            constants={},
            unique=("order", "external_id"),
            update=LINE_FIELDS[2:],
        )


def _copy_upsert(
    cursor,
    model,
    fields: Sequence[str],
    rows: list[tuple],
    *,
    constants: dict[str, object],
    unique: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str] = (),
) -> list[tuple]:
    if not rows:
        return []
    quote = connection.ops.quote_name
    meta = model._meta

    def columns(names: Sequence[str]) -> str:
        return ", ".join(quote(meta.get_field(name).column) for name in names)

    # Table and column names come from the model, never from the file.
    table = quote(meta.db_table)
    temporary = f"pg_temp.{quote('import_' + meta.db_table)}"
    cursor.execute(f"DROP TABLE IF EXISTS {temporary}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {quote('import_' + meta.db_table)} ON COMMIT DROP "  # noqa: S608
        f"AS SELECT {columns(fields)} FROM {table} WITH NO DATA"
    )
    with cursor.copy(f"COPY {temporary} ({columns(fields)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    placeholders = ", ".join(["%s"] * len(constants))
    assignments = ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (quote(meta.get_field(name).column) for name in update)
    )
    sql = (
        f"INSERT INTO {table} ({columns([*fields, *constants])}) "  # noqa: S608
        f"SELECT {columns(fields)}{', ' if constants else ''}{placeholders} "
        f"FROM {temporary} ON CONFLICT ({columns(unique)}) DO UPDATE SET {assignments}"
    )
    if returning:
        sql += f" RETURNING {columns(returning)}"
    cursor.execute(sql, list(constants.values()))
    return cursor.fetchall() if returning else []


class _BatchWriter:
    """Writes batches on its own thread and database connection, each batch in its
    own transaction, while the caller prepares the next: the database works while
    Python does. At most `depth` batches wait in the queue, so memory stays flat.

    The first error stops the writing (the batches after it are dropped unwritten)
    and is raised again by `close()`; batches written before it stay written.
    """

    _DONE = object()

    def __init__(self, apply: Callable[[list[_PendingOrder]], None], depth: int = 1):
        self._apply = apply
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="import-writer")
        self._thread.start()

    def _run(self) -> None:
        try:
            while (batch := self._queue.get()) is not self._DONE:
                if self.error is None:
                    try:
                        self._apply(batch)
                    except BaseException as error:  # noqa: BLE001 (raised in close())
                        self.error = error
        finally:
            connections.close_all()  # this thread's own connection

    def write(self, batch: list[_PendingOrder]) -> bool:
        """Queue the batch (waiting while the queue is full); False once writing
        has failed, and the batch is dropped."""
        if self.error is not None:
            return False
        self._queue.put(batch)
        return True

    def close(self) -> None:
        """Wait for the queued batches; raise the error that stopped the writing."""
        self._queue.put(self._DONE)
        self._thread.join()
        if self.error is not None:
            raise self.error


def _orders(rows: Iterator[list], invalid_orders: set[str]) -> Iterator[_PendingOrder]:
    """The file's valid orders, converted; the rows of invalid ones are skipped."""
    current: _PendingOrder | None = None
    for values in rows:
        if not values:
            continue
        order_id = values[0]
        if len(values) == 1 or not order_id or order_id in invalid_orders:
            continue
        if current is None or order_id != current.external_id:
            if current is not None:
                yield current
            current = _PendingOrder(order_id, _parse_order(values[1:10])[0], [])
        current.lines.append(_parse_line(values[10:])[0])
    if current is not None:
        yield current


def _batches(
    orders: Iterator[_PendingOrder], batch_size: int
) -> Iterator[tuple[list[_PendingOrder], int]]:
    """Orders in batches of at least `batch_size` lines (the last may have fewer; an
    order is never split), each with its number of lines."""
    batch: list[_PendingOrder] = []
    lines = 0
    for order in orders:
        batch.append(order)
        lines += len(order.lines)
        if lines >= batch_size:
            yield batch, lines
            batch, lines = [], 0
    if batch:
        yield batch, lines


def _upsert(
    rows: Iterator[list],
    *,
    invalid_orders: set[str],
    source: str,
    dry_run: bool,
    batch_size: int,
    report: ImportReport,
    total_rows: int,
    progress: Progress | None,
) -> None:
    """Write the valid orders in batches, each in one transaction. Outside a
    transaction a writer thread applies them while this one parses the next; inside
    one (the caller's, or a test's) they are applied in line, on the caller's
    connection, so that they see what it sees and roll back with it."""
    state = _DryRunState()
    stage = "Checking" if dry_run else "Importing"

    def apply(batch: list[_PendingOrder]) -> None:
        with transaction.atomic():
            _upsert_batch(
                batch, source=source, dry_run=dry_run, report=report, state=state
            )
        reset_queries()  # DEBUG=True would keep every batch's SQL

    writer = None if connection.in_atomic_block else _BatchWriter(apply)
    imported_rows = 0
    try:
        for batch, lines in _batches(_orders(rows, invalid_orders), batch_size):
            if writer is None:
                apply(batch)
            elif not writer.write(batch):
                break
            imported_rows += lines
            if progress:
                progress(stage, lines, total_rows)
    finally:
        if writer is not None:
            writer.close()
    report.rows_skipped = total_rows - imported_rows


def import_orders_csv(
    *,
    path: str | Path | None = None,
    file: IO[str] | None = None,
    source: str = OrderSource.SHOP,
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import order history from a CSV file (a path, or a seekable text file).

    Raises ImportFileInvalid, having written nothing, when the header is wrong or,
    unless `skip_invalid`, when any row is invalid. With `skip_invalid` an order with
    one invalid row is skipped whole (its other rows too); the report lists the errors.
    """
    if (path is None) == (file is None):
        raise TypeError("Pass either path or file.")
    if source not in OrderSource.values:
        raise ValueError(f"Unknown source {source!r}.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    if file is not None and not file.seekable():
        raise TypeError("The file must be seekable: it is read twice.")

    with _rows(path, file) as rows:
        validation = _validate(rows, progress)
    report = ImportReport(
        dry_run=dry_run,
        rows=validation.rows,
        errors=validation.errors,
        error_count=validation.error_count,
        orders_skipped=len(validation.invalid_orders),
    )
    if validation.error_count and not skip_invalid:
        raise ImportFileInvalid(
            f"{validation.error_count} error(s) in the file; nothing was imported.",
            validation.errors,
            validation.error_count,
        )
    with _rows(path, file) as rows:
        _upsert(
            rows,
            invalid_orders=validation.invalid_orders,
            source=source,
            dry_run=dry_run,
            batch_size=batch_size,
            report=report,
            total_rows=validation.rows,
            progress=progress,
        )
    return report
