"""The fault drills' harness: real Celery workers (and beats) in their own processes on
Redis, the SendGrid stand-in and a shop endpoint as local HTTP servers, a small shop
world built through the services, and the audit every drill ends with.

The audit compares the database and what the stand-ins received with the world as it
was before the fault: every order, review, ledger entry, return, e-mail and shop
webhook is there exactly once, `check_ledger` passes, and it prints one line per drill
saying what was lost and what was duplicated (`make faults` shows them).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu import pools

from emails import services as outbox
from emails.models import Message, MessageEvent, ProviderEvent
from emails.models import Status as MessageStatus
from loyalty.models import PointsEntry
from returns.models import ReturnRequest, ShopWebhook, WebhookStatus
from reviews import services as reviews
from reviews.models import Review
from shop.models import Order
from tests.emails.conftest import EventSigner, event_body
from tests.emails.standin import StandIn
from tests.factories import CustomerFactory, UserFactory
from tests.returns import core_setup as returns_setup
from tests.returns.test_outbound import ShopStandIn

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 13  # this suite's database on the shared Redis
SHOP_SECRET = "whsec-drill"
SUMMARY: list[str] = []
_ports = itertools.count(6391)


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("fault drills: what was lost")
        for line in SUMMARY:
            terminalreporter.write_line(line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


_started = [time.monotonic()]


def log(message: str) -> None:
    """Progress on the terminal (with -s), seconds since the drill began."""
    print(f"[{time.monotonic() - _started[0]:6.1f} s] {message}", flush=True)


def wait_until(condition, *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


# Redis ------------------------------------------------------------------------------


class RedisServer:
    """A Redis of the drill's own (never the shared one), without persistence, so a
    restart loses every queued task: the database must be the source of truth."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = self._free_redis_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def _free_redis_port() -> int:
        for port in _ports:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return port
        raise RuntimeError("no free port")  # pragma: no cover

    def start(self) -> RedisServer:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                str(self.workdir),
                "--pidfile",
                str(self.workdir / f"redis-{self.port}.pid"),
                "--logfile",
                str(self.workdir / f"redis-{self.port}.log"),
            ],
            check=True,
        )
        wait_until(self.ping, timeout=10, what="redis to start")
        return self

    def ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
            check=False,
        )
        wait_until(lambda: not self.ping(), timeout=10, what="redis to stop")


@pytest.fixture
def shared_broker(redis_url):
    """The shared Redis, this suite's database, emptied."""
    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    subprocess.run(
        ["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False, capture_output=True
    )
    return url


@pytest.fixture
def own_redis(redis_url, tmp_path):
    """A Redis the drill may restart (needs redis-server, like the shared one)."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


# Celery -----------------------------------------------------------------------------


def _reset_pools(app) -> None:
    """Forget the connections to the previous broker (kombu keeps its pools in a
    process-wide registry)."""
    pools.reset()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@contextmanager
def producing_to(broker_url: str):
    """The test process publishes like the web process does: the project's own Celery
    app, not eager, on the drill's broker (so on-commit kicks reach the workers)."""
    from config.celery import app

    names = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {name: app.conf[name] for name in names}
    _reset_pools(app)
    # shared tasks publish through the current app: make sure it is the project's
    # (a test that built a Celery() of its own may have left that one current)
    app.set_current()
    app.conf.update(
        task_always_eager=False,
        broker_url=broker_url,
        broker_transport_options={"visibility_timeout": 6 * 3600},
    )
    try:
        yield app
    finally:
        _reset_pools(app)
        app.conf.update(saved)


BEAT_TASKS = {
    "sweep": "emails.tasks.sweep_outbox_task",
    "webhooks": "returns.tasks.deliver_due_webhooks_task",
}


class Cluster:
    """Worker (and beat) processes sharing the drill's database and broker."""

    def __init__(self, *, broker_url: str, env: dict[str, str], logdir: Path):
        self.broker_url = broker_url
        self.env = env
        self.logdir = logdir
        self.processes: list[subprocess.Popen] = []
        self.app = None

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.logdir / f"{name}-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL takes all
        )
        process.log_path = log.name
        self.processes.append(process)
        return process

    def worker(self, *, concurrency: int = 1) -> subprocess.Popen:
        """`celery worker` with the prefork pool: the parent supervises children
        that run the tasks, as in production."""
        return self._spawn(
            "worker",
            [
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"drill{len(self.processes)}@%h",
            ],
        )

    def beat(self, *, every: float) -> subprocess.Popen:
        """A real `celery beat` with the project's schedule at a drill's pace."""
        schedule = self.logdir / f"beat-{len(self.processes)}"
        return self._spawn(
            "beat", ["-m", "tests.faults.beat", str(every), str(schedule)]
        )

    @staticmethod
    def children(process: subprocess.Popen) -> list[int]:
        result = subprocess.run(
            ["pgrep", "-P", str(process.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in result.stdout.split()]

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the whole worker (parent and children): no cleanup at all."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    @staticmethod
    def stop_one(process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

    def tick(self, *names: str) -> None:
        """What the beat sends every minute (here: when the drill says)."""
        for name in names or BEAT_TASKS:
            self.app.send_task(BEAT_TASKS[name])

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log_path}\n{Path(p.log_path).read_text()[-3000:]}"
            for p in self.processes
        )


def quiet_hours_elsewhere() -> str:
    """Campaign quiet hours twelve hours away from now, in the shop's time zone, so
    the drills never wait for the morning."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    zone = ZoneInfo(settings.SHOP_TIME_ZONE)
    local = timezone.now().astimezone(zone) + dt.timedelta(hours=12)
    end = local + dt.timedelta(minutes=1)
    return f"{local:%H:%M}-{end:%H:%M}"


@pytest.fixture
def sendgrid(settings):
    """The SendGrid stand-in, and its Event Webhook key for the test process."""
    stand_in = StandIn().start()
    signer = EventSigner()
    settings.SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY = signer.public_key
    stand_in.signer = signer
    yield stand_in
    stand_in.stop()


@pytest.fixture
def shop_endpoint():
    with ShopStandIn() as stand_in:
        yield stand_in


def worker_env(*, broker_url: str, sendgrid: StandIn, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DEBUG": "false",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url,
        "SENDGRID_API_KEY": "SG.drill",
        "SENDGRID_API_HOST": sendgrid.url,
        "SENDGRID_TIMEOUT": "2",
        "EMAIL_OUTBOX_BATCH_SIZE": "20",
        "EMAIL_OUTBOX_LEASE_SECONDS": "4",
        "EMAIL_OUTBOX_RETRY_BASE_SECONDS": "0.5",
        "EMAIL_OUTBOX_RETRY_MAX_SECONDS": "2",
        "RETURNS_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "RETURNS_WEBHOOK_RETRY_MAX_SECONDS": "2",
        "RETURNS_WEBHOOK_TIMEOUT_SECONDS": "2",
        "CAMPAIGNS_QUIET_HOURS": quiet_hours_elsewhere(),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture
def drill_db(transactional_db, django_db_serialized_rollback, needs_postgres):
    """Committed data other processes can see (the workers, gunicorn)."""
    _started[0] = time.monotonic()
    log("database ready")


@pytest.fixture
def cluster_factory(drill_db, sendgrid, tmp_path, request):
    """cluster_factory(broker_url, **env) -> a Cluster whose test process publishes
    to the same broker; everything stops when the drill ends (logs on failure)."""
    made: list[tuple[Cluster, object]] = []

    def make(broker_url: str, **extra: str) -> Cluster:
        cluster = Cluster(
            broker_url=broker_url,
            env=worker_env(broker_url=broker_url, sendgrid=sendgrid, **extra),
            logdir=tmp_path,
        )
        producing = producing_to(broker_url)
        cluster.app = producing.__enter__()
        made.append((cluster, producing))
        return cluster

    yield make
    for cluster, producing in made:
        cluster.stop()
        producing.__exit__(None, None, None)
        if getattr(request.node, "rep_call_failed", False):
            print(cluster.logs())


# The world --------------------------------------------------------------------------


@dataclass
class World:
    orders: set[int] = field(default_factory=set)
    reviews: set[int] = field(default_factory=set)
    ledger: set[str] = field(default_factory=set)
    returns: set[str] = field(default_factory=set)
    messages: set[str] = field(default_factory=set)
    webhooks: set[str] = field(default_factory=set)

    def snapshot(self) -> World:
        """Take in everything the database holds now (after more was added)."""
        self.orders = set(Order.objects.values_list("pk", flat=True))
        self.reviews = set(Review.objects.values_list("pk", flat=True))
        self.ledger = set(PointsEntry.objects.values_list("key", flat=True))
        self.returns = set(ReturnRequest.objects.values_list("rma", flat=True))
        self.messages = set(Message.objects.values_list("key", flat=True))
        self.webhooks = set(ShopWebhook.objects.values_list("key", flat=True))
        return self


_numbers = itertools.count(1)


def file_return(*, shop_url: str | None = None) -> ReturnRequest:
    """One delivered order and a return filed on it through the service (its
    e-mails and its shop webhook are written in the same transaction)."""
    order = returns_setup.order(customer=CustomerFactory())
    return returns_setup.submit(order, key=f"drill-{next(_numbers)}")


def approve_review(staff) -> Review:
    order = returns_setup.order(customer=CustomerFactory())
    line = order.lines.first()
    review = reviews.submit_review(
        order_line=line,
        customer=order.customer,
        rating=4,
        title="Fits well",
        body="Good fabric, the size was right and it washes well.",
        language="en",
        may_quote=True,
    )
    return reviews.approve(review=review, by=staff)


def queue_bulk(count: int, *, prefix: str = "drill") -> list[str]:
    """A burst of service e-mails, as a campaign batch writes them."""
    keys = [f"{prefix}:{next(_numbers)}" for _ in range(count)]
    outbox.enqueue_many(
        messages=[
            {
                "key": key,
                "to_email": f"{key.replace(':', '-')}@example.com",
                "template": "test_message",
                "sender_label": "drill",
            }
            for key in keys
        ]
    )
    return keys


@pytest.fixture
def shop_world(drill_db, shop_endpoint):
    """build(returns=, reviews=, bulk=) -> World: a policy, a fulfilment centre, the
    shop's webhook address, returns filed and reviews approved through the services,
    and a burst of queued e-mails."""
    returns_setup.policy()
    returns_setup.centre()
    returns_setup.settings(
        shop_webhook_url=shop_endpoint.url, shop_webhook_secret=SHOP_SECRET
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    log("policy, centre and shop address set up")

    def build(*, returns: int = 10, reviews: int = 10, bulk: int = 100) -> World:
        for _ in range(returns):
            file_return()
        for _ in range(reviews):
            approve_review(staff)
        queue_bulk(bulk)
        log(f"world built: {returns} returns, {reviews} reviews, {bulk} e-mails")
        return World().snapshot()

    return build


# SendGrid's Event Webhook -------------------------------------------------------------


class EventFeed:
    """SendGrid posting a `processed` event for every personalization it accepted,
    signed, to our real webhook endpoint (as it does within seconds)."""

    def __init__(self, stand_in: StandIn):
        self.stand_in = stand_in
        self.client = Client()
        self.posted = 0

    def post_new(self) -> int:
        with self.stand_in.lock:
            requests = list(self.stand_in.requests)
        fresh = requests[self.posted :]
        events = []
        for n, request in enumerate(fresh, start=self.posted):
            if request["status"] != 202:
                continue
            for p in request["body"].get("personalizations", []):
                args = p.get("custom_args", {})
                events.append(
                    {
                        "sg_event_id": f"processed-{n}-{args.get('outbox_key')}",
                        "event": "processed",
                        "email": p["to"][0]["email"],
                        "timestamp": int(time.time()),
                        "sg_message_id": f"drill{n}.filter",
                        "outbox_id": args.get("outbox_id"),
                        "outbox_key": args.get("outbox_key"),
                    }
                )
        self.posted = len(requests)
        if events:
            body = event_body(*events)
            response = self.client.post(
                reverse("webhook-sendgrid-events"),
                body,
                content_type="application/json",
                **self.stand_in.signer.headers(body),
            )
            assert response.status_code == 200, response.content
        return len(events)


def unsettled() -> dict[str, int]:
    return {
        "messages": Message.objects.filter(
            status__in=[
                MessageStatus.QUEUED,
                MessageStatus.SENDING,
                MessageStatus.AMBIGUOUS,
            ]
        ).count(),
        "events": ProviderEvent.objects.filter(processed_at__isnull=True).count(),
        "webhooks": ShopWebhook.objects.filter(status=WebhookStatus.PENDING).count(),
    }


def settle(cluster: Cluster, feed: EventFeed, *, timeout: float = 60.0) -> None:
    """Run the beat's minute once a second and let SendGrid's events flow until no
    message, event or webhook is pending."""
    log("settling")
    deadline = time.monotonic() + timeout
    while True:
        feed.post_new()
        left = unsettled()
        if not any(left.values()):
            return
        if time.monotonic() > deadline:
            statuses = Counter(
                Message.objects.exclude(status=MessageStatus.SENT).values_list(
                    "status", flat=True
                )
            )
            raise AssertionError(
                f"still pending after {timeout:.0f} s: {left}, e-mails {statuses}"
            )
        cluster.tick()
        time.sleep(1.0)


# The audit --------------------------------------------------------------------------


@dataclass
class Audit:
    drill: str
    lines: list[str] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def count(self, what: str, expected: set, found: list) -> None:
        tally = Counter(found)
        lost = expected - set(tally)
        extra = set(tally) - expected
        duplicated = [k for k, n in tally.items() if n > 1]
        self.lost += len(lost)
        self.duplicated += len(duplicated)
        self.lines.append(f"{what} {len(expected & set(tally))}/{len(expected)}")
        if lost:
            self.problems.append(f"{what} lost: {sorted(lost)[:5]}")
        if extra:
            self.problems.append(f"{what} unexpected: {sorted(extra)[:5]}")
        if duplicated:
            self.problems.append(f"{what} duplicated: {sorted(duplicated)[:5]}")


def audit(
    drill: str,
    world: World,
    *,
    sendgrid: StandIn | None = None,
    shop: ShopStandIn | None = None,
) -> Audit:
    """Everything exactly once; print the drill's line; fail on any loss."""
    result = Audit(drill)
    result.count(
        "orders", world.orders, list(Order.objects.values_list("pk", flat=True))
    )
    result.count(
        "reviews", world.reviews, list(Review.objects.values_list("pk", flat=True))
    )
    result.count(
        "ledger entries",
        world.ledger,
        list(PointsEntry.objects.values_list("key", flat=True)),
    )
    result.count(
        "returns",
        world.returns,
        list(ReturnRequest.objects.values_list("rma", flat=True)),
    )
    messages = dict(Message.objects.values_list("key", "status"))
    result.count("e-mails", world.messages, list(messages))
    not_sent = {k: s for k, s in messages.items() if s != MessageStatus.SENT}
    if not_sent:
        result.lost += len(not_sent)
        result.problems.append(f"e-mails not sent: {list(not_sent.items())[:5]}")
    if sendgrid is not None:
        accepted = sendgrid.accepted
        never = [k for k in world.messages if not accepted.get(k)]
        twice = [k for k in world.messages if accepted.get(k, 0) > 1]
        in_doubt = (
            MessageEvent.objects.filter(message__key__in=world.messages)
            .filter(
                Q(to_status=MessageStatus.AMBIGUOUS)
                | Q(detail__startswith="SendGrid reported on it")
            )
            .values("message")
            .distinct()
            .count()
        )
        result.lost += len(never)
        result.duplicated += len(twice)
        result.lines[-1] = (
            f"e-mails {len(world.messages) - len(never) - len(twice)}/"
            f"{len(world.messages)} accepted by SendGrid exactly once"
        )
        if in_doubt:
            result.lines[-1] += (
                f" ({in_doubt} in doubt after a lost answer: settled by SendGrid's"
                " events, not resent)"
            )
        if never:
            result.problems.append(f"e-mails SendGrid never got: {sorted(never)[:5]}")
        if twice:
            result.problems.append(f"e-mails sent twice: {sorted(twice)[:5]}")
    hooks = dict(ShopWebhook.objects.values_list("key", "status"))
    result.count("shop webhooks", world.webhooks, list(hooks))
    if shop is not None:
        delivered = Counter(
            r["headers"].get("X-Returns-Idempotency-Key") for r in shop.delivered
        )
        never = [k for k in world.webhooks if not delivered.get(k)]
        twice = [k for k in world.webhooks if delivered.get(k, 0) > 1]
        result.lost += len(never)
        result.duplicated += len(twice)
        result.lines[-1] = (
            f"shop webhooks {len(world.webhooks) - len(never) - len(twice)}/"
            f"{len(world.webhooks)} delivered once"
        )
        undelivered = [k for k, s in hooks.items() if s != WebhookStatus.DELIVERED]
        if never or twice or undelivered:
            result.problems.append(
                f"webhooks never {never[:5]}, twice {twice[:5]}, "
                f"not delivered {undelivered[:5]}"
            )
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
        result.lines.append("ledger ok")
    except Exception as exc:  # noqa: BLE001  (reported below, then failed)
        result.lines.append("LEDGER BROKEN")
        result.problems.append(f"check_ledger: {exc}")
    line = (
        f"drill {drill}: {', '.join(result.lines)} — "
        f"lost {result.lost}, duplicated {result.duplicated}"
    )
    print(f"\n{line}")
    SUMMARY.append(line)
    assert not result.problems, result.problems
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.rep_call_failed = True
    return report
