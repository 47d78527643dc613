"""Benchmark: the points ledger on PostgreSQL.

    .venv/bin/python -m bench.ledger [--awards 5000]

Creates a throwaway database (returnwise_bench_ledger), migrates it, then measures in
the same run:

1. `award_points` (lock the account, check the key, insert the entry, move the balance,
   one transaction per call) against a plain INSERT of the same rows, one autocommit
   statement per row, into a table with the same columns. Target: within 5x.
2. Reading a balance (what "My points" and the API do) for an account with 10 entries
   and one with 100,000: the query count and the time must not grow, because the
   balance is cached on the account row.

The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.harness import child_env, throwaway_database

DATABASE = "returnwise_bench_ledger"
TARGET_RATIO = 5.0
CUSTOMERS = 500
BIG_ACCOUNT_ENTRIES = 100_000
BALANCE_READS = 500

PLAIN_TABLE = """
CREATE TABLE bench_plain_entries (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    amount integer NOT NULL,
    kind varchar(10) NOT NULL,
    reason varchar(255) NOT NULL,
    key varchar(120) NOT NULL UNIQUE,
    created_by_id integer NULL,
    created_at timestamptz NOT NULL
)
"""


def setup_django() -> None:
    os.environ.update(child_env(DATABASE))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def bench_awards(count: int) -> tuple[float, float]:
    from django.db import connection
    from django.utils import timezone

    from loyalty.models import LoyaltySettings, PointsAccount
    from loyalty.services import award_points
    from shop.models import Customer

    Customer.objects.bulk_create(
        Customer(email=f"bench{i}@example.com") for i in range(CUSTOMERS)
    )
    customers = list(Customer.objects.order_by("pk"))
    LoyaltySettings.load()
    # Accounts exist, as they do for anyone who earned before.
    PointsAccount.objects.bulk_create(PointsAccount(customer=c) for c in customers)

    started = time.perf_counter()
    for i in range(count):
        award_points(
            customer=customers[i % CUSTOMERS],
            points=10,
            key=f"bench:award:{i}",
            reason="Review approved",
        )
    award_seconds = time.perf_counter() - started

    accounts = dict(PointsAccount.objects.values_list("customer_id", "pk"))
    with connection.cursor() as cursor:
        cursor.execute(PLAIN_TABLE)
    now = timezone.now()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for i in range(count):
            cursor.execute(
                "INSERT INTO bench_plain_entries "
                "(account_id, amount, kind, reason, key, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    accounts[customers[i % CUSTOMERS].pk],
                    10,
                    "earn",
                    "Review approved",
                    f"bench:plain:{i}",
                    now,
                ],
            )
    insert_seconds = time.perf_counter() - started
    return award_seconds, insert_seconds


def bench_balance_reads() -> dict[int, tuple[int, float]]:
    """{entries: (queries per read, median microseconds per read)}."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from loyalty.models import PointsAccount
    from loyalty.services import award_points
    from shop.models import Customer

    small = Customer.objects.create(email="small@example.com")
    big = Customer.objects.create(email="big@example.com")
    for i in range(10):
        award_points(customer=small, points=1, key=f"small:{i}", reason="r")
    award_points(customer=big, points=1, key="big:0", reason="r")
    account = PointsAccount.objects.get(customer=big)
    # 99,999 more entries in one statement, and the balance to match.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_pointsentry "
            "(account_id, amount, kind, reason, key, created_at) "
            "SELECT %s, 1, 'earn', 'r', 'big:' || n, %s "
            "FROM generate_series(1, %s) AS n",
            [account.pk, timezone.now(), BIG_ACCOUNT_ENTRIES - 1],
        )
        cursor.execute(
            "UPDATE loyalty_pointsaccount SET balance = %s WHERE id = %s",
            [BIG_ACCOUNT_ENTRIES, account.pk],
        )
        cursor.execute("ANALYZE loyalty_pointsentry")

    results = {}
    for customer, entries in ((small, 10), (big, BIG_ACCOUNT_ENTRIES)):
        with CaptureQueriesContext(connection) as queries:
            balance = PointsAccount.objects.get(customer=customer).balance
        assert balance == entries, (balance, entries)
        timings = []
        for _ in range(BALANCE_READS):
            started = time.perf_counter()
            PointsAccount.objects.get(customer=customer).balance  # noqa: B018
            timings.append(time.perf_counter() - started)
        results[entries] = (len(queries), statistics.median(timings) * 1e6)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", type=int, default=5000)
    args = parser.parse_args()

    with throwaway_database(DATABASE):
        setup_django()
        award_seconds, insert_seconds = bench_awards(args.awards)
        reads = bench_balance_reads()
        from django.db import connections

        from loyalty.queries import ledger_mismatches

        mismatches = ledger_mismatches()
        connections.close_all()

    ratio = award_seconds / insert_seconds
    print(f"award_points : {args.awards / award_seconds:8.0f} entries/s")
    print(f"plain INSERT : {args.awards / insert_seconds:8.0f} entries/s")
    print(f"ratio        : {ratio:8.2f}x (target within {TARGET_RATIO:.0f}x)")
    for entries, (queries, micros) in reads.items():
        print(
            f"read balance, {entries:>7,} entries: {queries} query, "
            f"{micros:7.0f} µs median of {BALANCE_READS}"
        )
    small, big = reads[10], reads[BIG_ACCOUNT_ENTRIES]
    print(
        f"ledgers that do not add up: {len(mismatches)} (the big one is set to match)"
    )
    ok = ratio <= TARGET_RATIO and small[0] == big[0] and big[1] < small[1] * 2
    print("OK" if ok else "TARGET MISSED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
