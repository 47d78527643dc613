"""LOADTEST_TRACEMALLOC=<dir>: each gunicorn worker traces its allocations
(tracemalloc) and, every LOADTEST_TRACEMALLOC_EVERY seconds (default 60), writes to
<dir>/memtrace-<pid>.txt the 25 source lines whose live memory grew most since its
first snapshot, with the worker's RSS. A diagnostic for "does memory grow under
load, and where": tracing costs the worker about half its speed, so the figures of
such a run are not the load test's."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

import psutil


def start(directory: str) -> None:
    tracemalloc.start(12)
    every = float(os.environ.get("LOADTEST_TRACEMALLOC_EVERY", "60"))
    out = Path(directory) / f"memtrace-{os.getpid()}.txt"
    threading.Thread(target=_watch, args=(out, every), daemon=True).start()


def _watch(out: Path, every: float) -> None:
    process = psutil.Process()
    time.sleep(every)
    first = tracemalloc.take_snapshot()
    started = time.monotonic()
    while True:
        time.sleep(every)
        snapshot = tracemalloc.take_snapshot()
        stats = snapshot.compare_to(first, "traceback")[:25]
        traced, _peak = tracemalloc.get_traced_memory()
        lines = [
            f"after {time.monotonic() - started:.0f} s: RSS "
            f"{process.memory_info().rss / 2**20:.1f} MB, traced {traced / 2**20:.1f} MB"
        ]
        for stat in stats:
            lines.append(
                f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks"
            )
            lines.extend(f"      {frame}" for frame in stat.traceback.format()[-8:])
        out.write_text("\n".join(lines) + "\n")
