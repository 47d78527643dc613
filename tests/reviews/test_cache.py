"""reviews.cache: cached answers, versions and purging."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from reviews import cache as review_cache
from reviews import services
from reviews.cache import (
    CachedAnswer,
    cached_answer,
    product_id_for_sku,
    purge_all,
    purge_product,
)
from tests.factories import ProductFactory
from tests.reviews.public_helpers import (
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
)


class Renderer:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> CachedAnswer:
        self.calls += 1
        return CachedAnswer.of(f"render {self.calls}".encode(), "text/plain")


def answer(render, product_id=1, parts=("en",)):
    return cached_answer(kind="test", product_id=product_id, parts=parts, render=render)


def test_an_answer_is_rendered_once_until_its_product_is_purged():
    render = Renderer()

    first = answer(render)
    second = answer(render)
    purge_product(2)
    third = answer(render)
    purge_product(1)
    fourth = answer(render)

    assert [first.body, second.body, third.body, fourth.body] == [
        b"render 1",
        b"render 1",
        b"render 1",
        b"render 2",
    ]
    assert fourth.etag != first.etag


def test_parts_keep_answers_apart():
    render = Renderer()

    assert answer(render, parts=("en",)).body == b"render 1"
    assert answer(render, parts=("nl",)).body == b"render 2"
    assert answer(render, parts=("en",)).body == b"render 1"


def test_purge_all_drops_product_answers_too():
    render = Renderer()

    assert answer(render).body == b"render 1"
    purge_all()
    assert answer(render).body == b"render 2"


def test_shop_wide_answers_are_purged_by_any_product_and_by_purge_all():
    render = Renderer()

    assert answer(render, product_id=None).body == b"render 1"
    purge_product(7)
    assert answer(render, product_id=None).body == b"render 2"
    purge_all()
    assert answer(render, product_id=None).body == b"render 3"
    assert answer(render, product_id=None).body == b"render 3"


def test_purging_an_empty_cache_is_safe_and_versions_never_restart_at_one():
    cache.clear()
    purge_product(5)  # nothing stored yet: no error
    purge_all()
    before = int(time.time() * 1000) - 1

    review_cache.answer_key(kind="x", product_id=5, parts=())

    versions = cache.get_many(["reviews:version:all", "reviews:version:product:5"])
    assert all(value >= before for value in versions.values())


def test_the_etag_is_a_digest_of_the_body():
    one = CachedAnswer.of(b"same", "text/plain")
    two = CachedAnswer.of(b"same", "text/plain")
    other = CachedAnswer.of(b"other", "text/plain")

    assert one.etag == two.etag != other.etag
    assert one.etag.startswith('"') and one.etag.endswith('"')


@pytest.mark.django_db
def test_product_id_for_sku_is_remembered(django_assert_num_queries):
    product = ProductFactory(sku="C-1")

    with django_assert_num_queries(1):
        assert product_id_for_sku("C-1") == product.pk
        assert product_id_for_sku("C-1") == product.pk
    with django_assert_num_queries(2):  # unknown SKUs are not remembered
        assert product_id_for_sku("NOPE") is None
        assert product_id_for_sku("NOPE") is None


@pytest.mark.django_db
def test_a_helpful_vote_purges_the_api_answer(
    client, django_capture_on_commit_callbacks
):
    product = ProductFactory(sku="C-2")
    review = make_review(product=product)
    before = client.get("/api/v1/products/C-2/reviews").json()
    assert before["results"][0]["helpful_count"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.vote_helpful(review=review, voter="anon:" + "a" * 32)

    after = client.get("/api/v1/products/C-2/reviews").json()
    assert after["results"][0]["helpful_count"] == 1


@pytest.mark.django_db
def test_a_withdrawn_review_disappears_from_every_answer(
    client, django_capture_on_commit_callbacks
):
    product = ProductFactory(sku="C-3")
    review = make_review(product=product, title="Mine")
    for url in (
        "/api/v1/products/C-3/reviews",
        "/embed/reviews/C-3/",
        "/products/C-3/reviews/",
    ):
        assert "Mine" in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw_review(review=review, customer=review.customer)

    for url in (
        "/api/v1/products/C-3/reviews",
        "/embed/reviews/C-3/",
        "/products/C-3/reviews/",
    ):
        assert "Mine" not in client.get(url).content.decode()
