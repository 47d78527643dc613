"""Reads for the insights admin and API: every figure is one SQL aggregate.

Conventions (see also insights/models.py):
- A date range `start`..`end` (both inclusive, in the shop's time zone) selects
  delivered orders by the day they were placed. Returns are attributed to the order
  line they return (a cohort), so a rate is never above 1.
- Units = units of delivered orders; returned units = units of their return lines
  whose request is not rejected or cancelled (capped at the line's quantity).
- Rates by value use the order line's unit price.
- A line's reason is the inspector's confirmed reason when present, else the stated.
- Return costs (shipping, handling, refunds, value recovered) are counted in the month
  the return was filed; the other monthly figures in the month the order was placed.

Every function runs a fixed number of queries whatever the data size.

The SQL runs on PostgreSQL (production, CI) and SQLite 3.3x (the one-command demo):
no casts with `::`, no arrays, no date arithmetic in SQL (bounds are computed in Python
and bound as parameters, adapted by `connection.ops` as the ORM does), divisions
multiply by 1.0 first (SQLite divides integers as integers), and optional filters are
left out of the text rather than written as `%(x)s IS NULL OR ...`. The few vendor
fragments (LEAST/GREATEST vs scalar MIN/MAX, a bound list of ids, the month of a
timestamp in the shop's time zone) are chosen by `connection.vendor`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from insights.models import CustomerInsight, InsightsSettings, Override, Persona
from returns.models import FixArea, ReturnReason, ReturnStatus
from shop.models import Category, Customer, Product

ZERO = Decimal("0.00")
VOID = (ReturnStatus.REJECTED.value, ReturnStatus.CANCELLED.value)
QUOTES_PER_PRODUCT = 5
REASONS_PER_PRODUCT = 3


# Rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    units: int
    returned_units: int
    unit_rate: Decimal
    value: Decimal
    returned_value: Decimal
    value_rate: Decimal
    controllable_units: int
    uncontrollable_units: int


@dataclass(frozen=True)
class MonthRow:
    month: dt.date  # first day of the month
    units: int
    returned_units: int
    unit_rate: Decimal
    value_rate: Decimal
    shipping_cost: Decimal
    handling_cost: Decimal
    refunds: Decimal
    value_recovered: Decimal


@dataclass(frozen=True)
class AreaRow:
    area: str
    label: str
    units: int


@dataclass(frozen=True)
class ReasonRow:
    code: str
    label: str
    controllable: bool
    units: int
    share: Decimal  # of all returned units in the range


@dataclass(frozen=True)
class ProductRow:
    product: Product
    sku: str
    name: str
    category: str
    units: int
    returned_units: int
    return_rate: Decimal
    controllable_units: int
    controllable_return_rate: Decimal
    category_controllable_rate: Decimal
    category_return_rate: Decimal
    wilson_lower: Decimal
    excess: Decimal  # controllable rate above the category's
    money_lost: Decimal  # controllable returned value not recovered
    priority: Decimal  # money a fix would save: excess × units × loss per unit
    fix_area: str
    fix_area_label: str
    top_reasons: list[ReasonRow] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    latest_fix: object | None = None  # ProductFix
    rate_before_fix: Decimal | None = None
    rate_after_fix: Decimal | None = None


@dataclass(frozen=True)
class FixRow:
    fix: object  # ProductFix, with product selected
    units_before: int
    rate_before: Decimal | None
    units_after: int
    rate_after: Decimal | None


@dataclass(frozen=True)
class CentreRow:
    centre_id: int
    name: str
    code: str
    received_lines: int
    damaged_rate: Decimal
    wrong_item_rate: Decimal
    inspected_lines: int
    reason_mismatch_rate: Decimal


@dataclass(frozen=True)
class PersonaRow:
    persona: str
    label: str
    customers: int


# Helpers -------------------------------------------------------------------------------


def shop_tz() -> ZoneInfo:
    return ZoneInfo(settings.SHOP_TIME_ZONE)


def _bounds(start: dt.date | None, end: dt.date | None) -> tuple:
    tz = shop_tz()
    low = dt.datetime.combine(start, dt.time.min, tzinfo=tz) if start else None
    high = (
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        if end
        else None
    )
    return low, high


def _dec(value) -> Decimal:
    """A number from the database as a Decimal (SQLite answers sums of money and
    rates as floats; through str() so 0.15 stays 0.15)."""
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _rate(part, whole, places: str = "0.0001") -> Decimal:
    if not whole:
        return Decimal("0").quantize(Decimal(places))
    return (_dec(part) / _dec(whole)).quantize(Decimal(places))


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def at(value: dt.datetime | None):
    """A datetime as a query parameter, adapted like the ORM does (SQLite stores naive
    UTC text, which compares in order with the stored values)."""
    return connection.ops.adapt_datetimefield_value(value)


def number(value: Decimal):
    """A Decimal setting as a query parameter (SQLite gets a float, not text)."""
    return value if connection.vendor == "postgresql" else float(value)


def least(a: str, b: str) -> str:
    """SQL: the smaller of two non-null values (LEAST on PostgreSQL, MIN on SQLite)."""
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def greatest(a: str, b: str) -> str:
    """SQL: the larger of two non-null values."""
    if connection.vendor == "postgresql":
        return f"GREATEST({a}, {b})"
    return f"MAX({a}, {b})"


def in_ids(column: str, name: str) -> str:
    """SQL: `column` is one of the ids bound as `name` (see `ids_param`)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%({name})s)"
    return f"{column} IN (SELECT value FROM json_each(%({name})s))"  # noqa: S608


def ids_param(ids) -> list[int] | str:
    """A list of ids as a parameter for `in_ids` (an array, or JSON for SQLite)."""
    ids = [int(i) for i in ids]
    return ids if connection.vendor == "postgresql" else json.dumps(ids)


def _local_month(column: str) -> str:
    """SQL: the month (in the shop's time zone, bound as %(tz)s) of a timestamp, as a
    date on PostgreSQL and as 'YYYY-MM-01 00:00:00' text on SQLite (Django's own
    SQLite function, which the ORM's TruncMonth uses too)."""
    if connection.vendor == "postgresql":
        return f"date_trunc('month', {column} AT TIME ZONE %(tz)s)::date"
    return f"django_datetime_trunc('month', {column}, %(tz)s, %(db_tz)s)"


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


# Return lines that count, with their effective reason, as a reusable SQL fragment.
COUNTED_RETURNS = f"""
    SELECT rl.order_line_id, rl.quantity, rl.value_recovered, rl.comment,
           rl.prevention, r.created_at,
           COALESCE(rl.confirmed_reason_id, rl.reason_id) AS reason_id
    FROM returns_returnline rl
    JOIN returns_returnrequest r ON r.id = rl.request_id
    WHERE r.status NOT IN ('{VOID[0]}', '{VOID[1]}')
"""  # noqa: S608 (constants only; values are bound)


def _line_filters(params: dict) -> str:
    """SQL: the filters of `_lines` and `_return_lines` that `params` sets (placed in
    low..high, one category, some products); the others are left out."""
    conditions = ["o.delivered_at IS NOT NULL"]
    if params.get("low") is not None:
        conditions.append("o.placed_at >= %(low)s")
    if params.get("high") is not None:
        conditions.append("o.placed_at < %(high)s")
    if params.get("category") is not None:
        conditions.append("p.category_id = %(category)s")
    if params.get("products") is not None:
        conditions.append(in_ids("ol.product_id", "products"))
    return " AND ".join(conditions)


def _lines(params: dict) -> str:
    """SQL: delivered order lines in the range (optionally one category or some
    products) with their counted returned units (capped at the line's quantity)
    split by controllable."""
    return f"""
    WITH ret AS (
        SELECT c.order_line_id,
               SUM(c.quantity) AS q,
               SUM(c.quantity) FILTER (WHERE rr.controllable) AS qc,
               SUM(c.value_recovered) FILTER (WHERE rr.controllable) AS rec_c
        FROM ({COUNTED_RETURNS}) c
        JOIN returns_returnreason rr ON rr.id = c.reason_id
        GROUP BY c.order_line_id
    )
    SELECT ol.id, ol.order_id, ol.product_id, p.category_id, o.placed_at,
           ol.quantity AS units, ol.unit_price,
           {least("COALESCE(ret.q, 0)", "ol.quantity")} AS returned,
           {least("COALESCE(ret.qc, 0)", "ol.quantity")} AS controllable,
           COALESCE(ret.rec_c, 0) AS recovered_c
    FROM shop_orderline ol
    JOIN shop_order o ON o.id = ol.order_id
    JOIN shop_product p ON p.id = ol.product_id
    LEFT JOIN ret ON ret.order_line_id = ol.id
    WHERE {_line_filters(params)}
    """  # noqa: S608 (constants only; values are bound)


def _return_lines(params: dict) -> str:
    """SQL: counted return lines of delivered orders in the range (the same filters
    as `_lines`), with their product, effective reason and units (capped at the
    line's quantity)."""
    return f"""
    SELECT ol.product_id, {least("rl.quantity", "ol.quantity")} AS units,
           COALESCE(rl.confirmed_reason_id, rl.reason_id) AS reason_id,
           rl.comment, rl.prevention, r.created_at
    FROM returns_returnline rl
    JOIN returns_returnrequest r ON r.id = rl.request_id
    JOIN shop_orderline ol ON ol.id = rl.order_line_id
    JOIN shop_order o ON o.id = ol.order_id
    JOIN shop_product p ON p.id = ol.product_id
    WHERE r.status NOT IN ('{VOID[0]}', '{VOID[1]}') AND {_line_filters(params)}
    """  # noqa: S608 (constants only; values are bound)


def _params(start, end, category) -> dict:
    low, high = _bounds(start, end)
    category_id = category.pk if isinstance(category, Category) else category
    return {"low": at(low), "high": at(high), "category": category_id, "products": None}


# Dashboard -----------------------------------------------------------------------------


def overview(
    *, start: dt.date, end: dt.date, category: Category | int | None = None
) -> Overview:
    """Units, returned units and value, their rates, and the controllable split."""
    params = _params(start, end, category)
    sql = f"""
        SELECT COALESCE(SUM(units), 0), COALESCE(SUM(returned), 0),
               COALESCE(SUM(units * unit_price), 0),
               COALESCE(SUM(returned * unit_price), 0),
               COALESCE(SUM(controllable), 0)
        FROM ({_lines(params)}) l
    """  # noqa: S608 (constants only; values are bound)
    units, returned, value, returned_value, controllable = _fetch(sql, params)[0]
    return Overview(
        units=units,
        returned_units=returned,
        unit_rate=_rate(returned, units),
        value=_dec(value).quantize(ZERO),
        returned_value=_dec(returned_value).quantize(ZERO),
        value_rate=_rate(returned_value, value),
        controllable_units=controllable,
        uncontrollable_units=returned - controllable,
    )


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months from `start`'s to `end`'s."""
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def monthly(
    *, start: dt.date, end: dt.date, category: Category | int | None = None
) -> list[MonthRow]:
    """One row per month in the range (months without data included, as zeros)."""
    params = _params(start, end, category) | {
        "tz": settings.SHOP_TIME_ZONE,
        "db_tz": connection.timezone_name,
    }
    in_category = (
        """AND EXISTS (
                  SELECT 1 FROM returns_returnline rl
                  JOIN shop_orderline ol ON ol.id = rl.order_line_id
                  JOIN shop_product p ON p.id = ol.product_id
                  WHERE rl.request_id = r.id AND p.category_id = %(category)s)"""
        if params["category"] is not None
        else ""
    )
    sql = f"""
        WITH sold AS (
            SELECT {_local_month("placed_at")} AS month,
                   SUM(units) AS units, SUM(returned) AS returned,
                   SUM(units * unit_price) AS value,
                   SUM(returned * unit_price) AS returned_value
            FROM ({_lines(params)}) l
            GROUP BY 1
        ),
        costs AS (
            SELECT {_local_month("r.created_at")} AS month,
                   SUM(r.shipping_cost) AS shipping, SUM(r.handling_cost) AS handling,
                   SUM(r.refund_total) AS refunds,
                   SUM(r.value_recovered) AS recovered
            FROM returns_returnrequest r
            WHERE r.status NOT IN ('{VOID[0]}', '{VOID[1]}')
              AND r.created_at >= %(low)s AND r.created_at < %(high)s
              {in_category}
            GROUP BY 1
        ),
        months AS (SELECT month FROM sold UNION SELECT month FROM costs)
        SELECT m.month, COALESCE(s.units, 0), COALESCE(s.returned, 0),
               COALESCE(s.value, 0), COALESCE(s.returned_value, 0),
               COALESCE(c.shipping, 0), COALESCE(c.handling, 0),
               COALESCE(c.refunds, 0), COALESCE(c.recovered, 0)
        FROM months m
        LEFT JOIN sold s ON s.month = m.month
        LEFT JOIN costs c ON c.month = m.month
    """  # noqa: S608 (constants only; values are bound)
    found = {_as_date(row[0]): row[1:] for row in _fetch(sql, params)}
    zeros = (0, 0, 0, 0, 0, 0, 0, 0)
    rows = []
    # One row per month of the range (a handful), not per order line.
    for month in _months(start, end):
        units, returned, value, returned_value, shipping, handling, refunds, back = (
            found.get(month, zeros)
        )
        rows.append(
            MonthRow(
                month=month,
                units=units,
                returned_units=returned,
                unit_rate=_rate(returned, units),
                value_rate=_rate(returned_value, value),
                shipping_cost=_dec(shipping).quantize(ZERO),
                handling_cost=_dec(handling).quantize(ZERO),
                refunds=_dec(refunds).quantize(ZERO),
                value_recovered=_dec(back).quantize(ZERO),
            )
        )
    return rows


def _reason_units_sql(params: dict) -> str:
    return f"""
        SELECT reason_id, SUM(units) AS units
        FROM ({_return_lines(params)}) c
        GROUP BY reason_id
    """  # noqa: S608 (constants only; values are bound)


def fix_area_split(
    *, start: dt.date, end: dt.date, category: Category | int | None = None
) -> list[AreaRow]:
    """Returned units per fix area (every area listed, largest first)."""
    params = _params(start, end, category)
    sql = f"""
        SELECT rr.fix_area, SUM(u.units)
        FROM ({_reason_units_sql(params)}) u
        JOIN returns_returnreason rr ON rr.id = u.reason_id
        GROUP BY rr.fix_area
    """  # noqa: S608 (constants only; values are bound)
    units = dict(_fetch(sql, params))
    rows = [
        AreaRow(area=area.value, label=str(area.label), units=int(units.get(area, 0)))
        for area in FixArea
    ]
    return sorted(rows, key=lambda row: -row.units)


def top_reasons(
    *,
    start: dt.date,
    end: dt.date,
    category: Category | int | None = None,
    limit: int = 10,
) -> list[ReasonRow]:
    """The reasons with the most returned units, with their share of all of them."""
    params = _params(start, end, category) | {"limit": limit}
    sql = f"""
        SELECT u.reason_id, u.units, SUM(u.units) OVER () AS total
        FROM ({_reason_units_sql(params)}) u
        ORDER BY u.units DESC, u.reason_id
        LIMIT %(limit)s
    """  # noqa: S608 (constants only; values are bound)
    rows = _fetch(sql, params)
    reasons = ReturnReason.objects.in_bulk([row[0] for row in rows])
    return [
        ReasonRow(
            code=reasons[reason_id].code,
            label=reasons[reason_id].label,
            controllable=reasons[reason_id].controllable,
            units=int(units),
            share=_rate(units, total),
        )
        for reason_id, units, total in rows
    ]


# Products to fix -----------------------------------------------------------------------


def _wilson_sql(successes: str, n: str) -> str:
    """Lower bound of the Wilson score interval for successes / n at z = %(z)s."""
    p = f"({successes} * 1.0 / {n})"
    return f"""(
        ({p} + %(z)s * %(z)s / (2 * {n})
         - %(z)s * sqrt({p} * (1 - {p}) / {n} + %(z)s * %(z)s / (4.0 * {n} * {n})))
        / (1 + %(z)s * %(z)s / {n})
    )"""


def products_to_fix(
    *,
    start: dt.date | None,
    end: dt.date | None,
    category: Category | int | None = None,
    min_units: int | None = None,
    limit: int | None = None,
) -> list[ProductRow]:
    """Products whose controllable return rate is clearly above their category's:
    at least `min_units` units (default InsightsSettings.product_min_units) and the
    Wilson lower bound of their controllable rate above the category's controllable
    rate (all products of the category in the range, the product included; products
    without a category form one group). Ranked by priority (see ProductRow)."""
    config = InsightsSettings.load()
    min_units = config.product_min_units if min_units is None else min_units
    params = _params(start, end, category) | {
        "z": number(config.wilson_z),
        "min_units": max(int(min_units), 1),
        "limit": limit,
    }
    sql = f"""
        WITH per_product AS (
            SELECT product_id, category_id, SUM(units) AS units,
                   SUM(returned) AS returned, SUM(controllable) AS controllable,
                   SUM(controllable * unit_price) - SUM(recovered_c) AS lost
            FROM ({_lines(params)}) l
            GROUP BY product_id, category_id
        ),
        ranked AS (
            SELECT *,
                   SUM(controllable) OVER w * 1.0 / SUM(units) OVER w AS cat_c,
                   SUM(returned) OVER w * 1.0 / SUM(units) OVER w AS cat_r
            FROM per_product
            WINDOW w AS (PARTITION BY category_id)
        ),
        flagged AS (
            SELECT *, {_wilson_sql("controllable", "units")} AS wilson,
                   controllable * 1.0 / units - cat_c AS excess
            FROM ranked
            WHERE units >= %(min_units)s AND controllable > 0
        )
        SELECT product_id, units, returned, controllable, cat_c, cat_r, wilson,
               excess, {greatest("lost", "0")} AS lost,
               excess * units * {greatest("lost", "0")} / controllable AS priority
        FROM flagged
        WHERE wilson > cat_c
        ORDER BY priority DESC, product_id
        {"LIMIT %(limit)s" if limit is not None else ""}
    """  # noqa: S608 (constants only; values are bound)
    rows = _fetch(sql, params)
    if not rows:
        return []
    ids = [row[0] for row in rows]
    products = Product.objects.select_related("category").in_bulk(ids)
    details = _product_details(ids, params)
    fixes = _latest_fixes(ids)
    result = []
    for pid, units, returned, ctrl, cat_c, cat_r, wilson, excess, lost, prio in rows:
        product = products[pid]
        reasons, quotes = details.get(pid, ([], []))
        fix = fixes.get(pid)
        area = _main_area(reasons)
        result.append(
            ProductRow(
                product=product,
                sku=product.sku,
                name=product.name,
                category=product.category.name if product.category else "",
                units=units,
                returned_units=returned,
                return_rate=_rate(returned, units),
                controllable_units=ctrl,
                controllable_return_rate=_rate(ctrl, units),
                category_controllable_rate=_dec(cat_c).quantize(Decimal("0.0001")),
                category_return_rate=_dec(cat_r).quantize(Decimal("0.0001")),
                wilson_lower=_dec(wilson).quantize(Decimal("0.0001")),
                excess=_dec(excess).quantize(Decimal("0.0001")),
                money_lost=_dec(lost).quantize(ZERO),
                priority=_dec(prio).quantize(ZERO),
                fix_area=area,
                fix_area_label=str(FixArea(area).label),
                top_reasons=[r.row for r in reasons][:REASONS_PER_PRODUCT],
                quotes=quotes,
                latest_fix=fix[0] if fix else None,
                rate_before_fix=fix[1] if fix else None,
                rate_after_fix=fix[2] if fix else None,
            )
        )
    return result


@dataclass(frozen=True)
class _ProductReason:
    area: str
    controllable: bool
    row: ReasonRow


def _product_details(ids: list[int], params: dict) -> dict:
    """Top reasons (with the controllable ones' fix area) and customers' quotes for
    the given products, in two queries."""
    params = params | {"products": ids_param(ids)}
    reason_sql = f"""
        SELECT product_id, reason_id, SUM(units) AS units,
               SUM(SUM(units)) OVER (PARTITION BY product_id) AS total
        FROM ({_return_lines(params)}) c
        GROUP BY product_id, reason_id
        ORDER BY product_id, units DESC, reason_id
    """  # noqa: S608 (constants only; values are bound)
    quote_sql = f"""
        SELECT product_id, text FROM (
            SELECT product_id, text,
                   row_number() OVER (
                       PARTITION BY product_id ORDER BY MAX(created_at) DESC, text
                   ) AS n
            FROM (
                SELECT product_id, created_at,
                       COALESCE(comment || ' — ' || prevention, comment, prevention)
                           AS text
                FROM (
                    SELECT product_id, created_at,
                           NULLIF(TRIM(comment), '') AS comment,
                           NULLIF(TRIM(prevention), '') AS prevention
                    FROM ({_return_lines(params)}) c
                ) trimmed
                WHERE comment IS NOT NULL OR prevention IS NOT NULL
            ) said
            GROUP BY product_id, text
        ) q
        WHERE n <= {QUOTES_PER_PRODUCT}
        ORDER BY product_id, n
    """  # noqa: S608 (constants only; values are bound)
    reason_rows = _fetch(reason_sql, params)
    reasons = ReturnReason.objects.in_bulk({row[1] for row in reason_rows})
    details: dict[int, tuple[list, list]] = {}
    for product_id, reason_id, units, total in reason_rows:
        reason = reasons[reason_id]
        details.setdefault(product_id, ([], []))[0].append(
            _ProductReason(
                area=reason.fix_area,
                controllable=reason.controllable,
                row=ReasonRow(
                    code=reason.code,
                    label=reason.label,
                    controllable=reason.controllable,
                    units=int(units),
                    share=_rate(units, total),
                ),
            )
        )
    for product_id, text in _fetch(quote_sql, params):
        details.setdefault(product_id, ([], []))[1].append(text)
    return details


def _main_area(reasons: list[_ProductReason]) -> str:
    """The fix area of the controllable reasons with the most returned units."""
    by_area: dict[str, int] = {}
    for reason in reasons:
        if reason.controllable:
            by_area[reason.area] = by_area.get(reason.area, 0) + reason.row.units
    if not by_area:
        return FixArea.NONE
    return min(by_area, key=lambda area: (-by_area[area], area))


def _fix_rates_sql(params: dict, count: int) -> str:
    """Controllable return rate of each fix's product before and after its date
    (orders placed before / on or after the start of `fixed_on` in the shop's time
    zone, computed in Python and bound as %(at<i>)s; all time)."""
    fixes = ", ".join(f"(%(fix{i})s, %(product{i})s, %(at{i})s)" for i in range(count))
    return f"""
        WITH f (id, product_id, fixed_at) AS (VALUES {fixes})
        SELECT f.id,
               COALESCE(SUM(l.units) FILTER (WHERE l.placed_at < f.fixed_at), 0),
               SUM(l.controllable) FILTER (WHERE l.placed_at < f.fixed_at) * 1.0
                   / NULLIF(SUM(l.units) FILTER (WHERE l.placed_at < f.fixed_at), 0),
               COALESCE(SUM(l.units) FILTER (WHERE l.placed_at >= f.fixed_at), 0),
               SUM(l.controllable) FILTER (WHERE l.placed_at >= f.fixed_at) * 1.0
                   / NULLIF(SUM(l.units) FILTER (WHERE l.placed_at >= f.fixed_at), 0)
        FROM f
        LEFT JOIN ({_lines(params)}) l ON l.product_id = f.product_id
        GROUP BY f.id
    """  # noqa: S608 (constants only; values are bound)


def _fix_rates(fixes: list) -> dict[int, tuple]:
    if not fixes:
        return {}
    params = _params(None, None, None) | {
        "products": ids_param(sorted({fix.product_id for fix in fixes}))
    }
    tz = shop_tz()
    for i, fix in enumerate(fixes):
        params[f"fix{i}"] = fix.pk
        params[f"product{i}"] = fix.product_id
        params[f"at{i}"] = at(dt.datetime.combine(fix.fixed_on, dt.time.min, tzinfo=tz))

    def q(value):
        return None if value is None else _dec(value).quantize(Decimal("0.0001"))

    return {
        fix_id: (before_units, q(before), after_units, q(after))
        for fix_id, before_units, before, after_units, after in _fetch(
            _fix_rates_sql(params, len(fixes)), params
        )
    }


def _latest_fixes(product_ids: list[int]) -> dict[int, tuple]:
    from insights.models import ProductFix

    fixes = list(
        ProductFix.objects.filter(product_id__in=product_ids)
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=F("product_id"),
                order_by=[F("fixed_on").desc(), F("pk").desc()],
            )
        )
        .filter(newest=1)
        .order_by("product_id")
    )
    rates = _fix_rates(fixes)
    return {fix.product_id: (fix, rates[fix.pk][1], rates[fix.pk][3]) for fix in fixes}


def product_fixes(*, limit: int = 100) -> list[FixRow]:
    """The latest fixes with their product's controllable return rate before and
    after the fix date (newest first), in two queries."""
    from insights.models import ProductFix

    fixes = list(ProductFix.objects.select_related("product", "by")[:limit])
    rates = _fix_rates(fixes)
    return [
        FixRow(
            fix=fix,
            units_before=rates[fix.pk][0],
            rate_before=rates[fix.pk][1],
            units_after=rates[fix.pk][2],
            rate_after=rates[fix.pk][3],
        )
        for fix in fixes
    ]


# Centres -------------------------------------------------------------------------------


def centre_quality(*, start: dt.date, end: dt.date) -> list[CentreRow]:
    """Per centre, for returns filed in the range: lines received (a condition was
    recorded), the share received damaged, the share whose reason (confirmed when
    present) is a fulfilment error (wrong item), and among inspected lines (with a
    confirmed reason) how often it differs from the customer's stated one."""
    low, high = _bounds(start, end)
    sql = f"""
        SELECT fc.id, fc.name, fc.code,
               COUNT(rl.id) FILTER (WHERE rl.condition <> ''),
               COUNT(rl.id) FILTER (WHERE rl.condition = 'damaged'),
               COUNT(rl.id) FILTER (WHERE rl.condition <> ''
                                    AND rr.fix_area = '{FixArea.FULFILMENT.value}'),
               COUNT(rl.id) FILTER (WHERE rl.confirmed_reason_id IS NOT NULL),
               COUNT(rl.id) FILTER (WHERE rl.confirmed_reason_id IS NOT NULL
                                    AND rl.confirmed_reason_id <> rl.reason_id)
        FROM returns_fulfilmentcentre fc
        LEFT JOIN returns_returnrequest r
               ON r.centre_id = fc.id
              AND r.status NOT IN ('{VOID[0]}', '{VOID[1]}')
              AND r.created_at >= %(low)s AND r.created_at < %(high)s
        LEFT JOIN returns_returnline rl ON rl.request_id = r.id
        LEFT JOIN returns_returnreason rr
               ON rr.id = COALESCE(rl.confirmed_reason_id, rl.reason_id)
        GROUP BY fc.id, fc.name, fc.code
        ORDER BY fc.name, fc.id
    """  # noqa: S608 (constants only; values are bound)
    return [
        CentreRow(
            centre_id=centre_id,
            name=name,
            code=code,
            received_lines=received,
            damaged_rate=_rate(damaged, received),
            wrong_item_rate=_rate(wrong, received),
            inspected_lines=inspected,
            reason_mismatch_rate=_rate(mismatch, inspected),
        )
        for centre_id, name, code, received, damaged, wrong, inspected, mismatch in (
            _fetch(sql, {"low": at(low), "high": at(high)})
        )
    ]


# Customers -----------------------------------------------------------------------------


def serial_returners() -> QuerySet[CustomerInsight]:
    """Customers treated as serial returners: flagged by the rule or overridden to
    always, and not overridden to never; highest return rate first."""
    return (
        CustomerInsight.objects.filter(persona=Persona.SERIAL_RETURNER)
        .select_related("customer")
        .order_by("-return_rate", "-returned_units", "customer_id")
    )


def serial_returner_candidates() -> QuerySet[CustomerInsight]:
    """Everyone the rule flags or an override mentions (for the admin listing)."""
    return (
        CustomerInsight.objects.exclude(computed_serial=False, override="")
        .select_related("customer", "override_by")
        .order_by("-return_rate", "-returned_units", "customer_id")
    )


def persona_distribution() -> list[PersonaRow]:
    """Customers per persona, every persona listed (customers never computed count
    as new)."""
    counts = dict(
        _fetch(
            """
            SELECT COALESCE(ci.persona, %(new)s), COUNT(*)
            FROM shop_customer c
            LEFT JOIN insights_customerinsight ci ON ci.customer_id = c.id
            GROUP BY 1
            """,
            {"new": Persona.NEW.value},
        )
    )
    return [
        PersonaRow(persona=p.value, label=str(p.label), customers=counts.get(p, 0))
        for p in Persona
    ]


def customer_ids_in_persona(persona: str) -> QuerySet:
    """Ids of the customers in a persona, as a subquery-ready values queryset (for
    campaign audiences: `Customer.objects.filter(pk__in=...)`)."""
    if persona == Persona.NEW:
        return Customer.objects.exclude(
            insight__persona__in=[p for p in Persona.values if p != Persona.NEW]
        ).values("pk")
    return CustomerInsight.objects.filter(persona=persona).values("customer_id")


def is_serial_returner(customer: Customer | int) -> bool:
    """The stored flag with its override (one query)."""
    customer_id = customer.pk if isinstance(customer, Customer) else customer
    row = (
        CustomerInsight.objects.filter(customer_id=customer_id)
        .values_list("computed_serial", "override")
        .first()
    )
    if row is None:
        return False
    computed, override = row
    if override == Override.ALWAYS:
        return True
    return override != Override.NEVER and computed
