"""Security headers on the public site, the admin and the embed, HSTS in production,
and the CSP nonce an inline script needs."""

import re
import textwrap

import pytest
from django.test import override_settings

from tests.config.test_settings import run_production
from tests.factories import ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.config.publishing_urls")]

SHOP = "https://shop.example"


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()
    }


def test_public_pages_forbid_inline_scripts_and_framing_by_others(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'self'"]
    assert (
        "'unsafe-inline'"
        not in response["Content-Security-Policy"].split("style-src")[0]
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_an_inline_script_runs_only_with_this_requests_nonce(client):
    first = client.get("/test-nonce/")
    second = client.get("/test-nonce/")

    nonces = []
    for response in (first, second):
        (nonce,) = re.findall(r'<script nonce="([^"]+)">', response.text)
        assert directives(response)["script-src"] == ["'self'", f"'nonce-{nonce}'"]
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22


def test_the_api_docs_need_no_inline_script(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert re.search(r"<script>\s*\S", response.text) is None
    assert directives(response)["script-src"] == ["'self'"]
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text


def test_the_admin_gets_its_relaxed_policy_and_is_not_frameable(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@override_settings(REVIEWS_EMBED_ALLOWED_ORIGINS=[SHOP])
def test_the_review_embed_stays_frameable_by_the_shop(client):
    ProductFactory(sku="SEC-1")

    response = client.get("/embed/reviews/SEC-1/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == f"frame-ancestors 'self' {SHOP}"
    assert "X-Frame-Options" not in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_production_adds_hsts_and_redirects_plain_http_but_not_the_probes():
    script = textwrap.dedent(
        """
        import django

        django.setup()
        from django.test import Client

        client = Client(HTTP_HOST="returns.example.com")
        secure = client.get("/healthz", secure=True)
        print(secure.status_code, secure["Strict-Transport-Security"])
        csp = secure["Content-Security-Policy"].split("; ")
        print([part for part in csp if part.startswith("script-src")])
        plain = client.get("/accounts/login/")
        print(plain.status_code, plain["Location"])
        print(client.get("/healthz").status_code)
        """
    )

    result = run_production(["-c", script])

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-4:] == [
        "200 max-age=31536000; includeSubDomains; preload",
        "[\"script-src 'self'\"]",
        "301 https://returns.example.com/accounts/login/",
        "200",
    ]
