"""Drill: the database connection of a request is terminated in the middle of the
request (pg_terminate_backend from another session while the view waits on a lock),
on gunicorn with persistent connections. The request fails with a 500 and writes
nothing, the shop's retry succeeds, and so do the requests after it, also when every
idle connection of the web workers is dropped between requests."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import psycopg
import pytest
from django.db import connection

from shop.models import Customer, Order, OrderLine, Product
from shop.services import create_api_token
from tests.faults.conftest import (
    ROOT,
    World,
    audit,
    database_url,
    free_port,
    log,
    wait_until,
)

pytestmark = [pytest.mark.faults]

ORDER = {
    "number": "#9001",
    "placed_at": "2026-11-20T10:00:00Z",
    "currency": "EUR",
    "customer": {"email": "drill@example.com", "first_name": "Dana"},
    "lines": [
        {
            "external_id": f"l{n}",
            "sku": f"SKU-{n}",
            "name": f"Thing {n}",
            "category": "Drill",
            "quantity": 1,
            "unit_price": "10.00",
        }
        for n in range(3)
    ],
}


def put(base: str, token: str, external_id: str) -> int:
    request = urllib.request.Request(  # noqa: S310  (a local http URL)
        f"{base}/api/v1/orders/{external_id}",
        data=json.dumps(ORDER | {"number": f"#{external_id}"}).encode(),
        method="PUT",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def get(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def admin_session() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        dbname=s["NAME"],
        autocommit=True,
    )


@pytest.fixture
def web(drill_db, tmp_path):
    """gunicorn (2 sync workers, persistent connections) on the test database."""
    port = free_port()
    log_file = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "DEBUG": "false",
            "DATABASE_URL": database_url(),
            "DATABASE_CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
        },
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return get(base, "/healthz") == 200
        except OSError:
            return False

    wait_until(up, timeout=90, what="gunicorn")
    yield base
    server.terminate()
    server.wait(timeout=30)


def test_database_connection_dropped_mid_request(web):
    _, token = create_api_token(name="drill")
    admin = admin_session()

    # given the order-line table is locked by another session, so the push waits
    # half-way, after it has written the customer, products and order
    locker = admin_session()
    locker.autocommit = False
    locker.execute("LOCK TABLE shop_orderline IN ACCESS EXCLUSIVE MODE")
    answers = {}
    pushing = threading.Thread(
        target=lambda: answers.setdefault("first", put(web, token, "drill-1"))
    )
    pushing.start()

    def waiting_backend():
        return admin.execute(
            "SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()

    wait_until(lambda: waiting_backend() is not None, what="the request to wait")
    pid, has_written = waiting_backend()
    assert has_written  # the request's transaction had written rows

    # when its connection is terminated in the middle of the request
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    pushing.join(timeout=60)
    locker.rollback()
    locker.close()
    log(f"terminated backend {pid} mid-request: answered {answers.get('first')}")

    # then the request failed cleanly and nothing of it was written
    assert answers["first"] == 500
    assert Order.objects.count() == 0
    assert Customer.objects.count() == 0
    assert Product.objects.count() == 0

    # and the shop's retry and the requests after it succeed (each worker)
    assert put(web, token, "drill-1") == 201
    statuses = [put(web, token, f"drill-{n}") for n in range(2, 6)]
    assert statuses == [201] * 4

    # when every idle connection of the web workers is dropped between requests
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (ours,) = cursor.fetchone()
    dropped = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)"
        " AND state = 'idle' AND backend_type = 'client backend'",
        [ours],
    ).fetchall()
    assert dropped  # the web workers kept their connections open
    # then the next requests reconnect (health checks on persistent connections)
    statuses = [put(web, token, f"drill-{n}") for n in range(6, 10)]
    assert statuses == [201] * 4
    assert get(web, "/readyz") == 200
    admin.close()

    orders = set(Order.objects.values_list("external_id", flat=True))
    assert orders == {f"drill-{n}" for n in range(1, 10)}
    assert OrderLine.objects.count() == 9 * 3
    audit("database-drop", World().snapshot())
