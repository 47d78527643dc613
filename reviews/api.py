"""`GET /api/v1/products/{sku}/reviews`: a product's approved reviews and their
aggregate, public (the shop's pages read it from the visitor's browser; no token).

Every review carries `incentivized` and, when true, `incentive_note` (the text to show
beside it). Answers are cached until a review of the product changes (reviews/cache.py),
with an ETag. `<`, `>` and `&` are escaped as \\u sequences in the JSON text, so a
consumer that pastes the JSON into a page cannot be tricked into closing a tag; the
parsed strings are exactly what the reviewer wrote (escape them when you display them).

Errors have the API's one shape: `{"errors": [{"path": "sku", "message": ...}]}`.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from emails.rendering import site_url
from reviews import jsonld, public
from reviews.cache import (
    CachedAnswer,
    cached_answer,
    etag_matches,
    product_id_for_sku,
    public_cache_headers,
)
from reviews.pages import review_policy_url
from shop.api import ErrorsSerializer, ShopApiView
from shop.models import Product

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}

# Response bodies ------------------------------------------------------------------


class AggregateSerializer(serializers.Serializer):
    average = serializers.DecimalField(
        max_digits=2,
        decimal_places=1,
        allow_null=True,
        help_text=gettext_lazy("1.0–5.0; null without reviews."),
    )
    count = serializers.IntegerField(
        help_text=gettext_lazy("Approved reviews, low stars included.")
    )
    distribution = serializers.DictField(
        child=serializers.IntegerField(),
        help_text=gettext_lazy('Reviews per number of stars: {"5": 12, "4": 3, ...}.'),
    )
    incentivized_count = serializers.IntegerField(
        help_text=gettext_lazy("Reviews whose author received points for them.")
    )


class PhotoSerializer(serializers.Serializer):
    url = serializers.URLField()
    thumbnail_url = serializers.URLField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField()
    replied_at = serializers.DateTimeField()


class ReviewOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rating = serializers.IntegerField(min_value=1, max_value=5)
    title = serializers.CharField()
    body = serializers.CharField()
    language = serializers.CharField()
    author = serializers.CharField(
        help_text=gettext_lazy('For example "Anna J."; may be empty.')
    )
    verified_purchase = serializers.BooleanField()
    incentivized = serializers.BooleanField(
        help_text=gettext_lazy(
            "The author received points for this review: say so beside it."
        )
    )
    incentive_note = serializers.CharField(
        allow_blank=True,
        help_text=gettext_lazy("The disclosure to show; empty when not incentivized."),
    )
    published_at = serializers.DateTimeField()
    helpful_count = serializers.IntegerField()
    photos = PhotoSerializer(many=True)
    reply = ReplySerializer(
        allow_null=True, help_text=gettext_lazy("The shop's public reply.")
    )
    url = serializers.URLField(
        help_text=gettext_lazy("The review on our product reviews page.")
    )


class ProductReviewsSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    lang = serializers.CharField()
    url = serializers.URLField(help_text=gettext_lazy("The product reviews page."))
    how_we_check_url = serializers.URLField(
        allow_null=True,
        help_text=gettext_lazy('The "How we collect and check reviews" page.'),
    )
    aggregate = AggregateSerializer()
    count = serializers.IntegerField(
        help_text=gettext_lazy("Reviews matching the filters.")
    )
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReviewOutSerializer(many=True)


# The view ---------------------------------------------------------------------------


class BadParameter(Exception):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


def _int_param(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadParameter(
            name,
            _("Give a whole number from {low} to {high}.").format(low=low, high=high),
        )
    return value


def _bool_param(params, name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false", "1", "0"):
        raise BadParameter(name, _("Give true or false."))
    return raw.lower() in ("true", "1")


def _params(params) -> dict:
    """The query, checked: a parameter that is given must be valid (an empty value
    too), so a typo is a 400 naming it rather than a silently different answer."""
    lang = params.get("lang", settings.LANGUAGE_CODE).lower()
    if lang not in {code for code, _name in settings.LANGUAGES}:
        raise BadParameter("lang", _("Unknown language; use en or nl."))
    sort = params.get("sort", public.DEFAULT_SORT)
    if sort not in public.SORTS:
        raise BadParameter(
            "sort",
            _("Unknown sort; use one of: {sorts}.").format(
                sorts=", ".join(public.SORTS)
            ),
        )
    stars = _int_param(params, "stars", 0, 1, 5) or None
    return {
        "lang": lang,
        "sort": sort,
        "stars": stars,
        "with_photos": _bool_param(params, "with_photos"),
        "page": _int_param(params, "page", 1, 1, 1_000_000),
        "page_size": _int_param(
            params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE
        ),
    }


class ProductReviewsView(ShopApiView):
    """Public: no token, CORS for the shop's origins, cacheable."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="products_reviews",
        summary=gettext_lazy("A product's approved reviews and their aggregate"),
        description=gettext_lazy(
            "Every approved review, whatever its rating, newest first by default. "
            "Reviews whose author received points are marked `incentivized`; show "
            "`incentive_note` beside them. Public and cacheable (Cache-Control max-age, "
            "ETag; send If-None-Match for a 304)."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "lang",
                OpenApiTypes.STR,
                enum=["en", "nl"],
                description=gettext_lazy("Language of the notes; default en."),
            ),
            OpenApiParameter(
                "sort",
                OpenApiTypes.STR,
                enum=list(public.SORTS),
                description=gettext_lazy("Default newest."),
            ),
            OpenApiParameter(
                "stars",
                OpenApiTypes.INT,
                description=gettext_lazy("Only reviews with this many stars (1–5)."),
            ),
            OpenApiParameter(
                "with_photos",
                OpenApiTypes.BOOL,
                description=gettext_lazy("Only reviews with photos."),
            ),
            OpenApiParameter(
                "page", OpenApiTypes.INT, description=gettext_lazy("Default 1.")
            ),
            OpenApiParameter(
                "page_size",
                OpenApiTypes.INT,
                description=gettext_lazy("1–100, default 20."),
            ),
        ],
        responses={
            200: ProductReviewsSerializer,
            304: OpenApiResponse(
                description=gettext_lazy("Not modified (If-None-Match).")
            ),
            400: OpenApiResponse(
                ErrorsSerializer, description=gettext_lazy("A bad parameter.")
            ),
            404: OpenApiResponse(
                ErrorsSerializer, description=gettext_lazy("Unknown SKU.")
            ),
        },
    )
    def get(self, request, sku: str):
        try:
            params = _params(request.query_params)
        except BadParameter as exc:
            return _error(exc.path, exc.message, 400)
        product_id = product_id_for_sku(sku)
        if product_id is None:
            return _error("sku", _("No product has this SKU."), 404)
        answer = cached_answer(
            kind="api",
            product_id=product_id,
            parts=tuple(sorted(params.items())),
            render=lambda: _render(product_id, params),
        )
        if etag_matches(request, answer.etag):
            return public_cache_headers(HttpResponse(status=304), answer.etag)
        response = HttpResponse(answer.body, content_type=answer.content_type)
        response["Content-Language"] = params["lang"]
        return public_cache_headers(response, answer.etag)


def _error(path: str, message, status: int) -> Response:
    return Response(
        {"errors": [{"path": path, "message": str(message)}]}, status=status
    )


def _absolute(url: str) -> str:
    return site_url(url) if url.startswith("/") else url


def _render(product_id: int, params: dict) -> CachedAnswer:
    with translation.override(params["lang"]):
        body = reviews_json(product_id, params)
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    return CachedAnswer.of(text.translate(_JSON_ESCAPES).encode(), "application/json")


def reviews_json(product_id: int, params: dict) -> dict:
    product = Product.objects.get(pk=product_id)
    summary = public.summary(product_id)
    reviews = public.approved_reviews(
        product_id,
        sort=params["sort"],
        stars=params["stars"],
        with_photos=params["with_photos"],
    )
    paginator = Paginator(reviews, params["page_size"])
    if not params["with_photos"]:
        known = (
            summary.distribution[params["stars"]] if params["stars"] else summary.count
        )
        paginator.__dict__["count"] = known
    page = paginator.get_page(params["page"])
    page_url = site_url(reverse("reviews:product", args=[product.sku]))
    api_url = site_url(reverse("reviews-api:product-reviews", args=[product.sku]))
    policy_url = review_policy_url(language=params["lang"])

    def link(number: int) -> str:
        query = {k: v for k, v in params.items() if v not in (None, False)}
        query["page"] = number
        if query.get("with_photos"):
            query["with_photos"] = "true"
        return f"{api_url}?{urlencode(query)}"

    results = []
    note = jsonld.incentive_note()
    for review in page.object_list:
        results.append(
            {
                "id": review.pk,
                "rating": review.rating,
                "title": review.title,
                "body": review.body,
                "language": review.language,
                "author": public.reviewer_name(review),
                "verified_purchase": True,
                "incentivized": review.rewarded,
                "incentive_note": note if review.rewarded else "",
                "published_at": review.approved_at,
                "helpful_count": review.helpful_count,
                "photos": [
                    {
                        "url": _absolute(photo.image.url),
                        "thumbnail_url": _absolute(photo.thumbnail.url),
                        "width": photo.width,
                        "height": photo.height,
                    }
                    for photo in review.photos.all()
                ],
                "reply": {"body": review.reply_body, "replied_at": review.reply_at}
                if review.reply_body
                else None,
                "url": f"{page_url}#review-{review.pk}",
            }
        )
    return ProductReviewsSerializer(
        {
            "sku": product.sku,
            "name": product.name,
            "lang": params["lang"],
            "url": page_url,
            "how_we_check_url": _absolute(policy_url) if policy_url else None,
            "aggregate": {
                "average": summary.average,
                "count": summary.count,
                "distribution": {str(n): summary.distribution[n] for n in public.STARS},
                "incentivized_count": summary.rewarded_count,
            },
            "count": paginator.count,
            "page": page.number,
            "page_size": params["page_size"],
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": link(page.previous_page_number())
            if page.has_previous()
            else None,
            "results": results,
        }
    ).data
