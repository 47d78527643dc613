import os
import socket

import pytest
from django.db import connection


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def needs_postgres():
    """Locking and concurrency tests only mean something on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (select_for_update does nothing on SQLite)")


@pytest.fixture(scope="session")
def redis_url():
    """Redis for Celery integration tests: required in CI, skipped on a bare laptop."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if not _reachable("127.0.0.1", 6379):
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return url


@pytest.fixture(autouse=True)
def _default_language():
    """A request to a /nl/ URL activates Dutch in the test thread: reset it after."""
    from django.utils import translation

    yield
    translation.activate("en")


def pytest_collection_modifyitems(items):
    """Every transactional test must use serialized rollback. A transactional test
    flushes the database when it ends, taking the migrations' data (Wagtail locales,
    staff groups, seeded return reasons) with it; a flush without serialized rollback
    also re-creates content types, which then clash with the next serialized restore."""
    offenders = []
    for item in items:
        marker = item.get_closest_marker("django_db")
        fixtures = getattr(item, "fixturenames", ())
        transactional = (marker is not None and marker.kwargs.get("transaction")) or (
            "transactional_db" in fixtures or "live_server" in fixtures
        )
        serialized = (
            marker is not None and marker.kwargs.get("serialized_rollback")
        ) or "django_db_serialized_rollback" in fixtures
        if transactional and not serialized:
            offenders.append(item.nodeid)
    if offenders:
        raise pytest.UsageError(
            "Transactional tests need serialized_rollback=True "
            "(see tests/conftest.py): " + ", ".join(offenders)
        )
