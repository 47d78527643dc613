"""Run every task of the mixed load once, each user class in turn, against a host:
the pre-flight of `python -m loadtest` and what the smoke test runs.

    LOADTEST_DATA=accounts.json python -m loadtest.once http://127.0.0.1:8000 [INDEX]

INDEX is the seeded customer account the Customer user signs in as (default 0).
Prints one JSON object, {request name: null or the failure}, and exits 1 when a
request failed or a task raised.
"""

from __future__ import annotations

import itertools
import json
import sys

from locust.env import Environment

from loadtest import locustfile

MIXED = [locustfile.Visitor, locustfile.Customer, locustfile.Shop]


def run_once(host: str, customer: int = 0) -> dict[str, str | None]:
    """Each task of each mixed user once, in declaration order (the shop pushes an
    order before it reports its delivery); every request's
    outcome by name (a task that raised is recorded under its own name)."""
    locustfile._next_customer = itertools.count(customer)
    outcomes: dict[str, str | None] = {}
    environment = Environment(user_classes=MIXED, host=host)

    def record(name, exception, **kwargs):
        if outcomes.get(name) is None:
            outcomes[name] = None if exception is None else str(exception)

    environment.events.request.add_listener(record)
    for user_class in MIXED:
        user_class.host = host
        user = user_class(environment)
        tasks = list(dict.fromkeys(user_class.tasks))  # a task's weight repeats it
        try:
            user.on_start()
            for work in tasks:
                work(user)
        except Exception as exc:  # noqa: BLE001  (reported, not hidden)
            outcomes[f"{user_class.__name__} raised"] = repr(exc)
    return outcomes


def main() -> None:
    host = sys.argv[1]
    customer = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    outcomes = run_once(host, customer)
    print(json.dumps(outcomes, indent=1))  # noqa: T201
    raise SystemExit(1 if any(outcomes.values()) else 0)


if __name__ == "__main__":
    main()
