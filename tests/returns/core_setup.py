"""Helpers for the returns-core tests (services, eligibility, API, webhooks): a
published return policy whose history reaches back before the orders, a fulfilment
centre, orders and returns. Plain functions; fixtures live in each test module."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from wagtail.models import Locale, Page, Site

from cms.models import HomePage, PolicySnapshot, ReturnPolicyIndexPage
from returns import services
from returns.models import FulfilmentCentre, ReturnsSettings
from tests.cms.conftest import publish_policy
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
_keys = itertools.count(1)


def policy_index() -> ReturnPolicyIndexPage:
    existing = ReturnPolicyIndexPage.objects.first()
    if existing is not None:
        return existing
    english = Locale.objects.get(language_code="en")
    Locale.objects.get_or_create(language_code="nl")
    home = Page.get_first_root_node().add_child(
        instance=HomePage(
            title="Home", slug="core-home", hero_title="Returns", locale=english
        )
    )
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": "localhost", "port": 80, "root_page": home},
    )
    return home.add_child(
        instance=ReturnPolicyIndexPage(title="Returns", slug="returns")
    )


def policy(*, since: datetime = LONG_AGO, title="Everything", is_default=True, **rules):
    """Publish a policy and backdate its snapshot to `since`, so orders placed after
    that date were sold under it. Defaults (tests/cms RULES): 30 days, refund or
    exchange, EUR 4.95 return label paid by the customer unless the shop is at
    fault; here also store credit with a 10 percent bonus."""
    defaults = {
        "offers_store_credit": True,
        "store_credit_bonus_percent": Decimal("10"),
    }
    page = publish_policy(
        policy_index(), title=title, is_default=is_default, **(defaults | rules)
    )
    PolicySnapshot.objects.filter(page_id=page.pk, valid_to__isnull=True).update(
        valid_from=since
    )
    return page


def centre(**fields) -> FulfilmentCentre:
    values = {
        "name": "Main warehouse",
        "code": "main",
        "address": "Havenweg 12\n3011 AA Rotterdam",
        "is_default": True,
    }
    return FulfilmentCentre.objects.create(**(values | fields))


def settings(**fields) -> ReturnsSettings:
    config = ReturnsSettings.load()
    for name, value in fields.items():
        setattr(config, name, value)
    config.save()
    return config


def order(
    *,
    customer=None,
    lines: int = 1,
    quantity: int = 2,
    price: str = "40.00",
    delivered_at: datetime | None = None,
    placed_at: datetime | None = None,
    category=None,
    undelivered: bool = False,
    **kwargs,
):
    now = timezone.now()
    placed_at = placed_at or now - timedelta(days=7)
    if undelivered:
        delivered_at = None
    elif delivered_at is None:
        delivered_at = now - timedelta(days=5)
    made = OrderFactory(
        customer=customer or CustomerFactory(),
        placed_at=placed_at,
        shipped_at=placed_at + timedelta(days=1),
        delivered_at=delivered_at,
        currency="EUR",
        total=Decimal(price) * quantity * lines,
        **kwargs,
    )
    category = category or CategoryFactory(name="Clothing")
    for _n in range(lines):
        OrderLineFactory(
            order=made,
            product=ProductFactory(category=category, price=Decimal(price)),
            quantity=quantity,
            unit_price=Decimal(price),
        )
    return made


def choice(line, *, quantity=1, reason="changed-mind", resolution="refund", **extra):
    return services.LineChoice(
        order_line_id=line.pk,
        quantity=quantity,
        reason_code=reason,
        resolution=resolution,
        **extra,
    )


def submit(the_order, *choices, key=None, channel="account", **kwargs):
    if not choices:
        choices = (choice(the_order.lines.first()),)
    return services.submit_return(
        order=the_order,
        choices=list(choices),
        channel=channel,
        idempotency_key=key or f"key-{next(_keys)}",
        **kwargs,
    )


def walk_to(request, status: str, *, by=None):
    """Move an approved return on to `status` through the services."""
    from returns.models import ReturnStatus as S

    path = [S.IN_TRANSIT, S.RECEIVED, S.INSPECTED, S.RESOLVED, S.CLOSED]
    steps = {
        S.IN_TRANSIT: lambda: services.mark_in_transit(request=request),
        S.RECEIVED: lambda: services.receive(request=request, by=by),
        S.INSPECTED: lambda: services.inspect(request=request, findings={}, by=by),
        S.RESOLVED: lambda: services.resolve(request=request, by=by),
        S.CLOSED: lambda: services.close(request=request, by=by),
    }
    for step in path[: path.index(status) + 1]:
        steps[step]()
    request.refresh_from_db()
    return request
