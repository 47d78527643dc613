"""Demo reviews, run by `seed_demo` after the shop's and loyalty's: realistic reviews in
Dutch and English for most demo products, ratings skewed the way real shops see them
(many 5s, a tail of 1s), some with generated photos, some waiting for moderation, a few
rejected, replies from the shop on the unhappy ones.

Everything goes through reviews/services.py, so approved reviews earn their points in
the ledger (`review:<id>`, `review-photo:<id>`) like real ones. Deterministic and
idempotent: which line gets which review is decided by hashing the order line's
external ids; a line that has a review already is skipped.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from reviews import services
from reviews.models import Review, ReviewPhoto
from reviews.pages import ensure_demo_pages
from shop.models import OrderLine

DEMO_CUSTOMER_EMAIL = "customer@example.com"
PER_PRODUCT = 10
SHARE_REVIEWED = 45  # percent of delivered lines
PHOTO_SHARE = 15  # percent of reviews
MAX_PHOTOS = 60
PENDING_DAYS = 10  # delivered more recently: still waiting for a moderator
MODERATOR = "moderator"

# rating -> weight out of 100 (J-shaped, as review sites see)
RATINGS = [(5, 46), (4, 24), (3, 11), (2, 7), (1, 12)]

TEXT = {
    "en": {
        "title": {
            5: ["Exactly what I hoped for", "Love it", "Great quality", "Perfect"],
            4: ["Very good", "Nice, one small thing", "Good value", "Happy with it"],
            3: ["It's okay", "Average", "Mixed feelings", "Does the job"],
            2: ["Disappointing", "Not great", "Expected more", "Meh"],
            1: ["Poor quality", "Would not buy again", "Fell apart", "Returned it"],
        },
        "open": {
            5: [
                "The {product} is even better than on the photos.",
                "I have worn the {product} almost every day since it arrived.",
                "Bought the {product} as a gift and ended up keeping it.",
            ],
            4: [
                "The {product} looks good and feels well made.",
                "Solid {product} for the price.",
                "I like the {product}, with one small remark.",
            ],
            3: [
                "The {product} is fine, nothing special.",
                "Some things about the {product} are good, others less so.",
                "The {product} does what it should, more or less.",
            ],
            2: [
                "I expected more from the {product}.",
                "The {product} looked nicer online than in real life.",
                "The {product} was a bit of a let-down.",
            ],
            1: [
                "The {product} did not survive the first wash.",
                "Unfortunately the {product} was poorly finished.",
                "The {product} was nothing like the description.",
            ],
        },
        "detail": [
            "Delivery was quick and the packaging was plastic-free.",
            "The size chart was accurate for me.",
            "The colour is a little darker than on the screen.",
            "The stitching on the seams is neat.",
            "It runs slightly small, so consider a size up.",
            "The material feels soft and sturdy.",
            "Customer service answered my question within a day.",
            "After a month of use it still looks new.",
        ],
    },
    "nl": {
        "title": {
            5: ["Precies wat ik zocht", "Heel blij mee", "Topkwaliteit", "Perfect"],
            4: ["Erg goed", "Mooi, één puntje", "Goede prijs-kwaliteit", "Tevreden"],
            3: ["Gaat wel", "Gemiddeld", "Gemengde gevoelens", "Doet wat het moet"],
            2: ["Teleurstellend", "Niet geweldig", "Meer verwacht", "Matig"],
            1: ["Slechte kwaliteit", "Zou het niet opnieuw kopen", "Snel kapot"],
        },
        "open": {
            5: [
                "De {product} is nog mooier dan op de foto's.",
                "Ik draag de {product} bijna elke dag sinds hij binnen is.",
                "Gekocht als cadeau en toch zelf gehouden: de {product} is top.",
            ],
            4: [
                "De {product} ziet er goed uit en voelt stevig aan.",
                "Prima {product} voor deze prijs.",
                "Ik vind de {product} fijn, op één puntje na.",
            ],
            3: [
                "De {product} is oké, niet meer dan dat.",
                "Aan de {product} zijn goede en minder goede kanten.",
                "De {product} doet wat hij moet doen, min of meer.",
            ],
            2: [
                "Ik had meer verwacht van de {product}.",
                "De {product} zag er online mooier uit dan in het echt.",
                "De {product} viel me eerlijk gezegd tegen.",
            ],
            1: [
                "De {product} overleefde de eerste wasbeurt niet.",
                "Helaas was de {product} slordig afgewerkt.",
                "De {product} leek in niets op de beschrijving.",
            ],
        },
        "detail": [
            "De levering was snel en de verpakking plasticvrij.",
            "De maattabel klopte bij mij precies.",
            "De kleur is iets donkerder dan op het scherm.",
            "De naden zijn netjes gestikt.",
            "Hij valt wat klein, dus neem gerust een maat groter.",
            "Het materiaal voelt zacht en stevig aan.",
            "De klantenservice beantwoordde mijn vraag binnen een dag.",
            "Na een maand gebruik ziet hij er nog als nieuw uit.",
        ],
    },
}
REPLIES = {
    "en": "Thank you for your honest review. We are sorry to hear this; our "
    "customer service will contact you to make it right.",
    "nl": "Bedankt voor je eerlijke review. Wat jammer om te lezen; onze "
    "klantenservice neemt contact met je op om het goed te maken.",
}
REJECTION = "Your review mentions another shop's prices; please leave those out."
COLOURS = [(196, 88, 60), (61, 110, 150), (88, 140, 90), (210, 180, 70), (120, 90, 150)]


def _hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _pick(options, byte: int):
    return options[byte % len(options)]


def _rating(byte: int) -> int:
    point = byte * 100 // 256
    for rating, weight in RATINGS:
        if point < weight:
            return rating
        point -= weight
    return 1


def demo_photo(seed: bytes) -> SimpleUploadedFile:
    """A small generated 'product photo': a coloured backdrop with a few shapes."""
    colour = _pick(COLOURS, seed[0])
    image = Image.new("RGB", (480, 360), colour)
    draw = ImageDraw.Draw(image)
    for index in range(3):
        x, y = seed[index + 1] % 300, seed[index + 4] % 200
        shade = tuple(min(255, c + 40 * (index + 1)) for c in colour)
        draw.ellipse((x, y, x + 120, y + 120), fill=shade)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return SimpleUploadedFile("photo.jpg", buffer.getvalue(), "image/jpeg")


def _text(language: str, rating: int, product: str, seed: bytes) -> tuple[str, str]:
    words = TEXT[language]
    title = _pick(words["title"][rating], seed[8])
    details = words["detail"]
    first = seed[9] % len(details)
    second = (first + 1 + seed[10] % (len(details) - 1)) % len(details)
    body = " ".join(
        [
            _pick(words["open"][rating], seed[11]).format(product=product),
            details[first],
            details[second] if seed[12] % 2 else "",
        ]
    ).strip()
    return title, body


def _candidates():
    lines = (
        OrderLine.objects.filter(
            order__external_id__startswith="demo-",
            order__delivered_at__isnull=False,
            review__isnull=True,
        )
        .select_related("order__customer", "product")
        .order_by("order__delivered_at", "pk")
    )
    taken = Counter(Review.objects.values_list("product_id", flat=True))
    for line in lines.iterator(chunk_size=500):
        seed = _hash(f"{line.order.external_id}/{line.external_id}")
        is_demo_customer = line.order.customer.email == DEMO_CUSTOMER_EMAIL
        if seed[0] * 100 // 256 >= SHARE_REVIEWED:
            continue  # not reviewed (yet): "Review your purchases" lists it
        if taken[line.product_id] >= PER_PRODUCT and not is_demo_customer:
            continue
        taken[line.product_id] += 1
        yield line, seed


def seed_reviews() -> dict[str, int]:
    moderator = get_user_model().objects.filter(username=MODERATOR).first()
    now = timezone.now()
    photos_left = MAX_PHOTOS - ReviewPhoto.objects.count()
    created = approved = 0
    for line, seed in _candidates():
        customer = line.order.customer
        language = customer.language
        rating = _rating(seed[1])
        title, body = _text(language, rating, line.product.name, seed)
        submitted = min(line.order.delivered_at + timedelta(days=1 + seed[2] % 6), now)
        photos = []
        if photos_left > 0 and seed[3] * 100 // 256 < PHOTO_SHARE:
            photos = [demo_photo(seed[4:])]
            photos_left -= 1
        # Dated when it was written, so the hourly rate limit sees a year of reviews.
        review = services.submit_review(
            order_line=line,
            customer=customer,
            rating=rating,
            title=title,
            body=body,
            language=language,
            may_quote=seed[5] % 10 < 7,
            photos=photos,
            now=submitted,
        )
        created += 1
        recent = line.order.delivered_at > now - timedelta(days=PENDING_DAYS)
        if recent or seed[6] % 25 == 0:
            continue  # waiting for a moderator
        moderated = min(submitted + timedelta(hours=2 + seed[7] % 40), now)
        if seed[6] % 25 == 1:
            services.reject(
                review=review, by=moderator, reason=REJECTION, now=moderated
            )
            continue
        services.approve(review=review, by=moderator, now=moderated)
        approved += 1
        if rating <= 2 and seed[13] % 2 == 0:
            services.reply(
                review=review, by=moderator, body=REPLIES[language], now=moderated
            )
    return {"reviews": created, "approved reviews": approved}


@transaction.atomic
def seed_demo() -> dict[str, int]:
    before = (Review.objects.count(), ReviewPhoto.objects.count())
    ensure_demo_pages()  # "How we check reviews" and the feedback wall (reviews/pages.py)
    result = seed_reviews()
    return {
        **result,
        "photos": ReviewPhoto.objects.count() - before[1],
    }
