"""The liveness and readiness probes."""

import socket

import pytest
from django.db import OperationalError

from config import health


def test_healthz_answers_ok_without_touching_the_database(client):
    # no django_db mark: any query would raise
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"] == "text/plain"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_reports_each_check_when_all_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "broker": True,
    }


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_broker_does_not_answer(client, settings):
    # given a broker on a port where nothing listens
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]  # the exception's class, no details
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is True
    assert body["checks"]["broker"]["ms"] < health.BROKER_TIMEOUT_SECONDS * 1000 + 500


@pytest.mark.django_db
def test_readyz_gives_up_on_a_broker_that_accepts_but_never_answers(client, settings):
    # given a socket that accepts connections and never says anything
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"

        response = client.get("/readyz")

    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False
    assert broker["ms"] < health.BROKER_TIMEOUT_SECONDS * 1000 * 2


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_database_fails(client, monkeypatch):
    def broken_database():
        raise OperationalError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", broken_database)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "ok": False,
        "error": "OperationalError",
        "ms": response.json()["checks"]["database"]["ms"],
    }


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_cache_loses_what_it_was_given(
    client, monkeypatch
):
    monkeypatch.setattr(health.cache, "get", lambda key: None)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["error"] == "RuntimeError"
