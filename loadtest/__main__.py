"""`make loadtest`: a mixed load with locust against gunicorn on PostgreSQL, compared
with a bare Django view under the same load shape, in one run.

    .venv/bin/python -m loadtest

Environment (all optional):

    LOADTEST_DURATION           the mixed load's length, locust syntax ("10m", "30s")
    LOADTEST_BASELINE_DURATION  the bare view's (default: the same, at most 2m)
    LOADTEST_USERS              concurrent users (default: enough to keep every
                                gunicorn worker busy, WORKERS x 8)
    LOADTEST_SPAWN_RATE         users started per second (default: users / 10)
    LOADTEST_WORKERS            gunicorn sync workers (default: 2 x cores + 1)
    LOADTEST_SEED               "demo" (default: `seed_demo`'s data) or "light" (only
                                its pages and centres: quicker, see loadtest/seed.py)
    LOADTEST_REDIS_URL          cache and broker (default redis://127.0.0.1:6379/14,
                                emptied at the start)
    BENCH_PG_URL                the PostgreSQL server (see bench/harness.py)
    LOADTEST_TRACEMALLOC        a directory: each gunicorn worker writes where its
                                memory grew (loadtest/memtrace.py; a diagnostic run,
                                tracing halves the workers' speed)

What runs: a throwaway database (returnwise_loadtest) is migrated and given the demo
data (`seed_demo`), the load's customer accounts with delivered orders
(loadtest/seed.py) and an API token; static files are collected (the manifest
storage of production). Then a local SendGrid stand-in, a Celery worker on Redis and
gunicorn (config.wsgi with loadtest.settings: production's settings, DEBUG off,
Redis cache, persistent database connections) on a free port. Every task is run
once as a pre-flight check, then locust runs headless twice with the same users,
spawn rate and think time: first every request to the bare view (loadtest/urls.py),
then the mixed load of loadtest/locustfile.py:

- visitors: home, policy and product review pages, policy and review embeds + JSON;
- signed-in customers (a real password login each): review submissions (approved
  automatically, points awarded) and returns through the portal's four steps;
- the shop: order upserts and batches with its API token, deliveries, Shopify order
  webhooks with a valid HMAC (some repeated: answered as duplicates), SendGrid
  event batches with a valid ECDSA signature.

The worker meanwhile sends the e-mails the load causes (through the stand-in) and
applies the webhook events. Printed: requests/s, p50/p95/p99 latency and error rate
per group and overall, the ratios of throughput and p95 to the bare view, the
gunicorn workers' memory (RSS) at the start, after every tenth and at the end, with
the growth in the first and second half after the first tenth (warm-up),
what the load stored, and whether the worker drained its queue. Exits 1 when any
request failed or the ledger check fails. Everything is stopped and the database
dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.harness import (
    BASE_DIR,
    child_env,
    free_port,
    manage,
    throwaway_database,
)

DATABASE = "returnwise_loadtest"
MIXED_USERS = ["Visitor", "Customer", "Shop"]
BASELINE_USERS = ["BareViewUser"]
BASELINE_GROUP = "baseline"


def say(*parts: object, sep: str = " ") -> None:
    """One line of the report, at once (the run takes minutes)."""
    sys.stdout.write(sep.join(str(part) for part in parts) + "\n")
    sys.stdout.flush()


def seconds(duration: str) -> int:
    """locust's "1h2m3s" syntax (or plain seconds) in seconds."""
    if duration.isdigit():
        return int(duration)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    if not parts or not any(parts.groups()):
        raise SystemExit(f"Cannot read the duration {duration!r} (e.g. 10m, 90s).")
    hours, minutes, secs = (int(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + secs


class Options:
    def __init__(self):
        cores = os.cpu_count() or 1
        self.workers = int(os.environ.get("LOADTEST_WORKERS", 2 * cores + 1))
        self.duration = os.environ.get("LOADTEST_DURATION", "10m")
        self.duration_s = seconds(self.duration)
        self.baseline = os.environ.get(
            "LOADTEST_BASELINE_DURATION", f"{min(self.duration_s, 120)}s"
        )
        self.users = int(os.environ.get("LOADTEST_USERS", self.workers * 8))
        self.spawn_rate = float(
            os.environ.get("LOADTEST_SPAWN_RATE", max(1.0, self.users / 10))
        )
        self.light = os.environ.get("LOADTEST_SEED", "demo") == "light"
        self.redis_url = os.environ.get(
            "LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/14"
        )


# --- the pieces that run -------------------------------------------------------------


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path):
    """A subprocess writing to `log`, stopped at the end."""
    with log.open("w") as output:
        child = subprocess.Popen(  # noqa: S603  (our own commands)
            command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def sendgrid_stand_in(port: int, log: Path):
    return process(
        [sys.executable, "-m", "tests.emails.standin", str(port)], os.environ, log
    )


def celery_worker(env: dict[str, str], log: Path):
    command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
    command += ["--concurrency", "2", "--loglevel", "WARNING", "-n", "loadtest@%h"]
    command += ["--without-gossip", "--without-mingle"]
    return process(command, env, log)


@contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path):
    """config.wsgi on a free port; yields (port, master process) once it answers.
    bench.harness.gunicorn's, with a longer start-up allowance (a busy machine boots
    many workers slowly) and the master's pid, whose children are measured."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers"]
    command += [str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", "60"]
    command += ["--log-level", "warning"]
    with process(command, env, log) as master:
        deadline = time.monotonic() + 180
        while True:
            if master.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {master.returncode}")
            try:
                with urllib.request.urlopen(  # noqa: S310  (our own loopback URL)
                    f"http://127.0.0.1:{port}/healthz", timeout=5
                ):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer within 180 s") from None
                time.sleep(0.5)
        yield port, psutil.Process(master.pid)


def rss_mb(workers: list[psutil.Process]) -> list[float]:
    return [round(worker.memory_info().rss / 2**20, 1) for worker in workers]


class RssSampler:
    """The workers' RSS at every tenth of the load (samples: [(n, [MB, ...])])."""

    def __init__(self, workers: list[psutil.Process], interval: float):
        self.workers, self.interval = workers, interval
        self.samples: list[tuple[int, list[float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.interval) and n < 9:
            n += 1
            self.samples.append((n, rss_mb(self.workers)))


def rss_growth(memory: dict[str, list[float]]) -> list[str]:
    """Growth of the workers' total RSS in the first and in the second half of the
    load, after the first tenth (warm-up: imports, caches, connections)."""
    totals = [sum(values) for values in memory.values()]
    if len(totals) < 5:
        first = memory.get("after 1/10", memory["start"])
        return [
            f"growth after the first tenth: {sum(memory['end']) - sum(first):+.1f} MB"
        ]
    warm, middle, end = totals[1], totals[len(totals) // 2], totals[-1]
    return [
        f"growth after the first tenth: {end - warm:+.1f} MB "
        f"({middle - warm:+.1f} MB up to half-way, {end - middle:+.1f} MB after)"
    ]


def run_locust(
    host: str, users: list[str], options: Options, duration: str, data: Path, out: Path
) -> tuple[list[dict], str]:
    """Run locust headless; its final stats (one dict per request name) and log."""
    stem = out / ("-".join(users).lower())
    command = [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py"]
    command += ["--headless", "--host", host, "-u", str(options.users)]
    command += ["-r", str(options.spawn_rate), "-t", duration, "--stop-timeout", "10"]
    command += ["--only-summary", "--json-file", str(stem), *users]
    done = subprocess.run(  # noqa: S603  (our own commands)
        command,
        cwd=BASE_DIR,
        env={**os.environ, "LOADTEST_DATA": str(data)},
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        stats = json.loads(Path(f"{stem}.json").read_text())
    except FileNotFoundError as exc:
        raise RuntimeError(f"locust wrote no stats:\n{done.stderr[-3000:]}") from exc
    return stats, done.stderr


# --- the figures ------------------------------------------------------------------------


class Figures:
    """Requests, failures and the latency histogram of some request names added up."""

    def __init__(self, entries: list[dict]):
        self.requests = sum(entry["num_requests"] for entry in entries)
        self.failures = sum(entry["num_failures"] for entry in entries)
        self.histogram: dict[int, int] = {}
        for entry in entries:
            for millis, count in entry["response_times"].items():
                key = int(float(millis))
                self.histogram[key] = self.histogram.get(key, 0) + count
        starts = [entry["start_time"] for entry in entries if entry["num_requests"]]
        ends = [
            entry["last_request_timestamp"]
            for entry in entries
            if entry["last_request_timestamp"]
        ]
        self.seconds = (max(ends) - min(starts)) if starts and ends else 0.0

    def rps(self, over: float | None = None) -> float:
        span = over if over is not None else self.seconds
        return self.requests / span if span else 0.0

    def percentile(self, fraction: float) -> float:
        """The response time (ms) below which `fraction` of the requests finished."""
        if not self.histogram:
            return 0.0
        wanted = math.ceil(self.requests * fraction)
        seen = 0
        for millis in sorted(self.histogram):
            seen += self.histogram[millis]
            if seen >= wanted:
                return float(millis)
        return float(max(self.histogram))

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def group_of(name: str) -> str:
    return name.split(":", 1)[0]


def report(
    mixed: list[dict], baseline: list[dict], options: Options, workers: int
) -> tuple[Figures, Figures]:
    total, bare = Figures(mixed), Figures(baseline)
    span = total.seconds
    groups = sorted({group_of(entry["name"]) for entry in mixed})
    header = (
        f"{'':<30}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'errors':>8}"
    )

    def row(label: str, figures: Figures, over: float | None = None) -> str:
        return (
            f"{label:<30}{figures.requests:>9,}{figures.rps(over):>9.1f}"
            f"{figures.percentile(0.5):>8.0f}{figures.percentile(0.95):>8.0f}"
            f"{figures.percentile(0.99):>8.0f}{figures.error_rate:>8.2%}"
        )

    say(
        f"\ngunicorn: {workers} sync workers; locust: {options.users} users "
        f"(spawn {options.spawn_rate:g}/s); mixed load {options.duration}, "
        f"bare view {options.baseline}"
    )
    say(header)
    for entry in sorted(mixed, key=lambda e: e["name"]):
        say(row(f"  {entry['name']}", Figures([entry]), span))
    say(header)
    for group in groups:
        say(
            row(
                group,
                Figures([e for e in mixed if group_of(e["name"]) == group]),
                span,
            )
        )
    say(row("mixed load, overall", total))
    say(row("bare view (baseline)", bare))
    if bare.requests and total.requests:
        say(
            f"ratio to the bare view: throughput {total.rps() / bare.rps():.2f}, "
            f"p95 {total.percentile(0.95) / max(bare.percentile(0.95), 1):.1f}x"
        )
    return total, bare


# --- setup and the run --------------------------------------------------------------


def sendgrid_keys() -> tuple[str, str]:
    """A key pair for the SendGrid event webhook: (private PEM, public base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, base64.b64encode(der).decode()


def prepare(env: dict[str, str], options: Options, data_path: Path, extra: dict):
    """Migrate, collect static files, seed; write the locustfile's data."""
    steps = [["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"]]
    if not options.light:
        steps.append(["seed_demo"])
    for step in steps:
        began = time.perf_counter()
        manage(env, *step)
        say(f"  {step[0]}: {time.perf_counter() - began:.0f} s")
    # One customer per user at most, plus one for the pre-flight; an order to review
    # and return for every second of the run (more than a customer can file).
    orders_each = max(20, options.duration_s)
    seeded = subprocess.run(  # noqa: S603  (our own commands)
        [
            sys.executable,
            "-m",
            "loadtest.seed",
            str(options.users + 1),
            str(orders_each),
            *(["--light"] if options.light else []),
        ],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(seeded.strip().splitlines()[-1])
    data["api_token"] = manage(env, "create_api_token", "loadtest").strip()
    data.update(extra)
    data_path.write_text(json.dumps(data))
    return data


def stored_counts(env: dict[str, str]) -> dict[str, int]:
    script = (
        "import json\n"
        "from emails.models import Message, ProviderEvent\n"
        "from loyalty.models import PointsEntry\n"
        "from returns.models import ReturnRequest\n"
        "from reviews.models import Review\n"
        "from shop.models import Order, WebhookDelivery\n"
        "print(json.dumps({\n"
        " 'reviews by the load': Review.objects.filter(customer__email__startswith="
        "'loadtest').count(),\n"
        " 'of them approved': Review.objects.filter(customer__email__startswith="
        "'loadtest', status='approved').count(),\n"
        " 'points entries for them': PointsEntry.objects.filter(key__startswith="
        "'review:', account__customer__email__startswith='loadtest').count(),\n"
        " 'returns filed': ReturnRequest.objects.filter(customer__email__startswith="
        "'loadtest').count(),\n"
        " 'orders pushed (API + webhook)': Order.objects.filter(external_id__regex="
        "r'^(lt-|[0-9]+$)').count(),\n"
        " 'webhook deliveries': WebhookDelivery.objects.count(),\n"
        " 'SendGrid events stored': ProviderEvent.objects.count(),\n"
        " 'of them applied': ProviderEvent.objects.filter("
        "processed_at__isnull=False).count(),\n"
        " 'e-mails in the outbox': Message.objects.count(),\n"
        " 'of them sent': Message.objects.filter(status='sent').count(),\n"
        "}))\n"
    )
    return json.loads(manage(env, "shell", "-v", "0", "-c", script).splitlines()[-1])


def wait_for_queue(broker: redis.Redis, limit: float) -> tuple[int, float]:
    """Wait until the Celery queue is empty (at most `limit` s): (left, seconds)."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if broker.llen("celery") == 0:
            break
        time.sleep(1)
    return broker.llen("celery"), time.monotonic() - began


def main() -> None:
    options = Options()
    began = time.perf_counter()
    broker = redis.Redis.from_url(options.redis_url)
    broker.flushdb()  # the load test's own Redis database: old queues and cache keys
    private_pem, public_der = sendgrid_keys()
    shopify_secret = secrets.token_hex(16)
    stand_in_port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="loadtest-") as work,
        throwaway_database(DATABASE),
    ):
        work_dir = Path(work)
        (work_dir / "static").mkdir()
        env = child_env(
            DATABASE,
            settings="loadtest.settings",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SITE_URL="http://127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            DATABASE_CONN_MAX_AGE="60",
            CACHE_URL=options.redis_url,
            CELERY_BROKER_URL=options.redis_url,
            # The load generator plays the reverse proxy: one client address each.
            ALLAUTH_TRUSTED_PROXY_COUNT="1",
            STATIC_ROOT=str(work_dir / "static"),
            MEDIA_ROOT=str(work_dir / "media"),
            SHOPIFY_WEBHOOK_SECRET=shopify_secret,
            SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY=public_der,
            SENDGRID_API_KEY="SG.loadtest",
            SENDGRID_API_HOST=f"http://127.0.0.1:{stand_in_port}",
        )
        data_path = work_dir / "data.json"
        prepare(
            env,
            options,
            data_path,
            {"shopify_secret": shopify_secret, "sendgrid_private_key": private_pem},
        )
        with (
            sendgrid_stand_in(stand_in_port, work_dir / "standin.log"),
            celery_worker(env, work_dir / "worker.log") as worker,
            gunicorn(env, options.workers, work_dir / "gunicorn.log") as (port, master),
        ):
            host = f"http://127.0.0.1:{port}"
            say(f"setup: {time.perf_counter() - began:.0f} s")
            preflight = subprocess.run(  # noqa: S603  (our own commands)
                [sys.executable, "-m", "loadtest.once", host, str(options.users)],
                cwd=BASE_DIR,
                env={**os.environ, "LOADTEST_DATA": str(data_path)},
                capture_output=True,
                text=True,
                check=False,
            )
            if preflight.returncode:
                say(preflight.stdout, preflight.stderr[-3000:], sep="\n")
                say((work_dir / "gunicorn.log").read_text()[-3000:])
                raise SystemExit("The pre-flight failed: no load was run.")
            say(f"pre-flight: every task once, no failure ({host})")

            baseline, _ = run_locust(
                host, BASELINE_USERS, options, options.baseline, data_path, work_dir
            )
            say(f"bare view: {options.baseline} done")

            workers = master.children()
            memory = {"start": rss_mb(workers)}
            sampler = RssSampler(workers, options.duration_s / 10)
            sampler.start()
            mixed, log = run_locust(
                host, MIXED_USERS, options, options.duration, data_path, work_dir
            )
            sampler.stop()
            memory |= {f"after {n}/10": values for n, values in sampler.samples}
            memory["end"] = rss_mb(workers)
            left, waited = wait_for_queue(broker, 120)
            worker_alive = worker.poll() is None

        total, _ = report(mixed, baseline, options, len(workers))
        if total.failures:
            errors = log[log.find("Error report") :] if "Error report" in log else ""
            say(errors[:4000] or log[-4000:])
        say("\ngunicorn workers' RSS (MB):")
        for label, values in memory.items():
            say(f"  {label:<11} {values}  total {sum(values):.0f}")
        for line in rss_growth(memory):
            say(f"  {line}")
        say(
            f"\nCelery queue after the load: {left} waiting "
            f"(waited {waited:.0f} s); worker {'alive' if worker_alive else 'DEAD'}"
        )
        say("stored by the load:")
        for label, count in stored_counts(env).items():
            say(f"  {label:<32} {count:>7,}")
        ledger = subprocess.run(  # noqa: S603  (our own commands)
            [sys.executable, "manage.py", "check_ledger"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        say(f"check_ledger: {(ledger.stdout or ledger.stderr).strip()[-300:]}")
    say(f"total: {time.perf_counter() - began:.0f} s")
    failed = total.failures or ledger.returncode or not worker_alive or left
    say("FAILED" if failed else "OK")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
