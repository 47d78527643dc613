"""Helpers for the returns portal and admin tests: the page tree with one default
return policy, a fulfilment centre, and a delivered order. Plain functions, so each
test module states its own fixtures."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from wagtail.models import Locale, Page, Site

from cms.models import HomePage, ReturnPolicyIndexPage
from returns.models import FulfilmentCentre, ReturnReason
from tests.cms.conftest import publish_policy
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)


def policy_index() -> ReturnPolicyIndexPage:
    english = Locale.objects.get(language_code="en")
    Locale.objects.get_or_create(language_code="nl")
    home = Page.get_first_root_node().add_child(
        instance=HomePage(
            title="Home", slug="test-home", hero_title="Returns", locale=english
        )
    )
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": "localhost", "port": 80, "root_page": home},
    )
    return home.add_child(
        instance=ReturnPolicyIndexPage(title="Returns", slug="returns")
    )


def default_policy(**rules):
    """Refund, exchange or store credit within 30 days; the customer pays EUR 4.95
    return shipping unless the shop is at fault; no restocking fee."""
    defaults = {
        "summary": "Return it within 30 days.",
        "offers_store_credit": True,
        "store_credit_bonus_percent": Decimal("10"),
    }
    return publish_policy(
        policy_index(), title="Everything", is_default=True, **(defaults | rules)
    )


def centre(**fields) -> FulfilmentCentre:
    values = {
        "name": "Returnwise warehouse",
        "code": "main",
        "address": "Havenweg 12\n3011 AA Rotterdam\nNetherlands",
        "is_default": True,
    }
    return FulfilmentCentre.objects.create(**(values | fields))


def delivered_order(
    customer=None, *, lines=1, number="RW-1001", price="40.00", sku="SHIRT", **kw
):
    """An order delivered five days ago with `lines` lines of two items each."""
    now = timezone.now()
    order = OrderFactory(
        customer=customer or CustomerFactory(email="sanne@example.com"),
        number=number,
        placed_at=now - timedelta(days=7),
        shipped_at=now - timedelta(days=6),
        delivered_at=now - timedelta(days=5),
        **kw,
    )
    category = CategoryFactory(name="Clothing")
    for n in range(lines):
        OrderLineFactory(
            order=order,
            product=ProductFactory(
                name=f"Linen shirt {n + 1}", sku=f"{sku}-{n + 1}", category=category
            ),
            quantity=2,
            unit_price=Decimal(price),
        )
    return order


def reason(code: str) -> ReturnReason:
    return ReturnReason.objects.get(code=code)


def line_post(line, *, quantity=1, reason="", resolution="refund", **extra) -> dict:
    prefix = f"line-{line.pk}"
    data = {
        f"{prefix}-quantity": quantity,
        f"{prefix}-reason": reason,
        f"{prefix}-resolution": resolution,
        f"{prefix}-comment": extra.get("comment", ""),
        f"{prefix}-prevention": extra.get("prevention", ""),
    }
    if "photo" in extra:
        data[f"{prefix}-photo"] = extra["photo"]
    return data


def confirm_key(html: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', html).group(1)


def status_link(html: str) -> str:
    return re.search(r'href="(/(?:nl/)?my-returns/r/[^"/]+/)"', html).group(1)
