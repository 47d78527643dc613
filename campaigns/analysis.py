"""Does the campaign work? The holdout comparison of trigger campaigns, and the
delivery figures from the outbox.

Measured by intention to treat: every order assigned to a variant's treatment group
counts, whether its e-mail went out or was skipped at send time (a customer who had
already started a return is skipped, and the holdout holds the same kind of
customers unskipped). An order "returned" when it has a return request that was not
rejected or cancelled; "reviewed" when a review was written for one of its lines
(withdrawn ones excluded). Each variant's treated orders are compared with the whole
holdout (the holdout is drawn before the variant split): the difference of the two
proportions with Newcombe's hybrid score 95% interval (method 10, built from the
two Wilson intervals), which keeps its coverage with small counts and rates near 0
where the normal approximation does not.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate

from campaigns.models import Assignment, Campaign, CampaignVariant, Group
from emails.models import EventKind, Message, MessageEvent
from returns.models import ReturnRequest, ReturnStatus
from reviews.models import Review, ReviewStatus

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """treated − holdout for one proportion, with its 95% interval."""

    treated_n: int
    treated_hits: int
    holdout_n: int
    holdout_hits: int
    treated_rate: float | None
    holdout_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def significant(self) -> bool:
        return (
            self.ci_low is not None
            and self.ci_high is not None
            and (self.ci_high < 0 or self.ci_low > 0)
        )


@dataclass(frozen=True)
class VariantResult:
    variant: str  # code, "A", "B"
    name: str
    treated_n: int
    holdout_n: int
    sent: int
    returns: Comparison
    reviews: Comparison

    # Flat names for templates and the report.
    @property
    def treated_return_rate(self):
        return self.returns.treated_rate

    @property
    def holdout_return_rate(self):
        return self.returns.holdout_rate

    @property
    def difference(self):
        return self.returns.difference

    @property
    def ci_low(self):
        return self.returns.ci_low

    @property
    def ci_high(self):
        return self.returns.ci_high

    @property
    def treated_review_rate(self):
        return self.reviews.treated_rate

    @property
    def holdout_review_rate(self):
        return self.reviews.holdout_rate

    @property
    def review_difference(self):
        return self.reviews.difference

    @property
    def review_ci_low(self):
        return self.reviews.ci_low

    @property
    def review_ci_high(self):
        return self.reviews.ci_high


def wilson(hits: int, n: int, z: float = Z95) -> Interval:
    """Wilson's score interval for a proportion."""
    if n == 0:
        return Interval(0.0, 1.0)
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def difference_interval(
    hits1: int, n1: int, hits2: int, n2: int, z: float = Z95
) -> tuple[float, Interval]:
    """p1 − p2 and Newcombe's hybrid score interval for it."""
    p1, p2 = hits1 / n1, hits2 / n2
    w1, w2 = wilson(hits1, n1, z), wilson(hits2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    high = d + math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return d, Interval(low, high)


def compare(treated_hits: int, treated_n: int, holdout_hits: int, holdout_n: int):
    if not treated_n or not holdout_n:
        return Comparison(
            treated_n=treated_n,
            treated_hits=treated_hits,
            holdout_n=holdout_n,
            holdout_hits=holdout_hits,
            treated_rate=treated_hits / treated_n if treated_n else None,
            holdout_rate=holdout_hits / holdout_n if holdout_n else None,
            difference=None,
            ci_low=None,
            ci_high=None,
        )
    d, interval = difference_interval(treated_hits, treated_n, holdout_hits, holdout_n)
    return Comparison(
        treated_n=treated_n,
        treated_hits=treated_hits,
        holdout_n=holdout_n,
        holdout_hits=holdout_hits,
        treated_rate=treated_hits / treated_n,
        holdout_rate=holdout_hits / holdout_n,
        difference=d,
        ci_low=interval.low,
        ci_high=interval.high,
    )


def _counts(campaign: Campaign) -> dict[tuple[str, str], dict[str, int]]:
    returned = ReturnRequest.objects.filter(order=OuterRef("order_id")).exclude(
        status__in=[ReturnStatus.REJECTED, ReturnStatus.CANCELLED]
    )
    reviewed = Review.objects.filter(order_line__order=OuterRef("order_id")).exclude(
        status=ReviewStatus.WITHDRAWN
    )
    rows = (
        Assignment.objects.filter(campaign=campaign, order__isnull=False)
        .annotate(returned=Exists(returned), reviewed=Exists(reviewed))
        .values("group", "variant_code")
        .annotate(
            n=Count("pk"),
            returns=Count("pk", filter=Q(returned=True)),
            reviews=Count("pk", filter=Q(reviewed=True)),
            sent=Count("pk", filter=Q(message__sent_at__isnull=False)),
        )
    )
    return {(row["group"], row["variant_code"]): row for row in rows}


def holdout_comparison(campaign: Campaign) -> list[VariantResult]:
    """Per variant: return rate and review rate of its treated orders against the
    holdout's, with the difference and its 95% interval, and the sample sizes."""
    counts = _counts(campaign)
    holdout = [row for (group, _code), row in counts.items() if group == Group.HOLDOUT]
    holdout_n = sum(row["n"] for row in holdout)
    holdout_returns = sum(row["returns"] for row in holdout)
    holdout_reviews = sum(row["reviews"] for row in holdout)
    names = {
        v.code: v.name or v.code
        for v in CampaignVariant.objects.filter(campaign=campaign)
    }
    codes = sorted(
        {code for (group, code) in counts if group == Group.TREATMENT} | set(names)
    ) or ["A"]
    results = []
    for code in codes:
        row = counts.get((Group.TREATMENT, code), {})
        n = row.get("n", 0)
        results.append(
            VariantResult(
                variant=code,
                name=names.get(code, code),
                treated_n=n,
                holdout_n=holdout_n,
                sent=row.get("sent", 0),
                returns=compare(row.get("returns", 0), n, holdout_returns, holdout_n),
                reviews=compare(row.get("reviews", 0), n, holdout_reviews, holdout_n),
            )
        )
    return results


def _messages(campaign: Campaign):
    return Message.objects.filter(sender_label=campaign.sender_label)


def delivery_figures(campaign: Campaign) -> dict[str, int]:
    """sent, delivered, opened, clicked, unsubscribed, bounced (SendGrid's events),
    and queued (waiting, e.g. for the window or the frequency cap)."""
    messages = _messages(campaign)
    figures = messages.aggregate(
        queued=Count("pk", filter=Q(sent_at__isnull=True, status="queued")),
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
    )
    figures["unsubscribed"] = (
        MessageEvent.objects.filter(
            message__in=messages,
            kind__in=[EventKind.UNSUBSCRIBE, EventKind.GROUP_UNSUBSCRIBE],
        )
        .values("message_id")
        .distinct()
        .count()
    )
    return figures


def daily_series(campaign: Campaign) -> list[dict]:
    """Per day (shop time): e-mails sent, opened and clicked, and orders assigned
    to treatment and holdout; for charts (insights.charts)."""
    from campaigns.services import shop_tz

    tz = shop_tz()
    days: dict[dt.date, dict] = {}

    def row(day):
        return days.setdefault(
            day,
            {
                "day": day,
                "sent": 0,
                "opened": 0,
                "clicked": 0,
                "treatment": 0,
                "holdout": 0,
            },
        )

    messages = _messages(campaign)
    for column, name in (
        ("sent_at", "sent"),
        ("opened_at", "opened"),
        ("clicked_at", "clicked"),
    ):
        for item in (
            messages.filter(**{f"{column}__isnull": False})
            .annotate(day=TruncDate(column, tzinfo=tz))
            .values("day")
            .annotate(n=Count("pk"))
        ):
            row(item["day"])[name] = item["n"]
    for item in (
        Assignment.objects.filter(campaign=campaign)
        .annotate(day=TruncDate("assigned_at", tzinfo=tz))
        .values("day", "group")
        .annotate(n=Count("pk"))
    ):
        row(item["day"])[item["group"]] = item["n"]
    return [days[day] for day in sorted(days)]
