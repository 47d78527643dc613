"""Turn an outbox row into subject, HTML and text, in the customer's language.

Templates live at templates/emails/<name>/{subject.txt,body.html,body.txt}; the HTML
extends emails/layout.html and its CSS is inlined (css_inline) for mail clients. Links
to the site get UTM parameters. Per-recipient values that would stop SendGrid from
batching recipients (the unsubscribe link) are left as substitution tags in the rendered
content and filled per recipient (`substitutions`), by SendGrid or by us.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import css_inline
from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation

from emails.models import Category, EmailBrandSettings, Message, SharedPart

UNSUBSCRIBE_TAG = "-unsubscribe_url-"
PREFERENCES_TAG = "-preferences_url-"
UNSUBSCRIBE_SALT = "emails.unsubscribe"
_HREF = re.compile(r'href="(https?://[^"]+)"')
_TEXT_URL = re.compile(r"https?://[^\s<>\"]+")
_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    substitutions: dict[str, str] = field(default_factory=dict)

    def filled(self) -> Rendered:
        """The content as the recipient sees it (substitution tags replaced)."""
        return Rendered(
            subject=substitute(self.subject, self.substitutions),
            html=substitute(self.html, self.substitutions),
            text=substitute(self.text, self.substitutions),
        )


def substitute(content: str, substitutions: dict[str, str]) -> str:
    for tag, value in substitutions.items():
        content = content.replace(tag, value)
    return content


def unsubscribe_token(customer_id: int) -> str:
    """ "<customer id>:<HMAC>": made for every marketing e-mail when it is sent, so
    a plain Signer (a third of signing.dumps's cost; the timestamp was never
    checked)."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(int(customer_id)))


def customer_for_token(token: str) -> int:
    """The customer id a token was made for; signing.BadSignature if forged.
    Tokens in e-mails sent before 2026-11-28 (signing.dumps) stay valid."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
        if value.isdigit():
            return int(value)
    except signing.BadSignature:
        pass
    value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(value, int) or isinstance(value, bool):
        raise signing.BadSignature("not a customer id")
    return value


def site_url(path: str) -> str:
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path


def unsubscribe_url(customer_id: int) -> str:
    return _token_url("emails:unsubscribe", unsubscribe_token(customer_id))


def preferences_url(customer_id: int) -> str:
    return _token_url("emails:preferences", unsubscribe_token(customer_id))


def customer_links(customer_id: int) -> dict[str, str]:
    """The unsubscribe and preference links' tags and values (one signature)."""
    token = unsubscribe_token(customer_id)
    urlconf, prefix = get_urlconf(), get_script_prefix()
    site = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    links = {}
    for tag, name in (
        (UNSUBSCRIBE_TAG, "emails:unsubscribe"),
        (PREFERENCES_TAG, "emails:preferences"),
    ):
        before, after = _route(name, urlconf, prefix)
        links[tag] = f"{site}{before}{token}{after}"
    return links


_IN_PLACE_OF_TOKEN = "0token0"  # noqa: S105  (a placeholder, not a secret)


@lru_cache(maxsize=16)
def _route(name: str, urlconf: str | None, script_prefix: str) -> tuple[str, str]:
    # The path around the token, resolved once: a send of 1,000 marketing e-mails
    # would otherwise reverse() 2,000 times. (Signed tokens are URL-safe: the path
    # is the same as reverse() with the token gives; tested.)
    before, after = reverse(name, args=[_IN_PLACE_OF_TOKEN], urlconf=urlconf).split(
        _IN_PLACE_OF_TOKEN
    )
    return before, after


def _token_url(name: str, token: str) -> str:
    before, after = _route(name, get_urlconf(), get_script_prefix())
    return site_url(before + token + after)


def substitutions_for(
    message: Message, parts: dict[int, str] | None = None
) -> dict[str, str]:
    """What fills the row's substitution tags: the unsubscribe and preference links
    of templated rows, and a ready-made row's own values (context["substitutions"],
    e.g. a campaign's per-recipient products and reviews) with those links. A value
    given as a list of SharedPart ids is those parts joined (`parts`: already
    loaded ones, see load_parts)."""
    own = {}
    if not message.template:
        own = dict(message.context.get("substitutions") or {})
        if not own and message.category != Category.MARKETING:
            return {}
        if any(isinstance(value, list) for value in own.values()):
            if parts is None:
                parts = load_parts([message])
            own = {
                tag: "".join(parts.get(pk, "") for pk in value)
                if isinstance(value, list)
                else value
                for tag, value in own.items()
            }
    if message.customer_id is None:
        return own
    return own | customer_links(message.customer_id)


def part_ids(message: Message) -> set[int]:
    """The SharedPart ids a ready-made row names (none for templated rows)."""
    if message.template or not isinstance(message.context, dict):
        return set()
    ids = set((message.context.get("parts") or {}).values())
    for value in (message.context.get("substitutions") or {}).values():
        if isinstance(value, list):
            ids.update(value)
    return ids


def load_parts(messages: list[Message]) -> dict[int, str]:
    """The contents of every part these rows name, in one query."""
    ids = set().union(*(part_ids(message) for message in messages))
    if not ids:
        return {}
    return dict(SharedPart.objects.filter(pk__in=ids).values_list("pk", "content"))


def with_utm(url: str, campaign: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "utm_source" in query:
        return url
    query |= {"utm_source": "email", "utm_medium": "email", "utm_campaign": campaign}
    return urlunsplit(parts._replace(query=urlencode(query)))


def _tag_links(html: str, text: str, campaign: str) -> tuple[str, str]:
    html = _HREF.sub(lambda m: f'href="{with_utm(m.group(1), campaign)}"', html)
    text = _TEXT_URL.sub(lambda m: with_utm(m.group(0), campaign), text)
    return html, text


def brand() -> dict[str, str]:
    settings_row = EmailBrandSettings.load()
    return {
        "shop_name": settings_row.shop_name,
        "logo_url": settings_row.logo_url,
        "colour": settings_row.colour,
        "footer_address": settings_row.footer_address,
    }


def render(
    message: Message,
    *,
    brand_values: dict[str, str] | None = None,
    with_substitutions: bool = True,
    parts: dict[int, str] | None = None,
) -> Rendered:
    """Render a templated row; a ready-made row (no template) is returned as stored,
    its shared parts filled in (`parts`: already loaded ones, see load_parts).
    Substitution tags stay in the content; `substitutions` says what fills them
    (left empty with `with_substitutions=False`: the sender asks per recipient)."""
    if not message.template:
        named = message.context.get("parts") or {}
        if parts is None and (named or with_substitutions):
            parts = load_parts([message])
        return Rendered(
            subject=message.subject,
            html=parts.get(named["html"], "") if "html" in named else message.html,
            text=parts.get(named["text"], "") if "text" in named else message.text,
            substitutions=substitutions_for(message, parts)
            if with_substitutions
            else {},
        )
    values = substitutions_for(message) if with_substitutions else {}
    rendered = render_template(
        template=message.template,
        context=message.context,
        language=message.language,
        marketing=message.category == Category.MARKETING,
        sender_label=message.sender_label,
        has_customer=message.customer_id is not None,
        brand_values=brand_values,
    )
    return Rendered(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        substitutions=values,
    )


def render_key(message: Message) -> str:
    """Rows with the same key render to the same content (before substitution)."""
    return hashlib.sha256(
        json.dumps(
            [
                message.template,
                message.context,
                message.language,
                message.category,
                message.sender_label,
                message.customer_id is not None,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()


def render_template(
    *,
    template: str,
    context: dict,
    language: str,
    marketing: bool,
    sender_label: str,
    has_customer: bool,
    brand_values: dict[str, str] | None = None,
) -> Rendered:
    values = {
        **context,
        "brand": brand_values if brand_values is not None else brand(),
        "marketing": marketing,
        "unsubscribe_url": UNSUBSCRIBE_TAG if has_customer else "",
        "preferences_url": PREFERENCES_TAG if has_customer else "",
        "site_url": settings.WAGTAILADMIN_BASE_URL.rstrip("/"),
    }
    with translation.override(language):
        subject = " ".join(
            render_to_string(f"emails/{template}/subject.txt", values).split()
        )
        html = render_to_string(f"emails/{template}/body.html", values)
        text = render_to_string(f"emails/{template}/body.txt", values)
    html, text = _tag_links(_inline(html), text.strip() + "\n", sender_label)
    return Rendered(subject=subject, html=html, text=text)


@lru_cache(maxsize=256)
def _inline_cached(digest: str, html: str) -> str:
    return _INLINER.inline(html)


def _inline(html: str) -> str:
    return _inline_cached(hashlib.sha256(html.encode()).hexdigest(), html)
