"""Benchmark: a post-purchase campaign with featured reviews for 100,000 delivered
orders due at once: the time to assign and enqueue them all (campaigns.services.
schedule_due, in its own process, as the beat runs it) and to send them to the local
SendGrid stand-in through real Celery workers on Redis (BENCH_FAN_OUT=1 hands the
batches to the workers instead: schedule_due(fan_out=True), not yet proven at scale),
against sending the same
number of plain pre-rendered messages in the same run, and the peak RSS.

    .venv/bin/python -m bench.campaigns [--orders 100000] [--workers 2]

Creates a throwaway PostgreSQL database, migrates it, seeds 500 products with 3,000
reviews (mixed ratings, some rewarded) and N customers with one delivered order each
(1-3 lines), starts the stand-in (tests/emails/standin.py, in this process) and N solo
workers. First the baseline: N x 0.9 ready-made identical messages are queued ahead of
time and sent (timed from the kick to the last one sent). Then the campaign: the
scheduler process starts (timed from its start to the last campaign message sent,
the workers sending while it enqueues). The database is dropped at the end.

Target: campaign (enqueue + send) within 2x the plain messages' time per message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import time
from decimal import Decimal

from bench.harness import BASE_DIR, child_env, manage, throwaway_database
from bench.outbox import peak_rss_mb

DATABASE = "returnwise_bench_campaigns"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
TARGET_RATIO = 2.0

SCHEDULER = """
import os, resource, sys, time, django
django.setup()
FAN_OUT = os.environ.get("BENCH_FAN_OUT", "0") == "1"
from campaigns.services import schedule_due
started = time.perf_counter()
if os.environ.get("BENCH_PROFILE"):
    import cProfile, pstats
    profile = cProfile.Profile()
    report = profile.runcall(schedule_due, fan_out=FAN_OUT)
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
else:
    report = schedule_due(fan_out=FAN_OUT)
elapsed = time.perf_counter() - started
print(report.assigned, report.queued, report.holdout, report.batches, f"{elapsed:.2f}",
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def seed(orders: int) -> int:
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignContent, CampaignKind, CampaignStatus
    from reviews.models import Review, ReviewStatus
    from shop.models import Category, Customer, Order, OrderLine, OrderSource, Product

    rng = random.Random(9)  # noqa: S311  (bench data)
    now = timezone.now()
    category = Category.objects.create(name="Bench")
    products = Product.objects.bulk_create(
        Product(
            sku=f"B{n:04d}",
            name=f"Bench product {n}",
            category=category,
            price=Decimal("29.95"),
            currency="EUR",
            product_url=f"https://shop.example.com/p/{n}",
        )
        for n in range(500)
    )
    # Reviewers: old orders, outside the campaign's range.
    reviewers = Customer.objects.bulk_create(
        Customer(email=f"reviewer{n}@example.com", first_name="Rita", last_name="R")
        for n in range(3000)
    )
    old = now - dt.timedelta(days=400)
    review_orders = Order.objects.bulk_create(
        Order(
            source=OrderSource.SHOP,
            external_id=f"r{n}",
            number=f"R{n}",
            customer=customer,
            placed_at=old,
            delivered_at=old,
            currency="EUR",
            total=0,
        )
        for n, customer in enumerate(reviewers)
    )
    review_lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            external_id=f"rl{n}",
            product=products[n % len(products)],
            quantity=1,
            unit_price=Decimal("29.95"),
        )
        for n, order in enumerate(review_orders)
    )
    Review.objects.bulk_create(
        Review(
            order_line=line,
            customer=line.order.customer,
            product=line.product,
            rating=rng.choice([5, 5, 5, 4, 4, 3, 2, 1]),
            title="Really good value",
            body="Comfortable, well made and exactly as described. "
            * rng.randint(1, 6),
            language=rng.choice(["en", "nl"]),
            status=ReviewStatus.APPROVED,
            may_quote=True,
            rewarded=rng.random() < 0.3,
            helpful_count=rng.randint(0, 12),
            approved_at=old,
        )
        for line in review_lines
    )
    delivered = now - dt.timedelta(days=4)
    for start in range(0, orders, 10_000):
        size = min(10_000, orders - start)
        customers = Customer.objects.bulk_create(
            Customer(
                email=f"buyer{n}@example.com",
                first_name="Bo",
                language="nl" if n % 2 else "en",
                marketing_consent=True,
            )
            for n in range(start, start + size)
        )
        batch = Order.objects.bulk_create(
            Order(
                source=OrderSource.SHOP,
                external_id=f"o{n}",
                number=f"O{n}",
                customer=customer,
                placed_at=delivered - dt.timedelta(days=2),
                delivered_at=delivered,
                currency="EUR",
                total=0,
            )
            for n, customer in zip(range(start, start + size), customers, strict=True)
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                external_id=f"l{order.pk}-{k}",
                product=rng.choice(products),
                quantity=1,
                unit_price=Decimal("29.95"),
            )
            for order in batch
            for k in range(rng.randint(1, 3))
        )
    campaign = Campaign.objects.create(
        name="Bench post-purchase",
        kind=CampaignKind.POST_PURCHASE,
        status=CampaignStatus.ACTIVE,
        delay_days=3,
        holdout_percent=10,
        window_start=dt.time(0),
        window_end=dt.time(0),
        activated_at=now - dt.timedelta(days=30),
    )
    for language in ("en", "nl"):
        CampaignContent.objects.create(
            campaign=campaign,
            language=language,
            subject=f"How are you getting on? [{language}]",
            body=[
                ("heading", "Enjoy your purchase"),
                ("text", "<p>Here is what other buyers say.</p>"),
                ("featured_reviews", {"heading": "What buyers say", "fallback": ""}),
                ("button", {"text": "Shop", "url": "https://shop.example.com/"}),
            ],
        )
    return campaign.pk


def wait_sent(query, expected: int, workers, started: float, peaks: list[float]):
    while True:
        sent = query.count()
        for index, worker in enumerate(workers):
            peaks[index] = max(peaks[index], peak_rss_mb(worker.pid))
        if sent >= expected:
            return sent, time.perf_counter() - started
        if time.perf_counter() - started > 1200:
            print(f"gave up after 1200 s with {sent:,} of {expected:,} sent")
            return sent, time.perf_counter() - started
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with throwaway_database(DATABASE):
        env = child_env(
            DATABASE,
            CELERY_BROKER_URL=REDIS_URL,
            DEBUG="false",
            CAMPAIGNS_QUIET_HOURS="00:00-00:00",
        )
        os.environ.update(env)
        manage(env, "migrate", "--noinput", "-v", "0")
        subprocess.run(
            ["redis-cli", "-n", REDIS_URL.rsplit("/", 1)[-1], "flushdb"],
            check=False,
            capture_output=True,
        )

        import django

        django.setup()
        from celery import Celery
        from django.utils import timezone

        from emails.models import Message, Status
        from tests.emails.standin import StandIn

        print(f"seeding {args.orders:,} delivered orders ...", flush=True)
        seeded = time.perf_counter()
        campaign_id = seed(args.orders)
        print(f"seeded in {time.perf_counter() - seeded:.0f} s", flush=True)

        stand_in = StandIn().start()
        worker_env = {
            **os.environ,
            "SENDGRID_API_KEY": "SG.bench",
            "SENDGRID_API_HOST": stand_in.url,
        }
        workers = []
        try:
            plain_n = int(args.orders * 0.9)
            now = timezone.now()
            for start in range(0, plain_n, 5000):
                Message.objects.bulk_create(
                    Message(
                        key=f"plain:{n}",
                        to_email=f"plain{n}@example.com",
                        sender_label="bench",
                        subject="A plain e-mail from Returnwise",
                        html="<p>" + "x" * 4000 + "</p>",
                        text="x" * 1000,
                        next_attempt_at=now,
                    )
                    for n in range(start, min(start + 5000, plain_n))
                )
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--pool",
                        "solo",
                        "--loglevel",
                        "WARNING",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                        "-n",
                        f"benchcampaign{index}@%h",
                    ],
                    cwd=BASE_DIR,
                    env=worker_env,
                    stdout=subprocess.DEVNULL,
                )
                for index in range(args.workers)
            ]
            time.sleep(3)
            producer = Celery(broker=REDIS_URL)
            peaks = [0.0] * len(workers)

            print(f"baseline: sending {plain_n:,} plain messages ...", flush=True)
            started = time.perf_counter()
            for _ in range(args.workers):
                producer.send_task("emails.tasks.send_due_messages_task")
            plain_sent, plain_seconds = wait_sent(
                Message.objects.filter(key__startswith="plain:", status=Status.SENT),
                plain_n,
                workers,
                started,
                peaks,
            )
            plain_requests = len(stand_in.requests)

            print("campaign: assigning, enqueueing and sending ...", flush=True)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", SCHEDULER],
                cwd=BASE_DIR,
                env=worker_env,
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            assigned, queued, holdout, batches, enqueue_seconds, scheduler_rss = (
                done.stdout.split()[-6:]
            )
            assigned = args.orders
            # The beat's pass hands the batches to the workers (fan-out), which
            # assign, queue and send; wait until every order is assigned and every
            # treated one sent.
            from campaigns.models import Assignment, Group

            while Assignment.objects.filter(campaign_id=campaign_id).count() < (
                args.orders
            ):
                time.sleep(0.5)
                if time.perf_counter() - started > 1200:
                    break
            queued = Assignment.objects.filter(
                campaign_id=campaign_id, group=Group.TREATMENT
            ).count()
            holdout = args.orders - queued
            if os.environ.get("BENCH_FAN_OUT", "0") == "1":
                enqueue_seconds = time.perf_counter() - started
            for _ in range(args.workers):
                producer.send_task("emails.tasks.send_due_messages_task")
            campaign_sent, campaign_seconds = wait_sent(
                Message.objects.filter(
                    key__startswith=f"campaign:{campaign_id}:", status=Status.SENT
                ),
                int(queued),
                workers,
                started,
                peaks,
            )
            campaign_requests = len(stand_in.requests) - plain_requests
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
            stand_in.stop()
            from django.db import connections

            connections.close_all()

    plain_per = plain_seconds / max(plain_sent, 1)
    campaign_per = campaign_seconds / max(campaign_sent, 1)
    ratio = campaign_per / plain_per
    print(
        f"plain:       {plain_sent:,} sent in {plain_seconds:.1f} s "
        f"({plain_sent / plain_seconds:,.0f}/s, {plain_requests:,} requests)"
    )
    print(
        f"campaign:    {assigned} assigned ({holdout} holdout) in {batches} batches, "
        f"{queued} queued in {float(enqueue_seconds):.1f} s"
    )
    print(
        f"             {campaign_sent:,} sent {campaign_seconds:.1f} s after the start "
        f"({campaign_sent / campaign_seconds:,.0f}/s, {campaign_requests:,} requests)"
    )
    print(f"ratio:       {ratio:.2f}x the plain messages' time per message")
    print(
        f"peak RSS:    scheduler {scheduler_rss} MB, workers "
        + ", ".join(f"{p:.0f} MB" for p in peaks)
    )
    ok = ratio <= TARGET_RATIO and campaign_sent >= int(queued)
    print(f"target (<= {TARGET_RATIO:.0f}x): " + ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
