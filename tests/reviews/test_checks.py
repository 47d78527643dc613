"""reviews.checks: automatic flags for a human moderator (never a rejection)."""

from __future__ import annotations

import pytest

from reviews.checks import flag_labels, flags_for
from reviews.models import ReviewStatus
from tests.factories import ProductFactory
from tests.reviews.public_helpers import make_review

CLEAN_BODY = "The fabric is soft and the size was right; I wear it every week."


def check(title="Nice shirt", body=CLEAN_BODY, **kwargs):
    return flags_for(title=title, body=body, **kwargs)


@pytest.mark.django_db
def test_a_clean_review_has_no_flags():
    assert check() == []


@pytest.mark.django_db
def test_a_clean_dutch_review_has_no_flags():
    body = "De stof is zacht en de maat klopt. Ik draag hem elke week, aanrader!"
    assert check(title="Fijn overhemd", body=body) == []


@pytest.mark.parametrize(
    "text",
    [
        "This is fucking useless",
        "What a piece of shit",
        "Absolute BULLSHIT",
        "f*ck this",
        "sh1t quality",
        "Wat een kutproduct",
        "Klotezooi, nooit meer",
        "Godverdomme wat slecht",
        "tyfusding",
        "Die verkoper is een klootzak",
        "zak hooi",
        "Kùt",
    ],
)
@pytest.mark.django_db
def test_profanity_in_english_and_dutch_is_flagged(text):
    assert check(body=f"{text}. {CLEAN_BODY}") == ["profanity"]


@pytest.mark.parametrize(
    "text",
    [
        "Bought in Scunthorpe",
        "Lekker bij de spruitjes en klootjesvolk",  # klootjesvolk is a plain word
        "Verbetering nodig bij de rits",  # contains "tering" inside a word
        "Great for the dickens fan",
        "Shitake mushrooms print",
        "Rated ***** by me",
        "Sukkelen met de rits",  # a verb, not the insult
    ],
)
@pytest.mark.django_db
def test_words_that_merely_contain_a_swear_word_are_not_flagged(text):
    assert "profanity" not in check(body=f"{text}. {CLEAN_BODY}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://cheap.example/deal", ["link"]),
        ("Go to www.example.org now", ["link"]),
        ("cheaper at bol.com", ["link"]),
        ("mail me: jan.jansen+shop@example.com", ["email"]),
        ("mail me: jan (at) example dot com", ["email"]),
        ("mail me: jan[at]example[dot]nl", ["email"]),
        ("bel 06-12345678 voor meer", ["phone"]),
        ("call +31 6 1234 5678 now", ["phone"]),
        ("call 020 123 45 67", ["phone"]),
        ("bel 0031612345678", ["phone"]),
    ],
)
@pytest.mark.django_db
def test_links_addresses_and_phone_numbers_are_flagged(text, expected):
    assert check(body=f"{CLEAN_BODY} {text}") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Delivered on 12-03-2024 at 10:30",
        "Order #100001, size 42",
        "Costs 1.299,00 euro and weighs 2.5 kg",
        "e.g. with jeans, i.e. casual",
        "Delivered 2024-03-12 10:30, order 123456",
    ],
)
@pytest.mark.django_db
def test_dates_prices_and_abbreviations_are_not_contact_details(text):
    assert check(body=f"{CLEAN_BODY} {text}") == []


@pytest.mark.django_db
def test_shouting_is_flagged():
    assert check(
        title="WORST SHIRT EVER", body="IT TORE AFTER ONE WASH, NEVER AGAIN"
    ) == ["shouting"]


@pytest.mark.django_db
def test_a_few_capitals_are_not_shouting():
    assert check(title="USB-C cable", body=f"Works with my HDMI TV. {CLEAN_BODY}") == []


@pytest.mark.django_db
def test_a_very_short_text_is_flagged_with_the_given_minimum():
    assert check(body="Great!") == ["short"]
    assert check(body="Great shirt, love it", min_length=30) == ["short"]
    assert check(body="Great shirt, love it", min_length=10) == []


@pytest.mark.django_db
def test_a_near_copy_of_another_review_is_flagged():
    product = ProductFactory()
    make_review(product=product, body=CLEAN_BODY, status=ReviewStatus.PENDING)

    copy = CLEAN_BODY.replace("every week", "every week!").upper().lower()

    assert check(body=copy, product_id=product.pk) == ["duplicate"]


@pytest.mark.django_db
def test_a_copy_of_a_review_of_another_product_is_flagged():
    make_review(product=ProductFactory(), body=CLEAN_BODY)

    assert check(body=CLEAN_BODY, product_id=ProductFactory().pk) == ["duplicate"]
    assert check(body=CLEAN_BODY) == ["duplicate"]


@pytest.mark.django_db
def test_the_review_itself_is_not_its_own_duplicate():
    product = ProductFactory()
    review = make_review(product=product, body=CLEAN_BODY)

    assert (
        check(body=CLEAN_BODY, product_id=product.pk, exclude_review_id=review.pk) == []
    )


@pytest.mark.django_db
def test_a_different_review_on_the_same_subject_is_not_a_duplicate():
    product = ProductFactory()
    make_review(product=product, body=CLEAN_BODY)

    other = (
        "Soft fabric, but the size runs small: I had to exchange it for a larger one."
    )

    assert check(body=other, product_id=product.pk) == []


@pytest.mark.django_db
def test_several_flags_come_in_a_fixed_order():
    body = "BUY AT WWW.EXAMPLE.COM OR CALL 0612345678, FUCK THIS"

    assert check(title="SCAM", body=body) == ["profanity", "link", "phone", "shouting"]


@pytest.mark.django_db
def test_the_rating_plays_no_part():
    # flags_for has no rating argument at all: a 1-star text is judged as a 5-star.
    with pytest.raises(TypeError):
        flags_for(title="x", body=CLEAN_BODY, rating=1)


def test_flag_labels_name_each_code():
    assert flag_labels(["link", "short", "unknown"]) == [
        "Contains a link",
        "Very short text",
        "unknown",
    ]
