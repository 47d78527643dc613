"""Demo returns, run by `seed_demo` after the shop's, loyalty's and reviews' demo data:
two fulfilment centres, and a year of returns on the demo orders filed and processed
through the services (so events, costs, store credit and e-mails are all real).

About 12 % of delivered lines come back; reasons lean by category (sizes for clothes
and shoes, defects for electronics, transport damage for home goods); a few customers
return far more than the rest (the serial returners the insights will find); the demo
customer has returns of their own. Each return goes as far through its steps as its
dates allow, so recent ones are still open and every state is present, including a
few rejected and cancelled.

Deterministic and idempotent: every choice comes from a hash of the order's external
id, and each return's idempotency key is `demo:<external id>`, so a second run finds
every return and writes nothing. The e-mails of these past returns are marked sent:
the demo worker does not mail hundreds of invented customers.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from emails.models import Message
from emails.models import Status as MessageStatus
from returns import services
from returns.eligibility import eligibility_for_order
from returns.models import (
    CentreKind,
    Channel,
    Condition,
    Disposition,
    FulfilmentCentre,
    ReturnRequest,
    ReturnsSettings,
    ReturnStatus,
)
from shop.models import Category, Customer, Order

DEMO_CUSTOMER_EMAIL = "customer@example.com"
EXTERNAL_ID_PREFIX = "demo-"
BASE_RATE = 0.095
SERIAL_RATE = 0.75  # and they send back whole quantities: insights flags them
DEMO_CUSTOMER_RATE = 0.5
SERIAL_RETURNERS = 4
DEMO_APPROVAL_ABOVE = Decimal("150.00")
# Where the newest returns stop, newest first (see _stops).
OPEN_STOPS = [
    ReturnStatus.APPROVED,
    ReturnStatus.IN_TRANSIT,
    ReturnStatus.RECEIVED,
    ReturnStatus.INSPECTED,
    ReturnStatus.APPROVED,
    ReturnStatus.IN_TRANSIT,
]

REASONS_BY_CATEGORY = {
    "Clothing": {
        "size-fit": 44,
        "ordered-several": 14,
        "not-as-described": 12,
        "changed-mind": 12,
        "defective": 4,
        "damaged-in-transit": 2,
        "wrong-item": 3,
        "better-price": 3,
        "no-longer-needed": 4,
        "other": 2,
    },
    "Shoes": {
        "size-fit": 52,
        "ordered-several": 12,
        "not-as-described": 8,
        "changed-mind": 10,
        "defective": 6,
        "wrong-item": 3,
        "better-price": 3,
        "no-longer-needed": 4,
        "other": 2,
    },
    "Electronics": {
        "defective": 34,
        "not-as-described": 16,
        "damaged-in-transit": 9,
        "changed-mind": 12,
        "better-price": 13,
        "wrong-item": 5,
        "no-longer-needed": 7,
        "arrived-too-late": 2,
        "other": 2,
    },
    "Home": {
        "damaged-in-transit": 30,
        "not-as-described": 20,
        "changed-mind": 16,
        "defective": 10,
        "wrong-item": 6,
        "no-longer-needed": 10,
        "arrived-too-late": 4,
        "other": 4,
    },
}
DEFAULT_REASONS = {
    "changed-mind": 24,
    "not-as-described": 18,
    "defective": 14,
    "size-fit": 10,
    "damaged-in-transit": 8,
    "no-longer-needed": 12,
    "better-price": 8,
    "arrived-too-late": 3,
    "other": 3,
}
RESOLUTION_WEIGHTS = {"refund": 62, "store_credit": 20, "exchange": 14, "repair": 4}
FAULT_CODES = {
    "not-as-described",
    "size-fit",
    "damaged-in-transit",
    "wrong-item",
    "defective",
    "arrived-too-late",
}
COMMENTS = {
    "size-fit": ("Too small around the shoulders.", "A size chart with measurements."),
    "defective": ("Stopped working after two days.", "Better quality control."),
    "damaged-in-transit": ("The box was crushed.", "Sturdier packaging."),
    "not-as-described": ("The colour is different from the photos.", "Real photos."),
}


def _rng(*parts: str) -> random.Random:
    seed = hashlib.sha256(":".join(parts).encode()).hexdigest()
    return random.Random(seed)  # noqa: S311  (reproducible demo data, not secrets)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def seed_centres() -> int:
    created = 0
    main, made = FulfilmentCentre.objects.get_or_create(
        code="main",
        defaults={
            "name": "Returnwise warehouse",
            "kind": CentreKind.IN_HOUSE,
            "address": "Returnwise Returns\nHavenweg 12\n3011 AA Rotterdam",
            "country": "NL",
            "email": "returns@example.com",
            "return_shipping_cost": Decimal("4.50"),
            "is_default": not FulfilmentCentre.objects.filter(is_default=True).exists(),
        },
    )
    created += made
    fashion, made = FulfilmentCentre.objects.get_or_create(
        code="fashion-3pl",
        defaults={
            "name": "FashionLogistics 3PL",
            "kind": CentreKind.THIRD_PARTY,
            "address": "FashionLogistics Returns\nIndustrieweg 40\n5928 PL Venlo",
            "country": "NL",
            "email": "returns@fashionlogistics.example.com",
            "return_shipping_cost": Decimal("6.20"),
        },
    )
    created += made
    if made:
        fashion.categories.set(Category.objects.filter(name__in=["Clothing", "Shoes"]))
    return created


def _serial_returners() -> set[int]:
    """The customers with the most demo orders (not the demo customer)."""
    rows = (
        Customer.objects.filter(orders__external_id__startswith=EXTERNAL_ID_PREFIX)
        .exclude(email=DEMO_CUSTOMER_EMAIL)
        .annotate(orders_count=Count("orders"))
        .order_by("-orders_count", "email")
        .values_list("pk", flat=True)[:SERIAL_RETURNERS]
    )
    return set(rows)


def _rate(order: Order, serial: set[int]) -> float:
    if order.customer.email == DEMO_CUSTOMER_EMAIL:
        return DEMO_CUSTOMER_RATE
    if order.customer_id in serial:
        return SERIAL_RATE
    return BASE_RATE


def _plan_choices(order: Order, rng: random.Random, rate: float, at: datetime):
    """The lines to return and their value."""
    choices = []
    value = Decimal("0.00")
    for item in eligibility_for_order(order, at=at):
        if not item.eligible or rng.random() >= rate:
            continue
        line = item.order_line
        category = line.product.category.name if line.product.category else ""
        reason = _pick(rng, REASONS_BY_CATEGORY.get(category, DEFAULT_REASONS))
        offered = {k: v for k, v in RESOLUTION_WEIGHTS.items() if k in item.resolutions}
        if not offered:
            continue
        comment, prevention = COMMENTS.get(reason, ("", ""))
        if rate >= SERIAL_RATE:
            quantity = item.returnable_quantity
        else:
            quantity = rng.randint(1, item.returnable_quantity)
        value += line.unit_price * quantity
        choices.append(
            services.LineChoice(
                order_line_id=line.pk,
                quantity=quantity,
                reason_code=reason,
                resolution=_pick(rng, offered),
                comment=comment if rng.random() < 0.7 else "",
                prevention=prevention if rng.random() < 0.5 else "",
            )
        )
    return choices, value


def _findings(request: ReturnRequest, rng: random.Random) -> dict:
    findings = {}
    for line in request.lines.select_related("reason"):
        code = line.reason.code
        confirmed = code
        if code == "defective" and rng.random() < 0.2:
            confirmed = "changed-mind"  # worked fine on the bench
        condition = line.condition or Condition.OPENED
        if confirmed in FAULT_CODES and confirmed not in ("size-fit",):
            disposition = rng.choice([Disposition.REFURBISH, Disposition.RECYCLE])
            if code == "damaged-in-transit":
                disposition = rng.choice([Disposition.RECYCLE, Disposition.DISPOSE])
        else:
            disposition = (
                Disposition.RESTOCK
                if condition in (Condition.AS_NEW, Condition.OPENED)
                else Disposition.REFURBISH
            )
        findings[line.pk] = {
            "confirmed_reason": confirmed,
            "condition": condition,
            "disposition": disposition,
        }
    return findings


def _process(
    request: ReturnRequest,
    rng: random.Random,
    staff,
    now: datetime,
    *,
    stop: str | None = None,
) -> None:
    """Take the return as far as its dates allow, or up to `stop`."""
    at = request.created_at
    if stop == request.status:
        return
    if request.status == ReturnStatus.REQUESTED:
        at += timedelta(hours=rng.randint(3, 30))
        if stop is not None:
            at = min(at, now)
        if at > now:
            return
        if stop is None and rng.random() < 0.15:
            services.reject(
                request=request,
                reason="Used and worn beyond what a try-on allows.",
                by=staff,
                at=at,
            )
            return
        services.approve(request=request, by=staff, at=at)
    if stop is None and rng.random() < 0.05:
        at += timedelta(hours=rng.randint(2, 40))
        if at <= now:
            services.cancel(request=request, note="Decided to keep it.", at=at)
        return
    lines = list(request.lines.all())
    if all(line.returnless for line in lines):
        if stop is not None:
            return
        at += timedelta(hours=rng.randint(1, 24))
        if at <= now:
            services.resolve(request=request, by=staff, at=at)
        return
    steps = [
        ("in_transit", timedelta(days=rng.randint(1, 3))),
        ("received", timedelta(days=rng.randint(1, 4))),
        ("inspected", timedelta(days=rng.randint(0, 2), hours=rng.randint(1, 8))),
        ("resolved", timedelta(hours=rng.randint(1, 30))),
        ("closed", timedelta(days=rng.randint(10, 20))),
    ]
    for step, delay in steps:
        if stop == request.status:
            return
        at += delay
        if stop is not None:
            at = min(at, now)  # a stopped return always reaches its step
        if at > now:
            return
        if step == "in_transit":
            services.mark_in_transit(request=request, tracking="3SDEMO", at=at)
        elif step == "received":
            conditions = {
                line.pk: rng.choices(
                    [
                        Condition.AS_NEW,
                        Condition.OPENED,
                        Condition.USED,
                        Condition.DAMAGED,
                    ],
                    weights=[40, 35, 15, 10],
                )[0]
                for line in lines
            }
            services.receive(
                request=request, conditions=conditions, centre=request.centre, at=at
            )
        elif step == "inspected":
            services.inspect(
                request=request, findings=_findings(request, rng), by=staff, at=at
            )
        elif step == "resolved":
            services.resolve(request=request, by=staff, at=at)
            if rng.random() < 0.45 and at + timedelta(days=1) <= now:
                score = rng.choices([1, 2, 3, 4, 5], weights=[5, 8, 17, 35, 35])[0]
                services.record_satisfaction(
                    request=request, score=score, at=at + timedelta(days=1)
                )
        else:
            services.close(request=request, by=staff, at=at)


@transaction.atomic
def seed_demo() -> dict[str, int]:
    before = ReturnRequest.objects.count()
    centres = seed_centres()
    config = ReturnsSettings.load()
    if config.manual_approval_above == Decimal("500.00"):
        config.manual_approval_above = DEMO_APPROVAL_ABOVE
        config.save()
    staff = get_user_model().objects.filter(username="returns").first()
    now = timezone.now()
    serial = _serial_returners()
    done = set(
        ReturnRequest.objects.filter(idempotency_key__startswith="demo:").values_list(
            "idempotency_key", flat=True
        )
    )
    orders = (
        Order.objects.filter(
            external_id__startswith=EXTERNAL_ID_PREFIX, delivered_at__isnull=False
        )
        .select_related("customer")
        .order_by("placed_at", "pk")
    )
    planned = []
    for order in orders:
        key = f"demo:{order.external_id}"
        if key in done:
            continue
        rng = _rng("returns-demo", order.external_id)
        filed_at = order.delivered_at + timedelta(
            days=rng.randint(1, 12), hours=rng.randint(0, 12)
        )
        if filed_at > now:
            continue
        choices, value = _plan_choices(order, rng, _rate(order, serial), filed_at)
        if choices:
            planned.append((filed_at, order, rng, choices, value))
    planned.sort(key=lambda item: (item[0], item[1].pk))
    stops = _stops(planned, config.manual_approval_above)
    rmas = []
    for index, (filed_at, order, rng, choices, _value) in enumerate(planned):
        try:
            request = services.submit_return(
                order=order,
                choices=choices,
                channel=rng.choice([Channel.ACCOUNT, Channel.ACCOUNT, Channel.QR]),
                idempotency_key=f"demo:{order.external_id}",
                at=filed_at,
            )
        except services.ReturnNotEligible:
            continue
        _process(request, rng, staff, now, stop=stops[index])
        rmas.append(request.rma)
    _mark_emails_sent(rmas, now)
    return {
        "fulfilment centres": centres,
        "returns": ReturnRequest.objects.count() - before,
    }


def _stops(planned: list, approval_above: Decimal | None) -> dict[int, str | None]:
    """The newest returns stop at each open step, so the queue shows every state:
    "requested" goes to the newest one valuable enough to wait for approval."""
    stops: dict[int, str | None] = dict.fromkeys(range(len(planned)))
    newest_first = list(range(len(planned) - 1, -1, -1))
    if approval_above is not None:
        held = next((i for i in newest_first if planned[i][4] > approval_above), None)
        if held is not None:
            stops[held] = ReturnStatus.REQUESTED
    free = [i for i in newest_first if stops[i] is None]
    for index, status in zip(free, OPEN_STOPS, strict=False):
        stops[index] = status
    return stops


def _mark_emails_sent(rmas: list[str], now: datetime) -> None:
    """These returns happened in the past: so did their e-mails."""
    for start in range(0, len(rmas), 500):
        batch = rmas[start : start + 500]
        keys = [
            f"{kind}:{rma}"
            for rma in batch
            for kind in (
                "return-requested",
                "return-approved",
                "return-rejected",
                "return-received",
                "return-resolved",
                "return-satisfaction",
            )
        ]
        Message.objects.filter(key__in=keys, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENT, sent_at=now, next_attempt_at=None
        )
