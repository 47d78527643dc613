"""Benchmark: the full recompute of the insights against hand-written SQL aggregates
computing the same answers.

    .venv/bin/python -m bench.insights [--lines 1000000] [--returns 150000]

Creates a throwaway database, migrates it and fills it in PostgreSQL itself
(INSERT ... SELECT generate_series, no Python per row): 50,000 customers, 2,000
products in 8 categories, 500,000 orders over two years with 1,000,000 order lines,
and about 150,000 return lines (one request per order, 5 % of them rejected or
cancelled; every 40th customer returns most of what they buy; every 50th product comes
back for its size far more than its siblings). Then, in one child process (its own
peak RSS via wait4):

- serial returners: `insights.services.compute_insights()` over every customer (the
  upsert of figures, flags and personas) vs one hand-written SELECT of the flagged
  customers with the same rule;
- product insights: `insights.queries.products_to_fix()` over all time vs one
  hand-written SELECT of the products whose controllable rate's Wilson lower bound is
  above their category's;

each answer checked equal to its baseline's. Prints wall times and ratios.

Targets: within 2x of the hand-written SQL and under 10 s each; peak RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import psycopg

from bench.harness import BASE_DIR, child_env, database_url, throwaway_database

DATABASE = "returnwise_bench_insights"
TARGET_RATIO = 2.0
TARGET_SECONDS = 10.0
TARGET_RSS_MB = 300.0
CUSTOMERS = 50_000
PRODUCTS = 2_000
CATEGORIES = 8

FILL = """
INSERT INTO shop_category (name)
SELECT 'Category ' || c FROM generate_series(1, {categories}) c;

INSERT INTO shop_product (sku, name, category_id, price, currency, product_url,
                          image_url, created_at, updated_at)
SELECT 'SKU-' || p, 'Product ' || p,
       (SELECT min(id) FROM shop_category) + p % {categories},
       (5 + (p * 37) % 120)::numeric(12, 2), 'EUR', '', '', now(), now()
FROM generate_series(1, {products}) p;

INSERT INTO shop_customer (email, first_name, last_name, language, marketing_consent,
                           marketing_consent_source, created_at, updated_at)
SELECT 'c' || c || '@bench.example', 'Bench', 'Customer ' || c, 'en', false, '',
       now(), now()
FROM generate_series(1, {customers}) c;

-- Two lines per order; ~2 years of orders; 3 % never delivered.
INSERT INTO shop_order (source, external_id, number, customer_id, placed_at,
                        shipped_at, delivered_at, currency, total, created_at,
                        updated_at)
SELECT 'shop', 'o' || o, '#' || o,
       (SELECT min(id) FROM shop_customer) + (o * 7919) % {customers},
       now() - interval '1 day' * ((o * 104729) % 730) - interval '1 hour' * (o % 24),
       now() - interval '1 day' * ((o * 104729) % 730 - 1)
             - interval '1 hour' * (o % 24),
       CASE WHEN o % 33 = 0 THEN NULL
            ELSE now() - interval '1 day' * ((o * 104729) % 730 - 3)
                       - interval '1 hour' * (o % 24) END,
       'EUR', 0, now(), now()
FROM generate_series(1::bigint, {orders}) o;

INSERT INTO shop_orderline (order_id, external_id, product_id, quantity, unit_price)
SELECT o.id, 'L' || n,
       (SELECT min(id) FROM shop_product) + (o.id::bigint * 31 + n * 977) % {products},
       1 + (o.id + n) % 3 / 2,
       (5 + ((o.id::bigint * 31 + n * 977) % {products} * 37) % 120)::numeric(12, 2)
FROM shop_order o CROSS JOIN generate_series(1, 2) n;

-- Lines that come back: a base rate, much more for every 40th customer and for the
-- size of every 50th product.
CREATE TEMP TABLE bench_back AS
SELECT ol.id AS line_id, ol.order_id, o.customer_id, ol.product_id, ol.quantity,
       ol.unit_price, o.delivered_at,
       (o.customer_id % 40 = 0) AS serial,
       (ol.product_id % 50 = 0) AS bad
FROM shop_orderline ol
JOIN shop_order o ON o.id = ol.order_id
WHERE o.delivered_at IS NOT NULL
  AND (  abs(hashtext('base' || ol.id)) % 1000 < {base_permille}
      OR (o.customer_id % 40 = 0 AND abs(hashtext('serial' || ol.id)) % 100 < 70)
      OR (ol.product_id % 50 = 0 AND abs(hashtext('bad' || ol.id)) % 100 < 30));

INSERT INTO returns_returnrequest (
    rma, order_id, customer_id, status, channel, idempotency_key, needs_approval,
    approval_reasons, window_exception, rejection_reason, currency, shipping_cost,
    shipping_paid_by, handling_cost, refund_total, restocking_fee_total,
    store_credit_total, value_recovered, created_at, updated_at)
SELECT 'B' || order_id, order_id, min(customer_id),
       CASE WHEN order_id % 40 = 0 THEN 'rejected'
            WHEN order_id % 40 = 1 THEN 'cancelled'
            WHEN order_id % 3 = 0 THEN 'approved'
            ELSE 'resolved' END,
       'account', 'bench:' || order_id, false, '[]', false, '', 'EUR', 4.95,
       'customer', 6.00, 0, 0, 0, 0, min(delivered_at) + interval '5 days', now()
FROM bench_back GROUP BY order_id;

INSERT INTO returns_returnline (
    request_id, order_line_id, quantity, reason_id, comment, prevention,
    requested_resolution, resolution, returnless, unit_value, refund_amount,
    restocking_fee, store_credit_amount, condition, disposition, value_recovered,
    policy)
SELECT r.id, b.line_id, b.quantity,
       CASE WHEN b.bad THEN (SELECT id FROM returns_returnreason
                             WHERE code = 'size-fit')
            ELSE (SELECT min(id) FROM returns_returnreason)
                 + abs(hashtext('reason' || b.line_id)) % 10 END,
       CASE WHEN b.bad THEN 'Runs small' ELSE '' END, '', 'refund', '', false,
       b.unit_price, b.unit_price * b.quantity, 0, 0, '', '', 0, '{{}}'
FROM bench_back b JOIN returns_returnrequest r ON r.idempotency_key =
     'bench:' || b.order_id;

ANALYZE;
"""

# The full recompute's answer, hand-written in one statement: per customer the
# window's delivered orders, units, returned units and values, brackets, all-time
# delivered orders, and the serial-returner flag.
SERIAL_SQL = """
WITH r AS (
    SELECT rl.order_line_id, SUM(rl.quantity) AS q
    FROM returns_returnline rl JOIN returns_returnrequest rr ON rr.id = rl.request_id
    WHERE rr.status NOT IN ('rejected', 'cancelled')
    GROUP BY rl.order_line_id
), g AS (
    SELECT o.customer_id, o.id AS order_id,
           SUM(ol.quantity) AS u, SUM(LEAST(COALESCE(r.q, 0), ol.quantity)) AS b,
           SUM(ol.quantity * ol.unit_price) AS v,
           SUM(LEAST(COALESCE(r.q, 0), ol.quantity) * ol.unit_price) AS bv
    FROM shop_order o
    JOIN shop_orderline ol ON ol.order_id = o.id
    JOIN shop_product p ON p.id = ol.product_id
    LEFT JOIN r ON r.order_line_id = ol.id
    WHERE o.delivered_at >= now() - interval '365 days'
    GROUP BY o.customer_id, o.id, COALESCE(p.category_id, -ol.product_id)
), w AS (
    SELECT customer_id, COUNT(DISTINCT order_id) AS orders, SUM(u) AS units,
           SUM(b) AS back, SUM(v) AS value, SUM(bv) AS back_value,
           COUNT(*) FILTER (WHERE u >= 2 AND b = u - 1) AS brackets
    FROM g GROUP BY customer_id
), lt AS (
    SELECT customer_id, COUNT(*) AS n FROM shop_order
    WHERE delivered_at IS NOT NULL GROUP BY customer_id
)
SELECT c.id, COALESCE(w.orders, 0), COALESCE(w.units, 0), COALESCE(w.back, 0),
       COALESCE(w.value, 0), COALESCE(w.back_value, 0), COALESCE(w.brackets, 0),
       COALESCE(lt.n, 0),
       COALESCE(w.orders >= 3 AND w.back >= 3 AND w.back >= 0.5 * w.units, false)
FROM shop_customer c
LEFT JOIN w ON w.customer_id = c.id
LEFT JOIN lt ON lt.customer_id = c.id
"""

# Only the flag, the least a serial-returner query can do (for reference).
SERIAL_FLAG_SQL = """
SELECT o.customer_id
FROM shop_order o
JOIN shop_orderline ol ON ol.order_id = o.id
LEFT JOIN (
    SELECT rl.order_line_id, SUM(rl.quantity) AS q
    FROM returns_returnline rl JOIN returns_returnrequest r ON r.id = rl.request_id
    WHERE r.status NOT IN ('rejected', 'cancelled')
    GROUP BY rl.order_line_id
) b ON b.order_line_id = ol.id
WHERE o.delivered_at >= now() - interval '365 days'
GROUP BY o.customer_id
HAVING COUNT(DISTINCT o.id) >= 3
   AND SUM(LEAST(COALESCE(b.q, 0), ol.quantity)) >= 3
   AND SUM(LEAST(COALESCE(b.q, 0), ol.quantity)) >= 0.5 * SUM(ol.quantity)
"""

# Products to fix, hand-written: per product units, returned and controllable units
# and the controllable value lost; flagged when the Wilson lower bound (z = 1.96) of
# the controllable rate is above the category's, with at least 20 units.
PRODUCTS_SQL = """
WITH b AS (
    SELECT rl.order_line_id, SUM(rl.quantity) AS q,
           SUM(rl.quantity) FILTER (WHERE rr.controllable) AS qc,
           SUM(rl.value_recovered) FILTER (WHERE rr.controllable) AS rec
    FROM returns_returnline rl
    JOIN returns_returnrequest r ON r.id = rl.request_id
    JOIN returns_returnreason rr
         ON rr.id = COALESCE(rl.confirmed_reason_id, rl.reason_id)
    WHERE r.status NOT IN ('rejected', 'cancelled')
    GROUP BY rl.order_line_id
), p AS (
    SELECT ol.product_id, pr.category_id, SUM(ol.quantity) AS n,
           SUM(LEAST(COALESCE(b.q, 0), ol.quantity)) AS back,
           SUM(LEAST(COALESCE(b.qc, 0), ol.quantity)) AS c,
           SUM(LEAST(COALESCE(b.qc, 0), ol.quantity) * ol.unit_price)
               - SUM(COALESCE(b.rec, 0)) AS lost
    FROM shop_orderline ol
    JOIN shop_order o ON o.id = ol.order_id
    JOIN shop_product pr ON pr.id = ol.product_id
    LEFT JOIN b ON b.order_line_id = ol.id
    WHERE o.delivered_at IS NOT NULL
    GROUP BY ol.product_id, pr.category_id
), q AS (
    SELECT *, SUM(c) OVER w::numeric / SUM(n) OVER w AS cat, c::numeric / n AS rate
    FROM p WINDOW w AS (PARTITION BY category_id)
)
SELECT product_id, n, back, c, lost FROM q
WHERE n >= 20 AND c > 0
  AND (rate + 1.96 * 1.96 / (2 * n)
       - 1.96 * sqrt(rate * (1 - rate) / n + 1.96 * 1.96 / (4.0 * n * n)))
      / (1 + 1.96 * 1.96 / n) > cat
"""

# Run in the child (manage.py shell -c): time our code, then the baselines.
CHILD = """
import json, time
from django.db import connection
from insights.models import CustomerInsight
from insights.queries import products_to_fix
from insights.services import compute_insights
SERIAL_SQL = {serial_sql!r}
SERIAL_FLAG_SQL = {serial_flag_sql!r}
PRODUCTS_SQL = {products_sql!r}

def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result

def sql(query):
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()

out = {{}}
out["compute_first"], report = timed(compute_insights)
out["compute"], report = timed(compute_insights)
out["customers"] = report.customers
out["changed"] = report.changed
out["serial_sql"], theirs = timed(lambda: sql(SERIAL_SQL))
out["serial_flag_sql"], flagged = timed(lambda: sql(SERIAL_FLAG_SQL))
ours = set(CustomerInsight.objects.values_list(
    "customer_id", "orders", "delivered_units", "returned_units", "delivered_value",
    "returned_value", "brackets", "lifetime_orders", "computed_serial").iterator())
out["serial_count"] = sum(1 for row in ours if row[-1])
out["serial_equal"] = ours == set(theirs) and (
    {{row[0] for row in ours if row[-1]}} == {{row[0] for row in flagged}})
out["products"], rows = timed(lambda: products_to_fix(start=None, end=None))
out["products_sql"], theirs = timed(lambda: sql(PRODUCTS_SQL))
out["product_count"] = len(rows)
out["products_equal"] = {{
    (r.product.pk, r.units, r.returned_units, r.controllable_units, r.money_lost)
    for r in rows
}} == {{(pk, n, back, c, max(lost, 0)) for pk, n, back, c, lost in theirs}}
print("RESULT " + json.dumps(out))
"""


# Columns the fill does not name get a neutral default, so the bench survives a new
# NOT NULL column in the models.
NEUTRAL = {
    "numeric": "0",
    "integer": "0",
    "smallint": "0",
    "bigint": "0",
    "character varying": "''",
    "text": "''",
    "boolean": "false",
    "jsonb": "'{}'",
}
FILLED_TABLES = ("returns_returnrequest", "returns_returnline")


def neutral_defaults(conn) -> None:
    rows = conn.execute(
        """
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_name = ANY(%s) AND is_nullable = 'NO' AND column_default IS NULL
          AND is_identity = 'NO'
        """,
        [list(FILLED_TABLES)],
    ).fetchall()
    for table, column, data_type in rows:
        if data_type in NEUTRAL:
            conn.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} "
                f"SET DEFAULT {NEUTRAL[data_type]}"
            )


def fill(lines: int, returns: int) -> dict[str, int]:
    orders = lines // 2
    # Base rate chosen so that base + serial + bad lines come to about `returns`.
    base_permille = max(1, round(1000 * (returns / lines - 0.018)))
    started = time.perf_counter()
    with psycopg.connect(database_url(DATABASE), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        neutral_defaults(conn)
        # Only integers of ours are formatted in; several statements need the
        # simple query protocol (no parameters).
        conn.execute(
            FILL.format(
                categories=CATEGORIES,
                products=PRODUCTS,
                customers=CUSTOMERS,
                orders=orders,
                base_permille=base_permille,
            ).encode()
        )
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in (
                "shop_customer",
                "shop_order",
                "shop_orderline",
                "returns_returnrequest",
                "returns_returnline",
            )
        }
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def run_child(env: dict[str, str]) -> tuple[dict, float]:
    code = CHILD.format(
        serial_sql=SERIAL_SQL,
        serial_flag_sql=SERIAL_FLAG_SQL,
        products_sql=PRODUCTS_SQL,
    )
    args = [sys.executable, "manage.py", "shell", "-c", code]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"the measured child failed:\n{stdout}\n{stderr}")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), usage.ru_maxrss / 1024


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--returns", type=int, default=150_000)
    options = parser.parse_args()

    env = child_env(DATABASE)
    with throwaway_database(DATABASE):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
        counts = fill(options.lines, options.returns)
        print(
            f"data: {counts['shop_customer']:,} customers, "
            f"{counts['shop_order']:,} orders, {counts['shop_orderline']:,} order "
            f"lines, {counts['returns_returnrequest']:,} returns with "
            f"{counts['returns_returnline']:,} lines ({counts['seconds']} s to fill)"
        )
        result, rss = run_child(env)

    serial_ratio = result["compute"] / result["serial_sql"]
    product_ratio = result["products"] / result["products_sql"]
    print(
        f"serial returners: compute_insights {result['compute']:.2f} s "
        f"(first run, writing every row: {result['compute_first']:.2f} s; "
        f"{result['customers']:,} customers, {result['changed']:,} rows changed, "
        f"{result['serial_count']:,} flagged) vs hand-written SQL of the same "
        f"figures {result['serial_sql']:.2f} s: ratio {serial_ratio:.2f}x "
        f"(first run {result['compute_first'] / result['serial_sql']:.2f}x; same "
        f"answer: {result['serial_equal']}); the flag alone in SQL takes "
        f"{result['serial_flag_sql']:.2f} s"
    )
    print(
        f"products to fix: products_to_fix {result['products']:.2f} s "
        f"({result['product_count']} products) vs hand-written SQL "
        f"{result['products_sql']:.2f} s: ratio {product_ratio:.2f}x "
        f"(same answer: {result['products_equal']})"
    )
    print(f"peak RSS of the measured process: {rss:.0f} MB")
    checks = [
        ("serial ratio", serial_ratio <= TARGET_RATIO),
        ("products ratio", product_ratio <= TARGET_RATIO),
        ("serial time", result["compute"] < TARGET_SECONDS),
        ("products time", result["products"] < TARGET_SECONDS),
        ("peak RSS", rss < TARGET_RSS_MB),
        ("same answers", result["serial_equal"] and result["products_equal"]),
    ]
    print(
        "targets (2x, 10 s, 300 MB): "
        + ", ".join(f"{name} {verdict(ok)}" for name, ok in checks)
    )


if __name__ == "__main__":
    main()
