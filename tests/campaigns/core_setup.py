"""Building campaigns, returns and reviews for the campaigns-core tests (through the
ORM: these tests are about what the scheduler, the send check and the analysis do
with data that is already there)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from campaigns.models import Campaign, CampaignContent, CampaignKind, CampaignStatus
from returns.models import Channel, ReturnRequest, ReturnStatus
from reviews.models import Review, ReviewStatus
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory

_rma = itertools.count(1)

POST_PURCHASE_BODY = [
    ("heading", "Enjoy your purchase"),
    ("text", "<p>Here is what other buyers say.</p>"),
    ("featured_reviews", {"heading": "What buyers say", "fallback": "No reviews yet!"}),
    ("button", {"text": "Visit the shop", "url": "https://shop.example.com/"}),
]


def make_campaign(
    *,
    kind: str = CampaignKind.POST_PURCHASE,
    status: str = CampaignStatus.ACTIVE,
    activated_at: dt.datetime | None = None,
    body=None,
    content_languages=("en", "nl"),
    **fields,
) -> Campaign:
    fields.setdefault("window_start", dt.time(0, 0))
    fields.setdefault("window_end", dt.time(0, 0))  # equal: all day
    campaign = Campaign.objects.create(
        name=fields.pop("name", "After delivery"),
        kind=kind,
        status=status,
        activated_at=activated_at or dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        **fields,
    )
    for language in content_languages:
        CampaignContent.objects.create(
            campaign=campaign,
            language=language,
            subject=f"Your order [{language}]",
            body=body if body is not None else POST_PURCHASE_BODY,
        )
    return campaign


def delivered_order(*, delivered_at: dt.datetime, customer=None, products=(), **kw):
    customer = customer or CustomerFactory(marketing_consent=True, **kw)
    order = OrderFactory(
        customer=customer,
        placed_at=delivered_at - dt.timedelta(days=2),
        delivered_at=delivered_at,
    )
    for product in products:
        OrderLineFactory(order=order, product=product)
    return order


def start_return(order, *, status: str = ReturnStatus.REQUESTED) -> ReturnRequest:
    n = next(_rma)
    return ReturnRequest.objects.create(
        rma=f"RMA-T{n:06d}",
        order=order,
        customer=order.customer,
        channel=Channel.values[0],
        idempotency_key=f"test-{n}",
        currency="EUR",
        status=status,
        created_at=timezone.now(),
    )


def make_review(*, product, rating=5, line=None, **fields) -> Review:
    line = line or OrderLineFactory(product=product)
    now = timezone.now()
    fields.setdefault("may_quote", True)
    return Review.objects.create(
        order_line=line,
        customer=line.order.customer,
        product=product,
        rating=rating,
        title=fields.pop("title", "Great"),
        body=fields.pop("body", "Fits well and feels sturdy."),
        language=fields.pop("language", "en"),
        status=fields.pop("status", ReviewStatus.APPROVED),
        approved_at=now - dt.timedelta(days=1),
        **fields,
    )
