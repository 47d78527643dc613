import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, needs_postgres):
    """Every race test needs PostgreSQL's row locks; uploads go to a temporary
    folder and rate-limit counters start empty."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()
