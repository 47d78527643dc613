"""Benchmark: pages per second on gunicorn + PostgreSQL, as ratios against a constant view.

    .venv/bin/python -m bench.pages [--duration 10] [--connections 8]

Creates a throwaway database (returnwise_bench_pages), migrates it and loads the demo
data (`seed_demo`), starts gunicorn (config.wsgi with bench.settings: the dev settings,
DEBUG=0, persistent database connections as in production, 2 sync workers) on a free
port, and measures requests/s with `--connections` concurrent clients (wrk when it is
installed, else a thread pool with http.client) for:

- /bench/constant/: a view returning a constant through the whole middleware stack
  (the baseline, added by bench/urls.py only);
- /: the Wagtail home page (anonymous: served by the cms page cache after the first hit);
- /returns/electronics/: a return policy page, cached, and with a query string (which
  bypasses the page cache: a full Wagtail render);
- /embed/policy/ELE-001/ and /api/v1/policies/for-product/ELE-001: the pre-purchase
  embed and JSON (rendered answers kept in the cache until a page, product or category
  changes, at most POLICY_EMBED_MAX_AGE);
- /orders/: "My orders" of the demo customer (10 orders), signed in by a session cookie;
- /products/ELE-001/reviews/: the product reviews page of a product given 10,000 extra
  approved reviews (cached for anonymous visitors, CSRF token put in per visitor),
  /embed/reviews/ELE-001/ (the review embed) and /api/v1/products/ELE-001/reviews
  (the JSON); then, on a second gunicorn with REVIEWS_CACHE_SECONDS=0, the same three
  uncached (every request renders: the ratio is reported, there is no target).

Prints each figure and its ratio to the baseline (the target for the anonymous pages
is >= 0.5), and the number of queries of an uncached render of each page. gunicorn is stopped and the database
dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.harness import child_env, gunicorn, manage, throwaway_database

DATABASE = "returnwise_bench_pages"
WORKERS = 2
DEMO_CUSTOMER = "customer"
REVIEWED_SKU = "ELE-001"
EXTRA_REVIEWS = 10_000

# path, what the page must contain (so an error page or a login form is not measured)
PAGES = {
    "constant view (baseline)": ("/bench/constant/", "ok"),
    "home page": ("/", "Returns, made simple"),
    "policy page": ("/returns/electronics/", "Return electronics within 14 days"),
    "policy page (uncached)": (
        "/returns/electronics/?uncached=1",
        "Return electronics within 14 days",
    ),
    "policy embed": ("/embed/policy/ELE-001/", "rw-policy"),
    "policy JSON": ("/api/v1/policies/for-product/ELE-001", '"window_days":14'),
    "my orders (signed in)": ("/orders/", "RW100001"),
    "product reviews (10k)": (f"/products/{REVIEWED_SKU}/reviews/", "rw-review"),
    "review embed (10k)": (f"/embed/reviews/{REVIEWED_SKU}/", "rw-reviews-embed"),
    "review JSON (10k)": (f"/api/v1/products/{REVIEWED_SKU}/reviews", '"aggregate"'),
}
# Measured on a second server with the review cache off (REVIEWS_CACHE_SECONDS=0).
UNCACHED_REVIEW_PAGES = {
    "product reviews, uncached": PAGES["product reviews (10k)"],
    "review embed, uncached": PAGES["review embed (10k)"],
    "review JSON, uncached": PAGES["review JSON (10k)"],
}


def session_cookie(env: dict[str, str]) -> str:
    """A signed-in session of the demo customer, stored in the database."""
    script = (
        "from django.contrib.auth import get_user_model; "
        "from django.test import Client; "
        "client = Client(); "
        f"client.force_login(get_user_model().objects.get(username='{DEMO_CUSTOMER}')); "
        "from django.conf import settings; "
        "print(settings.SESSION_COOKIE_NAME + '=' + "
        "client.cookies[settings.SESSION_COOKIE_NAME].value)"
    )
    return manage(env, "shell", "-v", "0", "-c", script).strip().splitlines()[-1]


def seed_reviews(env: dict[str, str], sku: str, count: int) -> None:
    """`count` approved reviews of one product (one order, `count` lines), in bulk."""
    script = (
        "import datetime\n"
        "from django.utils import timezone\n"
        "from reviews.models import Review\n"
        "from shop.models import Customer, Order, OrderLine, Product\n"
        f"product = Product.objects.get(sku={sku!r})\n"
        "now = timezone.now()\n"
        "customer, _ = Customer.objects.get_or_create(email='bench-reviewer@example.com',"
        " defaults={'first_name': 'Bench', 'last_name': 'Reviewer'})\n"
        "order = Order.objects.create(external_id='bench-reviews', number='BENCH-1',"
        " customer=customer, placed_at=now, delivered_at=now, currency='EUR')\n"
        "lines = OrderLine.objects.bulk_create(OrderLine(order=order,"
        " external_id=f'b{n}', product=product, quantity=1, unit_price=product.price)"
        f" for n in range({count}))\n"
        "Review.objects.bulk_create(Review(order_line=line, customer=customer,"
        " product=product, rating=(1, 5, 5, 4, 5, 3, 5, 4, 2, 5)[n % 10],"
        " title=f'Review {n}', body=f'Bench review number {n}, a few words long.',"
        " status='approved', rewarded=n % 3 == 0, points_awarded=50 if n % 3 == 0 else 0,"
        " helpful_count=n % 7, approved_at=now - datetime.timedelta(minutes=n))"
        " for n, line in enumerate(lines))\n"
    )
    manage(env, "shell", "-v", "0", "-c", script)


def query_counts(env: dict[str, str]) -> dict[str, int]:
    """Queries of one uncached render of each anonymous page (caches emptied)."""
    paths = [path for path, _ in PAGES.values() if path not in ("/orders/",)]
    script = (
        "from django.core.cache import cache; "
        "from django.db import connection; "
        "from django.test import Client; "
        "from django.test.utils import CaptureQueriesContext, override_settings; "
        "client = Client(); "
        "ctx = override_settings(PAGE_CACHE_SECONDS=0, ALLOWED_HOSTS=['*']); "
        "ctx.enable(); "
        f"paths = {paths!r}; "
        "[client.get(path) for path in paths]; "
        "counts = []\n"
        "for path in paths:\n"
        "    cache.clear()\n"
        "    with CaptureQueriesContext(connection) as queries: client.get(path)\n"
        "    counts.append(f'{path}={len(queries)}')\n"
        "print(' '.join(counts))"
    )
    line = manage(env, "shell", "-v", "0", "-c", script).strip().splitlines()[-1]
    return dict(item.rsplit("=", 1) for item in line.split())


def fetch(port: int, path: str, cookie: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def check_page(port: int, path: str, cookie: str, expect: str) -> None:
    status, body = fetch(port, path, cookie)
    if status != 200 or expect not in body:
        raise RuntimeError(f"GET {path}: {status}, {expect!r} not in the page")


def measure_with_wrk(url: str, cookie: str, seconds: int, connections: int) -> dict:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--latency", url]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")

    def milliseconds(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": milliseconds("50%"),
        "p99": milliseconds("99%"),
    }


def measure_with_threads(
    port: int, path: str, cookie: str, seconds: int, connections: int
) -> dict:
    """The same with http.client: each thread keeps its connection while the server
    lets it (gunicorn's sync workers close it after every response)."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    lock = threading.Lock()
    headers = {"Cookie": cookie} if cookie else {}

    def client() -> None:
        mine, conn = [], None
        while time.monotonic() < deadline:
            conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
            mine.append(time.perf_counter() - started)
            if response.will_close:
                conn.close()
                conn = None
        with lock:
            latencies.extend(mine)

    began = time.monotonic()
    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(client) for _ in range(connections)]:
            future.result()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / (time.monotonic() - began),
        "p50": cuts[49] * 1000,
        "p99": cuts[98] * 1000,
    }


def measure_pages(port: int, pages: dict, cookie: str, tool: str, args) -> dict:
    results = {}
    for label, (path, expect) in pages.items():
        page_cookie = cookie if path == "/orders/" else ""
        check_page(port, path, page_cookie, expect)
        if tool == "wrk":
            results[label] = measure_with_wrk(
                f"http://127.0.0.1:{port}{path}",
                page_cookie,
                args.duration,
                args.connections,
            )
        else:
            results[label] = measure_with_threads(
                port, path, page_cookie, args.duration, args.connections
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    tool = "wrk" if shutil.which("wrk") else "http.client threads"

    began = time.perf_counter()
    # An empty STATIC_ROOT: WhiteNoise warns about a missing one; no static file is fetched.
    with (
        tempfile.TemporaryDirectory() as static_root,
        throwaway_database(DATABASE),
    ):
        env = child_env(
            DATABASE,
            settings="bench.settings",
            DATABASE_CONN_MAX_AGE="60",
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=static_root,
        )
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        seed_reviews(env, REVIEWED_SKU, EXTRA_REVIEWS)
        cookie = session_cookie(env)
        queries = query_counts(env)
        with gunicorn(env, workers=WORKERS) as port:
            print(
                f"setup (database, migrations, demo data, gunicorn): "
                f"{time.perf_counter() - began:.1f} s"
            )
            print(
                f"gunicorn: {WORKERS} sync workers; {tool}: {args.connections} "
                f"connections, {args.duration} s per page"
            )

            results = measure_pages(port, PAGES, cookie, tool, args)
        uncached_env = {**env, "REVIEWS_CACHE_SECONDS": "0"}
        with gunicorn(uncached_env, workers=WORKERS) as port:
            results |= measure_pages(port, UNCACHED_REVIEW_PAGES, "", tool, args)

        baseline = results["constant view (baseline)"]["rps"]
        for label, figures in results.items():
            path = (PAGES | UNCACHED_REVIEW_PAGES)[label][0]
            count = queries.get(path)
            print(
                f"{label:<28} {figures['rps']:>8,.0f} requests/s  "
                f"p50 {figures['p50']:>6.1f} ms  p99 {figures['p99']:>6.1f} ms  "
                f"ratio to constant {figures['rps'] / baseline:.2f}"
                + (f"  ({count} queries uncached)" if count is not None else "")
            )
    print(f"total: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
