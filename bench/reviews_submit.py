"""Benchmark: reviews submitted through the customer's form, on PostgreSQL.

    .venv/bin/python -m bench.reviews_submit [--reviews 400] [--photo-every 4]

Creates a throwaway database (returnwise_bench_reviews), migrates it, gives 50 signed-in
customers delivered order lines, turns auto-approval of clean reviews on, and POSTs
the review form (Django's test client, the whole middleware stack) once per line:
each request validates the form, decodes and re-encodes the photo when there is one,
runs the automatic checks (including the near-copy search over earlier reviews),
writes the review and its event, approves it and awards its points in the ledger
(`review:<id>`, `review-photo:<id>`). Rate limits are off for the run.

Printed: reviews per second, and the ratio against a POST to a view that does nothing
through the same stack (bench/urls.py's /bench/constant/), measured in the same run.
There is no target; the run fails only if a review was refused or the ledger does not
add up. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import tempfile
import time

from bench.harness import child_env, throwaway_database

DATABASE = "returnwise_bench_reviews"
CUSTOMERS = 50
SEED = 20261127
# Photos go to a temporary directory, removed at the end.
MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-reviews-media-")
WORDS = (
    "warm soft sturdy colour fabric stitching sleeves collar pocket zipper lining "
    "washing machine summer winter evening office bike rain wind comfortable heavy "
    "light loose tight length waist shoulders button seams pattern delivery package "
    "size chart friend gift daughter son partner weekend holiday walking running "
    "cotton wool linen denim leather canvas quality price value smell texture"
).split()


def setup_django() -> None:
    os.environ.update(
        child_env(
            DATABASE,
            settings="bench.settings",
            ALLOWED_HOSTS="testserver",
            MEDIA_ROOT=MEDIA_ROOT,
        )
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def body_text(rng: random.Random) -> str:
    """A different text every time, so no review is flagged as a near-copy."""
    sentences = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize()
        + "."
        for _ in range(rng.randint(2, 4))
    ]
    return " ".join(sentences)


def jpeg(rng: random.Random) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    colour = tuple(rng.randrange(256) for _ in range(3))
    Image.new("RGB", (1024, 768), colour).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def prepare(count: int):
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from reviews.models import ReviewSettings
    from shop.models import Customer, Order, OrderLine, Product

    settings_row = ReviewSettings.load()
    settings_row.auto_approve_clean = True
    settings_row.submissions_per_hour = 0
    settings_row.save()
    product = Product.objects.create(
        sku="BENCH-1", name="Bench jumper", price=Decimal("49.95"), currency="EUR"
    )
    users = get_user_model().objects
    clients, lines = [], []
    delivered = timezone.now() - timedelta(days=3)
    for index in range(CUSTOMERS):
        user = users.create_user(f"bench{index}", f"bench{index}@example.com", "x")
        customer = Customer.objects.create(email=user.email, user=user)
        client = Client(HTTP_HOST="testserver")
        client.force_login(user)
        clients.append(client)
        per_customer = count // CUSTOMERS + 1
        for number in range(per_customer):
            order = Order.objects.create(
                external_id=f"bench-{index}-{number}",
                number=f"B{index}-{number}",
                customer=customer,
                placed_at=delivered - timedelta(days=2),
                delivered_at=delivered,
                currency="EUR",
            )
            lines.append(
                (
                    index,
                    OrderLine.objects.create(
                        order=order,
                        external_id="1",
                        product=product,
                        quantity=1,
                        unit_price=Decimal("49.95"),
                    ).pk,
                )
            )
    return clients, lines[:count]


def bench_submit(clients, lines, photo_every: int) -> tuple[float, int]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    rng = random.Random(SEED)  # noqa: S311  (benchmark data, not secrets)
    forms = []
    for number, (client_index, line_id) in enumerate(lines):
        data = {
            "rating": str(rng.randint(1, 5)),
            "title": f"Review {number}",
            "body": body_text(rng),
            "language": "en",
            "may_quote": "on",
        }
        if photo_every and number % photo_every == 0:
            data["photos"] = [SimpleUploadedFile("p.jpg", jpeg(rng), "image/jpeg")]
        forms.append((clients[client_index], line_id, data))

    refused = 0
    started = time.perf_counter()
    for client, line_id, data in forms:
        response = client.post(f"/reviews/write/{line_id}/", data)
        refused += response.status_code != 302
    return time.perf_counter() - started, refused


def bench_baseline(clients, count: int) -> float:
    started = time.perf_counter()
    for number in range(count):
        clients[number % len(clients)].post("/bench/constant/", {"a": "b"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=400)
    parser.add_argument(
        "--photo-every", type=int, default=4, help="a photo with every Nth review"
    )
    args = parser.parse_args()

    with throwaway_database(DATABASE):
        setup_django()
        clients, lines = prepare(args.reviews)
        seconds, refused = bench_submit(clients, lines, args.photo_every)
        baseline = bench_baseline(clients, args.reviews)
        from django.db import connections
        from django.db.models import Sum

        from loyalty.models import PointsEntry
        from loyalty.queries import ledger_mismatches
        from reviews.models import Review

        approved = Review.objects.filter(status="approved")
        awarded = PointsEntry.objects.filter(key__startswith="review").aggregate(
            total=Sum("amount")
        )["total"]
        expected = approved.aggregate(total=Sum("points_awarded"))["total"]
        counts = (Review.objects.count(), approved.count())
        mismatches = ledger_mismatches()
        connections.close_all()
    shutil.rmtree(MEDIA_ROOT, ignore_errors=True)

    rate = args.reviews / seconds
    baseline_rate = args.reviews / baseline
    print(f"reviews submitted : {counts[0]} ({counts[1]} approved with points)")
    print(f"through the form  : {rate:8.1f} reviews/s")
    print(f"do-nothing POST   : {baseline_rate:8.1f} requests/s")
    print(f"ratio             : {rate / baseline_rate:8.3f} of the bare view")
    print(
        f"refused           : {refused}; ledgers that do not add up: {len(mismatches)}"
    )
    ok = (
        refused == 0
        and counts == (args.reviews, args.reviews)
        and awarded == expected
        and not mismatches
    )
    print("OK" if ok else "FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
