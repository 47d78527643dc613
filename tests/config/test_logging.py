"""Structured logs: one JSON line per request and per task, and the request id follows
the request into the tasks it publishes (eagerly here, through Redis to a real worker
in the integration test)."""

import io
import json
import logging
import os
import subprocess
import sys
import time

import pytest
from django.urls import reverse

from tests.config.test_celery_worker import ROOT, _database_url


@pytest.fixture
def log_output(caplog):
    """What the project's configured console handler (its filter and JSON formatter)
    writes, caught in a buffer; INFO let through for the two loggers under test."""
    caplog.set_level(logging.INFO, logger="returnwise.request")
    caplog.set_level(logging.INFO, logger="returnwise.task")
    (handler,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    previous = handler.setStream(io.StringIO())
    yield handler.stream
    handler.setStream(previous)


def _lines(output, logger: str) -> list[dict]:
    """The JSON lines the console handler wrote for `logger`."""
    lines = []
    for raw in output.getvalue().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("logger") == logger:
            lines.append(line)
    return lines


@pytest.mark.django_db
def test_one_json_line_per_request_with_the_callers_request_id(client, log_output):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-abc-123")

    assert response["X-Request-ID"] == "req-abc-123"
    (line,) = _lines(log_output, "returnwise.request")
    assert {
        key: line[key]
        for key in ("level", "logger", "method", "path", "route", "status")
    } == {
        "level": "INFO",
        "logger": "returnwise.request",
        "method": "GET",
        "path": "/healthz",
        "route": "healthz",
        "status": 200,
    }
    assert line["request_id"] == "req-abc-123"
    assert line["user_id"] is None
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["message"] == "GET /healthz 200"


@pytest.mark.django_db
def test_djangos_own_not_found_line_carries_the_request_id(client, log_output):
    # Django writes "Not Found: …" after the middleware chain has returned.
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404-abc")

    assert response.status_code == 404
    (line,) = _lines(log_output, "django.request")
    assert line["message"] == "Not Found: /no-such-page/"
    assert line["request_id"] == "req-404-abc"
    assert (line["method"], line["path"], line["status_code"]) == (
        "GET",
        "/no-such-page/",
        404,
    )
    (access,) = _lines(log_output, "returnwise.request")
    assert access["request_id"] == "req-404-abc"


@pytest.mark.django_db
def test_the_request_line_names_the_signed_in_user_and_a_fresh_id(
    client, django_user_model, log_output
):
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw-12345!")
    client.force_login(user)
    response = client.get(reverse("shop:my_orders"))

    (line,) = _lines(log_output, "returnwise.request")
    assert (line["status"], line["user_id"]) == (response.status_code, user.pk)
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32


@pytest.mark.django_db
def test_a_task_run_while_serving_a_request_logs_that_requests_id(client, log_output):
    client.get("/test-publish/", HTTP_X_REQUEST_ID="req-eager-1")

    (line,) = _lines(log_output, "returnwise.task")
    assert line["request_id"] == "req-eager-1"
    assert line["task"] == "shop.tasks.purge_webhook_deliveries_task"
    assert line["state"] == "SUCCESS"
    assert line["runtime_ms"] >= 0
    assert len(line["task_id"]) == 36


pytestmark = pytest.mark.urls("tests.config.publishing_urls")


@pytest.fixture
def json_worker(redis_url, transactional_db, django_db_serialized_rollback):
    url = redis_url.rsplit("/", 1)[0] + "/" + os.environ.get("TEST_REDIS_DB", "12")
    subprocess.run(
        ["redis-cli", "-n", url.rsplit("/", 1)[-1], "flushdb"],
        check=False,
        capture_output=True,
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield url, worker
    if worker.poll() is None:
        worker.terminate()
        worker.communicate(timeout=30)


def _read_task_line(worker, task: str, timeout: float) -> dict:
    """Read the worker's output until the one line for `task` (Celery's start-up
    banner is the only text that is not a JSON line)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        raw = worker.stdout.readline()
        if not raw:
            break
        seen.append(raw)
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("logger") == "returnwise.task" and line.get("task") == task:
            return line
    pytest.fail("no task line; the worker wrote:\n" + "".join(seen))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_logs_the_id_of_the_request_that_published_the_task(
    client, json_worker
):
    broker, worker = json_worker

    response = client.get(
        "/test-publish/", {"broker": broker}, HTTP_X_REQUEST_ID="req-from-web-42"
    )

    assert response.status_code == 200
    line = _read_task_line(
        worker, "shop.tasks.purge_webhook_deliveries_task", timeout=90
    )
    assert line["request_id"] == "req-from-web-42"
    assert line["state"] == "SUCCESS"
    assert line["level"] == "INFO"
    assert line["runtime_ms"] >= 0
