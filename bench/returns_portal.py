"""Benchmark: returns filed per second through the portal's HTTP flow, on gunicorn +
PostgreSQL, as a ratio against a constant view.

    .venv/bin/python -m bench.returns_portal [--returns 200] [--connections 4]

Creates a throwaway database (returnwise_bench_returns), migrates it (which seeds the
return reasons), publishes one default return policy, adds a fulfilment centre and
`--connections` signed-in customers, each with delivered one-line orders, then starts
gunicorn (config.wsgi with bench.settings: DEBUG=0, persistent database connections,
2 sync workers) and files one return per order with one client thread per customer,
exactly as a browser does:

    GET  /my-returns/orders/<id>/          the form (lines, eligibility, reasons)
    POST /my-returns/orders/<id>/          lines, reason, feedback, resolution
    GET  /my-returns/orders/<id>/confirm/  the quote, with the one-time key
    POST /my-returns/orders/<id>/confirm/  submit_return → 302 to the done page

Printed: returns filed per second, the portal's requests per second (four per
return), the constant view's requests per second (bench/urls.py's /bench/constant/,
measured on the same gunicorn with the same threads) and the ratios. There is no
target; the run fails if a return was refused or the count does not match. The
database is dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.harness import child_env, gunicorn, manage, throwaway_database

DATABASE = "returnwise_bench_returns"
WORKERS = 2

PREPARE = """
import json
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from wagtail.models import Locale, Page, Site

from cms.models import HomePage, ReturnPolicyIndexPage, ReturnPolicyPage
from returns.models import FulfilmentCentre
from shop.models import Category, Customer, Order, OrderLine, Product

english = Locale.objects.get(language_code="en")
home = Page.get_first_root_node().add_child(
    instance=HomePage(title="Home", slug="bench-home", locale=english)
)
Site.objects.update_or_create(
    is_default_site=True,
    defaults={"hostname": "127.0.0.1", "port": 80, "root_page": home},
)
index = home.add_child(instance=ReturnPolicyIndexPage(title="Returns", slug="returns"))
policy = ReturnPolicyPage(
    title="Everything", is_default=True, summary="Return it within 30 days.",
    window_days=30, offers_refund=True, offers_exchange=True,
    fault_shipping_payer="shop", fault_shipping_cost=Decimal("4.95"),
    remorse_shipping_payer="customer", remorse_shipping_cost=Decimal("4.95"),
)
index.add_child(instance=policy)
policy.save_revision().publish()
FulfilmentCentre.objects.create(
    name="Bench warehouse", code="bench", address="Havenweg 12\\n3011 AA Rotterdam",
    is_default=True,
)
category = Category.objects.create(name="Clothing")
product = Product.objects.create(
    sku="BENCH-SHIRT", name="Bench shirt", category=category,
    price=Decimal("40.00"), currency="EUR",
)
delivered = timezone.now() - timedelta(days=3)
customers = []
for index_ in range(CUSTOMERS):
    user = get_user_model().objects.create_user(
        f"bench{index_}", f"bench{index_}@example.com", "x"
    )
    customer = Customer.objects.create(email=user.email, user=user)
    client = Client()
    client.force_login(user)
    orders = []
    for number in range(PER_CUSTOMER):
        order = Order.objects.create(
            external_id=f"bench-{index_}-{number}", number=f"B{index_}-{number}",
            customer=customer, placed_at=delivered - timedelta(days=2),
            shipped_at=delivered - timedelta(days=1), delivered_at=delivered,
            currency="EUR", total=Decimal("40.00"),
        )
        OrderLine.objects.create(
            order=order, external_id="1", product=product, quantity=1,
            unit_price=Decimal("40.00"),
        )
        orders.append(order.pk)
    customers.append(
        {"session": client.cookies[settings.SESSION_COOKIE_NAME].value,
         "orders": orders}
    )
print(json.dumps(customers))
"""

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY_INPUT = re.compile(r'name="key" value="([^"]+)"')
REASON_SELECT = re.compile(r'name="(line-\d+)-reason"')


class Browser:
    """One customer's cookies over one keep-alive connection (reopened as gunicorn's
    sync workers close it)."""

    def __init__(self, port: int, session: str):
        self.port = port
        self.cookies = {"sessionid": session}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, form: dict | None = None):
        body = urlencode(form) if form is not None else None
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "Host": "127.0.0.1",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        for attempt in range(2):
            self.conn = self.conn or http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30
            )
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            for header in response.msg.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, response.getheader("Location", ""), text
        raise RuntimeError("unreachable")


def file_return(browser: Browser, order_id: int) -> bool:
    path = f"/my-returns/orders/{order_id}/"
    status, _, html = browser.request("GET", path)
    if status != 200:
        return False
    token = CSRF_INPUT.search(html).group(1)
    prefix = REASON_SELECT.search(html).group(1)
    status, _, _ = browser.request(
        "POST",
        path,
        {
            "csrfmiddlewaretoken": token,
            f"{prefix}-quantity": "1",
            f"{prefix}-reason": "size-fit",
            f"{prefix}-resolution": "refund",
            f"{prefix}-comment": "The sleeves are too short.",
            f"{prefix}-prevention": "Arm length in the size chart.",
        },
    )
    if status != 302:
        return False
    status, _, html = browser.request("GET", f"{path}confirm/")
    if status != 200:
        return False
    status, location, _ = browser.request(
        "POST",
        f"{path}confirm/",
        {
            "csrfmiddlewaretoken": CSRF_INPUT.search(html).group(1),
            "key": KEY_INPUT.search(html).group(1),
        },
    )
    return status == 302 and "/done/" in location


def run_portal(port: int, customers: list[dict]) -> tuple[float, int]:
    refused = 0
    lock = threading.Lock()

    def customer_run(customer: dict) -> None:
        nonlocal refused
        browser = Browser(port, customer["session"])
        for order_id in customer["orders"]:
            if not file_return(browser, order_id):
                with lock:
                    refused += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(len(customers)) as pool:
        list(pool.map(customer_run, customers))
    return time.perf_counter() - started, refused


def run_baseline(port: int, customers: list[dict], requests: int) -> float:
    per_thread = requests // len(customers)

    def constant_run(customer: dict) -> None:
        browser = Browser(port, customer["session"])
        for _ in range(per_thread):
            browser.request("GET", "/bench/constant/")

    started = time.perf_counter()
    with ThreadPoolExecutor(len(customers)) as pool:
        list(pool.map(constant_run, customers))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    per_customer = max(args.returns // args.connections, 1)
    total = per_customer * args.connections

    began = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as static_root,
        tempfile.TemporaryDirectory() as media_root,
        throwaway_database(DATABASE),
    ):
        env = child_env(
            DATABASE,
            settings="bench.settings",
            DATABASE_CONN_MAX_AGE="60",
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=static_root,
            MEDIA_ROOT=media_root,
        )
        manage(env, "migrate", "--noinput")
        script = (
            f"CUSTOMERS = {args.connections}\nPER_CUSTOMER = {per_customer}\n" + PREPARE
        )
        customers = json.loads(
            manage(env, "shell", "-v", "0", "-c", script).strip().splitlines()[-1]
        )
        with gunicorn(env, workers=WORKERS) as port:
            print(
                f"setup (database, migrations, policy, {total} orders, gunicorn): "
                f"{time.perf_counter() - began:.1f} s"
            )
            seconds, refused = run_portal(port, customers)
            baseline = run_baseline(port, customers, total * 4)
        count_script = (
            "from returns.models import ReturnRequest; "
            "print(ReturnRequest.objects.count())"
        )
        filed = int(manage(env, "shell", "-v", "0", "-c", count_script).strip())

    rate = total / seconds
    portal_rps = total * 4 / seconds
    baseline_rps = (total * 4) / baseline
    print(f"gunicorn: {WORKERS} sync workers; {args.connections} customers in parallel")
    print(f"returns filed     : {filed} of {total} (refused: {refused})")
    print(f"through the portal: {rate:8.1f} returns/s ({portal_rps:.1f} requests/s)")
    print(f"constant view     : {baseline_rps:8.1f} requests/s")
    print(
        f"ratio             : {rate / baseline_rps:8.3f} returns per constant request"
    )
    print(f"                    {portal_rps / baseline_rps:8.3f} per portal request")
    print(f"total: {time.perf_counter() - began:.1f} s")
    ok = refused == 0 and filed == total
    print("OK" if ok else "FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
