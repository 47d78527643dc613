"""The load test's users do what the site expects: every task of the mixed load, run
once against a live server (loadtest/once.py, in its own process as locust runs it),
gets the answer it checks for, and leaves the rows a real user's would."""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from emails.models import ProviderEvent
from loadtest.__main__ import sendgrid_keys
from loadtest.seed import seed, seed_light
from returns.models import ReturnRequest
from reviews.models import Review
from shop.models import Order, WebhookDelivery
from shop.services import create_api_token


@pytest.fixture
def load_data(tmp_path, settings):
    seed_light()
    data = seed(customers=1, orders_each=3)
    private_pem, public_der = sendgrid_keys()
    settings.SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = public_der
    data |= {
        "api_token": create_api_token(name="loadtest")[1],
        "shopify_secret": settings.SHOPIFY_WEBHOOK_SECRET,
        "sendgrid_private_key": private_pem,
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    return path, data


def run_once(host: str, data_path) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.once", host, "0"],
        cwd=settings.BASE_DIR,
        env={"LOADTEST_DATA": str(data_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_task_succeeds_once_and_stores_what_a_user_would(live_server, load_data):
    data_path, data = load_data
    customer = data["customers"][0]

    returncode, outcomes = run_once(live_server.url, data_path)

    assert {name: failure for name, failure in outcomes.items() if failure} == {}
    assert returncode == 0
    # Every task of every user class made its requests (none skipped itself).
    # Every task of every user class made its requests (none skipped itself).
    assert sorted(outcomes) == [
        "api: delivery",
        "api: order batch of 10",
        "api: order upsert",
        "embeds: policy",
        "embeds: policy JSON",
        "embeds: reviews",
        "embeds: reviews JSON",
        "pages: home",
        "pages: policy",
        "pages: product reviews",
        "returns: choose",
        "returns: form",
        "returns: quote",
        "returns: submit",
        "reviews: form",
        "reviews: submit",
        "sign in: form",
        "sign in: submit",
        "webhooks: sendgrid events",
        "webhooks: shopify order",
        "webhooks: shopify repeat",
    ]
    review = Review.objects.get(customer__email=customer["email"])
    assert (review.order_line_id, review.status) == (customer["lines"][-1], "approved")
    assert list(
        ReturnRequest.objects.filter(customer__email=customer["email"]).values_list(
            "order_id", flat=True
        )
    ) == [customer["orders"][-1]]
    # One upsert, a batch of ten; one Shopify order, its repeat stored once.
    assert Order.objects.filter(external_id__startswith="lt-").count() == 11
    assert (
        Order.objects.filter(
            external_id__startswith="lt-", delivered_at__isnull=False
        ).count()
        == 1
    )
    assert WebhookDelivery.objects.count() == 1
    assert Order.objects.filter(source="shopify").count() == 1
    assert ProviderEvent.objects.count() == 3
