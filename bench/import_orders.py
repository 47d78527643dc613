"""Benchmark: `manage.py import_orders` against PostgreSQL's own COPY of the same rows.

    .venv/bin/python -m bench.import_orders [--orders 100000]

Generates a deterministic CSV (100,000 orders, about 250,000 lines, 20,000 customers,
500 products, 6 categories) in var/bench/, creates a throwaway database, migrates it and
runs the import as a subprocess (wall time and its own peak RSS via wait4), then a
second time (nothing changes), then times COPY of the same file into a plain table with
the same 16 columns, and then PostgreSQL's own INSERT ... SELECT from that table into
the real tables (the floor any importer meets). Prints the ratios against COPY. The
database is dropped at the end.

Targets: import within 8x of COPY, peak RSS under 250 MB.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.harness import BASE_DIR, child_env, database_url, throwaway_database

BENCH_DIR = BASE_DIR / "var" / "bench"
DATABASE = "returnwise_bench_import"
SEED = 20240601
TARGET_RATIO = 8.0
TARGET_RSS_MB = 250.0

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
COPY_TABLE = """
CREATE TABLE bench_copy_order_lines (
    order_id text NOT NULL,
    order_number text NOT NULL,
    placed_at timestamptz NOT NULL,
    delivered_at timestamptz,
    currency char(3) NOT NULL,
    customer_email text NOT NULL,
    customer_first_name text,
    customer_last_name text,
    customer_language text,
    marketing_consent boolean,
    line_id text NOT NULL,
    sku text NOT NULL,
    product_name text,
    category text,
    quantity integer NOT NULL,
    unit_price numeric(12, 2) NOT NULL
)
"""
CATEGORIES = ["Shirts", "Trousers", "Dresses", "Shoes", "Jackets", "Accessories"]
FIRST_NAMES = [
    "Anna",
    "Bram",
    "Chloé",
    "Daan",
    "Emma",
    "Finn",
    "Julia",
    "Lucas",
    "Noor",
]
LAST_NAMES = ["de Jong", "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer"]


def generate_csv(path: Path, *, orders: int, customers: int, products: int) -> int:
    """Write the file; return the number of lines. Same seed, same file."""
    rng = random.Random(SEED)
    catalogue = [
        (
            f"SKU-{n:05d}",
            f"{rng.choice(['Linen', 'Denim', 'Wool', 'Cotton', 'Silk'])} item {n}",
            CATEGORIES[n % len(CATEGORIES)],
            f"{rng.randint(5, 250)}.{rng.choice(['00', '50', '95', '99'])}",
        )
        for n in range(products)
    ]
    people = [
        (
            f"Customer{n}@Example.com",
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            rng.choice(["en", "nl", ""]),
            rng.choice(["true", "false", ""]),
        )
        for n in range(customers)
    ]
    start = datetime(2023, 1, 1, tzinfo=UTC)
    written = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(orders):
            email, first, last, language, consent = people[rng.randrange(customers)]
            placed = start + timedelta(seconds=rng.randrange(2 * 365 * 86400))
            delivered = (
                (placed + timedelta(days=rng.randint(1, 7))).isoformat()
                if rng.random() < 0.9
                else ""
            )
            order = (
                f"ord-{n:07d}",
                f"#{100000 + n}",
                placed.isoformat(),
                delivered,
                "EUR",
                email,
                first,
                last,
                language,
                consent,
            )
            for line in range(rng.choice((1, 1, 2, 2, 3, 3, 4, 4))):
                sku, name, category, price = rng.choice(catalogue)
                writer.writerow(
                    (
                        *order,
                        f"l{line + 1}",
                        sku,
                        name,
                        category,
                        rng.randint(1, 3),
                        price,
                    )
                )
                written += 1
    return written


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child itself
    rss: float  # its peak resident set, MB
    output: str


def run(args: list[str], env: dict[str, str]) -> Run:
    """Run a child, measured on its own: wait4 gives its rusage alone (RUSAGE_CHILDREN
    would mix in migrate)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({child.returncode}):\n{stdout}\n{stderr}")
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss=usage.ru_maxrss / 1024,
        output=stdout,
    )


def run_import(csv_path: Path, batch_size: int | None, env: dict[str, str]) -> Run:
    args = [sys.executable, "manage.py", "import_orders", str(csv_path)]
    if batch_size:
        args += ["--batch-size", str(batch_size)]
    return run(args, env)


def run_copy(csv_path: Path) -> tuple[float, int]:
    with psycopg.connect(database_url(DATABASE)) as conn:
        conn.execute(COPY_TABLE)
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            with (
                cursor.copy(
                    "COPY bench_copy_order_lines FROM STDIN (FORMAT csv, HEADER)"
                ) as copy,
                csv_path.open("rb") as file,
            ):
                while data := file.read(1 << 20):
                    copy.write(data)
        conn.commit()
        wall = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM bench_copy_order_lines").fetchone()[0]
    return wall, rows


# PostgreSQL's own cost of putting the COPY table's rows into the real tables, with
# their indexes, foreign keys and check constraints, and no Python at all: the floor
# any importer meets on this machine, whatever it does in Python.
FLOOR_SQL = (
    """
    INSERT INTO shop_customer (email, first_name, last_name, language,
        marketing_consent, marketing_consent_source, created_at, updated_at)
    SELECT DISTINCT ON (lower(customer_email)) lower(customer_email),
        coalesce(customer_first_name, ''), coalesce(customer_last_name, ''),
        coalesce(customer_language, 'en'), coalesce(marketing_consent, false), 'import',
        now(), now()
    FROM bench_copy_order_lines ORDER BY lower(customer_email)
    ON CONFLICT (email) DO NOTHING
    """,
    """
    INSERT INTO shop_category (name)
    SELECT DISTINCT category FROM bench_copy_order_lines ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO shop_product (sku, name, category_id, price, currency, product_url,
        image_url, created_at, updated_at)
    SELECT DISTINCT ON (sku) sku, product_name, c.id, unit_price, b.currency, '', '',
        now(), now()
    FROM bench_copy_order_lines b JOIN shop_category c ON c.name = b.category
    ORDER BY sku ON CONFLICT (sku) DO NOTHING
    """,
    """
    INSERT INTO shop_order (source, external_id, number, customer_id, placed_at,
        delivered_at, currency, total, created_at, updated_at)
    SELECT 'shop', order_id, min(order_number), min(cu.id), min(placed_at),
        min(delivered_at), min(b.currency), sum(quantity * unit_price), now(), now()
    FROM bench_copy_order_lines b JOIN shop_customer cu
        ON cu.email = lower(b.customer_email)
    GROUP BY order_id
    ON CONFLICT (source, external_id) DO UPDATE SET number = EXCLUDED.number
    """,
    """
    INSERT INTO shop_orderline (order_id, external_id, product_id, quantity,
        unit_price)
    SELECT o.id, b.line_id, p.id, b.quantity, b.unit_price
    FROM bench_copy_order_lines b
    JOIN shop_order o ON o.source = 'shop' AND o.external_id = b.order_id
    JOIN shop_product p ON p.sku = b.sku
    ON CONFLICT (order_id, external_id) DO UPDATE SET quantity = EXCLUDED.quantity
    """,
)


def run_sql_floor() -> float:
    """Empty the shop's tables, then time FLOOR_SQL in one transaction."""
    with psycopg.connect(database_url(DATABASE)) as conn:
        conn.execute(
            "TRUNCATE shop_orderline, shop_order, shop_customer, shop_product, "
            "shop_category CASCADE"
        )
        conn.execute("ANALYZE bench_copy_order_lines")
        conn.commit()
        started = time.perf_counter()
        for statement in FLOOR_SQL:
            conn.execute(statement)
        conn.commit()
        return time.perf_counter() - started


def counts() -> dict[str, int]:
    tables = {
        "orders": "shop_order",
        "lines": "shop_orderline",
        "customers": "shop_customer",
        "products": "shop_product",
        "categories": "shop_category",
    }
    with psycopg.connect(database_url(DATABASE)) as conn:
        return {
            name: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for name, table in tables.items()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument(
        "--batch-size", type=int, help="passed to import_orders (default: its own)"
    )
    options = parser.parse_args()

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    csv_path = BENCH_DIR / f"orders-{options.orders}.csv"
    started = time.perf_counter()
    lines = generate_csv(
        csv_path,
        orders=options.orders,
        customers=options.customers,
        products=options.products,
    )
    size_mb = csv_path.stat().st_size / 1e6
    print(
        f"CSV: {options.orders:,} orders, {lines:,} lines, {size_mb:.1f} MB "
        f"({time.perf_counter() - started:.1f} s to generate) -> {csv_path}"
    )

    env = child_env(DATABASE)
    with throwaway_database(DATABASE):
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        first = run_import(csv_path, options.batch_size, env)
        print(
            f"import (empty database): {first.wall:.2f} s wall, {first.cpu:.2f} s CPU, "
            f"peak RSS {first.rss:.0f} MB"
        )
        print("  " + first.output.strip().replace("\n", "\n  "))
        print(f"  rows in the database: {counts()}")
        again = run_import(csv_path, options.batch_size, env)
        print(
            f"import again (unchanged): {again.wall:.2f} s wall, {again.cpu:.2f} s CPU, "
            f"peak RSS {again.rss:.0f} MB"
        )
        print("  " + again.output.strip().splitlines()[0])
        copy_wall, copied = run_copy(csv_path)
        print(f"COPY of the same rows: {copy_wall:.2f} s ({copied:,} rows)")
        floor_wall = run_sql_floor()
        print(
            f"INSERT ... SELECT from that table into the real tables: "
            f"{floor_wall:.2f} s ({counts()['lines']:,} lines)"
        )

    rss = max(first.rss, again.rss)
    ratio = first.wall / copy_wall
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print()
    print(f"{'':26}{'wall':>9}{'x COPY':>9}{'peak RSS':>11}")
    for name, wall, peak in (
        ("COPY (baseline)", copy_wall, None),
        ("SQL only, real tables", copy_wall + floor_wall, None),
        ("import, empty database", first.wall, first.rss),
        ("import again, unchanged", again.wall, again.rss),
    ):
        rss_text = f"{peak:.0f} MB" if peak is not None else ""
        print(f"{name:26}{wall:8.2f}s{wall / copy_wall:8.1f}x{rss_text:>11}")
    print(
        f"target import <= {TARGET_RATIO:.0f}x COPY: "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT MET'} ({ratio:.1f}x); "
        f"target peak RSS < {TARGET_RSS_MB:.0f} MB: "
        f"{'met' if rss < TARGET_RSS_MB else 'NOT MET'} ({rss:.0f} MB)"
    )
    print(
        "SQL only = COPY into a plain table + INSERT ... SELECT into the indexed, "
        "constrained tables: PostgreSQL's own floor for any importer here."
    )
    print(f"load average {load} on {os.cpu_count()} CPUs (timings are wall clock)")


if __name__ == "__main__":
    main()
