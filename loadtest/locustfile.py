"""The load: who uses the site and what each of them does, for locust.

    LOADTEST_DATA=accounts.json locust -f loadtest/locustfile.py --headless \
        --host http://127.0.0.1:8000 Visitor Customer Shop      # the mixed load
    ... BareViewUser                                            # the baseline

`python -m loadtest` starts everything and runs both; LOADTEST_DATA is the JSON of
loadtest/seed.py plus the API token, the Shopify secret and the SendGrid signing key.

Every request is named "<group>: <what>" (the report adds the groups up) and checks
its answer: the status and a piece of the page or JSON that only the right answer
has, so an error page, a login form or a refusal counts as a failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

# Every user thinks the same time between requests, in the mixed load and the baseline.
WAIT = between(0.05, 0.5)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY_INPUT = re.compile(r'name="key" value="([^"]+)"')
REASON_SELECT = re.compile(r'name="(line-\d+)-reason"')
WORDS = (
    "warm soft sturdy colour fabric stitching sleeves collar pocket zipper lining "
    "washing summer winter evening office bike rain comfortable heavy light loose "
    "tight length waist shoulders button seams pattern delivery package size chart "
    "gift weekend holiday walking cotton wool linen denim quality price value"
).split()


@cache
def data() -> dict:
    with open(os.environ["LOADTEST_DATA"], encoding="utf-8") as file:
        return json.load(file)


# Each Customer user signs in as the next seeded account (one locust process).
_next_customer = itertools.count()


class CheckedUser(FastHttpUser):
    """A user whose requests name their group and check the answer."""

    abstract = True
    wait_time = WAIT

    def expect(
        self,
        method: str,
        path: str,
        name: str,
        *,
        status: int = 200,
        contains: str = "",
        location: str = "",
        **kwargs,
    ):
        """Send one request; a wrong status, a missing `contains` or a redirect
        elsewhere than `location` is a failure. Returns the response."""
        kwargs.setdefault("allow_redirects", False)
        with self.client.request(
            method, path, name=name, catch_response=True, **kwargs
        ) as response:
            if response.status_code != status:
                response.failure(f"{response.status_code}, expected {status}")
            elif contains and contains not in (response.text or ""):
                response.failure(f"{contains!r} not in the answer")
            elif location and location not in (response.headers.get("Location") or ""):
                response.failure(
                    f"redirected to {response.headers.get('Location')!r}, "
                    f"expected {location!r}"
                )
            else:
                response.success()
        return response


class Visitor(CheckedUser):
    """An anonymous shopper: the site's pages and the embeds on the shop's pages."""

    weight = 6

    def sku(self) -> str:
        return random.choice(data()["products"])["sku"]  # noqa: S311

    @task(3)
    def home(self):
        self.expect("GET", "/", "pages: home", contains="Returns, made simple")

    @task(3)
    def policy_page(self):
        self.expect("GET", "/returns/clothing/", "pages: policy", contains="Clothing")

    @task(3)
    def product_reviews(self):
        self.expect(
            "GET",
            f"/products/{self.sku()}/reviews/",
            "pages: product reviews",
            contains="rw-reviews",
        )

    @task(3)
    def review_embed(self):
        self.expect(
            "GET",
            f"/embed/reviews/{self.sku()}/",
            "embeds: reviews",
            contains="rw-reviews-embed",
        )

    @task(2)
    def policy_embed(self):
        self.expect(
            "GET",
            f"/embed/policy/{self.sku()}/",
            "embeds: policy",
            contains="rw-policy",
        )

    @task(1)
    def policy_json(self):
        self.expect(
            "GET",
            f"/api/v1/policies/for-product/{self.sku()}",
            "embeds: policy JSON",
            contains='"window_days"',
        )

    @task(1)
    def reviews_json(self):
        self.expect(
            "GET",
            f"/api/v1/products/{self.sku()}/reviews",
            "embeds: reviews JSON",
            contains='"aggregate"',
        )


class Customer(CheckedUser):
    """A signed-in customer (behind the proxy, from an address of its own) who
    reviews what was delivered and sends some of it back."""

    weight = 2
    account: dict | None = None

    def on_start(self):
        customers = data()["customers"]
        index = next(_next_customer)
        if index >= len(customers):
            raise RuntimeError(f"only {len(customers)} customer accounts are seeded")
        self.account = customers[index]
        self.lines = list(self.account["lines"])
        self.orders = list(self.account["orders"])
        self.headers = {"X-Forwarded-For": f"10.20.{index // 250}.{index % 250 + 1}"}
        self.sign_in()

    def sign_in(self):
        page = self.expect(
            "GET", "/accounts/login/", "sign in: form", headers=self.headers
        )
        token = CSRF_INPUT.search(page.text or "")
        self.expect(
            "POST",
            "/accounts/login/",
            "sign in: submit",
            status=302,
            location="/orders/",
            headers=self.form_headers("/accounts/login/"),
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "login": self.account["email"],
                "password": self.account["password"],
            },
        )

    def form_headers(self, path: str) -> dict:
        return {**self.headers, "Referer": f"{self.host}{path}"}

    @task(2)
    def write_review(self):
        if not self.lines:
            return
        path = f"/reviews/write/{self.lines.pop()}/"
        page = self.expect(
            "GET", path, "reviews: form", contains="rating", headers=self.headers
        )
        token = CSRF_INPUT.search(page.text or "")
        words = [random.choice(WORDS) for _ in range(random.randint(12, 30))]  # noqa: S311
        self.expect(
            "POST",
            path,
            "reviews: submit",
            status=302,
            location="/reviews/mine/",
            headers=self.form_headers(path),
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "rating": str(random.randint(1, 5)),  # noqa: S311
                "title": " ".join(words[:4]).capitalize(),
                "body": " ".join(words).capitalize() + ".",
                "language": "en",
                "may_quote": "on",
            },
        )

    @task(1)
    def file_return(self):
        """The portal's four steps, as bench/returns_portal.py files a return."""
        if not self.orders:
            return
        path = f"/my-returns/orders/{self.orders.pop()}/"
        page = self.expect(
            "GET", path, "returns: form", contains="-reason", headers=self.headers
        )
        token = CSRF_INPUT.search(page.text or "")
        prefix = REASON_SELECT.search(page.text or "")
        if not (token and prefix):
            return
        line = prefix.group(1)
        self.expect(
            "POST",
            path,
            "returns: choose",
            status=302,
            location=f"{path}confirm/",
            headers=self.form_headers(path),
            data={
                "csrfmiddlewaretoken": token.group(1),
                f"{line}-quantity": "1",
                f"{line}-reason": "size-fit",
                f"{line}-resolution": "refund",
                f"{line}-comment": "The sleeves are too short.",
                f"{line}-prevention": "Arm length in the size chart.",
            },
        )
        page = self.expect(
            "GET",
            f"{path}confirm/",
            "returns: quote",
            contains='name="key"',
            headers=self.headers,
        )
        token = CSRF_INPUT.search(page.text or "")
        key = KEY_INPUT.search(page.text or "")
        if not (token and key):
            return
        self.expect(
            "POST",
            f"{path}confirm/",
            "returns: submit",
            status=302,
            location="/done/",
            headers=self.form_headers(f"{path}confirm/"),
            data={"csrfmiddlewaretoken": token.group(1), "key": key.group(1)},
        )


def order_body(number: str, email: str, products: list[dict]) -> dict:
    placed = datetime.now(UTC) - timedelta(days=4)
    return {
        "number": number,
        "placed_at": placed.isoformat(),
        "currency": "EUR",
        "customer": {
            "email": email,
            "first_name": "Api",
            "last_name": "Buyer",
            "language": "en",
        },
        "lines": [
            {
                "external_id": str(index),
                "sku": product["sku"],
                "name": product["name"],
                "category": "Clothing",
                "quantity": 1,
                "unit_price": "39.95",
            }
            for index, product in enumerate(products)
        ],
    }


class Shop(CheckedUser):
    """The web shop's back end: pushes orders and deliveries with its API token,
    and the webhooks Shopify and SendGrid send."""

    weight = 2

    def on_start(self):
        self.api_headers = {
            "Authorization": f"Token {data()['api_token']}",
            "Content-Type": "application/json",
        }
        self.pushed: list[str] = []
        self.shopify_sent = 0

    def new_order(self) -> tuple[str, dict]:
        external_id = f"lt-{uuid.uuid4().hex}"
        buyer = random.randrange(500)  # noqa: S311
        products = random.sample(data()["products"], random.randint(1, 3))  # noqa: S311
        return external_id, order_body(
            external_id[-12:], f"buyer{buyer}@example.com", products
        )

    @task(3)
    def push_order(self):
        if self.pushed and random.random() < 0.25:  # noqa: S311
            external_id, expected = random.choice(self.pushed), 200  # noqa: S311
            _, body = self.new_order()
        else:
            (external_id, body), expected = self.new_order(), 201
        self.expect(
            "PUT",
            f"/api/v1/orders/{external_id}",
            "api: order upsert",
            status=expected,
            contains='"external_id"',
            headers=self.api_headers,
            data=json.dumps(body),
        )
        if expected == 201:
            self.pushed = [*self.pushed[-49:], external_id]

    @task(1)
    def push_batch(self):
        orders = []
        for _ in range(10):
            external_id, body = self.new_order()
            orders.append({"external_id": external_id, **body})
        self.expect(
            "POST",
            "/api/v1/orders/batch",
            "api: order batch of 10",
            contains='"created":10',
            headers=self.api_headers,
            data=json.dumps({"orders": orders}, separators=(",", ":")),
        )

    @task(1)
    def push_delivery(self):
        if not self.pushed:
            return
        delivered = datetime.now(UTC) - timedelta(days=1)
        self.expect(
            "POST",
            f"/api/v1/orders/{random.choice(self.pushed)}/delivery",  # noqa: S311
            "api: delivery",
            contains='"delivered_at"',
            headers=self.api_headers,
            data=json.dumps({"delivered_at": delivered.isoformat()}),
        )

    @task(2)
    def shopify_webhook(self):
        order_id = random.randrange(10**12, 10**13)  # noqa: S311
        product = random.choice(data()["products"])  # noqa: S311
        body = json.dumps(
            {
                "id": order_id,
                "name": f"#{order_id % 10**6}",
                "created_at": datetime.now(UTC).isoformat(),
                "currency": "EUR",
                "email": f"shopify{order_id % 300}@example.com",
                "customer": {"first_name": "Shopify", "last_name": "Buyer"},
                "customer_locale": "nl-NL",
                "line_items": [
                    {
                        "id": order_id + 1,
                        "sku": product["sku"],
                        "title": product["name"],
                        "product_type": "Clothing",
                        "quantity": 1,
                        "price": "39.95",
                    }
                ],
            }
        ).encode()
        signature = base64.b64encode(
            hmac.new(data()["shopify_secret"].encode(), body, hashlib.sha256).digest()
        ).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        }
        self.expect(
            "POST",
            "/webhooks/shopify/",
            "webhooks: shopify order",
            contains='"created"',
            headers=headers,
            data=body,
        )
        # Shopify delivers again now and then (here the first and every fifth): the
        # same delivery id is answered as a duplicate.
        self.shopify_sent += 1
        if self.shopify_sent % 5 == 1:
            self.expect(
                "POST",
                "/webhooks/shopify/",
                "webhooks: shopify repeat",
                contains='"duplicate"',
                headers=headers,
                data=body,
            )

    @task(2)
    def sendgrid_events(self):
        now = int(time.time())
        events = [
            {
                "email": f"buyer{random.randrange(500)}@example.com",  # noqa: S311
                "timestamp": now,
                "event": kind,
                "sg_event_id": uuid.uuid4().hex,
                "sg_message_id": f"lt{uuid.uuid4().hex[:16]}.filter0001",
            }
            for kind in ("processed", "delivered", "open")
        ]
        body = json.dumps(events).encode()
        self.expect(
            "POST",
            "/webhooks/sendgrid/events",
            "webhooks: sendgrid events",
            contains='"new": 3',
            headers={
                "Content-Type": "application/json",
                **sendgrid_signature(body, str(now)),
            },
            data=body,
        )


@cache
def _sendgrid_key():
    return serialization.load_pem_private_key(
        data()["sendgrid_private_key"].encode(), password=None
    )


def sendgrid_signature(body: bytes, timestamp: str) -> dict[str, str]:
    """SendGrid's Event Webhook headers: ECDSA P-256 over timestamp + body."""
    signature = _sendgrid_key().sign(
        timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
    )
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


class BareViewUser(CheckedUser):
    """The baseline: the same users and think time, each request the bare view."""

    weight = 1

    @task
    def bare(self):
        self.expect("GET", "/loadtest/bare/", "baseline: bare view", contains="ok")
