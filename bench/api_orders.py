"""Benchmark: orders pushed through `POST /api/v1/orders/batch` on gunicorn + PostgreSQL.

    .venv/bin/python -m bench.api_orders [--orders 10000] [--batch 500] [--clients 2]
                                         [--update-pass]

Creates a throwaway database (returnwise_bench_api), migrates it, issues a token with
`manage.py create_api_token`, starts gunicorn (config.wsgi, settings dev, DEBUG=0,
2 workers, persistent database connections as in production) on a free port, pushes
the catalogue (500 SKUs, `PUT /products/{sku}`, so that concurrent batches never
create the same product), then posts generated orders (2-3 lines each) in batches
from `--clients` concurrent connections. With --update-pass the same batches are
posted again, updating every order. Prints orders/s and the p50/p95 latency of a
batch. There is no cheaper endpoint to compare with, so the figures are absolute, not
ratios. gunicorn is stopped and the database dropped at the end, also on Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg

from bench.harness import child_env, gunicorn, manage, throwaway_database

DATABASE = "returnwise_bench_api"
SEED = 20240602
SKUS = 500
CUSTOMERS = 3000
CATEGORIES = ["Shirts", "Trousers", "Dresses", "Shoes", "Knitwear", "Accessories"]
WORKERS = 2


class Client:
    """One keep-alive connection per thread, as a shop's pusher would hold."""

    def __init__(self, port: int, key: str):
        self.port = port
        self.headers = {
            "Authorization": f"Token {key}",
            "Content-Type": "application/json",
        }
        self.local = threading.local()

    def send(self, method: str, path: str, body: dict) -> tuple[int, dict, float]:
        if not hasattr(self.local, "conn"):
            self.local.conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=120
            )
        data = json.dumps(body).encode()
        started = time.perf_counter()
        self.local.conn.request(method, path, body=data, headers=self.headers)
        response = self.local.conn.getresponse()
        payload = json.loads(response.read() or b"{}")
        return response.status, payload, time.perf_counter() - started


def catalogue(rng: random.Random) -> list[dict]:
    return [
        {
            "sku": f"SKU-{n:04d}",
            "name": f"Product {n}",
            "category": rng.choice(CATEGORIES),
            "price": f"{rng.randint(500, 15000) / 100:.2f}",
            "currency": "EUR",
        }
        for n in range(SKUS)
    ]


def generate_orders(rng: random.Random, products: list[dict], count: int) -> list:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    orders = []
    for n in range(count):
        placed = start + timedelta(minutes=7 * n)
        customer = rng.randrange(CUSTOMERS)
        lines = []
        for index, product in enumerate(rng.sample(products, rng.choice((2, 3)))):
            lines.append(
                {
                    "external_id": f"{n}-{index}",
                    "sku": product["sku"],
                    "name": product["name"],
                    "category": product["category"],
                    "quantity": rng.randint(1, 3),
                    "unit_price": product["price"],
                }
            )
        orders.append(
            {
                "external_id": f"bench-{n}",
                "number": f"#{100000 + n}",
                "placed_at": placed.isoformat(),
                "currency": "EUR",
                "customer": {
                    "email": f"customer{customer}@example.com",
                    "first_name": "Customer",
                    "last_name": str(customer),
                    "language": "nl" if customer % 3 == 0 else "en",
                    "marketing_consent": customer % 2 == 0,
                },
                "lines": lines,
                "delivered_at": (placed + timedelta(days=3)).isoformat(),
            }
        )
    return orders


def push_batches(client: Client, batches: list[list], clients: int, expect: str):
    def post(batch):
        status, payload, seconds = client.send(
            "POST", "/api/v1/orders/batch", {"orders": batch}
        )
        if status != 200 or payload[expect] != len(batch):
            raise RuntimeError(f"batch failed: {status} {str(payload)[:500]}")
        return seconds

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(post, batches))
    return time.perf_counter() - started, latencies


def report(label: str, orders: int, wall: float, latencies: list[float]) -> None:
    cuts = statistics.quantiles(latencies, n=20, method="inclusive")
    print(
        f"{label}: {orders:,} orders in {wall:.2f} s = {orders / wall:,.0f} orders/s; "
        f"batch latency p50 {statistics.median(latencies) * 1000:,.0f} ms, "
        f"p95 {cuts[18] * 1000:,.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=WORKERS)
    parser.add_argument("--update-pass", action="store_true")
    args = parser.parse_args()

    rng = random.Random(SEED)
    products = catalogue(rng)
    orders = generate_orders(rng, products, args.orders)
    batches = [orders[i : i + args.batch] for i in range(0, len(orders), args.batch)]
    lines = sum(len(order["lines"]) for order in orders)
    print(
        f"{args.orders:,} orders ({lines:,} lines, {SKUS} SKUs, up to {CUSTOMERS:,} "
        f"customers) in {len(batches)} batches of {args.batch}, {args.clients} "
        f"concurrent clients, gunicorn with {WORKERS} workers"
    )

    began = time.perf_counter()
    env = child_env(
        DATABASE, DATABASE_CONN_MAX_AGE="60", ALLOWED_HOSTS="127.0.0.1,localhost"
    )
    with throwaway_database(DATABASE) as database_url:
        manage(env, "migrate", "--noinput")
        key = manage(env, "create_api_token", "bench").strip()
        with gunicorn(env, workers=WORKERS, timeout=120) as port:
            client = Client(port, key)
            print(
                "setup (database, migrations, gunicorn): "
                f"{time.perf_counter() - began:.1f} s"
            )

            started = time.perf_counter()
            for product in products:
                status, payload, _ = client.send(
                    "PUT", f"/api/v1/products/{product['sku']}", product
                )
                if status != 201:
                    raise RuntimeError(f"product failed: {status} {payload}")
            seconds = time.perf_counter() - started
            print(
                f"catalogue: {SKUS} products, one PUT each: "
                f"{SKUS / seconds:,.0f} requests/s"
            )

            wall, latencies = push_batches(client, batches, args.clients, "created")
            report("create", args.orders, wall, latencies)
            if args.update_pass:
                wall, latencies = push_batches(client, batches, args.clients, "updated")
                report("update (same orders again)", args.orders, wall, latencies)

        with psycopg.connect(database_url) as conn:
            stored = conn.execute("SELECT count(*) FROM shop_order").fetchone()[0]
            stored_lines = conn.execute(
                "SELECT count(*) FROM shop_orderline"
            ).fetchone()[0]
        assert (stored, stored_lines) == (args.orders, lines), (stored, stored_lines)
        print(f"stored: {stored:,} orders, {stored_lines:,} lines (no duplicates)")
    print(f"total: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
