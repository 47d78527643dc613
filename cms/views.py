"""Views outside Wagtail's page tree: the policy embed for the shop's product pages.
The page the return insert's QR code opens belongs to the returns portal."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from cms import policy_text
from cms.embed import PolicyNotFound, cache_headers, etag_matches, policy_answer


def _frame_ancestors(response: HttpResponse) -> HttpResponse:
    origins = " ".join(settings.POLICY_EMBED_ALLOWED_ORIGINS)
    response["Content-Security-Policy"] = f"frame-ancestors 'self' {origins}".strip()
    return response


@require_safe
@xframe_options_exempt
def policy_embed(request, sku: str):
    """An HTML fragment for the shop's product page: inserted by script (CORS) or
    framed (only by the allowed origins). Styles are inline and scoped."""
    try:
        answer = policy_answer(
            kind="html", sku=sku, lang=request.GET.get("lang"), render=_render_embed
        )
    except PolicyNotFound as exc:
        response = HttpResponse(
            render_to_string("cms/policy_embed_missing.html", {"message": exc.message}),
            status=exc.status,
        )
        return _frame_ancestors(response)
    if etag_matches(request, answer.etag):
        return cache_headers(HttpResponse(status=304), answer.etag)
    response = HttpResponse(answer.body, content_type="text/html; charset=utf-8")
    response["Content-Language"] = answer.lang
    return _frame_ancestors(cache_headers(response, answer.etag))


def _render_embed(found) -> bytes:
    with translation.override(found.lang):
        html = render_to_string(
            "cms/policy_embed.html",
            {
                "rules": found.rules,
                "headline": policy_text.headline(found.rules),
                "lines": policy_text.rule_lines(found.rules),
                "json_ld": policy_text.json_ld_script(found.rules),
                "lang": found.lang,
            },
        )
    return html.encode()
