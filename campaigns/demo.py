"""Demo campaigns: an active post-purchase campaign with half a year of history whose
treated orders come back measurably less often than the holdout's, a review request
campaign and a promotion scheduled for next week. Run by `seed_demo` after the shop
and returns demos; a second run changes nothing.

The history is planted, and says so: the returns demo decides which orders come back
without knowing about campaigns, so the post-purchase campaign's history leaves out a
fixed share of the treated orders that were returned (as if the e-mail had kept them)
- about three in five - and keeps every holdout order. Its past e-mails are written as sent
(with deterministic opens and clicks), so the demo worker mails no invented customer.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    Assignment,
    Campaign,
    CampaignContent,
    CampaignEvent,
    CampaignKind,
    CampaignStatus,
    CampaignVariant,
    Group,
    ReviewSelection,
)
from emails import services as email_services
from emails.models import Category, Message
from emails.models import Status as MessageStatus
from returns.models import ReturnRequest, ReturnStatus
from shop.models import Order

POST_PURCHASE = "Demo: reviews after delivery"
REVIEW_REQUEST = "Demo: review your purchase"
PROMOTION = "Demo: spring sale"
HISTORY_DAYS = 180
KEPT_BY_EMAIL = 0.6  # share of treated, returned orders the history leaves out

CONTENT = {
    POST_PURCHASE: {
        "en": (
            "How are you getting on with your order?",
            [
                ("heading", "Enjoy your new things"),
                ("text", "<p>Here is what other buyers say about them.</p>"),
                (
                    "featured_reviews",
                    {
                        "heading": "What buyers say",
                        "fallback": "No reviews yet: tell us what you think!",
                    },
                ),
                ("button", {"text": "Care tips", "url": "https://example.com/care"}),
            ],
        ),
        "nl": (
            "Hoe bevalt je bestelling?",
            [
                ("heading", "Veel plezier met je aankoop"),
                ("text", "<p>Dit zeggen andere kopers erover.</p>"),
                (
                    "featured_reviews",
                    {
                        "heading": "Wat kopers zeggen",
                        "fallback": "Nog geen reviews: laat weten wat je ervan vindt!",
                    },
                ),
                (
                    "button",
                    {"text": "Onderhoudstips", "url": "https://example.com/care"},
                ),
            ],
        ),
    },
    REVIEW_REQUEST: {
        "en": (
            "Would you review your purchase?",
            [("text", "<p>Your review helps other buyers choose well.</p>")],
        ),
        "nl": (
            "Wil je je aankoop beoordelen?",
            [("text", "<p>Met je review kiezen anderen beter.</p>")],
        ),
    },
    PROMOTION: {
        "en": (
            "Spring sale: 20% off everything",
            [
                ("heading", "Spring sale"),
                ("text", "<p>This week only, for our regular customers.</p>"),
                ("button", {"text": "Shop now", "url": "https://example.com/sale"}),
            ],
        ),
        "nl": (
            "Voorjaarsuitverkoop: 20% korting",
            [
                ("heading", "Voorjaarsuitverkoop"),
                ("text", "<p>Alleen deze week, voor onze vaste klanten.</p>"),
                ("button", {"text": "Shop nu", "url": "https://example.com/sale"}),
            ],
        ),
    },
}


def _share(*parts: object) -> float:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _campaign(name: str, now: dt.datetime, **fields) -> tuple[Campaign, bool]:
    campaign, made = Campaign.objects.get_or_create(name=name, defaults=fields)
    if made:
        for language, (subject, body) in CONTENT[name].items():
            CampaignContent.objects.create(
                campaign=campaign, language=language, subject=subject, body=body
            )
        CampaignEvent.objects.create(
            campaign=campaign,
            from_status=CampaignStatus.DRAFT,
            to_status=fields.get("status", CampaignStatus.DRAFT),
            occurred_at=fields.get("activated_at") or now,
        )
    return campaign, made


@transaction.atomic
def seed_demo() -> dict[str, int]:
    now = timezone.now()
    created = {"campaigns": 0, "assignments": 0, "messages": 0}
    post, made = _campaign(
        POST_PURCHASE,
        now,
        kind=CampaignKind.POST_PURCHASE,
        status=CampaignStatus.ACTIVE,
        delay_days=3,
        holdout_percent=10,
        activated_at=now,
    )
    created["campaigns"] += int(made)
    if made:
        CampaignVariant.objects.create(
            campaign=post, code="A", name="Top rated", weight=1
        )
        CampaignVariant.objects.create(
            campaign=post,
            code="B",
            name="Most helpful",
            weight=1,
            review_selection=ReviewSelection.MOST_HELPFUL,
        )
        assignments, messages = _history(post, now)
        created["assignments"] += assignments
        created["messages"] += messages
    _, made = _campaign(
        REVIEW_REQUEST,
        now,
        kind=CampaignKind.REVIEW_REQUEST,
        status=CampaignStatus.ACTIVE,
        delay_days=7,
        reminder_after_days=5,
        holdout_percent=10,
        frequency_cap_exempt=True,
        activated_at=now,
    )
    created["campaigns"] += int(made)
    _, made = _campaign(
        PROMOTION,
        now,
        kind=CampaignKind.PROMOTION,
        status=CampaignStatus.ACTIVE,
        holdout_percent=10,
        scheduled_at=(now + dt.timedelta(days=7)).replace(
            hour=10, minute=0, second=0, microsecond=0
        ),
        activated_at=now,
    )
    created["campaigns"] += int(made)
    return created


def _history(campaign: Campaign, now: dt.datetime) -> tuple[int, int]:
    """Assignments and sent e-mails for the orders delivered in the half year before
    the campaign's start (see the module docstring for what is planted)."""
    variants = list(campaign.variants.all())
    variant_ids = {v.code: v.pk for v in variants}
    returned = set(
        ReturnRequest.objects.exclude(
            status__in=[ReturnStatus.REJECTED, ReturnStatus.CANCELLED]
        ).values_list("order_id", flat=True)
    )
    orders = (
        Order.objects.filter(
            customer__isnull=False,
            delivered_at__gte=now - dt.timedelta(days=HISTORY_DAYS),
            # Up to what the scheduler would find due today: it takes over tomorrow.
            delivered_at__lt=services.trigger_range(campaign, now=now)[1],
        )
        .select_related("customer")
        .order_by("pk")
    )
    rows, items, sent_at = [], [], {}
    for order in orders.iterator(chunk_size=2000):
        subject = str(order.pk)
        group, code = services.assign_group(campaign, subject, variants)
        if (
            group == Group.TREATMENT
            and order.pk in returned
            and _share("kept", order.pk) < KEPT_BY_EMAIL
        ):
            continue
        key = services.assignment_key(campaign.pk, subject)
        at = order.delivered_at + dt.timedelta(days=campaign.delay_days, hours=2)
        rows.append(
            Assignment(
                campaign=campaign,
                customer=order.customer,
                order=order,
                variant_id=variant_ids.get(code),
                variant_code=code,
                group=group,
                key=key,
                assigned_at=at,
            )
        )
        if group == Group.TREATMENT and order.customer.marketing_consent:
            sent_at[key] = at
            items.append(
                {
                    "key": key,
                    "to_email": order.customer.email,
                    "customer": order.customer,
                    "category": Category.MARKETING,
                    "sender_label": campaign.sender_label,
                    "subject": CONTENT[POST_PURCHASE][order.customer.language][0],
                    "text": "(demo history)",
                    "send_after": at,
                }
            )
    Assignment.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    ids: dict[str, int] = {}
    for start in range(0, len(items), 1000):
        ids |= email_services.enqueue_many(messages=items[start : start + 1000])
    # These e-mails went out in the past (and a share was opened and clicked).
    messages = list(Message.objects.filter(pk__in=ids.values()))
    for message in messages:
        at = sent_at[message.key]
        message.status = MessageStatus.SENT
        message.sent_at = at
        message.next_attempt_at = None
        message.delivered_at = at + dt.timedelta(minutes=1)
        if _share("open", message.key) < 0.45:
            message.opened_at = at + dt.timedelta(hours=3)
            if _share("click", message.key) < 0.3:
                message.clicked_at = at + dt.timedelta(hours=3, minutes=2)
    Message.objects.bulk_update(
        messages,
        [
            "status",
            "sent_at",
            "next_attempt_at",
            "delivered_at",
            "opened_at",
            "clicked_at",
        ],
        batch_size=1000,
    )
    Assignment.objects.bulk_update(
        [
            Assignment(pk=pk, message_id=ids[key])
            for pk, key in Assignment.objects.filter(
                campaign=campaign, key__in=list(ids)
            ).values_list("pk", "key")
        ],
        ["message"],
        batch_size=1000,
    )
    return len(rows), len(messages)
