"""Login limits behind a proxy and across processes: allauth's login and Wagtail's admin
login answer 429 after too many tries per client, with the client taken from
X-Forwarded-For as far as ALLAUTH_TRUSTED_PROXY_COUNT trusts it; staff with a second
factor cannot get into the admin with the password alone."""

import textwrap

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core.cache import cache
from django.test import override_settings

from tests.config.test_celery_worker import _database_url
from tests.config.test_settings import run_production
from tests.factories import UserFactory

PROXY = "10.0.0.1"
PASSWORD = "correct horse battery staple"
WRONG = "not-the-password"
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def allauth_login(client, client_ip=None, *, forwarded=None, password=WRONG):
    headers = {"REMOTE_ADDR": PROXY if forwarded or client_ip else "127.0.0.1"}
    if forwarded:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    elif client_ip:
        headers["HTTP_X_FORWARDED_FOR"] = client_ip
    return client.post(
        LOGIN, {"login": "ann@example.com", "password": password}, **headers
    )


@pytest.mark.django_db
@override_settings(
    ACCOUNT_RATE_LIMITS={"login": "3/m/ip"}, ALLAUTH_TRUSTED_PROXY_COUNT=1
)
def test_allauth_counts_each_client_behind_the_proxy_on_its_own(client):
    for _ in range(3):
        assert allauth_login(client, "203.0.113.7").status_code == 200

    assert allauth_login(client, "203.0.113.7").status_code == 429
    # another visitor behind the same proxy is not held back
    assert allauth_login(client, "198.51.100.9").status_code == 200
    # prepending a made-up address does not make a new client: the proxy appended
    # the real one, and only the last entry is trusted
    forged = allauth_login(client, forwarded="192.0.2.55, 203.0.113.7")
    assert forged.status_code == 429


@pytest.mark.django_db
@override_settings(
    ACCOUNT_RATE_LIMITS={"login_failed": "100/m/ip,3/300s/key"},
    ALLAUTH_TRUSTED_PROXY_COUNT=1,
)
def test_allauth_locks_an_account_after_failed_passwords_even_for_the_right_one(client):
    user = UserFactory(username="ann", email="ann@example.com")
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    for number in range(3):
        assert allauth_login(client, f"203.0.113.{number}").status_code == 200

    response = allauth_login(client, "203.0.113.99", password=PASSWORD)

    assert response.status_code == 200
    assert "Too many failed login attempts" in response.text
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_with_no_trusted_proxy_a_forwarded_header_is_ignored(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login": "2/m/ip"}
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    for number in range(2):
        allauth_login(client, forwarded=f"203.0.113.{number}")

    # every "client" came from the same socket address: one bucket
    assert allauth_login(client, forwarded="198.51.100.1").status_code == 429


REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/12",
    }
}


@pytest.mark.integration
@pytest.mark.django_db
def test_limits_are_shared_by_every_process_through_redis(client, redis_url, settings):
    # given the production cache (Redis) and three tries in this process
    settings.CACHES = REDIS_CACHE
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    from django.core.cache import caches

    caches["default"].clear()
    for _ in range(3):
        assert allauth_login(client, "203.0.113.77").status_code == 200

    # when the fourth comes to another process (another gunicorn worker)
    script = textwrap.dedent(
        """
        import django

        django.setup()
        from django.conf import settings
        from django.test import Client

        # The same limit as the first process; no collectstatic manifest here.
        settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
        settings.STORAGES = settings.STORAGES | {
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            }
        }
        response = Client(HTTP_HOST="returns.example.com").post(
            "/accounts/login/",
            {"login": "ann@example.com", "password": "wrong"},
            secure=True,
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.77",
        )
        print(response.status_code)
        """
    )
    result = run_production(
        ["-c", script],
        CACHE_URL="redis://127.0.0.1:6379/12",
        DATABASE_URL=_database_url(),
        ALLAUTH_TRUSTED_PROXY_COUNT="1",
    )
    caches["default"].clear()

    # then that process refuses it too
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-1] == "429"


# Wagtail's admin login ------------------------------------------------------------------

ADMIN_LIMITS = {"ip": (6, 60), "ip_user": (3, 300)}


def admin_login(client, username, password=WRONG, client_ip="203.0.113.5"):
    return client.post(
        ADMIN_LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=client_ip,
    )


@pytest.fixture
def staff(db):
    return UserFactory(username="editor", is_staff=True, is_superuser=True)


@pytest.mark.django_db
@override_settings(
    ADMIN_LOGIN_FAILURE_LIMITS=ADMIN_LIMITS, ALLAUTH_TRUSTED_PROXY_COUNT=1
)
def test_the_admin_login_answers_429_after_failed_passwords_per_ip_and_user(
    client, staff
):
    for _ in range(3):
        assert admin_login(client, "editor").status_code == 200

    # even the right password is refused now, and nobody is signed in
    blocked = admin_login(client, "editor", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.text
    assert "_auth_user_id" not in client.session
    # the same user from another client behind the proxy still gets in
    assert admin_login(client, "editor", PASSWORD, "198.51.100.3").status_code == 302
    client.logout()
    # a forged extra X-Forwarded-For entry is the same client
    forged = admin_login(client, "editor", PASSWORD, "192.0.2.1, 203.0.113.5")
    assert forged.status_code == 429


@pytest.mark.django_db
@override_settings(
    ADMIN_LOGIN_FAILURE_LIMITS=ADMIN_LIMITS, ALLAUTH_TRUSTED_PROXY_COUNT=1
)
def test_the_admin_login_limits_one_ip_guessing_many_usernames(client, staff):
    for number in range(6):
        assert admin_login(client, f"guess{number}").status_code == 200

    assert admin_login(client, "editor", PASSWORD).status_code == 429
    assert admin_login(client, "editor", PASSWORD, "198.51.100.4").status_code == 302


@pytest.mark.django_db
@override_settings(ADMIN_LOGIN_FAILURE_LIMITS=ADMIN_LIMITS)
def test_a_successful_admin_login_does_not_count(client, staff):
    for _ in range(5):
        assert admin_login(client, "editor", PASSWORD).status_code == 302
        client.logout()

    assert admin_login(client, "editor", PASSWORD).status_code == 302


# Two-factor authentication for staff -----------------------------------------------------


def totp_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    counter = counters[len(counters) // 2]  # the current period
    return format_hotp_value(hotp_value(secret, counter))


@pytest.mark.django_db
def test_staff_with_totp_must_pass_the_second_factor_to_reach_the_admin(client, staff):
    # given a staff member who turned on an authenticator app
    EmailAddress.objects.create(
        user=staff, email=staff.email, verified=True, primary=True
    )
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)

    # when they sign in on Wagtail's form with the right password
    response = admin_login(client, "editor", PASSWORD)

    # then they are not let in but sent to allauth's login
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302

    # which asks for the code after the password
    step = client.post(
        response["Location"], {"login": staff.email, "password": PASSWORD}
    )
    assert step.status_code == 302
    assert step["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/admin/").status_code == 302
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get("/admin/").status_code == 302

    done = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})

    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(staff.pk)


@pytest.mark.django_db
def test_staff_can_turn_on_an_authenticator_app(client, staff):
    EmailAddress.objects.create(
        user=staff, email=staff.email, verified=True, primary=True
    )
    client.force_login(staff)

    account = client.get("/accounts/email/")
    index = client.get("/accounts/2fa/")
    # turning it on asks for the password again first
    asked = client.get("/accounts/2fa/totp/activate/")
    assert asked.status_code == 302
    client.post(asked["Location"], {"password": PASSWORD})
    activate = client.get("/accounts/2fa/totp/activate/")

    assert 'href="/accounts/2fa/"' in account.text  # in the account menu
    assert index.status_code == 200
    assert activate.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in activate.text
    assert "img-src 'self' data:" in activate["Content-Security-Policy"]
