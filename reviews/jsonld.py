"""schema.org Product + AggregateRating + Review as JSON-LD for the product reviews page
and the embed.

Every review that earned points says so in its own reviewBody (the disclosure travels
with the text wherever a search engine shows it). The JSON is escaped for an HTML
<script> element: `<`, `>` and `&` become \\u escapes, so a title such as
`</script><script>alert(1)</script>` stays inside the JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from reviews.models import Review
from reviews.public import ReviewSummary, reviewer_name

_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def incentive_note() -> str:
    return gettext("The reviewer received points for this review.")


def review_body(review: Review) -> str:
    """The text as shown to search engines: with the incentive disclosure."""
    if review.rewarded:
        return f"{review.body}\n\n({incentive_note()})"
    return review.body


def review_data(review: Review) -> dict:
    return {
        "@type": "Review",
        "name": review.title,
        "reviewBody": review_body(review),
        "datePublished": (review.approved_at or review.submitted_at).date().isoformat(),
        "inLanguage": review.language,
        "author": {
            "@type": "Person",
            "name": reviewer_name(review) or gettext("Buyer"),
        },
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": review.rating,
            "bestRating": 5,
            "worstRating": 1,
        },
    }


def product_data(
    *, product, summary: ReviewSummary, reviews: Iterable[Review], url: str = ""
) -> dict:
    data: dict = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
    }
    if url:
        data["url"] = url
    if product.image_url:
        data["image"] = product.image_url
    if summary.count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": str(summary.average),
            "reviewCount": summary.count,
            "ratingCount": summary.count,
            "bestRating": 5,
            "worstRating": 1,
        }
    listed = [review_data(review) for review in reviews]
    if listed:
        data["review"] = listed
    return data


def script_body(data: dict) -> SafeString:
    """The JSON, safe to place between <script type="application/ld+json"> tags."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return mark_safe(text.translate(_SCRIPT_ESCAPES))  # noqa: S308 (escaped above)


def script_tag(data: dict) -> SafeString:
    return format_html(
        '<script type="application/ld+json">{}</script>', script_body(data)
    )
