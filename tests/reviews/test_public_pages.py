"""The public product reviews page: aggregate, listing, sort and filters, labels,
votes (CSRF kept, cached page without anyone's token), purging, constant queries."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from reviews import services
from reviews.models import HelpfulVote, Review, ReviewStatus
from reviews.public import approved_reviews, summary
from tests.factories import ProductFactory, UserFactory
from tests.reviews.public_helpers import (
    bulk_reviews,
    fresh_cache,  # noqa: F401 (autouse fixture)
    make_review,
    policy_page,
)

pytestmark = pytest.mark.django_db

INCENTIVE = (
    '<p class="rw-review__incentive">The reviewer received points for this review.</p>'
)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def page_url(product, **params):
    url = reverse("reviews:product", args=[product.sku])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def titles(response) -> list[str]:
    return re.findall(r'<h3 class="rw-review__title">([^<]*)</h3>', response.text)


# reviews.public ---------------------------------------------------------------------


def test_summary_counts_approved_reviews_only_in_one_query(
    django_assert_num_queries,
):
    product = ProductFactory()
    for rating in (5, 5, 4, 1):
        make_review(product=product, rating=rating, rewarded=rating == 5)
    for status in ("pending", "rejected", "removed", "withdrawn"):
        make_review(product=product, rating=1, status=status)
    make_review(product=ProductFactory(), rating=2)

    with django_assert_num_queries(1):
        result = summary(product)

    assert result.average == Decimal("3.8")
    assert result.count == 4
    assert result.distribution == {5: 2, 4: 1, 3: 0, 2: 0, 1: 1}
    assert result.rewarded_count == 2
    assert [(bar.stars, bar.count, bar.percent) for bar in result.bars] == [
        (5, 2, 50),
        (4, 1, 25),
        (3, 0, 0),
        (2, 0, 0),
        (1, 1, 25),
    ]


def test_summary_of_a_product_without_reviews():
    result = summary(ProductFactory())

    assert (result.average, result.count) == (None, 0)
    assert result.distribution == {5: 0, 4: 0, 3: 0, 2: 0, 1: 0}


def test_approved_reviews_sort_and_filter(django_assert_num_queries):
    product = ProductFactory()
    old = make_review(product=product, rating=2, title="old", helpful_count=9)
    new = make_review(product=product, rating=5, title="new", photos=2)
    mid = make_review(product=product, rating=4, title="mid", helpful_count=3)
    Review.objects.filter(pk=old.pk).update(
        approved_at=old.approved_at.replace(year=2020)
    )
    Review.objects.filter(pk=mid.pk).update(
        approved_at=mid.approved_at.replace(year=2022)
    )
    make_review(product=product, rating=5, title="waiting", status="pending")

    def listed(**kwargs):
        return [review.title for review in approved_reviews(product, **kwargs)]

    assert listed() == ["new", "mid", "old"]
    assert listed(sort="helpful") == ["old", "mid", "new"]
    assert listed(sort="rating_high") == ["new", "mid", "old"]
    assert listed(sort="rating_low") == ["old", "mid", "new"]
    assert listed(sort="nonsense") == ["new", "mid", "old"]
    assert listed(stars=4) == ["mid"]
    assert listed(with_photos=True) == ["new"]
    with django_assert_num_queries(2):  # the reviews, then all their photos
        photos = [len(review.photos.all()) for review in approved_reviews(product)]
    assert photos == [2, 0, 0]
    assert new.pk


# The page -----------------------------------------------------------------------------


def test_the_page_shows_aggregate_distribution_reviews_replies_and_labels(client):
    product = ProductFactory(name="Linen shirt")
    make_review(
        product=product,
        rating=5,
        title="Lovely",
        rewarded=True,
        reply_body="Thank you, Anna!",
        customer=None,
    )
    make_review(product=product, rating=1, title="Tore at once", rewarded=True)
    make_review(product=product, rating=4, title="Fine", rewarded=False)
    make_review(product=product, rating=3, title="Not yet approved", status="pending")

    response = client.get(page_url(product))

    assert response.status_code == 200
    html = response.text
    assert "Reviews of Linen shirt" in html
    assert '<strong class="rw-summary__value">3.3</strong>' in html
    assert "3 reviews" in html
    assert sorted(titles(response)) == ["Fine", "Lovely", "Tore at once"]
    assert "Not yet approved" not in html
    assert "Thank you, Anna!" in html
    assert "Reply from Returnwise" in html
    assert html.count(INCENTIVE) == 2  # each rewarded review, the 1-star one too
    assert html.count("Verified purchase") == 3
    assert "2 reviewers received points for their review" in html
    bars = re.findall(r'style="width: (\d+)%"', html)
    assert bars == ["33", "33", "0", "0", "33"]


def test_every_rewarded_review_is_labelled_on_every_page():
    product = ProductFactory()
    for n in range(25):
        make_review(product=product, rating=1 + n % 5, title=f"r{n}", rewarded=True)
    client = Client()

    for number in (1, 2, 3):
        response = client.get(page_url(product, page=number))
        articles = response.text.count('<article class="rw-review"')
        assert articles == (10 if number < 3 else 5)
        assert response.text.count(INCENTIVE) == articles


def test_the_reviewer_is_shown_by_first_name_and_initial(client):
    product = ProductFactory()
    review = make_review(product=product)
    review.customer.first_name, review.customer.last_name = "Anna", "Jansen"
    review.customer.save()

    html = client.get(page_url(product)).text

    assert "Anna J." in html
    assert "Jansen" not in html
    assert review.customer.email not in html


def test_sort_and_star_filter_from_the_query_string(client):
    product = ProductFactory()
    make_review(product=product, rating=2, title="two", helpful_count=5)
    make_review(product=product, rating=5, title="five", photos=1)

    assert titles(client.get(page_url(product, sort="rating_low"))) == ["two", "five"]
    assert titles(client.get(page_url(product, sort="helpful"))) == ["two", "five"]
    assert titles(client.get(page_url(product, stars=5))) == ["five"]
    assert titles(client.get(page_url(product, photos=1))) == ["five"]
    assert titles(client.get(page_url(product, stars="x", sort="y", page="z"))) == [
        "five",
        "two",
    ]


def test_photos_are_shown_as_thumbnails_linking_to_the_photo(client):
    product = ProductFactory()
    review = make_review(product=product, photos=2)

    html = client.get(page_url(product)).text

    assert f'src="/media/reviews/test/thumbs/{review.pk}-0.jpg"' in html
    assert f'href="/media/reviews/test/{review.pk}-1.jpg"' in html


def test_the_how_we_check_link_appears_once_the_page_is_created(
    client, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    make_review(product=product)
    assert "How we collect and check reviews" not in client.get(page_url(product)).text

    with django_capture_on_commit_callbacks(execute=True):
        policy_page(slug="how-we-check")
    html = client.get(page_url(product)).text

    assert '<a href="/how-we-check/">How we collect and check reviews</a>' in html


def test_an_unknown_sku_is_404(client):
    assert client.get(page_url(ProductFactory.build(sku="NOPE"))).status_code == 404


def test_the_page_is_in_dutch_under_nl(client):
    product = ProductFactory()
    make_review(product=product)

    response = client.get(f"/nl{page_url(product)}")

    assert response.status_code == 200
    assert response["Content-Language"] == "nl"


def test_xss_in_title_body_and_reply_is_escaped(client):
    product = ProductFactory(name="<b>Shirt</b>")
    make_review(
        product=product,
        title='<script>alert("t")</script>',
        body="<img src=x onerror=alert(1)>\nsecond line",
        reply_body="<iframe src=evil>",
    )

    html = client.get(page_url(product)).text

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<iframe src=evil>" not in html
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;<br>second line" in html
    assert "&lt;b&gt;Shirt&lt;/b&gt;" in html


# Caching ---------------------------------------------------------------------------


def test_an_anonymous_page_is_served_from_the_cache_without_queries(
    django_assert_num_queries,
):
    product = ProductFactory()
    make_review(product=product, title="Cached")
    Client().get(page_url(product))

    with django_assert_num_queries(0):
        response = Client().get(page_url(product))

    assert titles(response) == ["Cached"]
    assert "private" in response["Cache-Control"]


def test_the_cached_page_holds_no_csrf_token_and_each_visitor_gets_their_own():
    product = ProductFactory()
    review = make_review(product=product)
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)

    first_page = first.get(page_url(product))
    second_page = second.get(page_url(product))

    # locmem keeps pickles, which hold the body's bytes as they are.
    stored = [value for value in cache._cache.values() if b"rw-review" in value]
    assert len(stored) == 1, "the page was cached once"
    assert b"\x00csrf\x00" in stored[0]
    assert b'csrfmiddlewaretoken" value="\x00' in stored[0]
    first_cookie = first.cookies["csrftoken"].value
    second_cookie = second.cookies["csrftoken"].value
    assert first_cookie != second_cookie
    for page in (first_page, second_page):
        assert "\x00csrf\x00" not in page.text
    for client, page in ((first, first_page), (second, second_page)):
        token = CSRF_INPUT.findall(page.text)[-1]
        response = client.post(
            page_url(product), {"review": review.pk, "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 303
    assert Review.objects.get(pk=review.pk).helpful_count == 2


def test_a_signed_in_visitor_gets_a_fresh_page(client, django_assert_max_num_queries):
    product = ProductFactory()
    make_review(product=product, title="First")
    Client().get(page_url(product))  # cached for anonymous visitors
    client.force_login(UserFactory())

    response = client.get(page_url(product))

    assert response.status_code == 200
    assert "Sign out" in response.text
    assert "private" in response["Cache-Control"]


def test_approval_purges_the_cached_page(django_capture_on_commit_callbacks):
    product = ProductFactory()
    make_review(product=product, title="Old one")
    waiting = make_review(product=product, title="New one", status="pending")
    assert titles(Client().get(page_url(product))) == ["Old one"]

    with django_capture_on_commit_callbacks(execute=True):
        services.approve(review=waiting, by=UserFactory(is_staff=True))

    assert sorted(titles(Client().get(page_url(product)))) == ["New one", "Old one"]


def test_removal_and_reply_purge_the_cached_page(django_capture_on_commit_callbacks):
    product = ProductFactory()
    review = make_review(product=product, title="Rude")
    staff = UserFactory(is_staff=True)
    Client().get(page_url(product))

    with django_capture_on_commit_callbacks(execute=True):
        services.reply(review=review, by=staff, body="We are sorry to read this.")
    assert "We are sorry to read this." in Client().get(page_url(product)).text

    with django_capture_on_commit_callbacks(execute=True):
        services.remove(review=review, by=staff, reason="Insults")
    assert titles(Client().get(page_url(product))) == []


# Votes ---------------------------------------------------------------------------------


def test_an_anonymous_vote_counts_once_per_voter_cookie():
    product = ProductFactory()
    review = make_review(product=product)
    client = Client()

    first = client.post(page_url(product, sort="helpful"), {"review": review.pk})
    again = client.post(page_url(product, sort="helpful"), {"review": review.pk})

    assert first.status_code == 303
    assert first["Location"] == f"{page_url(product)}?sort=helpful#review-{review.pk}"
    assert "no-cache" in first["Cache-Control"]
    assert "rw_voter" in first.cookies
    assert again.status_code == 303
    review.refresh_from_db()
    assert review.helpful_count == 1
    voter = HelpfulVote.objects.get(review=review).voter
    assert re.fullmatch(r"anon:[0-9a-f]{32}", voter)
    followed = client.get(first["Location"])
    assert "You already found this review helpful." in followed.text


def test_another_anonymous_visitor_counts_too():
    product = ProductFactory()
    review = make_review(product=product)

    Client().post(page_url(product), {"review": review.pk})
    response = Client().post(page_url(product), {"review": review.pk}, follow=True)

    assert "Thank you: your vote is counted." in response.text
    assert Review.objects.get(pk=review.pk).helpful_count == 2


def test_a_forged_voter_cookie_is_replaced():
    product = ProductFactory()
    review = make_review(product=product)
    client = Client()
    client.cookies["rw_voter"] = "0123456789abcdef0123456789abcdef"

    client.post(page_url(product), {"review": review.pk})

    voter = HelpfulVote.objects.get(review=review).voter
    assert voter != "anon:0123456789abcdef0123456789abcdef"


def test_a_signed_in_vote_is_by_account(client):
    product = ProductFactory()
    review = make_review(product=product)
    user = UserFactory()
    client.force_login(user)

    client.post(page_url(product), {"review": review.pk})
    client.post(page_url(product), {"review": review.pk})

    assert list(HelpfulVote.objects.values_list("voter", flat=True)) == [
        f"user:{user.pk}"
    ]
    assert Review.objects.get(pk=review.pk).helpful_count == 1


def test_a_vote_without_a_csrf_token_is_refused():
    product = ProductFactory()
    review = make_review(product=product)
    client = Client(enforce_csrf_checks=True)
    client.get(page_url(product))

    response = client.post(page_url(product), {"review": review.pk})

    assert response.status_code == 403
    assert Review.objects.get(pk=review.pk).helpful_count == 0
    assert not HelpfulVote.objects.exists()


@pytest.mark.parametrize("status", ["pending", "rejected", "removed", "withdrawn"])
def test_no_vote_on_an_unpublished_review(client, status):
    product = ProductFactory()
    review = make_review(product=product, status=status)

    response = client.post(page_url(product), {"review": review.pk})

    assert response.status_code == 404
    assert not HelpfulVote.objects.exists()


def test_no_vote_on_another_products_review(client):
    review = make_review(product=ProductFactory())

    response = client.post(page_url(ProductFactory()), {"review": review.pk})

    assert response.status_code == 404
    assert not HelpfulVote.objects.exists()


def test_a_vote_needs_a_review(client):
    product = ProductFactory()

    assert client.post(page_url(product), {"review": "x"}).status_code == 400


def test_a_vote_shows_in_the_count_at_once(django_capture_on_commit_callbacks):
    product = ProductFactory()
    review = make_review(product=product)
    client = Client()
    assert "found this helpful" not in client.get(page_url(product)).text

    with django_capture_on_commit_callbacks(execute=True):
        Client().post(page_url(product), {"review": review.pk})

    assert "1 person found this helpful" in Client().get(page_url(product)).text
    assert ReviewStatus.APPROVED == Review.objects.get(pk=review.pk).status


# Queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [10, 10_000])
def test_the_page_uses_a_constant_number_of_queries(
    count, client, django_assert_max_num_queries
):
    product = ProductFactory()
    bulk_reviews(product=product, count=count)
    policy_page()

    for params in ({}, {"sort": "helpful", "page": 3}, {"stars": 4}, {"photos": 1}):
        cache.clear()
        # product id, product, summary, reviews, photos; the "how we check" page's
        # address (restrictions, page, sites, site root): the same for 10 or 10,000.
        with django_assert_max_num_queries(10):
            response = client.get(page_url(product, **params))
        assert response.status_code == 200
    assert f"{count} reviews" in response.text


def test_anonymous_votes_are_limited_per_address():
    from reviews.models import ReviewSettings

    rules = ReviewSettings.load()
    rules.votes_per_hour = 2
    rules.save()
    product = ProductFactory()
    reviews = [make_review(product=product) for _ in range(3)]

    for review in reviews:  # a fresh cookie each time: three "different" voters
        response = Client().post(page_url(product), {"review": review.pk}, follow=True)

    assert "Too many attempts. Please try again later." in response.text
    counts = sorted(Review.objects.values_list("helpful_count", flat=True))
    assert counts == [0, 1, 1]
    assert HelpfulVote.objects.count() == 2


def test_signed_in_votes_are_not_limited_by_address(client):
    from reviews.models import ReviewSettings

    rules = ReviewSettings.load()
    rules.votes_per_hour = 1
    rules.save()
    product = ProductFactory()
    first, second = make_review(product=product), make_review(product=product)
    Client().post(page_url(product), {"review": first.pk})  # the address's one vote
    client.force_login(UserFactory())

    client.post(page_url(product), {"review": second.pk})

    assert Review.objects.get(pk=second.pk).helpful_count == 1


def test_no_setting_decides_by_rating_and_low_stars_are_shown(client):
    from reviews.models import ReviewSettings

    names = [field.name for field in ReviewSettings._meta.get_fields()]
    assert not [name for name in names if "rating" in name or "star" in name]
    product = ProductFactory()
    make_review(product=product, rating=1, title="One star")

    assert titles(client.get(page_url(product))) == ["One star"]
