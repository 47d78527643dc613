"""Production settings: Django's deploy checks pass, secrets are required, WhiteNoise
serves the static files. Each runs the real settings module in a fresh process."""

import os
import re
import runpy
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "returns.example.com,testserver",
    "DATABASE_URL": "postgres://returnwise@db.internal:5432/returnwise",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "CACHE_URL": "redis://redis.internal:6379/1",
    "SITE_URL": "https://returns.example.com",
}


def run_production(args: list[str], **extra_env: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        **PRODUCTION_ENV,
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_deploy_check_passes_without_a_single_warning():
    result = run_production(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "System check identified no issues" in output


@pytest.fixture
def load_production(monkeypatch):
    """Run config/settings/production.py (and base.py afresh) in this environment."""
    import config.settings

    for variable, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(config.settings, "base", config.settings.base)
    monkeypatch.delitem(sys.modules, "config.settings.base")
    return lambda: runpy.run_module("config.settings.production")


@pytest.mark.parametrize("name", list(PRODUCTION_ENV))
def test_production_refuses_to_start_without(name, monkeypatch, load_production):
    monkeypatch.delenv(name)

    with pytest.raises(ImproperlyConfigured, match=f"environment variable {name}"):
        load_production()


def test_production_settings_take_everything_from_the_environment(load_production):
    loaded = load_production()

    assert loaded["DEBUG"] is False
    assert loaded["SECRET_KEY"] == PRODUCTION_ENV["SECRET_KEY"]
    assert loaded["ALLOWED_HOSTS"] == ["returns.example.com", "testserver"]
    assert loaded["CELERY_BROKER_URL"] == "redis://redis.internal:6379/0"
    assert loaded["CACHES"]["default"]["LOCATION"] == "redis://redis.internal:6379/1"
    assert loaded["DATABASES"]["default"]["HOST"] == "db.internal"
    assert loaded["WAGTAILADMIN_BASE_URL"] == "https://returns.example.com"


def test_whitenoise_serves_the_collected_static_files(tmp_path):
    # Only the project's own static/ is collected: all of Wagtail's takes minutes.
    script = textwrap.dedent(
        """
        import django
        from django.conf import settings

        django.setup()
        settings.STATICFILES_FINDERS = [
            "django.contrib.staticfiles.finders.FileSystemFinder"
        ]
        from django.core.management import call_command
        from django.templatetags.static import static
        from django.test import Client

        call_command("collectstatic", interactive=False, verbosity=0)
        client = Client(HTTP_HOST="returns.example.com")
        for url in ("/static/css/site.css", static("css/site.css")):
            response = client.get(url, secure=True)
            body = b"".join(response.streaming_content)
            print(url, response.status_code, response["Cache-Control"], len(body))
        """
    )

    result = run_production(["-c", script], STATIC_ROOT=str(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    plain, hashed = result.stdout.strip().splitlines()
    size = (ROOT / "static" / "css" / "site.css").stat().st_size
    assert plain.split() == [
        "/static/css/site.css",
        "200",
        "max-age=60,",
        "public",
        str(size),
    ]
    url, status, *cache_control, length = hashed.split()
    assert url.startswith("/static/css/site.") and url != "/static/css/site.css"
    assert (status, length) == ("200", str(size))
    assert " ".join(cache_control) == "max-age=315360000, public, immutable"


def test_env_example_lists_every_variable_the_settings_read():
    read = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(
            re.findall(
                r"(?:env|env_bool|env_list|required|environ\.get)\(\s*\"([A-Z_]+)\"",
                path.read_text(),
            )
        )
    listed = set(
        re.findall(r"^# ([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )

    assert read - listed == set()
    assert "SECRET_KEY" in read
