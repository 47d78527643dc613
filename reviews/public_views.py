"""The public review pages: a product's reviews page (with "helpful" votes), the embed
fragment for the shop's product page, and the Google Product Ratings feed.

Caching and CSRF on the product page. The page carries forms (a "helpful" button on
every review, and the layout's language switch), so a cached copy must never hand one
visitor's CSRF token to the next (ietf-tools/www#49). Decision: the page *is* cached
for anonymous visitors (no session or messages cookie), but the CSRF token is kept
out of the cache: before storing, every token in the rendered HTML is replaced by a
placeholder, and on the way out each visitor gets their own token
(`django.middleware.csrf.get_token`, which also sets their CSRF cookie). CSRF checks
stay on for the vote (a POST to the same URL); the POST itself is never cached.
Signed-in visitors and visitors with a session get a fresh render (constant queries).

An anonymous voter is recognised by a signed cookie (a random id, no personal data),
a signed-in voter by their account; each may mark a review helpful once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods, require_safe

from emails.rendering import site_url
from reviews import jsonld, public
from reviews.cache import (
    CachedAnswer,
    cached_answer,
    etag_matches,
    product_id_for_sku,
    public_cache_headers,
)
from reviews.models import Review, ReviewSettings, ReviewStatus
from reviews.pages import review_policy_url
from reviews.services import RateLimited, ReviewError, vote_helpful
from shop.models import Product

PAGE_SIZE = 10
EMBED_SIZE = 5
MAX_PAGE = 10_000
TEMPLATE = "reviews/public/product_reviews.html"
VOTER_COOKIE = "rw_voter"
VOTER_SALT = "reviews.helpful-voter"
VOTER_MAX_AGE = timedelta(days=365)
CSRF_FIELD = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
CSRF_PLACEHOLDER = b"\x00csrf\x00"
BYPASS_COOKIES = (settings.SESSION_COOKIE_NAME, "messages")


@dataclass(frozen=True)
class ListingQuery:
    """The shopper's sort, filters and page, from the query string (anything unknown
    falls back to the default, so odd links still show reviews)."""

    sort: str = public.DEFAULT_SORT
    stars: int | None = None
    with_photos: bool = False
    page: int = 1

    @classmethod
    def from_params(cls, params) -> ListingQuery:
        try:
            page = max(1, min(int(params.get("page") or 1), MAX_PAGE))
        except ValueError:
            page = 1
        return cls(
            sort=public.clean_sort(params.get("sort")),
            stars=public.clean_stars(params.get("stars")),
            with_photos=params.get("photos") in ("1", "on", "true"),
            page=page,
        )

    def params(self, **changes) -> str:
        """The query string of this listing (with `changes`), defaults left out."""
        values = {
            "sort": self.sort,
            "stars": self.stars,
            "photos": self.with_photos,
            "page": self.page,
        } | changes
        pairs = []
        if values["sort"] != public.DEFAULT_SORT:
            pairs.append(("sort", values["sort"]))
        if values["stars"]:
            pairs.append(("stars", values["stars"]))
        if values["photos"]:
            pairs.append(("photos", "1"))
        if values["page"] and values["page"] != 1:
            pairs.append(("page", values["page"]))
        return urlencode(pairs)

    @property
    def parts(self) -> tuple:
        return (self.sort, self.stars, self.with_photos, self.page)


# The product reviews page ----------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def product_reviews(request, sku: str):
    """GET: the product's reviews (see the module's note on caching). POST: a
    "helpful" vote on one of them."""
    product_id = product_id_for_sku(sku)
    if product_id is None:
        raise Http404(_("No product has this SKU."))
    if request.method == "POST":
        return _vote(request, product_id)
    query = ListingQuery.from_params(request.GET)
    if _shared_visitor(request):
        answer = cached_answer(
            kind="page",
            product_id=product_id,
            parts=(request.get_host(), translation.get_language(), query.parts),
            render=lambda: _render_for_cache(request, product_id, query),
        )
        return _from_cache(request, answer)
    response = render(request, TEMPLATE, _page_context(request, product_id, query))
    patch_cache_control(response, private=True)
    return response


def _shared_visitor(request) -> bool:
    """An anonymous visitor whose page is the same as every other's."""
    return (
        settings.REVIEWS_CACHE_SECONDS > 0
        and request.method in ("GET", "HEAD")
        and not any(name in request.COOKIES for name in BYPASS_COOKIES)
        and not request.user.is_authenticated
    )


def _page_context(request, product_id: int, query: ListingQuery) -> dict:
    product = get_object_or_404(Product, pk=product_id)
    summary = public.summary(product_id)
    reviews = public.approved_reviews(
        product_id, sort=query.sort, stars=query.stars, with_photos=query.with_photos
    )
    paginator = Paginator(reviews, PAGE_SIZE)
    if not query.with_photos:
        # The summary has counted them already: spare the COUNT query.
        known = summary.distribution[query.stars] if query.stars else summary.count
        paginator.__dict__["count"] = known
    page = paginator.get_page(query.page)
    listed = public.with_reviewer_names(page.object_list)
    page_url = request.build_absolute_uri(request.path)
    return {
        "product": product,
        "summary": summary,
        "page_obj": page,
        "reviews": listed,
        "query": query,
        "sorts": _sort_choices(),
        "star_choices": public.STARS,
        "policy_url": review_policy_url(request),
        "json_ld": jsonld.script_body(
            jsonld.product_data(
                product=product, summary=summary, reviews=listed, url=page_url
            )
        ),
        "previous_params": query.params(page=page.previous_page_number())
        if page.has_previous()
        else None,
        "next_params": query.params(page=page.next_page_number())
        if page.has_next()
        else None,
        "form_action": _action(request.path, query),
        "can_vote": True,
        "shop_name": settings.WAGTAIL_SITE_NAME,
    }


def _action(path: str, query: ListingQuery) -> str:
    params = query.params()
    return f"{path}?{params}" if params else path


def _sort_choices() -> list[tuple[str, str]]:
    return [
        ("newest", _("Newest first")),
        ("helpful", _("Most helpful")),
        ("rating_high", _("Highest rating")),
        ("rating_low", _("Lowest rating")),
    ]


def _render_for_cache(request, product_id: int, query: ListingQuery) -> CachedAnswer:
    html = render_to_string(
        TEMPLATE, _page_context(request, product_id, query), request=request
    )
    body = CSRF_FIELD.sub(rb"\1" + CSRF_PLACEHOLDER + rb"\2", html.encode())
    return CachedAnswer.of(
        body,
        "text/html; charset=utf-8",
        **{"Content-Language": translation.get_language()},
    )


def _from_cache(request, answer: CachedAnswer) -> HttpResponse:
    body = answer.body
    if CSRF_PLACEHOLDER in body:
        # This visitor's own token; CsrfViewMiddleware sets the cookie it needs.
        body = body.replace(CSRF_PLACEHOLDER, get_token(request).encode())
    response = HttpResponse(body, content_type=answer.content_type)
    for name, value in answer.headers.items():
        response[name] = value
    # The body holds this visitor's CSRF token: no shared cache may keep it.
    patch_cache_control(response, private=True)
    return response


# "Helpful" votes --------------------------------------------------------------------


def _voter(request) -> tuple[str, str | None]:
    """(voter key, new anonymous id to store in the cookie or None)."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}", None
    token = request.get_signed_cookie(VOTER_COOKIE, default=None, salt=VOTER_SALT)
    if token and re.fullmatch(r"[0-9a-f]{32}", token):
        return f"anon:{token}", None
    token = secrets.token_hex(16)
    return f"anon:{token}", token


def _anonymous_vote_allowed(request) -> bool:
    """Anonymous voters per network address and hour, at most votes_per_hour: a
    fresh cookie is a fresh voter, so without this a script could vote at will.
    The address is allauth's (honours ALLAUTH_TRUSTED_PROXY_COUNT)."""
    limit = ReviewSettings.load().votes_per_hour
    if not limit:
        return True
    address = get_adapter(request).get_client_ip(request)
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    hour = int(time.time()) // 3600
    bucket = f"reviews:rate:vote-address:{digest}:{hour}"
    cache.add(bucket, 0, timeout=3600)
    try:
        count = cache.incr(bucket)
    except ValueError:  # evicted between add and incr
        cache.set(bucket, 1, timeout=3600)
        count = 1
    return count <= limit


def _vote(request, product_id: int) -> HttpResponse:
    """Count one "helpful" vote, then back to the same listing (POST/redirect/GET)."""
    try:
        review_id = int(request.POST.get("review", ""))
    except ValueError:
        return HttpResponseBadRequest(_("Choose a review."))
    review = (
        Review.objects.select_related("customer")
        .filter(pk=review_id, product_id=product_id, status=ReviewStatus.APPROVED)
        .first()
    )
    if review is None:
        raise Http404(_("This review is not published."))
    voter, new_token = _voter(request)
    try:
        if not request.user.is_authenticated and not _anonymous_vote_allowed(request):
            raise RateLimited()
        counted = vote_helpful(review=review, voter=voter)
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        if counted:
            messages.success(request, _("Thank you: your vote is counted."))
        else:
            messages.info(request, _("You already found this review helpful."))
    query = ListingQuery.from_params(request.GET)
    response = HttpResponseRedirect(
        f"{_action(request.path, query)}#review-{review.pk}"
    )
    response.status_code = 303
    if new_token:
        response.set_signed_cookie(
            VOTER_COOKIE,
            new_token,
            salt=VOTER_SALT,
            max_age=int(VOTER_MAX_AGE.total_seconds()),
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    add_never_cache_headers(response)
    return response


# The embed fragment -------------------------------------------------------------------


def _frame_ancestors(response: HttpResponse) -> HttpResponse:
    origins = " ".join(settings.REVIEWS_EMBED_ALLOWED_ORIGINS)
    response["Content-Security-Policy"] = f"frame-ancestors 'self' {origins}".strip()
    return response


def _embed_language(value: str | None) -> str | None:
    code = (value or settings.LANGUAGE_CODE).lower()
    return code if code in {code for code, _name in settings.LANGUAGES} else None


@require_safe
@xframe_options_exempt
def reviews_embed(request, sku: str):
    """An HTML fragment of a product's reviews for the shop's product page: inserted
    by script (CORS for REVIEWS_EMBED_ALLOWED_ORIGINS) or framed by those origins.
    Styles are inline and scoped; links and images are absolute. Cached until a
    review of the product changes; ETag for a cheap re-check."""
    lang = _embed_language(request.GET.get("lang"))
    if lang is None:
        return _embed_error(_("Unknown language; use en or nl."), 400)
    product_id = product_id_for_sku(sku)
    if product_id is None:
        with translation.override(lang):
            return _embed_error(_("No product has this SKU."), 404)
    sort = public.clean_sort(request.GET.get("sort"))
    answer = cached_answer(
        kind="embed",
        product_id=product_id,
        parts=(lang, sort),
        render=lambda: _render_embed(product_id, lang, sort),
    )
    if etag_matches(request, answer.etag):
        return public_cache_headers(HttpResponse(status=304), answer.etag)
    response = HttpResponse(answer.body, content_type=answer.content_type)
    response["Content-Language"] = lang
    return _frame_ancestors(public_cache_headers(response, answer.etag))


def _absolute(url: str) -> str:
    return site_url(url) if url.startswith("/") else url


def _embed_error(message: str, status: int) -> HttpResponse:
    html = render_to_string("reviews/public/embed_missing.html", {"message": message})
    return _frame_ancestors(HttpResponse(html, status=status))


def _render_embed(product_id: int, lang: str, sort: str) -> CachedAnswer:
    with translation.override(lang):
        product = Product.objects.get(pk=product_id)
        summary = public.summary(product_id)
        reviews = public.with_reviewer_names(
            public.approved_reviews(product_id, sort=sort)[:EMBED_SIZE]
        )
        page_url = site_url(reverse("reviews:product", args=[product.sku]))
        policy_url = review_policy_url(language=lang)
        html = render_to_string(
            "reviews/public/embed.html",
            {
                "product": product,
                "summary": summary,
                "reviews": reviews,
                "lang": lang,
                "page_url": page_url,
                "policy_url": _absolute(policy_url) if policy_url else None,
                "base_url": settings.WAGTAILADMIN_BASE_URL.rstrip("/"),
                "json_ld": jsonld.script_body(
                    jsonld.product_data(
                        product=product, summary=summary, reviews=reviews, url=page_url
                    )
                ),
                "can_vote": False,
                "shop_name": settings.WAGTAIL_SITE_NAME,
            },
        )
    return CachedAnswer.of(html.encode(), "text/html; charset=utf-8")


# The Google Product Ratings feed --------------------------------------------------------

FEED_CHUNK = 500
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return escape(_XML_INVALID.sub("", value or ""))


@require_safe
def product_reviews_feed(request):
    """Every approved review, low stars included, in Google's Product Ratings XML
    (schema 2.4): streamed, a chunk of reviews at a time, so memory stays flat
    whatever the number of reviews. Rewarded reviews carry
    <is_incentivized_review>true</is_incentivized_review> and say so in their text."""
    reviews = (
        public.approved()
        .select_related("customer", "product")
        .prefetch_related(public.photos_prefetch())
        .order_by("pk")
        .iterator(chunk_size=FEED_CHUNK)
    )
    response = StreamingHttpResponse(
        _feed_lines(reviews), content_type="application/xml; charset=utf-8"
    )
    patch_cache_control(response, public=True, max_age=settings.REVIEWS_CACHE_SECONDS)
    return response


def _feed_lines(reviews):
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns:vc="http://www.w3.org/2007/XMLSchema-versioning" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="http://www.google.com/shopping/reviews/schema/'
        'product/2.4/product_reviews.xsd">\n'
        "<version>2.4</version>\n"
        f"<publisher><name>{_text(settings.WAGTAIL_SITE_NAME)}</name></publisher>\n"
        "<reviews>\n"
    )
    page_urls: dict[int, str] = {}
    for review in reviews:
        product = review.product
        if product.pk not in page_urls:
            with translation.override(settings.LANGUAGE_CODE):
                page_urls[product.pk] = base + reverse(
                    "reviews:product", args=[product.sku]
                )
        yield _feed_review(review, page_urls[product.pk], base)
    yield "</reviews>\n</feed>\n"


def _feed_review(review: Review, page_url: str, base: str) -> str:
    name = public.reviewer_name(review)
    with translation.override(review.language):
        content = jsonld.review_body(review)
    reviewer = (
        f'<name is_anonymous="false">{_text(name)}</name>'
        if name
        else '<name is_anonymous="true">Anonymous</name>'
    )
    images = "".join(
        f"<reviewer_image><url>{_text(base + photo.image.url)}</url></reviewer_image>"
        for photo in review.photos.all()
    )
    product = review.product
    product_url = product.product_url or page_url
    timestamp = (review.approved_at or review.submitted_at).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return (
        "<review>"
        f"<review_id>{review.pk}</review_id>"
        f"<reviewer>{reviewer}</reviewer>"
        "<is_verified_purchase>true</is_verified_purchase>"
        f"<is_incentivized_review>{'true' if review.rewarded else 'false'}"
        "</is_incentivized_review>"
        f"<review_timestamp>{timestamp}</review_timestamp>"
        f"<title>{_text(review.title)}</title>"
        f"<content>{_text(content)}</content>"
        f"<review_language>{_text(review.language)}</review_language>"
        f'<review_url type="group">{_text(page_url)}#review-{review.pk}</review_url>'
        + (f"<reviewer_images>{images}</reviewer_images>" if images else "")
        + f'<ratings><overall min="1" max="5">{review.rating}</overall></ratings>'
        "<products><product>"
        f"<product_ids><skus><sku>{_text(product.sku)}</sku></skus></product_ids>"
        f"<product_name>{_text(product.name)}</product_name>"
        f"<product_url>{_text(product_url)}</product_url>"
        "</product></products>"
        "</review>\n"
    )
