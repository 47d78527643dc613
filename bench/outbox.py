"""Benchmark: the e-mail outbox sending 100,000 queued messages to the local SendGrid
stand-in through real Celery workers on Redis, against the stand-in's own intake rate
for ready-made requests in the same run.

    .venv/bin/python -m bench.outbox [--messages 100000] [--workers 2]

Creates a throwaway PostgreSQL database, migrates it, queues the messages (one
template, so they batch 1,000 to a request, as a campaign would), starts the stand-in
(tests/emails/standin.py, in this process) and N solo workers (one per core) on Redis
DB 13, kicks one sender chain per worker and waits until every message is sent.
Prints messages/s, HTTP requests, each worker's peak RSS (VmHWM), and the ratio
against the stand-in's intake of the same requests built ahead of time (the physical
limit here). The database is dropped at the end.

Targets: all sent in under 120 s, peak worker RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.harness import BASE_DIR, child_env, manage, throwaway_database

DATABASE = "returnwise_bench_outbox"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TARGET_SECONDS = 120.0
TARGET_RSS_MB = 300.0


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with throwaway_database(DATABASE):
        env = child_env(DATABASE, CELERY_BROKER_URL=REDIS_URL, DEBUG="false")
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

        from emails import transport
        from emails.models import Message, Status
        from tests.emails.standin import StandIn

        stand_in = StandIn().start()
        worker_env = {
            **os.environ,
            "SENDGRID_API_KEY": "SG.bench",
            "SENDGRID_API_HOST": stand_in.url,
        }
        try:
            # The stand-in's intake of ready-made 1,000-recipient requests, sent by as
            # many client threads as there will be workers.
            outgoing = [
                transport.Outgoing(
                    message_id=n,
                    key=f"intake:{n}",
                    to_email=f"c{n}@example.com",
                    from_email="Returnwise <service@example.com>",
                    subject="A test e-mail from Returnwise",
                    html="<p>" + "x" * 4000 + "</p>",
                    text="x" * 1000,
                    categories=("service", "bench"),
                )
                for n in range(1000)
            ]
            body = transport.request_body(outgoing)
            from django.conf import settings

            settings.SENDGRID_API_KEY = "SG.bench"
            settings.SENDGRID_API_HOST = stand_in.url
            rounds = 10

            def post_many():
                client = transport.sendgrid_client()
                for _ in range(rounds):
                    client.send(body)

            threads = [threading.Thread(target=post_many) for _ in range(args.workers)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            intake_seconds = time.perf_counter() - started
            intake_rate = rounds * args.workers * 1000 / intake_seconds
            intake_requests = len(stand_in.requests)

            print(f"queueing {args.messages:,} messages ...", flush=True)
            now = timezone.now()
            for start in range(0, args.messages, 5000):
                Message.objects.bulk_create(
                    Message(
                        key=f"bench:{n}",
                        to_email=f"customer{n}@example.com",
                        sender_label="bench",
                        template="test_message",
                        context={"first_name": ""},
                        next_attempt_at=now,
                    )
                    for n in range(start, min(start + 5000, args.messages))
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
                        f"bench{index}@%h",
                    ],
                    cwd=BASE_DIR,
                    env=worker_env,
                    stdout=subprocess.DEVNULL,
                )
                for index in range(args.workers)
            ]
            time.sleep(3)  # let the workers connect
            producer = Celery(broker=REDIS_URL)
            started = time.perf_counter()
            for _ in range(args.workers):
                producer.send_task("emails.tasks.send_due_messages_task")
            peaks = [0.0] * len(workers)
            while True:
                sent = Message.objects.filter(status=Status.SENT).count()
                peaks = [
                    max(peak, peak_rss_mb(w.pid))
                    for peak, w in zip(peaks, workers, strict=True)
                ]
                if sent >= args.messages:
                    break
                if time.perf_counter() - started > 600:
                    print(f"gave up after 600 s with {sent:,} sent")
                    break
                time.sleep(0.5)
            elapsed = time.perf_counter() - started
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
        finally:
            stand_in.stop()
            from django.db import connections

            connections.close_all()

    rate = sent / elapsed
    requests = len(stand_in.requests) - intake_requests
    print(f"sent:                {sent:,} of {args.messages:,} in {elapsed:.1f} s")
    print(f"messages/s:          {rate:,.0f}")
    print(
        f"HTTP requests:       {requests:,} ({sent / max(requests, 1):,.0f} recipients each)"
    )
    print(f"stand-in intake:     {intake_rate:,.0f} recipients/s (ready-made requests)")
    print(f"ratio:               {rate / intake_rate:.2f} of the stand-in's intake")
    print("peak worker RSS:     " + ", ".join(f"{p:.0f} MB" for p in peaks))
    ok = (
        elapsed < TARGET_SECONDS
        and max(peaks) < TARGET_RSS_MB
        and sent >= args.messages
    )
    print(
        f"target (< {TARGET_SECONDS:.0f} s, < {TARGET_RSS_MB:.0f} MB): "
        + ("met" if ok else "NOT met")
    )


if __name__ == "__main__":
    main()
