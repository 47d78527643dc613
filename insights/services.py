"""Writes of the insights app: recomputing the customers' figures, flags and personas
(one SQL upsert), overriding the serial-returner flag, and recording a product fix.

The definitions are in insights/models.py. `compute_insights` never loops over rows in
Python: one aggregate (into a temporary table, so PostgreSQL may run it in parallel)
computes every customer's window figures, lifetime orders and brackets, and one
INSERT ... ON CONFLICT DO UPDATE derives the flag, `flagged_since` and persona and
writes only the rows that change. bench/insights.py times it on a million order lines.
The SQL runs on PostgreSQL and on SQLite (the demo); see insights/queries.py for the
conventions that keep it portable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from insights.models import (
    CustomerInsight,
    InsightsSettings,
    Override,
    Persona,
    ProductFix,
)
from insights.queries import VOID, at, ids_param, in_ids, least, number
from returns.models import FixArea
from shop.models import Customer, Product


class InsightsError(Exception):
    default_message = gettext_lazy("This cannot be done.")

    def __init__(self, message=None, *, field: str = ""):
        self.message = str(message or self.default_message)
        self.field = field
        super().__init__(self.message)


@dataclass(frozen=True)
class ComputeReport:
    customers: int  # customers computed
    changed: int  # of which the row was written (new, or figures/flag/persona changed)
    serial_returners: int  # customers treated as serial returners after the run
    computed_at: dt.datetime


def _is_serial_sql(stats: str, override: str) -> str:
    """SQL: the customer counts as a serial returner (the override decides)."""
    return (
        f"({override} = '{Override.ALWAYS}' "
        f"OR ({override} = '' AND {stats}computed_serial))"
    )


def _persona_sql(stats: str, serial: str) -> str:
    """SQL: the persona from a row's figures (first match wins; see models.py)."""
    return f"""CASE
        WHEN {serial} THEN '{Persona.SERIAL_RETURNER}'
        WHEN {stats}lifetime_orders = 0 OR {stats}first_delivered_at >= %(new_since)s
            THEN '{Persona.NEW}'
        WHEN {stats}brackets > 0 THEN '{Persona.BRACKETER}'
        WHEN {stats}lifetime_orders = 1 THEN '{Persona.ONE_TIME}'
        ELSE '{Persona.LOYAL_KEEPER}'
    END"""


def _flagged_since_sql(serial: str, previous: str) -> str:
    return f"CASE WHEN {serial} THEN COALESCE({previous}, %(now)s) ELSE NULL END"


def _stats_sql(ids: list[int] | None) -> str:
    """SQL: per customer (all of them, or those bound as %(ids)s), delivered orders
    and their lines in the window, each line's counted returned units (capped at its
    quantity), brackets, lifetime figures. Customers without orders get zeros."""

    def only(column: str) -> str:
        return "" if ids is None else f"AND {in_ids(column, 'ids')}"

    returned = least("COALESCE(ret.q, 0)", "ol.quantity")
    return f"""
    WITH returned AS (
        SELECT rl.order_line_id, SUM(rl.quantity) AS q
        FROM returns_returnline rl
        JOIN returns_returnrequest r ON r.id = rl.request_id
        WHERE r.status NOT IN ('{VOID[0]}', '{VOID[1]}') {only("r.customer_id")}
        GROUP BY rl.order_line_id
    ),
    -- Delivered orders: all time and in the window, in one pass.
    orders AS (
        SELECT customer_id, COUNT(*) AS lifetime, MIN(delivered_at) AS first_at,
               COUNT(*) FILTER (WHERE delivered_at >= %(since)s) AS orders
        FROM shop_order
        WHERE delivered_at IS NOT NULL {only("customer_id")}
        GROUP BY customer_id
    ),
    -- Units and value of the window's lines, returned units capped at each line's
    -- quantity.
    units AS (
        SELECT o.customer_id,
               SUM(ol.quantity) AS units,
               SUM({returned}) AS ret,
               SUM(ol.quantity * ol.unit_price) AS value,
               SUM({returned} * ol.unit_price) AS ret_value
        FROM shop_order o
        JOIN shop_orderline ol ON ol.order_id = o.id
        LEFT JOIN returned ret ON ret.order_line_id = ol.id
        WHERE o.delivered_at >= %(since)s {only("o.customer_id")}
        GROUP BY o.customer_id
    ),
    -- Brackets: within an order in the window, a group of units of one category
    -- (or, without a category, one product) of 2 or more of which all but one came
    -- back. Only orders with a counted return can hold one.
    brackets AS (
        SELECT customer_id, COUNT(*) AS n FROM (
            SELECT o.customer_id
            FROM shop_order o
            JOIN shop_orderline ol ON ol.order_id = o.id
            JOIN shop_product p ON p.id = ol.product_id
            LEFT JOIN returned ret ON ret.order_line_id = ol.id
            WHERE o.delivered_at >= %(since)s
              AND o.id IN (
                  SELECT r.order_id FROM returns_returnrequest r
                  WHERE r.status NOT IN ('{VOID[0]}', '{VOID[1]}')
                    {only("r.customer_id")}
              )
            GROUP BY o.customer_id, o.id,
                     CASE WHEN p.category_id IS NULL THEN -ol.product_id
                          ELSE p.category_id END
            HAVING SUM(ol.quantity) >= 2
               AND SUM({returned}) = SUM(ol.quantity) - 1
        ) g
        GROUP BY customer_id
    )
    SELECT c.id AS customer_id,
           COALESCE(o.orders, 0) AS orders,
           COALESCE(u.units, 0) AS delivered_units,
           COALESCE(u.ret, 0) AS returned_units,
           COALESCE(ROUND(u.value, 2), 0) AS delivered_value,
           COALESCE(ROUND(u.ret_value, 2), 0) AS returned_value,
           COALESCE(ROUND(u.ret * 1.0 / NULLIF(u.units, 0), 4), 0) AS return_rate,
           COALESCE(ROUND(u.ret_value * 1.0 / NULLIF(u.value, 0), 4), 0)
               AS value_return_rate,
           COALESCE(o.lifetime, 0) AS lifetime_orders,
           o.first_at AS first_delivered_at,
           COALESCE(b.n, 0) AS brackets,
           COALESCE(o.orders >= %(min_orders)s
                    AND u.ret >= %(min_returned)s
                    AND u.ret >= %(min_rate)s * u.units, FALSE)
               AS computed_serial
    FROM shop_customer c
    LEFT JOIN orders o ON o.customer_id = c.id
    LEFT JOIN units u ON u.customer_id = c.id
    LEFT JOIN brackets b ON b.customer_id = c.id
    {"" if ids is None else f"WHERE {in_ids('c.id', 'ids')}"}
    """  # noqa: S608 (constants only; values are bound)


STAT_COLUMNS = [
    "orders",
    "delivered_units",
    "returned_units",
    "delivered_value",
    "returned_value",
    "return_rate",
    "value_return_rate",
    "lifetime_orders",
    "first_delivered_at",
    "brackets",
    "computed_serial",
]


def _upsert_sql() -> str:
    """SQL: write insights_stats into insights_customerinsight, deriving the flag,
    `flagged_since` and persona; a row whose figures, flag and persona stay the same
    is left alone (no write)."""
    new_serial = _is_serial_sql("s.", "''")
    update_serial = _is_serial_sql("EXCLUDED.", "t.override")
    # Row values differ, NULLs equal: IS NOT on SQLite (IS DISTINCT FROM came only
    # in 3.39).
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return f"""
    INSERT INTO insights_customerinsight AS t (
        customer_id, {", ".join(STAT_COLUMNS)},
        override, override_reason, flagged_since, persona, computed_at
    )
    SELECT s.customer_id, {", ".join("s." + c for c in STAT_COLUMNS)},
           '', '', {_flagged_since_sql(new_serial, "NULL")},
           {_persona_sql("s.", new_serial)}, %(now)s
    FROM insights_stats s
    WHERE TRUE  -- SQLite needs a WHERE before ON CONFLICT to parse it
    ON CONFLICT (customer_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in STAT_COLUMNS)},
        flagged_since = {_flagged_since_sql(update_serial, "t.flagged_since")},
        persona = {_persona_sql("EXCLUDED.", update_serial)},
        computed_at = EXCLUDED.computed_at
    WHERE ({", ".join("t." + c for c in STAT_COLUMNS)}, t.flagged_since, t.persona)
          {differs}
          ({", ".join("EXCLUDED." + c for c in STAT_COLUMNS)},
           {_flagged_since_sql(update_serial, "t.flagged_since")},
           {_persona_sql("EXCLUDED.", update_serial)})
    """  # noqa: S608 (constants only; values are bound)


def _refresh_sql() -> str:
    """SQL: the flag's `flagged_since` and the persona of the customers bound as
    %(ids)s, after an override."""
    serial = _is_serial_sql("", "override")
    return f"""
    UPDATE insights_customerinsight SET
        flagged_since = {_flagged_since_sql(serial, "flagged_since")},
        persona = {_persona_sql("", serial)}
    WHERE {in_ids("customer_id", "ids")}
    """  # noqa: S608 (constants only; values are bound)


def _params(config: InsightsSettings, now: dt.datetime, ids) -> dict:
    return {
        "now": at(now),
        "since": at(now - dt.timedelta(days=config.serial_window_days)),
        "new_since": at(now - dt.timedelta(days=config.new_customer_days)),
        "min_orders": config.serial_min_orders,
        "min_returned": config.serial_min_returned_units,
        "min_rate": number(config.serial_min_return_rate),
        "ids": None if ids is None else ids_param(ids),
    }


def compute_insights(
    *, now: dt.datetime | None = None, customer_ids: Iterable[int] | None = None
) -> ComputeReport:
    """Recompute every customer's figures, flag, `flagged_since` and persona (or only
    the given customers'). Idempotent; writes only the rows that change (so
    `computed_at` is when a customer's figures last changed)."""
    now = now or timezone.now()
    ids = None if customer_ids is None else sorted({int(i) for i in customer_ids})
    config = InsightsSettings.load()
    with transaction.atomic(), connection.cursor() as cursor:
        params = _params(config, now, ids)
        # The aggregate goes into a temporary table first: a plain SELECT may use
        # parallel workers, an INSERT ... SELECT may not. On PostgreSQL no JIT
        # compile (it costs more than it saves here), and room to sort and hash in
        # memory.
        drop = ""
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
            drop = "ON COMMIT DROP"
        cursor.execute(
            f"CREATE TEMPORARY TABLE insights_stats {drop} AS {_stats_sql(ids)}",
            params,
        )
        cursor.execute(_upsert_sql(), params)
        changed = cursor.rowcount
        # Dropped now too: an outer transaction may run another computation.
        cursor.execute("DROP TABLE insights_stats")
    customers = len(ids) if ids is not None else Customer.objects.count()
    serial = CustomerInsight.objects.filter(persona=Persona.SERIAL_RETURNER).count()
    return ComputeReport(
        customers=customers, changed=changed, serial_returners=serial, computed_at=now
    )


def set_override(
    *,
    customer: Customer,
    override: str,
    reason: str,
    by,
    now: dt.datetime | None = None,
) -> CustomerInsight:
    """Always / never treat a customer as a serial returner ("" returns to the rule).
    A reason is required for always and never. Updates the flag and persona at once."""
    now = now or timezone.now()
    if override not in Override.values:
        raise InsightsError(_("Choose always, never or as computed."), field="override")
    reason = (reason or "").strip()
    if override and not reason:
        raise InsightsError(_("Say why."), field="reason")
    with transaction.atomic():
        if not CustomerInsight.objects.filter(customer=customer).exists():
            compute_insights(now=now, customer_ids=[customer.pk])
        insight = CustomerInsight.objects.select_for_update().get(customer=customer)
        insight.override = override
        insight.override_reason = reason
        insight.override_by = by if override else None
        insight.override_at = now if override else None
        insight.save(
            update_fields=["override", "override_reason", "override_by", "override_at"]
        )
        config = InsightsSettings.load()
        with connection.cursor() as cursor:
            cursor.execute(_refresh_sql(), _params(config, now, [customer.pk]))
        insight.refresh_from_db()
    return insight


def mark_fixed(
    *, product: Product, fixed_on: dt.date, area: str, note: str, by
) -> ProductFix:
    """Record that the cause of a product's returns was fixed on `fixed_on`."""
    if area not in FixArea.values or area == FixArea.NONE:
        raise InsightsError(_("Choose what was fixed."), field="area")
    if fixed_on > timezone.localdate():
        raise InsightsError(
            _("The fix date cannot be in the future."), field="fixed_on"
        )
    return ProductFix.objects.create(
        product=product,
        fixed_on=fixed_on,
        area=area,
        note=(note or "").strip(),
        by=by,
    )
