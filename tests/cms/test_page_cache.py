"""Anonymous visitors get policy pages and the home page from the cache; a publish
shows at once; signed-in users and query strings always get a fresh render."""

import re

import pytest
from django.test import Client

from tests.cms.conftest import republish
from tests.factories import CategoryFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def shoes(make_policy):
    return make_policy(
        title="Shoes", categories=[CategoryFactory(name="Shoes")], summary="30 days."
    )


@pytest.mark.parametrize("path", ["/returns/shoes/", "/", "/returns/", "/nl/"])
def test_the_second_anonymous_visit_is_served_from_the_cache(
    client, shoes, django_assert_num_queries, path
):
    first = client.get(path)
    assert first.status_code == 200
    assert "X-Page-Cache" not in first

    with django_assert_num_queries(0):
        second = Client().get(path)

    assert second["X-Page-Cache"] == "hit"
    assert TOKEN.sub("", second.content.decode()) == TOKEN.sub(
        "", first.content.decode()
    )


def test_a_publish_shows_immediately(client, shoes):
    client.get("/returns/shoes/")

    republish(shoes, summary="Now 20 days.")

    html = Client().get("/returns/shoes/").content.decode()
    assert "Now 20 days." in html
    assert "30 days." not in html


def test_unpublishing_removes_the_page_at_once(client, shoes):
    client.get("/returns/shoes/")

    shoes.unpublish()

    assert Client().get("/returns/shoes/").status_code == 404


def test_each_visitor_gets_their_own_csrf_token(client, shoes):
    Client().get("/returns/shoes/")

    visitor = Client(enforce_csrf_checks=True)
    response = visitor.get("/returns/shoes/")

    assert response["X-Page-Cache"] == "hit"
    token = TOKEN.search(response.content.decode()).group(1)
    assert "csrftoken" in response.cookies
    # the language switch works for this visitor with the token they were served
    switched = visitor.post(
        "/i18n/setlang/", {"language": "nl", "next": "/", "csrfmiddlewaretoken": token}
    )
    assert switched.status_code == 302


def test_a_signed_in_user_is_never_served_the_cached_page(client, shoes):
    Client().get("/returns/shoes/")
    Client().get("/returns/shoes/")
    client.force_login(UserFactory(username="editor"))

    response = client.get("/returns/shoes/")

    assert "X-Page-Cache" not in response
    assert "Sign out" in response.content.decode()


def test_a_signed_in_render_is_not_stored_for_anonymous_visitors(client, shoes):
    client.force_login(UserFactory(username="editor"))
    client.get("/returns/shoes/")

    response = Client().get("/returns/shoes/")

    assert "X-Page-Cache" not in response
    assert "Sign out" not in response.content.decode()


def test_a_query_string_bypasses_the_cache(client, shoes):
    client.get("/returns/shoes/?utm_source=x")
    client.get("/returns/shoes/?utm_source=x")

    assert "X-Page-Cache" not in Client().get("/returns/shoes/?utm_source=x")


def test_a_private_page_is_never_cached(client, shoes):
    from wagtail.models import PageViewRestriction

    PageViewRestriction.objects.create(
        page=shoes, restriction_type=PageViewRestriction.PASSWORD, password="secret"
    )

    first = client.get("/returns/shoes/")
    second = Client().get("/returns/shoes/")

    assert "30 days." not in first.content.decode()
    assert "X-Page-Cache" not in second
    assert "30 days." not in second.content.decode()


def test_the_cache_can_be_turned_off(client, shoes, settings):
    settings.PAGE_CACHE_SECONDS = 0
    client.get("/returns/shoes/")

    assert "X-Page-Cache" not in Client().get("/returns/shoes/")
