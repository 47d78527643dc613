"""What the benchmarks share: a throwaway PostgreSQL database, the environment of their
subprocesses, `manage.py` in a subprocess and gunicorn on a free port."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def database_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


def _drop(name: str, *, create: bool = False) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {name}")


@contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """Create the database `name` afresh, yield its URL and drop it at the end, also
    on an error, Ctrl-C or SIGTERM (e.g. `timeout`)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _drop(name, create=True)
    try:
        yield database_url(name)
    finally:
        _drop(name)
        signal.signal(signal.SIGTERM, previous)


def child_env(
    database: str, settings: str = "config.settings.dev", **extra: str
) -> dict[str, str]:
    """The environment of a subprocess using `database`; `extra` adds or overrides."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": database_url(database),
        # dev turns DEBUG on, which keeps every query's SQL (and builds it for the log).
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    """Run `manage.py *args`; return its standard output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int = 2, timeout: int | None = None
) -> Iterator[int]:
    """Run config.wsgi on a free port; yield the port once it answers, stop at the end."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "config.wsgi"]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning"]
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env)
    try:
        _wait_until_answering(server, port)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_answering(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError("gunicorn did not answer within 30 s")
