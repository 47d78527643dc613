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
from django.urls import reverse
from django.utils import translation

from emails.models import Category, EmailBrandSettings, Message

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
    return signing.dumps(customer_id, salt=UNSUBSCRIBE_SALT)


def customer_for_token(token: str) -> int:
    """The customer id a token was made for; signing.BadSignature if forged."""
    value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("not a customer id")
    return value


def site_url(path: str) -> str:
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path


def unsubscribe_url(customer_id: int) -> str:
    return site_url(
        reverse("emails:unsubscribe", args=[unsubscribe_token(customer_id)])
    )


def preferences_url(customer_id: int) -> str:
    return site_url(
        reverse("emails:preferences", args=[unsubscribe_token(customer_id)])
    )


def substitutions_for(message: Message) -> dict[str, str]:
    """What fills the row's substitution tags: the unsubscribe and preference links
    of templated rows, and a ready-made row's own values (context["substitutions"],
    e.g. a campaign's per-recipient products and reviews) with those links."""
    own = {}
    if not message.template:
        own = dict(message.context.get("substitutions") or {})
        if not own and message.category != Category.MARKETING:
            return {}
    if message.customer_id is None:
        return own
    return {
        **own,
        UNSUBSCRIBE_TAG: unsubscribe_url(message.customer_id),
        PREFERENCES_TAG: preferences_url(message.customer_id),
    }


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


def render(message: Message, *, brand_values: dict[str, str] | None = None) -> Rendered:
    """Render a templated row; a ready-made row (no template) is returned as stored.
    Substitution tags stay in the content; `substitutions` says what fills them."""
    if not message.template:
        return Rendered(
            subject=message.subject,
            html=message.html,
            text=message.text,
            substitutions=substitutions_for(message),
        )
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
        substitutions=substitutions_for(message),
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
