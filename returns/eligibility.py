"""What of an order can still be returned, and why not: pure reads.

The rules are the return policy as it was when the order was placed
(`cms.queries.policies_for(..., at=order.placed_at)`, read from the policy history),
so a policy edited later never changes what an earlier buyer was promised. An order
placed before any policy was published (imported history) is judged by the policy in
force now.

The window. It starts at delivery; an order not delivered yet is always in time. The
window is counted in whole days in the shop's time zone (settings.SHOP_TIME_ZONE):
delivered on 1 March with a 30-day window, the last day is 31 March and a return
asked for at any moment of 31 March, shop time, is in time; from 00:00 on 1 April,
shop time, it is not. A customer in another zone gets the shop's calendar, which is
what the policy page promises.

Quantities. What may still be returned of a line is what was bought minus what is in
the order's earlier returns, except those rejected or cancelled.

Queries. `eligibility_for_order` runs the same number of queries whatever the number
of lines: the lines with their products, the earlier returned quantities, and the
policy lookup (see cms.queries.policies_for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from cms.queries import policies_for
from cms.rules import PolicyRules
from returns.models import VOID_STATUSES, ReturnLine
from shop.models import Order, OrderLine


@dataclass(frozen=True)
class LineEligibility:
    order_line: OrderLine
    bought_quantity: int
    returned_quantity: int
    returnable_quantity: int
    eligible: bool
    explanation: str  # plain words when not eligible; empty otherwise
    deadline: date | None  # the last day to ask, in the shop's time zone
    closes_at: datetime | None  # the first moment (UTC) it is too late
    policy: PolicyRules | None
    resolutions: tuple[str, ...] = field(default=())
    # Why not, for code: "window", "not_returnable", "returned", "no_policy".
    explanation_code: str = ""
    # Bought minus earlier returns, whether or not the window is still open (staff
    # may file an exception outside the window).
    remaining_quantity: int = 0

    @property
    def outside_window(self) -> bool:
        return self.explanation_code == "window"


def shop_zone() -> ZoneInfo:
    return ZoneInfo(settings.SHOP_TIME_ZONE)


def last_day(delivered_at: datetime, window_days: int) -> date:
    """The last day a return may be asked for, in the shop's time zone."""
    delivered_on = timezone.localtime(delivered_at, shop_zone()).date()
    return delivered_on + timedelta(days=window_days)


def window_closes_at(delivered_at: datetime, window_days: int) -> datetime:
    """The first moment it is too late: midnight after the last day, shop time."""
    next_day = last_day(delivered_at, window_days) + timedelta(days=1)
    return datetime.combine(next_day, time.min, tzinfo=shop_zone())


def is_in_window(
    policy: PolicyRules, delivered_at: datetime | None, at: datetime
) -> bool:
    if delivered_at is None:
        return True
    return at < window_closes_at(delivered_at, policy.window_days)


def returned_quantities(order_line_ids) -> dict[int, int]:
    """Quantities already in returns that still count (not rejected or cancelled),
    by order line id: one query."""
    rows = (
        ReturnLine.objects.filter(order_line_id__in=list(order_line_ids))
        .exclude(request__status__in=VOID_STATUSES)
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
    )
    return {row["order_line_id"]: row["total"] for row in rows}


def _format_day(day: date) -> str:
    return formats.date_format(day, "j F Y")


def eligibility_for_order(
    order: Order,
    *,
    at: datetime | None = None,
    lines=None,
    exclude_request_id: int | None = None,
) -> list[LineEligibility]:
    """Each line of the order with what may still be returned and why not.

    `lines`: the order's lines already loaded with their products (else read here).
    """
    at = at or timezone.now()
    if lines is None:
        lines = list(order.lines.select_related("product"))
    else:
        lines = list(lines)
    language = translation.get_language() or settings.LANGUAGE_CODE
    policies = policies_for(
        [line.product for line in lines], at=order.placed_at, locale=language
    )
    missing = [line.product for line in lines if policies.get(line.product_id) is None]
    if missing:
        # Orders older than the policy history are judged by today's policy.
        policies |= {
            pk: rules
            for pk, rules in policies_for(missing, locale=language).items()
            if rules is not None
        }
    returned = returned_quantities(line.pk for line in lines) if lines else {}
    found = []
    for line in lines:
        policy = policies.get(line.product_id)
        done = returned.get(line.pk, 0)
        left = max(line.quantity - done, 0)
        deadline = closes_at = None
        code = explanation = ""
        if policy is not None and order.delivered_at and not policy.not_returnable:
            deadline = last_day(order.delivered_at, policy.window_days)
            closes_at = window_closes_at(order.delivered_at, policy.window_days)
        if policy is None:
            code = "no_policy"
            explanation = _("No return policy covers this item.")
        elif policy.not_returnable:
            code = "not_returnable"
            explanation = policy.not_returnable_reason or _(
                "This item cannot be returned."
            )
        elif closes_at is not None and at >= closes_at:
            code = "window"
            explanation = _("The {days}-day return window closed on {day}.").format(
                days=policy.window_days, day=_format_day(deadline)
            )
        elif left == 0:
            code = "returned"
            explanation = _("All of these have already been returned.")
        found.append(
            LineEligibility(
                order_line=line,
                bought_quantity=line.quantity,
                returned_quantity=done,
                returnable_quantity=left if not code else 0,
                eligible=not code,
                explanation=explanation,
                deadline=deadline,
                closes_at=closes_at,
                policy=policy,
                resolutions=policy.resolutions if policy and not code else (),
                explanation_code=code,
                remaining_quantity=left,
            )
        )
    return found
