"""A policy's rules in words and in schema.org terms: the same facts on the policy
page, in the embed, in the JSON, on the printed insert and behind the QR code."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cms.rules import PolicyRules

SCHEMA = "https://schema.org/"
RETURN_METHODS = {
    "by_mail": ["ReturnByMail"],
    "in_store": ["ReturnInStore"],
    "by_mail_or_in_store": ["ReturnByMail", "ReturnInStore"],
}
REFUND_TYPES = {
    "refund": "FullRefund",
    "exchange": "ExchangeRefund",
    "store_credit": "StoreCreditRefund",
}


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:.2f}"


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"


def resolution_labels(rules: PolicyRules) -> list[str]:
    labels = {
        "refund": _("refund"),
        "exchange": _("exchange"),
        "store_credit": _("store credit"),
        "repair": _("repair"),
    }
    result = []
    for key in rules.resolutions:
        label = labels[key]
        if key == "store_credit" and rules.store_credit_bonus_percent:
            label = _("store credit (+%(percent)s%%)") % {
                "percent": _percent(rules.store_credit_bonus_percent)
            }
        result.append(label)
    return result


def shipping_text(rules: PolicyRules, *, shop_at_fault: bool) -> str:
    cost = rules.shipping_cost(shop_at_fault=shop_at_fault)
    if cost == 0:
        return _("free")
    return _("%(amount)s, paid by you") % {"amount": _money(cost, rules.currency)}


def rule_lines(rules: PolicyRules) -> list[tuple[str, str]]:
    """(label, text) pairs: the policy's rules as a short list."""
    if rules.not_returnable:
        return [
            (
                _("Returns"),
                _("Not returnable: %(reason)s")
                % {"reason": rules.not_returnable_reason},
            ),
            (_("Faulty or wrong item"), _("Always covered: contact us.")),
        ]
    lines = [
        (
            _("Return window"),
            ngettext(
                "%(days)d day from delivery",
                "%(days)d days from delivery",
                rules.window_days,
            )
            % {"days": rules.window_days},
        ),
        (_("You can choose"), ", ".join(resolution_labels(rules))),
        (
            _("Change of mind: return shipping"),
            shipping_text(rules, shop_at_fault=False),
        ),
        (
            _("Faulty or wrong item: return shipping"),
            shipping_text(rules, shop_at_fault=True),
        ),
    ]
    if rules.restocking_fee_percent:
        lines.append(
            (
                _("Restocking fee"),
                _("%(percent)s%% on a change of mind, never on a faulty item")
                % {"percent": _percent(rules.restocking_fee_percent)},
            )
        )
    if rules.condition_required:
        lines.append((_("Condition"), rules.condition_required))
    if rules.returnless_max_item_value is not None:
        lines.append(
            (
                _("Keep it"),
                _("Items worth up to %(amount)s need not be sent back.")
                % {"amount": _money(rules.returnless_max_item_value, rules.currency)},
            )
        )
    return lines


def headline(rules: PolicyRules) -> str:
    """One line: "30-day free returns", "14-day returns", "Not returnable"."""
    if rules.not_returnable:
        return _("Not returnable")
    if rules.is_free_for_change_of_mind:
        return _("%(days)d-day free returns") % {"days": rules.window_days}
    return _("%(days)d-day returns") % {"days": rules.window_days}


def _fees(rules: PolicyRules, *, shop_at_fault: bool, prefix: str) -> dict:
    cost = rules.shipping_cost(shop_at_fault=shop_at_fault)
    if cost == 0 and (shop_at_fault or not rules.restocking_fee_percent):
        return {f"{prefix}ReturnFees": SCHEMA + "FreeReturn"}
    data = {f"{prefix}ReturnFees": SCHEMA + "ReturnShippingFees"}
    if cost:
        data[f"{prefix}ReturnShippingFeesAmount"] = {
            "@type": "MonetaryAmount",
            "value": f"{cost:.2f}",
            "currency": rules.currency,
        }
    return data


def merchant_return_policy(rules: PolicyRules) -> dict:
    """schema.org MerchantReturnPolicy (what search engines read for return policies)."""
    data = {
        "@context": "https://schema.org",
        "@type": "MerchantReturnPolicy",
        "name": rules.title,
        "inLanguage": rules.locale,
        "applicableCountry": list(settings.POLICY_COUNTRIES),
    }
    if rules.url:
        data["merchantReturnLink"] = rules.url
    if rules.not_returnable:
        data["returnPolicyCategory"] = SCHEMA + "MerchantReturnNotPermitted"
        return data
    data |= {
        "returnPolicyCategory": SCHEMA + "MerchantReturnFiniteReturnWindow",
        "merchantReturnDays": rules.window_days,
        "returnMethod": [SCHEMA + m for m in RETURN_METHODS[rules.return_method]],
        **_fees(rules, shop_at_fault=False, prefix="customerRemorse"),
        **_fees(rules, shop_at_fault=True, prefix="itemDefect"),
    }
    if rules.restocking_fee_percent:
        data["restockingFee"] = float(rules.restocking_fee_percent)
    refund_types = [
        SCHEMA + REFUND_TYPES[r] for r in rules.resolutions if r in REFUND_TYPES
    ]
    if refund_types:
        data["refundType"] = refund_types
    return data


def json_ld_script(rules: PolicyRules) -> SafeString:
    """MerchantReturnPolicy as a <script> body; `<` escaped so it cannot end the tag."""
    data = json.dumps(merchant_return_policy(rules), ensure_ascii=False)
    return mark_safe(data.replace("<", "\\u003c"))  # noqa: S308
