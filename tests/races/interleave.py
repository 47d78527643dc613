"""Deterministic interleavings for race tests (Saleor's RunBefore idea), on PostgreSQL.

The first racer runs in the test's own thread. A seam it passes between its read and
its write (one of our functions, wrapped by `run_before`) starts the competitor in a
second thread with its own database connection, and waits until PostgreSQL reports
the competitor waiting for a lock that the first racer holds, or until the competitor
has finished. Only then does the first racer go on to its write. Every wait has a
timeout, so a broken service fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

from django.db import connection

TIMEOUT = 20  # seconds; far more than any of these services needs


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


class Racer:
    """`action()` in a thread of its own, with its own database connection."""

    def __init__(self, action: Callable):
        self.action = action
        self.result = None
        self.error: BaseException | None = None
        self.pid: int | None = None
        self._ready = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.pid = backend_pid()
            self._ready.set()
            self.result = self.action()
        except BaseException as exc:  # noqa: BLE001  (the test asserts on it)
            self.error = exc
        finally:
            self._ready.set()
            self._finished.set()
            connection.close()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(TIMEOUT):
            raise AssertionError("the competitor did not start")

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def blocked_by(self, pid: int) -> bool:
        """True when PostgreSQL says the competitor waits for a lock `pid` holds."""
        if self.pid is None:
            return False
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s = ANY(pg_blocking_pids(%s))", [pid, self.pid])
            return cursor.fetchone()[0]

    def wait_blocked_or_finished(self) -> str:
        """Returns "blocked" once the competitor waits on this thread's connection, or
        "finished"; fails after TIMEOUT."""
        me = backend_pid()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.finished:
                return "finished"
            if self.blocked_by(me):
                return "blocked"
            self._finished.wait(0.01)
        raise AssertionError("the competitor neither finished nor waited for a lock")

    def join(self):
        """Wait for the competitor; its result, or re-raise what it raised."""
        if not self._finished.wait(TIMEOUT):
            raise AssertionError("the competitor did not finish (deadlock?)")
        self._thread.join(TIMEOUT)
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def run_before(
    target, name: str, hook: Callable[[], None], *, after: bool = False
) -> Iterator[dict]:
    """Wrap `target.<name>` so that its first call from this thread runs `hook()`
    first (or, with `after`, right after the real function returned); the real
    function runs as usual. Calls from other threads (the competitor's) go straight
    through. Fails the test when the seam was never reached."""
    original = getattr(target, name)
    owner = threading.get_ident()
    record = {"calls": 0}

    def wrapper(*args, **kwargs):
        if threading.get_ident() != owner or record["calls"]:
            return original(*args, **kwargs)
        record["calls"] += 1
        if not after:
            hook()
        result = original(*args, **kwargs)
        if after:
            hook()
        return result

    with mock.patch.object(target, name, wrapper):
        yield record
    assert record["calls"] == 1, f"the seam {name} was never reached"


@contextmanager
def competitor_at(
    target, name: str, action: Callable, *, after: bool = False
) -> Iterator[Racer]:
    """The usual shape: at the seam `target.<name>` (before it, or `after` it),
    start `action` as a competitor and let the first racer go on once the
    competitor waits for its lock or is done (`racer.outcome`). The competitor is joined when the block ends (after the first racer's
    transaction has committed); read its outcome from `racer.result`/`racer.error`.
    """
    racer = Racer(action)

    def hook():
        racer.start()
        racer.outcome = racer.wait_blocked_or_finished()

    with run_before(target, name, hook, after=after):
        yield racer
    if not racer._finished.wait(TIMEOUT):
        raise AssertionError("the competitor did not finish (deadlock?)")
