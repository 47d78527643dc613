"""Every write of campaigns: status transitions, the beat's scheduling of due trigger
orders, promotions and reminders (assignments + outbox rows, in batches), previews and
test sends, and the send-time re-check the outbox calls just before a campaign
message leaves (send_check).

Idempotency: an Assignment's key (`campaign:<id>:<order id>` or `campaign:<id>:c<customer
id>`) is unique and is also its outbox message's key. A batch inserts its assignments
with ON CONFLICT DO NOTHING, then locks the ones still without a message
(skip_locked) and queues those: a rerun, or two beats racing, adds nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import logging
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns import rendering
from campaigns.models import (
    ALLOWED_TRANSITIONS,
    TRIGGER_KINDS,
    Assignment,
    Campaign,
    CampaignEvent,
    CampaignKind,
    CampaignStatus,
    CampaignVariant,
    CustomerTimeZone,
    Group,
    ReviewSelection,
    SkipReason,
    Trigger,
)
from config.bulk import insert_rows, update_column
from emails import services as email_services
from emails.models import Category, Message, Suppression
from emails.models import Status as MessageStatus
from insights.queries import customer_ids_in_persona, serial_returners
from returns.models import ReturnRequest, ReturnStatus
from reviews.models import Review
from shop.models import Customer, Order

logger = logging.getLogger(__name__)

KEY_PREFIX = "campaign:"
# Returns that do not count as "started a return" (they never happened).
VOID_RETURNS = [ReturnStatus.CANCELLED]


class CampaignError(Exception):
    """A refused campaign action (the edge shows the message)."""


class IllegalTransition(CampaignError):
    pass


class CampaignIncomplete(CampaignError):
    pass


class UnknownTimeZone(CampaignError):
    """Not an IANA time zone name (such as "Europe/Amsterdam")."""


# Transitions -------------------------------------------------------------------------


def _move(
    *,
    campaign: Campaign,
    to: str,
    by,
    only_from: str | None = None,
    note: str = "",
    **values,
) -> Campaign:
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if to not in ALLOWED_TRANSITIONS[locked.status] or (
            only_from and locked.status != only_from
        ):
            raise IllegalTransition(f"{locked.status} → {to}")
        now = timezone.now()
        CampaignEvent.objects.create(
            campaign=locked,
            from_status=locked.status,
            to_status=to,
            by=by if getattr(by, "pk", None) else None,
            note=note,
            occurred_at=now,
        )
        locked.status = to
        for name, value in values.items():
            setattr(locked, name, value(now) if callable(value) else value)
        locked.save(update_fields=["status", "updated_at", *values])
    campaign.refresh_from_db()
    return campaign


def activate(*, campaign: Campaign, by) -> Campaign:
    """draft → active. Needs content, and a send time for a promotion."""
    if not campaign.contents.exists():
        raise CampaignIncomplete("the campaign has no content")
    if campaign.kind == CampaignKind.PROMOTION and campaign.scheduled_at is None:
        raise CampaignIncomplete("a promotion needs a send time")
    return _move(
        campaign=campaign,
        to=CampaignStatus.ACTIVE,
        by=by,
        only_from=CampaignStatus.DRAFT,
        activated_at=lambda now: campaign.activated_at or now,
    )


def pause(*, campaign: Campaign, by) -> Campaign:
    """active → paused: nothing new is assigned; queued messages wait (send_check)."""
    return _move(campaign=campaign, to=CampaignStatus.PAUSED, by=by)


def resume(*, campaign: Campaign, by) -> Campaign:
    return _move(
        campaign=campaign,
        to=CampaignStatus.ACTIVE,
        by=by,
        only_from=CampaignStatus.PAUSED,
    )


def finish(*, campaign: Campaign, by) -> Campaign:
    """→ finished: queued messages not yet sent are suppressed at send time."""
    return _move(campaign=campaign, to=CampaignStatus.FINISHED, by=by)


# Time --------------------------------------------------------------------------------


def shop_tz() -> ZoneInfo:
    return ZoneInfo(settings.SHOP_TIME_ZONE)


def quiet_hours() -> tuple[dt.time, dt.time]:
    start, end = settings.CAMPAIGNS_QUIET_HOURS.split("-")
    return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())


def _within(moment: dt.time, start: dt.time, end: dt.time) -> bool:
    if start == end:
        return True
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # wraps past midnight


def _next_at(local: dt.datetime, wanted: dt.time) -> dt.datetime:
    """The next local moment at `wanted` o'clock (today if still ahead)."""
    candidate = local.replace(
        hour=wanted.hour, minute=wanted.minute, second=0, microsecond=0
    )
    if candidate <= local:
        candidate = (local + dt.timedelta(days=1)).replace(
            hour=wanted.hour, minute=wanted.minute, second=0, microsecond=0
        )
    # Normalise across DST changes.
    return candidate.astimezone(dt.UTC).astimezone(local.tzinfo)


def next_allowed(
    *,
    at: dt.datetime,
    window: tuple[dt.time, dt.time],
    customer_tz: ZoneInfo | None = None,
) -> dt.datetime:
    """The first moment at or after `at` inside the sending window (shop time) and
    outside quiet hours (the customer's time, else the shop's)."""
    quiet_start, quiet_end = quiet_hours()
    moment = at
    for _attempt in range(8):
        shop_local = moment.astimezone(shop_tz())
        if not _within(shop_local.time(), *window):
            moment = _next_at(shop_local, window[0])
            continue
        their_local = moment.astimezone(customer_tz or shop_tz())
        if quiet_start != quiet_end and _within(
            their_local.time(), quiet_start, quiet_end
        ):
            moment = _next_at(their_local, quiet_end)
            continue
        return moment.astimezone(dt.UTC)
    # Window and quiet hours never overlap: send at the window's opening.
    return moment.astimezone(dt.UTC)


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def set_customer_time_zone(*, customer: Customer, time_zone: str) -> CustomerTimeZone:
    """Remember the customer's time zone (an IANA name, as a browser's
    `Intl.DateTimeFormat().resolvedOptions().timeZone` reports it): quiet hours
    follow it from now on. Idempotent; a new zone replaces the old one. Anything
    that is not a known zone name is refused and changes nothing."""
    name = (time_zone or "").strip()
    if name not in _known_time_zones():
        raise UnknownTimeZone(f"unknown time zone: {name[:64]!r}")
    zone, _created = CustomerTimeZone.objects.update_or_create(
        customer=customer, defaults={"time_zone": name}
    )
    return zone


def customer_time_zones(customer_ids) -> dict[int, ZoneInfo]:
    zones = {}
    for customer_id, name in CustomerTimeZone.objects.filter(
        customer_id__in=list(customer_ids)
    ).values_list("customer_id", "time_zone"):
        try:
            zones[customer_id] = ZoneInfo(name)
        except (KeyError, ValueError):
            continue
    return zones


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=shop_tz())


def trigger_range(
    campaign: Campaign, *, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """[from, until) of the trigger moments (delivery or order) due now: those on a
    shop-calendar day at least `delay_days` before today, not before the day that
    makes the first send fall on the activation day (no back-catalogue), and not
    more than CAMPAIGNS_CATCH_UP_DAYS late (a delivery recorded weeks late gets no
    e-mail; each pass reads a bounded range, however old the campaign)."""
    today = now.astimezone(shop_tz()).date()
    until = _local_midnight(today - dt.timedelta(days=campaign.delay_days - 1))
    activated = (campaign.activated_at or now).astimezone(shop_tz()).date()
    first_day = max(
        activated - dt.timedelta(days=campaign.delay_days),
        today
        - dt.timedelta(days=campaign.delay_days + settings.CAMPAIGNS_CATCH_UP_DAYS),
    )
    return _local_midnight(first_day), until


# Assignment ---------------------------------------------------------------------------


def _bucket(campaign_id: int, subject: str, salt: str, modulo: int) -> int:
    digest = hashlib.sha256(f"{campaign_id}:{salt}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


def assign_group(
    campaign: Campaign, subject: str, variants: list[CampaignVariant] | None = None
) -> tuple[str, str]:
    """(group, variant code) for a subject key ("<order id>" or "c<customer id>"):
    a hash of campaign and subject, so every rerun gives the same answer."""
    if (
        _bucket(campaign.pk, subject, "holdout", 10_000)
        < campaign.holdout_percent * 100
    ):
        group = Group.HOLDOUT
    else:
        group = Group.TREATMENT
    variants = variants if variants is not None else list(campaign.variants.all())
    if not variants:
        return group, "A"
    total = sum(v.weight for v in variants)
    point = _bucket(campaign.pk, subject, "variant", total)
    for variant in variants:
        if point < variant.weight:
            return group, variant.code
        point -= variant.weight
    return group, variants[-1].code


def assignment_key(campaign_id: int, subject: str) -> str:
    return f"{KEY_PREFIX}{campaign_id}:{subject}"


# Audiences -----------------------------------------------------------------------------


def audience_queryset(campaign: Campaign) -> QuerySet[Customer]:
    """The customers a promotion goes to: marketing consent, not suppressed, the
    rules (languages, bought in category, ordered within N days, persona), and
    without serial returners unless the campaign includes them."""
    customers = Customer.objects.filter(marketing_consent=True).exclude(
        Exists(Suppression.objects.filter(email=Lower(OuterRef("email"))))
    )
    if campaign.languages:
        customers = customers.filter(language__in=campaign.languages)
    if campaign.category_id:
        customers = customers.filter(
            Exists(
                Order.objects.filter(
                    customer=OuterRef("pk"),
                    lines__product__category_id=campaign.category_id,
                )
            )
        )
    if campaign.ordered_within_days:
        since = timezone.now() - dt.timedelta(days=campaign.ordered_within_days)
        customers = customers.filter(
            Exists(Order.objects.filter(customer=OuterRef("pk"), placed_at__gte=since))
        )
    if campaign.persona:
        customers = customers.filter(pk__in=customer_ids_in_persona(campaign.persona))
    if not campaign.include_serial_returners:
        customers = customers.exclude(pk__in=serial_returners().values("customer_id"))
    return customers


def audience_count(campaign: Campaign) -> int:
    if campaign.kind in TRIGGER_KINDS:
        return trigger_audience(campaign).count()
    return audience_queryset(campaign).count()


def trigger_audience(campaign: Campaign, *, now: dt.datetime | None = None):
    """Orders due for a trigger campaign now (not yet assigned)."""
    now = now or timezone.now()
    since, until = trigger_range(campaign, now=now)
    field_name = (
        "delivered_at" if campaign.trigger == Trigger.DELIVERED else "placed_at"
    )
    return (
        Order.objects.filter(
            customer__isnull=False,
            **{f"{field_name}__gte": since, f"{field_name}__lt": until},
        )
        .exclude(
            Exists(
                Assignment.objects.filter(campaign_id=campaign.pk, order=OuterRef("pk"))
            )
        )
        .order_by("pk")
    )


# Scheduling ---------------------------------------------------------------------------


@dataclass
class SchedulingReport:
    campaigns: int = 0
    assigned: int = 0
    holdout: int = 0
    queued: int = 0
    skipped: int = 0
    reminders: int = 0
    batches: int = 0
    by_campaign: dict[int, int] = field(default_factory=dict)


def _chunks(queryset: QuerySet, size: int) -> Iterator[list]:
    """Keyset pagination by pk: bounded memory whatever the size."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk")[:size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk
        if len(rows) < size:
            return


def schedule_due(
    *, now: dt.datetime | None = None, fan_out: bool = False
) -> SchedulingReport:
    """The beat's pass: due trigger orders of active trigger campaigns, promotions
    whose time has come (their audience in batches), and review reminders. Each
    batch is one transaction; rerunning or racing adds nothing.

    `fan_out` (off in the beat: not yet proven at scale, see bench/campaigns.py):
    hand each batch of due trigger orders to a Celery task
    (queue_trigger_batch) so the workers share the work; a lost task only delays,
    since the next beat finds its orders still unassigned."""
    now = now or timezone.now()
    report = SchedulingReport()
    for campaign in Campaign.objects.filter(status=CampaignStatus.ACTIVE).order_by(
        "pk"
    ):
        report.campaigns += 1
        before = report.assigned
        if campaign.kind in TRIGGER_KINDS:
            _schedule_triggers(campaign, now=now, report=report, fan_out=fan_out)
            if campaign.reminder_after_days:
                _schedule_reminders(campaign, now=now, report=report)
        elif campaign.scheduled_at and campaign.scheduled_at <= now:
            if campaign.expanded_at is None:
                _schedule_promotion(campaign, now=now, report=report)
        report.by_campaign[campaign.pk] = report.assigned - before
    return report


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a batch row is for: plain values, not model instances (a batch is a
    thousand of these; see config/bulk.py)."""

    subject: str  # "<order id>" or "c<customer id>"
    customer_id: int
    email: str
    language: str
    first_name: str
    marketing_consent: bool
    order_id: int | None = None


# Recipient's fields after `subject`, as a values_list over Customer or Order
# (prefixed with "customer__").
_CUSTOMER_VALUES = ("email", "language", "first_name", "marketing_consent")


@dataclass(frozen=True, slots=True)
class _Pending:
    assignment_pk: int
    key: str
    variant_code: str
    recipient: Recipient


def _recipients_of_orders(
    queryset: QuerySet[Order], *, streamed: bool = False
) -> Iterator[list[Recipient]]:
    """Orders as Recipients, a batch at a time, in bounded memory: keyset pages by
    pk, or with `streamed` one query read through a server-side cursor (for the
    due orders of a trigger: a keyset page would evaluate the due-and-unassigned
    condition over every remaining due order again, batch after batch - quadratic
    in the orders due at once)."""
    values = ["pk", "customer_id", *(f"customer__{n}" for n in _CUSTOMER_VALUES)]
    size = settings.CAMPAIGNS_BATCH_SIZE
    if streamed:
        rows = queryset.order_by("pk").values_list(*values).iterator(chunk_size=size)
        chunks = iter(lambda: list(itertools.islice(rows, size)), [])
    else:
        chunks = _value_chunks(queryset, values, size)
    for chunk in chunks:
        yield [
            Recipient(str(pk), customer_id, *customer, order_id=pk)
            for pk, customer_id, *customer in chunk
        ]


def _value_chunks(queryset: QuerySet, values: list[str], size: int) -> Iterator[list]:
    last = 0
    while True:
        rows = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list(*values)[:size]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]
        if len(rows) < size:
            return


class _Batcher:
    """Queues one batch: shells per variant and language (built once per run),
    bulk data, assignments, outbox rows."""

    def __init__(self, campaign: Campaign, now: dt.datetime):
        self.campaign = campaign
        self.now = now
        self.variants = list(campaign.variants.all())
        self.selections = {v.code: v.review_selection for v in self.variants} or {
            "A": ReviewSelection.TOP_RATED
        }
        self.variant_ids = {v.code: v.pk for v in self.variants}
        self.shells: dict[tuple[str, str], rendering.Shell] = {}
        self.brand = None
        self.review_cache: dict = {}
        self.shared: dict[str, int] = {}  # content -> SharedPart id
        self.window = (campaign.window_start, campaign.window_end)

    def shell(self, variant_code: str, language: str) -> rendering.Shell:
        key = (variant_code, language)
        if key not in self.shells:
            if self.brand is None:
                self.brand = email_services.rendering.brand()
            self.shells[key] = rendering.build_shell(
                self.campaign,
                variant_code=variant_code,
                language=language,
                brand=self.brand,
            )
        return self.shells[key]

    def run(self, recipients: list[Recipient], report: SchedulingReport) -> None:
        campaign = self.campaign
        with transaction.atomic():
            rows = []
            for recipient in recipients:
                group, code = assign_group(campaign, recipient.subject, self.variants)
                rows.append(
                    (
                        campaign.pk,
                        recipient.customer_id,
                        recipient.order_id,
                        self.variant_ids.get(code),
                        code,
                        group,
                        assignment_key(campaign.pk, recipient.subject),
                        "",
                        self.now,
                    )
                )
            created = insert_rows(
                Assignment,
                [
                    "campaign",
                    "customer",
                    "order",
                    "variant",
                    "variant_code",
                    "group",
                    "key",
                    "skipped_reason",
                    "assigned_at",
                ],
                rows,
                ignore_conflicts_on=["key"],
                returning=["id", "key", "group"],
            )
            by_key = {
                row[6]: (row[4], recipient)
                for row, recipient in zip(rows, recipients, strict=True)
            }
            # Ours to queue: the treatment rows this batch created (this transaction
            # holds them), and any older ones still without a message, unless
            # another beat holds them right now.
            found = [
                (pk, key) for pk, key, group in created if group == Group.TREATMENT
            ]
            if older := by_key.keys() - {key for _pk, key, _group in created}:
                found += (
                    Assignment.objects.filter(
                        key__in=list(older),
                        group=Group.TREATMENT,
                        message__isnull=True,
                        skipped_reason="",
                    )
                    .select_for_update(skip_locked=True)
                    .values_list("pk", "key")
                )
            pending = [_Pending(pk, key, *by_key[key]) for pk, key in found]
            report.batches += 1
            report.assigned += len(rows)
            report.holdout += sum(1 for row in rows if row[5] == Group.HOLDOUT)
            if not pending:
                return
            items, skipped = self._messages(pending)
            ids = email_services.enqueue_many(messages=[item for _, item in items])
            update_column(
                Assignment,
                "message",
                {pk: ids[item["key"]] for pk, item in items},
            )
            for reason, assignment_pks in skipped.items():
                Assignment.objects.filter(pk__in=assignment_pks).update(
                    skipped_reason=reason
                )
            report.queued += len(items)
            report.skipped += sum(len(v) for v in skipped.values())

    def _messages(self, pending: list[_Pending]):
        campaign = self.campaign
        order_ids = [p.recipient.order_id for p in pending if p.recipient.order_id]
        returning = set()
        if order_ids and campaign.kind == CampaignKind.POST_PURCHASE:
            returning = set(
                ReturnRequest.objects.filter(order_id__in=order_ids)
                .exclude(status__in=VOID_RETURNS)
                .values_list("order_id", flat=True)
            )
        suppressed = set(
            Suppression.objects.filter(
                email__in={p.recipient.email.lower() for p in pending}
            ).values_list("email", flat=True)
        )
        languages: dict[str, set[str]] = {}
        for p in pending:
            languages.setdefault(p.variant_code, set()).add(p.recipient.language)
        data = rendering.load_batch(
            campaign=campaign,
            order_ids=order_ids,
            languages_by_variant=languages,
            selections=self.selections,
            cache=self.review_cache,
            now=self.now,
        )
        zones = customer_time_zones({p.recipient.customer_id for p in pending})
        start = max(self.now, campaign.scheduled_at or self.now)

        @functools.cache
        def send_after(zone: ZoneInfo | None) -> dt.datetime:
            # The same for everyone in a time zone: once per zone and batch.
            return next_allowed(at=start, window=self.window, customer_tz=zone)

        prepared, skipped = [], {}
        for p in pending:
            recipient = p.recipient
            reason = ""
            if not recipient.marketing_consent:
                reason = SkipReason.NO_CONSENT
            elif recipient.email.lower() in suppressed:
                reason = SkipReason.SUPPRESSED
            elif recipient.order_id in returning:
                reason = SkipReason.RETURNING
            elif campaign.kind == CampaignKind.REVIEW_REQUEST and not data.lines.get(
                recipient.order_id
            ):
                reason = SkipReason.NOTHING_TO_REVIEW
            if reason:
                skipped.setdefault(reason, []).append(p.assignment_pk)
                continue
            shell = self.shell(p.variant_code, recipient.language)
            values = rendering.substitutions(
                campaign=campaign,
                shell=shell,
                first_name=recipient.first_name,
                order_id=recipient.order_id,
                language=recipient.language,
                selection=self.selections.get(
                    p.variant_code, ReviewSelection.TOP_RATED
                ),
                data=data,
            )
            prepared.append((p, shell, values))
        # The shells and review blocks, stored once (the first batch stores nearly
        # all; later ones only blocks of products not seen yet).
        wanted = set().union(
            *(
                rendering.shared_contents(shell, values)
                for _p, shell, values in prepared
            )
        )
        if missing := wanted - self.shared.keys():
            self.shared |= email_services.share_parts(missing)
        items = [
            (
                p.assignment_pk,
                {
                    "key": p.key,
                    "to_email": p.recipient.email,
                    "customer_id": p.recipient.customer_id,
                    "category": Category.MARKETING,
                    "sender_label": campaign.sender_label,
                    "language": p.recipient.language,
                    "send_after": send_after(zones.get(p.recipient.customer_id)),
                    **rendering.message_fields(
                        shell=shell,
                        values=values,
                        campaign=campaign,
                        shared=self.shared,
                    ),
                },
            )
            for p, shell, values in prepared
        ]
        return items, skipped


def _schedule_triggers(
    campaign: Campaign,
    *,
    now: dt.datetime,
    report: SchedulingReport,
    fan_out: bool = False,
) -> None:
    if fan_out:
        from campaigns.tasks import queue_trigger_batch_task

        ids = trigger_audience(campaign, now=now).values_list("pk", flat=True)
        last = 0
        while chunk := list(ids.filter(pk__gt=last)[: settings.CAMPAIGNS_BATCH_SIZE]):
            last = chunk[-1]
            transaction.on_commit(
                lambda chunk=chunk: queue_trigger_batch_task.delay(
                    campaign.pk, chunk, now.isoformat()
                ),
                robust=True,
            )
            report.batches += 1
        return
    batcher = _Batcher(campaign, now)
    for recipients in _recipients_of_orders(
        trigger_audience(campaign, now=now), streamed=True
    ):
        batcher.run(recipients, report)


def queue_trigger_batch(
    *, campaign_id: int, order_ids: list[int], now: dt.datetime
) -> SchedulingReport:
    """One fanned-out batch of due orders: assign and queue those still unassigned
    (idempotent like schedule_due; nothing while the campaign is not active)."""
    report = SchedulingReport()
    campaign = Campaign.objects.filter(
        pk=campaign_id, status=CampaignStatus.ACTIVE
    ).first()
    if campaign is None:
        return report
    due = Order.objects.filter(pk__in=order_ids, customer__isnull=False).exclude(
        Exists(Assignment.objects.filter(campaign_id=campaign.pk, order=OuterRef("pk")))
    )
    batcher = _Batcher(campaign, now)
    for recipients in _recipients_of_orders(due):
        batcher.run(recipients, report)
    return report


def _schedule_promotion(
    campaign: Campaign, *, now: dt.datetime, report: SchedulingReport
) -> None:
    batcher = _Batcher(campaign, now)
    audience = audience_queryset(campaign).exclude(
        Exists(
            Assignment.objects.filter(campaign_id=campaign.pk, customer=OuterRef("pk"))
        )
    )
    values = ["pk", *_CUSTOMER_VALUES]
    for rows in _value_chunks(audience, values, settings.CAMPAIGNS_BATCH_SIZE):
        batcher.run([Recipient(f"c{pk}", pk, *rest) for pk, *rest in rows], report)
    Campaign.objects.filter(pk=campaign.pk, expanded_at__isnull=True).update(
        expanded_at=now
    )


def _schedule_reminders(
    campaign: Campaign, *, now: dt.datetime, report: SchedulingReport
) -> None:
    """Review requests: one reminder, `reminder_after_days` after the first was sent,
    when no review was written for the order since."""
    due = (
        Assignment.objects.filter(
            campaign=campaign,
            group=Group.TREATMENT,
            reminder_message__isnull=True,
            message__status=MessageStatus.SENT,
            message__sent_at__lte=now - dt.timedelta(days=campaign.reminder_after_days),
        )
        .exclude(Exists(Review.objects.filter(order_line__order=OuterRef("order_id"))))
        .select_related("customer", "order")
    )
    batcher = _Batcher(campaign, now)
    for rows in _chunks(due, settings.CAMPAIGNS_BATCH_SIZE):
        with transaction.atomic():
            locked = {
                row.pk: row
                for row in Assignment.objects.filter(
                    pk__in=[r.pk for r in rows], reminder_message__isnull=True
                )
                .select_related("customer", "order")
                .select_for_update(skip_locked=True, of=("self",))
            }
            if not locked:
                continue
            items, _skipped = batcher._messages(
                [
                    _Pending(
                        pk,
                        row.key,
                        row.variant_code,
                        Recipient(
                            row.key.rsplit(":", 1)[-1],
                            row.customer_id,
                            *(getattr(row.customer, n) for n in _CUSTOMER_VALUES),
                            order_id=row.order_id,
                        ),
                    )
                    for pk, row in locked.items()
                ]
            )
            for _, item in items:
                item["key"] = f"{item['key']}:reminder"
            ids = email_services.enqueue_many(messages=[item for _, item in items])
            Assignment.objects.bulk_update(
                [
                    Assignment(pk=assignment_pk, reminder_message_id=ids[item["key"]])
                    for assignment_pk, item in items
                ],
                ["reminder_message"],
            )
            report.reminders += len(items)


# Send-time check --------------------------------------------------------------------


def _campaign_id(key: str) -> int | None:
    try:
        return int(key.split(":")[1])
    except (IndexError, ValueError):
        return None


def send_check(
    messages: list[Message], *, now: dt.datetime | None = None
) -> dict[int, email_services.Veto | email_services.Defer]:
    """Called by the outbox with campaign messages about to leave: re-check what may
    have changed since they were queued. A finished campaign, a customer who started
    a return for that order, or a review request with nothing left to review: never.
    A paused campaign, outside the window or in quiet hours, or over the frequency
    cap: later (the next allowed moment)."""
    now = now or timezone.now()
    verdicts: dict[int, email_services.Veto | email_services.Defer] = {}
    campaigns = Campaign.objects.in_bulk(
        {cid for m in messages if (cid := _campaign_id(m.key)) is not None}
    )
    base_keys = {m.pk: m.key.removesuffix(":reminder") for m in messages}
    assignments = {
        a.key: a
        for a in Assignment.objects.filter(key__in=set(base_keys.values())).values_list(
            "pk", "key", "order_id", "campaign_id", named=True
        )
    }

    def orders_of(kind: str) -> set[int]:
        return {
            a.order_id
            for a in assignments.values()
            if a.order_id and getattr(campaigns.get(a.campaign_id), "kind", "") == kind
        }

    returning, reviewed_orders, unreviewed_orders = set(), set(), set()
    if post_purchase := orders_of(CampaignKind.POST_PURCHASE):
        returning = set(
            ReturnRequest.objects.filter(order_id__in=post_purchase)
            .exclude(status__in=VOID_RETURNS)
            .values_list("order_id", flat=True)
        )
    if review_requests := orders_of(CampaignKind.REVIEW_REQUEST):
        reviewed_orders = set(
            Review.objects.filter(order_line__order_id__in=review_requests).values_list(
                "order_line__order_id", flat=True
            )
        )
        unreviewed_orders = set(
            Order.objects.filter(
                pk__in=review_requests, lines__review__isnull=True
            ).values_list("pk", flat=True)
        )
    zones = customer_time_zones({m.customer_id for m in messages if m.customer_id})
    capped = _frequency_counts(messages, now=now)
    for message in messages:
        campaign = campaigns.get(_campaign_id(message.key))
        assignment = assignments.get(base_keys[message.pk])
        if campaign is None:
            continue
        if campaign.status == CampaignStatus.FINISHED:
            verdicts[message.pk] = email_services.Veto("the campaign has finished")
            continue
        if campaign.status in (CampaignStatus.PAUSED, CampaignStatus.DRAFT):
            verdicts[message.pk] = email_services.Defer(
                now + dt.timedelta(minutes=15), "the campaign is paused"
            )
            continue
        order_id = assignment.order_id if assignment else None
        if campaign.kind == CampaignKind.POST_PURCHASE and order_id in returning:
            _skip(assignment, SkipReason.RETURNING)
            verdicts[message.pk] = email_services.Veto(
                "the customer started a return for this order"
            )
            continue
        if campaign.kind == CampaignKind.REVIEW_REQUEST and (
            order_id not in unreviewed_orders
            or (message.key.endswith(":reminder") and order_id in reviewed_orders)
        ):
            verdicts[message.pk] = email_services.Veto("nothing left to review")
            continue
        allowed = next_allowed(
            at=now,
            window=(campaign.window_start, campaign.window_end),
            customer_tz=zones.get(message.customer_id),
        )
        if allowed > now + dt.timedelta(seconds=59):
            verdicts[message.pk] = email_services.Defer(
                allowed, "outside the sending window or in quiet hours"
            )
            continue
        if not campaign.frequency_cap_exempt and message.customer_id:
            until = capped(message.customer_id)
            if until is not None:
                verdicts[message.pk] = email_services.Defer(
                    next_allowed(
                        at=until,
                        window=(campaign.window_start, campaign.window_end),
                        customer_tz=zones.get(message.customer_id),
                    ),
                    f"frequency cap: {settings.CAMPAIGNS_FREQUENCY_CAP} "
                    "marketing e-mails in 7 days",
                )
    return verdicts


def _skip(assignment: Assignment | None, reason: str) -> None:
    if assignment is not None:
        Assignment.objects.filter(pk=assignment.pk, skipped_reason="").update(
            skipped_reason=reason
        )


def _frequency_counts(messages: list[Message], *, now: dt.datetime):
    """A function customer id → None (may send; counts this one) or the moment the
    oldest of their last N marketing e-mails leaves the 7-day window."""
    cap = settings.CAMPAIGNS_FREQUENCY_CAP
    since = now - dt.timedelta(days=7)
    sent: dict[int, list[dt.datetime]] = {}
    for customer_id, sent_at in (
        Message.objects.filter(
            customer_id__in={m.customer_id for m in messages if m.customer_id},
            category=Category.MARKETING,
            status=MessageStatus.SENT,
            sent_at__gte=since,
        )
        .order_by("sent_at")
        .values_list("customer_id", "sent_at")
    ):
        sent.setdefault(customer_id, []).append(sent_at)

    def check(customer_id: int) -> dt.datetime | None:
        times = sent.setdefault(customer_id, [])
        if len(times) < cap:
            times.append(now)
            times.sort()
            return None
        return times[-cap] + dt.timedelta(days=7)

    return check


# Preview and test ---------------------------------------------------------------------


def _selection(campaign: Campaign, variant: str | None) -> tuple[str, str]:
    code = variant or "A"
    found = campaign.variants.filter(code=code).first()
    return code, found.review_selection if found else ReviewSelection.TOP_RATED


def preview(
    *,
    campaign: Campaign,
    customer: Customer,
    order: Order | None = None,
    language: str | None = None,
    variant: str | None = None,
) -> rendering.Rendered:
    """The e-mail as this customer would get it (for this order), with the real
    featured reviews, in `language` (default: theirs)."""
    code, selection = _selection(campaign, variant)
    return rendering.render_for(
        campaign=campaign,
        customer=customer,
        order=order,
        language=language or customer.language,
        variant_code=code,
        selection=selection,
    )


def send_test(
    *,
    campaign: Campaign,
    to_email: str,
    customer: Customer,
    order: Order | None = None,
    language: str | None = None,
    variant: str | None = None,
    by,
) -> Message:
    """The preview, sent to the editor (a service message; the sample customer's
    unsubscribe links are left out)."""
    code, selection = _selection(campaign, variant)
    rendered = rendering.render_for(
        campaign=campaign,
        customer=customer,
        order=order,
        language=language or customer.language,
        variant_code=code,
        selection=selection,
        with_links=False,
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S.%f")
    return email_services.enqueue(
        key=f"campaign-test:{campaign.pk}:{to_email.strip().lower()}:{stamp}",
        to_email=to_email,
        sender_label=f"{campaign.sender_label}:test",
        subject=f"[TEST] {rendered.subject}",
        html=rendered.html,
        text=rendered.text,
        language=language or customer.language,
        category=Category.SERVICE,
        context={"requested_by": getattr(by, "pk", None)},
    )
