"""Writes of the insights app: recomputing the customers' figures, flags and personas
(one SQL upsert), overriding the serial-returner flag, and recording a product fix.

The definitions are in insights/models.py. `compute_insights` never loops over rows in
Python: one aggregate (into a temporary table, so PostgreSQL may run it in parallel)
computes every customer's window figures, lifetime orders and brackets, and one
INSERT ... ON CONFLICT DO UPDATE derives the flag, `flagged_since` and persona and
writes only the rows that change. bench/insights.py times it on a million order lines.
"""

from __future__ import annotations

import datetime as dt
import logging
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
from insights.queries import VOID
from returns.models import FixArea
from shop.models import Customer, Product

logger = logging.getLogger(__name__)


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


# Per customer: delivered orders and their lines in the window, each line's counted
# returned units (capped at its quantity), brackets, lifetime figures. Customers
# without orders get zeros.
STATS_SQL = f"""
    WITH returned AS (
        SELECT rl.order_line_id, SUM(rl.quantity) AS q
        FROM returns_returnline rl
        JOIN returns_returnrequest r ON r.id = rl.request_id
        WHERE r.status NOT IN ('{VOID[0]}', '{VOID[1]}')
          AND (%(ids)s::bigint[] IS NULL OR r.customer_id = ANY(%(ids)s))
        GROUP BY rl.order_line_id
    ),
    -- Delivered orders: all time and in the window, in one pass.
    orders AS (
        SELECT customer_id, COUNT(*) AS lifetime, MIN(delivered_at) AS first_at,
               COUNT(*) FILTER (WHERE delivered_at >= %(since)s) AS orders
        FROM shop_order
        WHERE delivered_at IS NOT NULL
          AND (%(ids)s::bigint[] IS NULL OR customer_id = ANY(%(ids)s))
        GROUP BY customer_id
    ),
    -- Units and value of the window's lines, returned units capped at each line's
    -- quantity.
    units AS (
        SELECT o.customer_id,
               SUM(ol.quantity) AS units,
               SUM(LEAST(COALESCE(ret.q, 0), ol.quantity)) AS ret,
               SUM(ol.quantity * ol.unit_price) AS value,
               SUM(LEAST(COALESCE(ret.q, 0), ol.quantity) * ol.unit_price)
                   AS ret_value
        FROM shop_order o
        JOIN shop_orderline ol ON ol.order_id = o.id
        LEFT JOIN returned ret ON ret.order_line_id = ol.id
        WHERE o.delivered_at >= %(since)s
          AND (%(ids)s::bigint[] IS NULL OR o.customer_id = ANY(%(ids)s))
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
                    AND (%(ids)s::bigint[] IS NULL OR r.customer_id = ANY(%(ids)s))
              )
            GROUP BY o.customer_id, o.id,
                     CASE WHEN p.category_id IS NULL THEN -ol.product_id
                          ELSE p.category_id END
            HAVING SUM(ol.quantity) >= 2
               AND SUM(LEAST(COALESCE(ret.q, 0), ol.quantity))
                   = SUM(ol.quantity) - 1
        ) g
        GROUP BY customer_id
    )
    SELECT c.id AS customer_id,
           COALESCE(o.orders, 0) AS orders,
           COALESCE(u.units, 0) AS delivered_units,
           COALESCE(u.ret, 0) AS returned_units,
           COALESCE(u.value, 0) AS delivered_value,
           COALESCE(u.ret_value, 0) AS returned_value,
           COALESCE(round(u.ret::numeric / NULLIF(u.units, 0), 4), 0)
               AS return_rate,
           COALESCE(round(u.ret_value / NULLIF(u.value, 0), 4), 0)
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
    WHERE (%(ids)s::bigint[] IS NULL OR c.id = ANY(%(ids)s))
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

_NEW_SERIAL = _is_serial_sql("s.", "''")
_UPDATE_SERIAL = _is_serial_sql("EXCLUDED.", "t.override")
UPSERT_SQL = f"""
    INSERT INTO insights_customerinsight AS t (
        customer_id, {", ".join(STAT_COLUMNS)},
        override, override_reason, flagged_since, persona, computed_at
    )
    SELECT s.customer_id, {", ".join("s." + c for c in STAT_COLUMNS)},
           '', '', {_flagged_since_sql(_NEW_SERIAL, "NULL::timestamptz")},
           {_persona_sql("s.", _NEW_SERIAL)}, %(now)s
    FROM insights_stats s
    ON CONFLICT (customer_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in STAT_COLUMNS)},
        flagged_since = {_flagged_since_sql(_UPDATE_SERIAL, "t.flagged_since")},
        persona = {_persona_sql("EXCLUDED.", _UPDATE_SERIAL)},
        computed_at = EXCLUDED.computed_at
    -- A row whose figures, flag and persona stay the same is left alone (no write).
    WHERE ({", ".join("t." + c for c in STAT_COLUMNS)}, t.flagged_since, t.persona)
          IS DISTINCT FROM
          ({", ".join("EXCLUDED." + c for c in STAT_COLUMNS)},
           {_flagged_since_sql(_UPDATE_SERIAL, "t.flagged_since")},
           {_persona_sql("EXCLUDED.", _UPDATE_SERIAL)})
"""  # noqa: S608 (constants only; values are bound)

_ROW_SERIAL = _is_serial_sql("", "override")
REFRESH_SQL = f"""
    UPDATE insights_customerinsight SET
        flagged_since = {_flagged_since_sql(_ROW_SERIAL, "flagged_since")},
        persona = {_persona_sql("", _ROW_SERIAL)}
    WHERE customer_id = ANY(%(ids)s)
"""  # noqa: S608 (constants only; values are bound)


def _params(config: InsightsSettings, now: dt.datetime, ids) -> dict:
    return {
        "now": now,
        "since": now - dt.timedelta(days=config.serial_window_days),
        "new_since": now - dt.timedelta(days=config.new_customer_days),
        "min_orders": config.serial_min_orders,
        "min_returned": config.serial_min_returned_units,
        "min_rate": config.serial_min_return_rate,
        "ids": ids,
    }


def compute_insights(
    *, now: dt.datetime | None = None, customer_ids: Iterable[int] | None = None
) -> ComputeReport:
    """Recompute every customer's figures, flag, `flagged_since` and persona (or only
    the given customers'). Idempotent; writes only the rows that change (so
    `computed_at` is when a customer's figures last changed)."""
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        # The computation is PostgreSQL SQL; the SQLite demo database skips it (and a
        # return filed there must not fail because of it).
        logger.warning(
            "compute_insights needs PostgreSQL; skipped on %s.", connection.vendor
        )
        return ComputeReport(
            customers=0, changed=0, serial_returners=0, computed_at=now
        )
    ids = None if customer_ids is None else sorted({int(i) for i in customer_ids})
    config = InsightsSettings.load()
    with transaction.atomic(), connection.cursor() as cursor:
        params = _params(config, now, ids)
        # The aggregate goes into a temporary table first: a plain SELECT may use
        # parallel workers, an INSERT ... SELECT may not. No JIT compile (it costs
        # more than it saves here), and room to sort and hash in memory.
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        cursor.execute(
            f"CREATE TEMPORARY TABLE insights_stats ON COMMIT DROP AS {STATS_SQL}",
            params,
        )
        cursor.execute(UPSERT_SQL, params)
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
    if connection.vendor != "postgresql":
        raise InsightsError(_("Insights need PostgreSQL."), field="override")
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
            cursor.execute(REFRESH_SQL, _params(config, now, [customer.pk]))
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
