"""Campaign e-mails: one shell per campaign, variant and language, per-recipient parts
as SendGrid substitutions.

Why at enqueue, and why substitutions (docs: the campaigns bench). Rendering a
template per recipient at send time (Django templates + CSS inlining, ~5 ms each)
would make every message its own SendGrid request and cost minutes per 100,000. So
`schedule_due` renders the content's shell once per (campaign, variant, language)
with emails' layout, brand, UTM tagging and unsubscribe tags (emails.rendering), and
stores it ready-made on each outbox row; what differs per recipient (greeting, the
order's products, their featured reviews, review links) is built from data fetched in
bulk per batch - each product's reviews once per batch and language - into short
HTML/text fragments with inline styles, kept in the row's `context["substitutions"]`.
Rows sharing a shell batch 1,000 to a SendGrid request like plain messages do; SendGrid
fills the tags. A recipient whose fragments would pass SendGrid's 10,000-byte limit
per personalization gets them filled in at enqueue (a request of their own).
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    IntegerField,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone, translation
from django.utils.html import escape, format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignKind,
    ReviewSelection,
)
from emails import rendering as email_rendering
from loyalty.services import review_points_offer
from reviews.links import review_link_path
from reviews.models import Review, ReviewStatus
from reviews.queries import substance_score
from shop.models import Customer, Order, OrderLine, Product

GREETING_TAG = "-cmp_greeting-"  # the text part
GREETING_HTML_TAG = "-cmp_greeting_html-"  # the same, HTML-escaped
PRODUCTS_HTML_TAG = "-cmp_products_html-"
PRODUCTS_TEXT_TAG = "-cmp_products_text-"
REVIEWS_HTML_TAG = "-cmp_reviews_html-"
REVIEWS_TEXT_TAG = "-cmp_reviews_text-"
LINES_HTML_TAG = "-cmp_review_lines_html-"
LINES_TEXT_TAG = "-cmp_review_lines_text-"
# SendGrid: at most 10,000 bytes of substitutions per personalization (the unsubscribe
# and preference links included); above this the fragments are filled in at enqueue.
SUBSTITUTION_BUDGET = 8_500
QUOTE_CHARS = 280
MAX_PRODUCTS = 6


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Shell:
    subject: str
    html: str
    text: str
    fallback: str  # the featured-reviews block's text for a product without reviews
    shows_reviews: bool
    shows_products: bool


@dataclass(frozen=True)
class ProductReviews:
    """What a product's block shows: the quoted reviews beside the product's real
    average and count over all its approved reviews (low stars included)."""

    reviews: list[Review]
    average: Decimal | None
    count: int


class Line(NamedTuple):
    """An order line as the post-purchase blocks need it (its product)."""

    product_id: int
    product: Product


@dataclass
class BatchData:
    """Everything the batch's recipients need, fetched in a few queries."""

    lines: dict[int, list[OrderLine]] = field(default_factory=dict)  # by order id
    reviews: dict[tuple[int, str, str], ProductReviews] = field(default_factory=dict)
    points: tuple[int, int] | None = None
    # Each product's rendered block per language, selection and fallback: built the
    # first time a recipient needs it, then shared by everyone who bought it.
    fragments: dict[tuple, tuple[str, str]] = field(default_factory=dict)
    # The greeting's two forms per language (with and without a first name).
    greetings: dict[str, tuple[str, str]] = field(default_factory=dict)

    def product_block(
        self, *, product, language: str, selection: str, fallback: str
    ) -> tuple[str, str]:
        key = (product.pk, language, selection, fallback)
        if key not in self.fragments:
            with translation.override(language):
                self.fragments[key] = reviews_fragment(
                    product=product,
                    reviews=self.reviews.get(
                        (product.pk, language, selection),
                        ProductReviews(reviews=[], average=None, count=0),
                    ),
                    fallback=fallback,
                )
        return self.fragments[key]

    def greeting(self, first_name: str, language: str) -> str:
        if language not in self.greetings:
            with translation.override(language):
                self.greetings[language] = (_("Hello {first_name},"), _("Hello,"))
        named, plain = self.greetings[language]
        return named.format(first_name=first_name) if first_name else plain


# Content -----------------------------------------------------------------------------


def content_for(
    campaign: Campaign, *, variant_code: str, language: str
) -> CampaignContent | None:
    """The variant's own content in the language, else the shared one, else the
    same in English, else anything the campaign has."""
    contents = list(campaign.contents.all())

    def rank(content: CampaignContent) -> tuple[int, int]:
        own = content.variant_code == variant_code
        shared = not content.variant_code
        return (
            0 if content.language == language else 1 if content.language == "en" else 2,
            0 if own else 1 if shared else 2,
        )

    return min(contents, key=rank, default=None)


def build_shell(
    campaign: Campaign,
    *,
    variant_code: str,
    language: str,
    brand: dict[str, str] | None = None,
) -> Shell:
    content = content_for(campaign, variant_code=variant_code, language=language)
    body = content.body if content else []
    block_types = {block.block_type for block in body}
    fallback = next(
        (
            block.value.get("fallback") or ""
            for block in body
            if block.block_type == "featured_reviews"
        ),
        "",
    )
    rendered = email_rendering.render_template(
        template="campaign",
        context={
            "subject": content.subject if content else campaign.name,
            "preheader": content.preheader if content else "",
            "body": body,
            "greeting_tag": GREETING_TAG,
            "greeting_html_tag": GREETING_HTML_TAG,
            "reviews_text_tag": REVIEWS_TEXT_TAG,
            "products_text_tag": PRODUCTS_TEXT_TAG,
            "review_lines_tag": LINES_HTML_TAG,
            "review_lines_text_tag": LINES_TEXT_TAG,
            "review_request": campaign.kind == CampaignKind.REVIEW_REQUEST,
        },
        language=language,
        marketing=True,
        sender_label=campaign.sender_label,
        has_customer=True,
        brand_values=brand,
    )
    return Shell(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        fallback=fallback,
        shows_reviews="featured_reviews" in block_types,
        shows_products="order_products" in block_types
        or campaign.kind == CampaignKind.REVIEW_REQUEST,
    )


# Bulk data ---------------------------------------------------------------------------


def _ordering(selection: str, language: str, now: datetime) -> list:
    same_language = Case(
        When(language=language, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    if selection == ReviewSelection.MOST_HELPFUL:
        return [F("helpful_count").desc(), substance_score(now).desc(), F("pk").desc()]
    if selection == ReviewSelection.SIMILAR_BUYER:
        # A buyer like this one: writes in the recipient's language, and recently
        # (the same product version); then substance.
        return [
            same_language.desc(),
            F("approved_at").desc(),
            substance_score(now).desc(),
            F("pk").desc(),
        ]
    # top_rated: reviews.queries.featured_reviews's own order.
    return [
        same_language.desc(),
        substance_score(now).desc(),
        F("approved_at").desc(),
        F("pk").desc(),
    ]


def featured_for_products(
    product_ids: set[int],
    *,
    language: str,
    selection: str = ReviewSelection.TOP_RATED,
    limit: int = 3,
    now: datetime | None = None,
) -> dict[int, ProductReviews]:
    """featured_reviews for many products in two queries: approved 4-5 star reviews
    whose authors agreed to be quoted, chosen by `selection`, beside each product's
    real average and count over all approved reviews."""
    now = now or timezone.now()
    if not product_ids:
        return {}
    approved = Review.objects.filter(
        product_id__in=product_ids, status=ReviewStatus.APPROVED
    )
    aggregates = {
        row["product_id"]: row
        for row in approved.values("product_id").annotate(
            average=Avg("rating"), count=Count("pk")
        )
    }
    ranked = (
        approved.filter(rating__gte=4, may_quote=True)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("product_id")],
                order_by=_ordering(selection, language, now),
            )
        )
        .select_related("customer")
        .only(
            "pk",
            "product_id",
            "rating",
            "title",
            "body",
            "rewarded",
            "language",
            "customer__first_name",
            "customer__last_name",
        )
    )
    quoted: dict[int, list[Review]] = defaultdict(list)
    for review in ranked.filter(rank__lte=limit).order_by("product_id", "rank"):
        quoted[review.product_id].append(review)
    result = {}
    for product_id in product_ids:
        row = aggregates.get(product_id)
        average = None
        if row and row["average"] is not None:
            average = Decimal(str(row["average"])).quantize(
                Decimal("0.1"), ROUND_HALF_UP
            )
        reviews = sorted(quoted.get(product_id, []), key=lambda r: r.rank)
        result[product_id] = ProductReviews(
            reviews=reviews, average=average, count=row["count"] if row else 0
        )
    return result


def load_batch(
    *,
    campaign: Campaign,
    order_ids: list[int],
    languages_by_variant: dict[str, set[str]],
    selections: dict[str, str],
    cache: dict | None = None,
    now: datetime | None = None,
) -> BatchData:
    """The order lines of the batch's orders (one query) and the featured reviews of
    their products per language and review selection (two queries each; kept in
    `cache` across the batches of one run)."""
    data = BatchData()
    cache = cache if cache is not None else {}
    if campaign.kind == CampaignKind.REVIEW_REQUEST:
        # The lines themselves: each gets a signed review link.
        for line in (
            OrderLine.objects.filter(order_id__in=order_ids, review__isnull=True)
            .select_related("product")
            .order_by("order_id", "pk")
        ):
            data.lines.setdefault(line.order_id, []).append(line)
    else:
        pairs = list(
            OrderLine.objects.filter(order_id__in=order_ids)
            .order_by("order_id", "pk")
            .values_list("order_id", "product_id")
        )
        products = cache.setdefault("products", {})
        if missing := {pk for _order, pk in pairs} - products.keys():
            products |= Product.objects.only("pk", "name", "product_url").in_bulk(
                missing
            )
        for order_id, product_id in pairs:
            data.lines.setdefault(order_id, []).append(
                Line(product_id, products[product_id])
            )
    product_ids = {line.product_id for items in data.lines.values() for line in items}
    for variant_code, languages in languages_by_variant.items():
        selection = selections.get(variant_code, ReviewSelection.TOP_RATED)
        for language in languages:
            missing = {
                pk for pk in product_ids if (pk, language, selection) not in cache
            }
            found = featured_for_products(
                missing,
                language=language,
                selection=selection,
                limit=campaign.reviews_per_product,
                now=now,
            )
            for pk, reviews in found.items():
                cache[(pk, language, selection)] = reviews
    data.reviews = cache
    data.fragments = cache.setdefault("fragments", {})
    data.greetings = cache.setdefault("greetings", {})
    if campaign.kind == CampaignKind.REVIEW_REQUEST:
        data.points = review_points_offer(customer=None, now=now)
    return data


# Fragments ---------------------------------------------------------------------------

_STARS = "★★★★★"


def _stars(rating: int) -> str:
    return _STARS[:rating] + "☆" * (5 - rating)


def _aggregate_line(reviews: ProductReviews) -> str:
    if not reviews.count:
        return _("No reviews yet")
    return ngettext(
        "{average} out of 5, from {count} review",
        "{average} out of 5, from {count} reviews",
        reviews.count,
    ).format(average=reviews.average, count=reviews.count)


def _author(review: Review) -> str:
    customer = review.customer
    if customer is None:
        return ""
    initial = f" {customer.last_name[:1]}." if customer.last_name else ""
    return f"{customer.first_name}{initial}".strip()


def _product_url(line: OrderLine, campaign: Campaign) -> str:
    url = line.product.product_url
    return email_rendering.with_utm(url, campaign.sender_label) if url else ""


def reviews_fragment(
    *, product, reviews: ProductReviews, fallback: str
) -> tuple[str, str]:
    """One product's block (HTML, text): name, the real average and count, the
    quoted reviews with "received points for this review" on rewarded ones, or the
    fallback when there is nothing to quote."""
    aggregate = _aggregate_line(reviews)
    if reviews.reviews:
        quotes_html = format_html_join(
            "",
            '<div style="margin:0 0 12px;padding:8px 12px;border-left:3px solid '
            '#d1d5db;"><div style="color:#b45309;">{}</div><strong>{}</strong>'
            '<div>{}</div><div style="font-size:13px;color:#6b7280;">{}{}</div></div>',
            (
                (
                    _stars(review.rating),
                    review.title,
                    Truncator(review.body).chars(QUOTE_CHARS),
                    _author(review),
                    (" · " + _("Received points for this review"))
                    if review.rewarded
                    else "",
                )
                for review in reviews.reviews
            ),
        )
        quotes_text = "\n".join(
            f"{_stars(review.rating)} {review.title}\n"
            f"{Truncator(review.body).chars(QUOTE_CHARS)}\n"
            f"- {_author(review)}"
            + (f" ({_('Received points for this review')})" if review.rewarded else "")
            for review in reviews.reviews
        )
    else:
        text = fallback or _(
            "Nobody has reviewed this product yet. Tell us what you think!"
        )
        quotes_html = format_html("<p>{}</p>", text)
        quotes_text = text
    html = format_html(
        '<div style="margin:0 0 20px;"><h3 style="margin:0 0 4px;font-size:17px;">'
        '{}</h3><p style="margin:0 0 8px;font-size:14px;color:#374151;">{}</p>{}</div>',
        product.name,
        aggregate,
        quotes_html,
    )
    return str(html), f"{product.name} ({aggregate})\n{quotes_text}\n\n"


def products_fragment(lines: list[OrderLine], campaign: Campaign) -> tuple[str, str]:
    html = format_html(
        '<ul style="padding-left:20px;margin:0 0 16px;">{}</ul>',
        format_html_join(
            "",
            "<li>{}</li>",
            (
                (
                    format_html('<a href="{}">{}</a>', url, line.product.name)
                    if (url := _product_url(line, campaign))
                    else line.product.name,
                )
                for line in lines
            ),
        ),
    )
    text = "\n".join(
        f"- {line.product.name}"
        + (f": {url}" if (url := _product_url(line, campaign)) else "")
        for line in lines
    )
    return str(html), text + "\n"


def review_lines_fragment(
    lines: list[OrderLine], *, language: str, points: tuple[int, int] | None
) -> tuple[str, str]:
    """The order's unreviewed lines, each with its signed review link and the points
    a review earns."""
    base, photo = points or (0, 0)
    earn = ""
    if base:
        earn = _("{points} points for a review, {bonus} more with a photo").format(
            points=base, bonus=photo
        )
    items = [
        (
            line.product.name,
            email_rendering.site_url(review_link_path(line, language)),
        )
        for line in lines
    ]
    html = format_html(
        '<table role="presentation" style="width:100%;margin:0 0 16px;">{}</table>',
        format_html_join(
            "",
            '<tr><td style="padding:6px 0;">{}<div style="font-size:13px;'
            'color:#6b7280;">{}</div></td><td style="text-align:right;">'
            '<a class="button" href="{}" style="color:#0f5132;font-weight:bold;">'
            "{}</a></td></tr>",
            ((name, earn, url, _("Write a review")) for name, url in items),
        ),
    )
    text = "\n".join(
        f"{name}: {url}" + (f" ({earn})" if earn else "") for name, url in items
    )
    return str(html), text + "\n"


def substitutions(
    *,
    campaign: Campaign,
    shell: Shell,
    first_name: str,
    order_id: int | None,
    language: str,
    selection: str,
    data: BatchData,
) -> dict[str, str | tuple[str, ...]]:
    """The recipient's tags and values, in their language: a string, or a tuple of
    blocks shared with other recipients (joined: see flatten). Per recipient
    only look-ups; every block is built once per batch run."""
    lines = data.lines.get(order_id, []) if order_id else []
    values = dict.fromkeys(_OPTIONAL_TAGS, "")
    greeting = data.greeting(first_name, language)
    # A name is the customer's own text: escaped for the HTML part.
    values[GREETING_TAG] = greeting
    values[GREETING_HTML_TAG] = escape(greeting)
    shown = lines[:MAX_PRODUCTS]
    if shell.shows_products:
        html, text = products_fragment(shown, campaign)
        values |= {PRODUCTS_HTML_TAG: html, PRODUCTS_TEXT_TAG: text}
    if shell.shows_reviews:
        parts = [
            data.product_block(
                product=line.product,
                language=language,
                selection=selection,
                fallback=shell.fallback,
            )
            for line in {line.product_id: line for line in shown}.values()
        ]
        # Tuples: the same blocks go to everyone who bought the product, so they
        # are stored once (message_fields) and joined by SendGrid's substitution.
        values |= {
            REVIEWS_HTML_TAG: tuple(html for html, _text in parts),
            REVIEWS_TEXT_TAG: tuple(text for _html, text in parts),
        }
    if campaign.kind == CampaignKind.REVIEW_REQUEST:
        with translation.override(language):
            html, text = review_lines_fragment(
                lines, language=language, points=data.points
            )
        values |= {LINES_HTML_TAG: html, LINES_TEXT_TAG: text}
    return values


# The shell's tags a recipient's content may not use: emptied unless filled.
_OPTIONAL_TAGS = (
    PRODUCTS_HTML_TAG,
    PRODUCTS_TEXT_TAG,
    REVIEWS_HTML_TAG,
    REVIEWS_TEXT_TAG,
    LINES_HTML_TAG,
    LINES_TEXT_TAG,
)


def flatten(values: dict[str, str | tuple[str, ...]]) -> dict[str, str]:
    return {
        tag: "".join(value) if isinstance(value, tuple) else value
        for tag, value in values.items()
    }


def shared_contents(shell: Shell, values: dict[str, str | tuple[str, ...]]) -> set[str]:
    """What message_fields will want stored once (emails.services.share_parts)."""
    contents = {shell.html, shell.text}
    for value in values.values():
        if isinstance(value, tuple):
            contents.update(value)
    return contents


@functools.lru_cache(maxsize=4096)
def _bytes(content: str) -> int:
    """UTF-8 size of a tag or a shared block (the same few hundred, over and over)."""
    return len(content.encode())


def message_fields(
    *,
    shell: Shell,
    values: dict[str, str | tuple[str, ...]],
    campaign: Campaign,
    shared: dict[str, int],
) -> dict[str, object]:
    """subject/html/text/context for emails.services.enqueue_many: the shell and the
    shared blocks by reference (`shared`: content -> SharedPart id) with the values
    as substitutions, or - above SendGrid's limit - everything filled in."""
    size = 0
    for tag, value in values.items():
        size += _bytes(tag)
        if isinstance(value, tuple):
            size += sum(_bytes(part) for part in value)
        else:
            size += len(value.encode())
    if size <= SUBSTITUTION_BUDGET:
        return {
            "subject": shell.subject,
            "context": {
                "campaign": campaign.pk,
                "parts": {"html": shared[shell.html], "text": shared[shell.text]},
                "substitutions": {
                    tag: [shared[part] for part in value]
                    if isinstance(value, tuple)
                    else value
                    for tag, value in values.items()
                },
            },
        }
    flat = flatten(values)
    return {
        "subject": email_rendering.substitute(shell.subject, flat),
        "html": email_rendering.substitute(shell.html, flat),
        "text": email_rendering.substitute(shell.text, flat),
        "context": {"campaign": campaign.pk},
    }


def shell_digest(shell: Shell) -> str:
    return hashlib.sha256((shell.html + shell.text).encode()).hexdigest()[:12]


def render_for(
    *,
    campaign: Campaign,
    customer: Customer,
    order: Order | None,
    language: str,
    variant_code: str,
    selection: str,
    now: datetime | None = None,
    with_links: bool = True,
) -> Rendered:
    """One recipient's e-mail as they will see it (preview, test send)."""
    shell = build_shell(campaign, variant_code=variant_code, language=language)
    data = load_batch(
        campaign=campaign,
        order_ids=[order.pk] if order else [],
        languages_by_variant={variant_code: {language}},
        selections={variant_code: selection},
        now=now,
    )
    values = flatten(
        substitutions(
            campaign=campaign,
            shell=shell,
            first_name=customer.first_name,
            order_id=order.pk if order else None,
            language=language,
            selection=selection,
            data=data,
        )
    )
    if with_links:
        values |= {
            email_rendering.UNSUBSCRIBE_TAG: email_rendering.unsubscribe_url(
                customer.pk
            ),
            email_rendering.PREFERENCES_TAG: email_rendering.preferences_url(
                customer.pk
            ),
        }
    else:
        values |= {
            email_rendering.UNSUBSCRIBE_TAG: "#",
            email_rendering.PREFERENCES_TAG: "#",
        }
    return Rendered(
        subject=email_rendering.substitute(shell.subject, values),
        html=email_rendering.substitute(shell.html, values),
        text=email_rendering.substitute(shell.text, values),
    )
