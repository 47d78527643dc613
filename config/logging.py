"""Structured logs: one JSON object per line, a request id on each, one line per request
and one per Celery task.

The request id is born in RequestIdMiddleware (or taken from the proxy's X-Request-ID),
travels into every task published while serving the request (a message header set in
`before_task_publish`), and is restored in the worker (`task_prerun`), so a task's lines
carry the id of the request that caused it. A task no request caused (beat, a command)
uses its own task id, which its own children then inherit.
"""

import contextvars
import json
import logging
import time
from datetime import UTC, datetime

from celery import signals
from django.http import HttpRequest

_request_id = contextvars.ContextVar("request_id", default="-")

REQUEST_ID_HEADER = "request_id"
PUBLISHED_AT_HEADER = "published_at"
request_logger = logging.getLogger("returnwise.request")
task_logger = logging.getLogger("returnwise.task")

# The attributes every LogRecord has; anything else was passed in `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
    | {"message", "asctime", "request_id"}
)


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Stamps the request id on every record. Django's own `django.request` lines (a
    404, a 429, a 500) are written after the middleware chain has returned, when the
    context variable is reset already; they carry the request, which carries its id."""

    def filter(self, record):
        record.request_id = _record_request_id(record)
        return True


def _record_request_id(record) -> str:
    current = _request_id.get()
    if current != "-":
        return current
    return getattr(getattr(record, "request", None), "request_id", None) or current


class JsonFormatter(logging.Formatter):
    """ts, level, logger, message, request_id, the record's `extra` fields, and the
    traceback when there is one."""

    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None)
            or _record_request_id(record),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        request = entry.get("request")  # django.request's lines carry the request
        if isinstance(request, HttpRequest):
            del entry["request"]
            entry.setdefault("method", request.method)
            entry.setdefault("path", request.path)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# Celery --------------------------------------------------------------------------------


@signals.before_task_publish.connect
def add_request_id_to_message(sender=None, headers=None, **kwargs):
    if headers is None:
        return
    request_id = _request_id.get()
    if request_id != "-":
        headers.setdefault(REQUEST_ID_HEADER, request_id)
    headers.setdefault(PUBLISHED_AT_HEADER, time.time())


# task id -> (context token, monotonic start); a worker child runs one task at a time,
# but eager calls can nest.
_running: dict[str, tuple[contextvars.Token, float]] = {}


@signals.task_prerun.connect
def start_task_log(sender=None, task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task else None
    if not request_id:
        # Eager calls run inside the caller's context and keep its id.
        current = _request_id.get()
        request_id = current if current != "-" else task_id
    _running[task_id] = (_request_id.set(request_id), time.monotonic())
    published_at = getattr(task.request, PUBLISHED_AT_HEADER, None) if task else None
    if isinstance(published_at, int | float) and task.request.retries == 0:
        from config import metrics

        metrics.record_task_wait(
            name=task.name, wait_ms=(time.time() - published_at) * 1000
        )


@signals.task_postrun.connect
def finish_task_log(sender=None, task_id=None, task=None, state=None, **kwargs):
    token, started = _running.pop(task_id, (None, None))
    if started is None:
        return
    runtime_ms = round((time.monotonic() - started) * 1000, 1)
    name = getattr(task, "name", str(sender))
    try:
        task_logger.info(
            "task %s %s",
            name,
            state,
            extra={
                "task": name,
                "task_id": task_id,
                "state": state,
                "runtime_ms": runtime_ms,
                "retries": getattr(task.request, "retries", 0) if task else 0,
            },
        )
        from config import metrics

        metrics.record_task(name=name, state=state or "", runtime_ms=runtime_ms)
    finally:
        _request_id.reset(token)
