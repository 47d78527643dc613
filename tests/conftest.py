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
