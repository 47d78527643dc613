"""`manage.py create_api_token NAME`: the key is printed once, only its hash is kept."""

import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from shop.models import ApiToken

pytestmark = pytest.mark.django_db

PRODUCT = {"name": "T-shirt", "price": "19.95", "currency": "EUR"}


def create_token(name: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", name, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_the_command_prints_a_key_that_works_on_the_api(client):
    # given a token made with the command
    key, _ = create_token("webshop")

    # when the API is called with it
    response = client.put(
        reverse("api:product", args=["TEE"]),
        json.dumps(PRODUCT),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )

    # then the call is accepted
    assert response.status_code == 201


def test_the_command_stores_only_the_hash_and_prefix():
    # when a token is made
    key, notice = create_token("webshop")

    # then the database holds the SHA-256 of the key and its first 8 characters
    token = ApiToken.objects.get()
    assert len(key) == 43  # secrets.token_urlsafe(32)
    assert (token.name, token.key_hash, token.prefix) == (
        "webshop",
        hashlib.sha256(key.encode()).hexdigest(),
        key[:8],
    )
    assert (token.last_used_at, token.revoked_at) == (None, None)
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    assert key not in stored
    # and the notice (on stderr) says the key is not shown again, without repeating it
    assert "not shown again" in notice
    assert key not in notice


def test_each_token_gets_a_different_key():
    # when two tokens are made
    first, _ = create_token("webshop")
    second, _ = create_token("3pl")

    # then their keys differ
    assert first != second
    assert ApiToken.objects.count() == 2


def test_a_taken_name_is_refused_and_nothing_changes():
    # given a token named "webshop", revoked or not
    create_token("webshop")
    before = list(ApiToken.objects.values())

    # when another token with that name is asked for
    with pytest.raises(CommandError) as refused:
        create_token("webshop")

    # then the command says why and the first token is untouched
    assert str(refused.value) == (
        "A token named 'webshop' exists already (revoked tokens keep their names). "
        "Choose another name."
    )
    assert list(ApiToken.objects.values()) == before


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_blank_or_too_long_name_is_refused(name):
    # when a token with an unusable name is asked for
    with pytest.raises(CommandError) as refused:
        create_token(name)

    # then nothing is created
    assert str(refused.value) == "The name must be 1 to 100 characters long."
    assert ApiToken.objects.count() == 0
